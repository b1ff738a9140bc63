"""Least-privilege S3 policies (IAM policy JSON) for the lakehouse's service identities.

Spark reads and writes the Delta data and the checkpoints; Trino reads the Delta data and reads/writes only its
file metastore. No identity can touch any other bucket, and none administers the server.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

# Object-level actions, by access level. Multipart actions let large Parquet files and checkpoints upload.
READ_OBJECT_ACTIONS = ("s3:GetObject",)
WRITE_OBJECT_ACTIONS = ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads")


def bucket_policy(*, read_write: Sequence[str] = (), read_only: Sequence[str] = ()) -> dict[str, object]:
    """An IAM policy document granting read/write on `read_write` buckets and read on `read_only` ones."""
    overlap = sorted(set(read_write) & set(read_only))
    if overlap:
        raise ValueError(f"bucket(s) {overlap} given as both read_write and read_only; name each bucket once")
    if not read_write and not read_only:
        raise ValueError("a policy needs at least one bucket (read_write or read_only)")

    def allow(sid: str, actions: tuple[str, ...], resources: list[str]) -> dict[str, object]:
        return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources}

    buckets = sorted(set(read_write) | set(read_only))
    statements = [allow("ListTheLakehouseBuckets", BUCKET_ACTIONS, [f"arn:aws:s3:::{b}" for b in buckets])]
    if read_only:
        statements.append(allow("ReadObjects", READ_OBJECT_ACTIONS, [f"arn:aws:s3:::{b}/*" for b in sorted(read_only)]))
    if read_write:
        objects = [f"arn:aws:s3:::{b}/*" for b in sorted(read_write)]
        statements.append(allow("ReadWriteObjects", READ_OBJECT_ACTIONS + WRITE_OBJECT_ACTIONS, objects))
    return {"Version": "2012-10-17", "Statement": statements}


def spark_policy(*, lake_bucket: str, checkpoint_bucket: str) -> dict[str, object]:
    """Spark writes the Delta tables and the streaming checkpoints."""
    return bucket_policy(read_write=[lake_bucket, checkpoint_bucket])


def trino_policy(*, lake_bucket: str, metastore_bucket: str) -> dict[str, object]:
    """Trino reads the tables Spark writes and keeps its file metastore (schemas, registered tables)."""
    return bucket_policy(read_write=[metastore_bucket], read_only=[lake_bucket])


def render_policy(policy: dict[str, object]) -> str:
    """Stable JSON text (sorted keys), so an unchanged policy never shows up as a diff."""
    return json.dumps(policy, sort_keys=True, separators=(",", ":"))
