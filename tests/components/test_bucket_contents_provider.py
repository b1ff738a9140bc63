"""The BucketContents provider's pure parts, and its place in the stack's graph: `pulumi destroy` empties the
buckets after everything that writes to them is gone and before pulumi-minio deletes them (under mocks; the
provider's own S3 work runs against the test bed's S3 in tests/integration/test_bucket_contents.py)."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.output import Unknown
from pulumi.runtime.rpc import is_rpc_secret
from stack_harness import CONTAINER, MINIO_BUCKET, Recording, plain

from components.providers import bucket_contents as bc

CONTENTS = "pulumi-python:dynamic/lakehouse:BucketContents"
GOOD: dict[str, Any] = {
    "endpoint": "http://127.0.0.1:9000",
    "region": "us-east-1",
    "access_key": "lakehouse-root",
    "secret_key": "a-secret-key-of-the-root-user",  # pragma: allowlist secret - a test's fake
    "buckets": ["lake", "checkpoints"],
    "timeout_seconds": 900,
    "provider_hash": "p",
}


def test_valid_inputs_pass_and_engine_floats_are_ints() -> None:
    assert bc.validate(GOOD) == []
    result = bc.BucketContentsProvider().check({}, {**GOOD, "timeout_seconds": 900.0})
    assert result.failures == [] and type(result.inputs["timeout_seconds"]) is int


@pytest.mark.parametrize(
    ("change", "prop"),
    [
        ({"endpoint": "127.0.0.1:9000"}, "endpoint"),
        ({"region": ""}, "region"),
        ({"access_key": None}, "access_key"),
        ({"secret_key": ""}, "secret_key"),
        ({"buckets": []}, "buckets"),
        ({"buckets": ["lake", 3]}, "buckets"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
    ],
)
def test_invalid_inputs_name_the_property(change: dict, prop: str) -> None:
    assert [p for p, _ in bc.validate({**GOOD, **change})] == [prop]


def test_a_secret_key_still_unknown_at_a_fresh_stacks_preview_is_checked_at_up() -> None:
    failures = bc.BucketContentsProvider().check({}, {**GOOD, "secret_key": Unknown(), "buckets": Unknown()}).failures
    assert failures == []


def test_provider_captures_nothing() -> None:
    p = bc.BucketContentsProvider()
    assert p.serialize_as_secret_always is False and vars(p) == {}


def _urn(stack: Recording, typ: str, name: str) -> str:
    return stack.urn(typ, name)


def test_destroy_empties_the_buckets_after_the_writers_and_before_the_buckets(stack: Recording) -> None:
    (contents,) = [r for r in stack.registrations if r.type == CONTENTS]
    buckets = {r.urn for r in stack.registrations if r.type == MINIO_BUCKET}
    server = _urn(stack, CONTAINER, "storage-server")
    # It depends on the buckets and the server: Pulumi deletes it before them.
    assert buckets | {server} <= contents.dependencies
    # Everything that writes to the buckets depends on it: Pulumi deletes them before it.
    writers = [
        r for r in stack.registrations if r.type == CONTAINER and r.name.startswith(("spark-", "orion-", "trino-"))
    ]
    assert {w.name for w in writers} >= {"spark-master", "spark-worker-1", "orion-server", "trino-server"}
    for writer in writers:
        assert contents.urn in writer.dependencies, f"{writer.name} does not wait for (and outlive) {contents.name}"


def test_it_empties_every_bucket_with_the_root_user_whose_key_stays_secret(default_stack: Recording) -> None:
    (res,) = default_stack.of_type(CONTENTS)
    inputs = plain(res.inputs)
    assert inputs["buckets"] == ["lake", "checkpoints", "trino-metastore"]
    assert (inputs["endpoint"], inputs["access_key"]) == ("http://127.0.0.1:9000", "lakehouse-root")
    assert is_rpc_secret(res.inputs["secret_key"])
