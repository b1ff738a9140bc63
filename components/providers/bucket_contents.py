"""The objects in the stack's buckets, as a Pulumi resource (a dynamic provider) whose delete empties them.

Why: the MinIO plugin can die while force-destroying a bucket that holds objects. Declared after the buckets and
before everything that writes to them, this empties them (plain S3 calls) on destroy once the writers are gone;
an update empties a bucket no longer listed (the same `up` deletes it); read counts the objects of each bucket.
The S3 secret key arrives as a secret input and is never kept by the provider object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from components.providers.inputs import Provider, changed_inputs, code_hash
from lakehouse.clients import bucket_contents
from lakehouse.clients.bucket_contents import S3Target

INPUT_PROPS = ("endpoint", "region", "access_key", "secret_key", "buckets", "timeout_seconds", "provider_hash")
INT_PROPS = ("timeout_seconds",)


def provider_hash() -> str:
    return code_hash(Path(__file__), bucket_contents)


def validate(props: dict[str, Any]) -> list[tuple[str, str]]:
    failures: list[tuple[str, str]] = []
    endpoint = props.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        failures.append(("endpoint", f"endpoint = {endpoint!r} must be the http(s):// URL of the S3 API"))
    for prop in ("region", "access_key"):
        if not isinstance(props.get(prop), str) or not props.get(prop):
            failures.append((prop, f"{prop} = {props.get(prop)!r} must be a non-empty string"))
    if not isinstance(props.get("secret_key"), str) or not props.get("secret_key"):
        failures.append(("secret_key", "secret_key must be a non-empty string (pass it as a secret)"))  # never echo it
    buckets = props.get("buckets")
    if not isinstance(buckets, list) or not buckets or not all(isinstance(b, str) and b for b in buckets):
        failures.append(("buckets", f"buckets = {buckets!r} must be a non-empty list of bucket names"))
    timeout = props.get("timeout_seconds")
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 1 <= timeout <= 86400:
        failures.append(("timeout_seconds", f"timeout_seconds = {timeout!r} must be an integer from 1 to 86400"))
    return failures


def target_of(props: dict[str, Any]) -> S3Target:
    return S3Target(props["endpoint"], props["region"], props["access_key"], props["secret_key"])


def _counts(props: dict[str, Any]) -> dict[str, int | None]:
    return bucket_contents.object_counts(target_of(props), list(props["buckets"]))


class BucketContentsProvider(Provider):
    """The resource id is the endpoint and the buckets."""

    INT_PROPS = INT_PROPS

    def failures(self, news: dict[str, Any], olds: dict[str, Any]) -> list[tuple[str, str]]:
        return validate(news)

    def changes(self, olds: dict[str, Any], news: dict[str, Any]) -> tuple[list[str], list[str]]:
        return changed_inputs(olds, news, INPUT_PROPS), []

    def create(self, props: dict[str, Any]) -> CreateResult:
        counts = _counts(props)
        if missing := [b for b, n in counts.items() if n is None]:
            raise bucket_contents.BucketError(f"S3 at {props['endpoint']}: bucket(s) {missing} do not exist")
        return CreateResult(f"{props['endpoint']}/{','.join(props['buckets'])}", {**props, "objects": counts})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # A bucket no longer listed is deleted by the same `up`: empty it now, with the credentials that made it.
        for gone in [b for b in olds.get("buckets") or [] if b not in news["buckets"]]:
            bucket_contents.empty_bucket(target_of(olds), gone, timeout=news["timeout_seconds"])
        return UpdateResult({**news, "objects": _counts(news)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, {**props, "objects": _counts(props)})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        for bucket in props["buckets"]:
            bucket_contents.empty_bucket(target_of(props), bucket, timeout=props["timeout_seconds"])


class BucketContents(pulumi.dynamic.Resource, module="lakehouse", name="BucketContents"):
    """The objects of `buckets` on the S3 server at `endpoint`; deleting the resource empties the buckets."""

    objects: pulumi.Output[dict[str, int]]

    def __init__(
        self,
        resource_name: str,
        *,
        endpoint: pulumi.Input[str],
        region: str,
        access_key: pulumi.Input[str],
        secret_key: pulumi.Input[str],
        buckets: list[pulumi.Input[str]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "endpoint": endpoint,
            "region": region,
            "access_key": access_key,
            "secret_key": pulumi.Output.secret(secret_key),
            "buckets": list(buckets),
            "timeout_seconds": 900,
            "provider_hash": provider_hash(),
            "objects": None,
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["secret_key"]))
        super().__init__(BucketContentsProvider(), resource_name, props, opts)
