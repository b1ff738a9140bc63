"""Emptying the stack's S3 buckets before they are deleted: what the BucketContents provider does.

pulumi-minio 0.17.1's plugin empties a `force_destroy` bucket in a way that can kill it mid-way (a listing
goroutine that outlives its bucket calls log.Fatalln: 3 destroys in 5 failed), so the stack empties its buckets
itself with plain, path-style S3 calls (any S3 server) once nothing writes to them, and the plugin deletes them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys a request


class BucketError(RuntimeError):
    """S3 refused or failed; the message names the endpoint, the bucket, the call and S3's answer."""


@dataclass(frozen=True)
class S3Target:
    endpoint: str  # http(s)://host:port of the S3 API, as this process reaches it
    region: str
    access_key: str
    secret_key: str

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        retries = {"max_attempts": 5, "mode": "standard"}
        config = Config(s3={"addressing_style": "path"}, retries=retries, connect_timeout=10, read_timeout=60)
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=config,
        )


@dataclass
class Emptied:
    """What emptying one bucket removed."""

    objects: int = 0
    versions: int = 0
    uploads: int = 0
    missing: bool = False  # the bucket did not exist (nothing to do)


def _code(exc: Exception) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def _fail(target: S3Target, bucket: str, call: str, exc: Exception) -> BucketError:
    return BucketError(f"S3 at {target.endpoint}: {call} on bucket {bucket!r} failed: {exc}")


def _delete(s3: Any, target: S3Target, bucket: str, keys: list[dict[str, str]]) -> int:
    """Delete `keys` ({"Key": ..., ["VersionId": ...]}) in batches; fail on any key S3 did not delete."""
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        try:
            answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        except Exception as exc:
            raise _fail(target, bucket, f"DeleteObjects of {len(batch)} keys", exc) from exc
        if errors := answer.get("Errors") or []:
            first = errors[0]
            raise BucketError(
                f"S3 at {target.endpoint}: DeleteObjects on bucket {bucket!r} refused {len(errors)} of "
                f"{len(batch)} keys, e.g. {first.get('Key')!r}: {first.get('Code')} {first.get('Message')}"
            )
    return len(keys)


def _pages(s3: Any, method: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    yield from s3.get_paginator(method).paginate(**kwargs)


def empty_bucket(target: S3Target, bucket: str, *, timeout: float = 600) -> Emptied:
    """Delete every object, object version and unfinished multipart upload of `bucket`, until a listing finds
    none (bounded by `timeout`). A bucket that does not exist is not an error: there is nothing to empty."""
    s3 = target.client()
    done = Emptied()
    deadline = time.monotonic() + timeout
    while True:
        found = 0
        try:
            for page in _pages(s3, "list_multipart_uploads", Bucket=bucket):
                for upload in page.get("Uploads") or []:
                    s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                    done.uploads += 1
                    found += 1
            for page in _pages(s3, "list_objects_v2", Bucket=bucket):
                keys = [{"Key": o["Key"]} for o in page.get("Contents") or []]
                done.objects += _delete(s3, target, bucket, keys)
                found += len(keys)
            if _versioned(s3, bucket):
                for page in _pages(s3, "list_object_versions", Bucket=bucket):
                    entries = [*(page.get("Versions") or []), *(page.get("DeleteMarkers") or [])]
                    keys = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in entries]
                    done.versions += _delete(s3, target, bucket, keys)
                    found += len(keys)
        except BucketError:
            raise
        except Exception as exc:
            if _code(exc) == "NoSuchBucket":
                done.missing = True
                return done
            raise _fail(target, bucket, "emptying", exc) from exc
        if found == 0:
            return done
        if time.monotonic() > deadline:
            raise BucketError(
                f"S3 at {target.endpoint}: bucket {bucket!r} still had {found} objects after {timeout:.0f} s of "
                "deleting: does something still write to it?"
            )


def _versioned(s3: Any, bucket: str) -> bool:
    try:
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    except Exception as exc:
        if _code(exc) in ("NotImplemented", "NotImplementedError"):
            return False  # a server without versioning has no versions to delete
        raise
    return status in ("Enabled", "Suspended")


def object_counts(target: S3Target, buckets: list[str]) -> dict[str, int | None]:
    """Objects per bucket (None: the bucket does not exist), for `pulumi refresh` to show."""
    s3 = target.client()
    counts: dict[str, int | None] = {}
    for bucket in buckets:
        try:
            counts[bucket] = sum(page.get("KeyCount", 0) for page in _pages(s3, "list_objects_v2", Bucket=bucket))
        except Exception as exc:
            if _code(exc) != "NoSuchBucket":
                raise _fail(target, bucket, "ListObjectsV2", exc) from exc
            counts[bucket] = None
    return counts
