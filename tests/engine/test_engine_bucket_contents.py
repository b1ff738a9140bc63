"""The BucketContents provider through the real Pulumi engine, against the test bed's S3: `pulumi destroy`
empties the buckets (what makes `make down` finish the first time; see components/providers/bucket_contents.py).

The program declares the resource as components/storage.py does, with the S3 root secret as the stack gives
it: a generated value, unknown at a fresh stack's preview (tests/engine/later.py). Its buckets are the test's.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest

from lakehouse.clients import bucket_contents
from lakehouse.clients.bucket_contents import S3Target
from tests.engine import harness

pytestmark = [pytest.mark.integration, pytest.mark.engine]

TYPE = "pulumi-python:dynamic/lakehouse:BucketContents"


def program() -> dict[str, Any]:
    from components.providers.bucket_contents import BucketContents
    from tests.engine.later import Later

    p = harness.params()
    contents = BucketContents(
        "bucket-contents",
        endpoint=p["endpoint"],
        region=p["region"],
        access_key=p["access_key"],
        secret_key=Later("root-secret", harness.secret("secret_key")).result,
        buckets=p["buckets"],
    )
    return {"objects": contents.objects}


def test_bucket_contents_lifecycle_through_the_real_engine(
    engine: harness.Engine, testbed: dict[str, str], require_services
) -> None:
    require_services("s3")
    target = S3Target(testbed["s3_endpoint"], testbed["testbed_s3_region"], testbed["testbed_s3_admin_access_key"],
                      testbed["testbed_s3_admin_secret_key"])  # fmt: skip
    s3 = target.client()
    buckets = [f"engine-bc-{uuid.uuid4().hex[:8]}-{n}" for n in (1, 2)]
    for bucket in buckets:
        s3.create_bucket(Bucket=bucket)
    stack = engine.stack(
        program,
        params={"endpoint": target.endpoint, "region": target.region, "access_key": target.access_key,
                "buckets": buckets},
        secrets={"secret_key": target.secret_key, "probe": secrets.token_urlsafe(16)},
    )  # fmt: skip
    try:
        assert stack.preview().changes == {"create": 3}  # the secret key unknown: check() lets it through
        assert stack.up().changes == {"create": 3}
        assert stack.outputs()["objects"] == {b: 0 for b in buckets}
        assert stack.preview().changed() == {}

        # The lake fills up; refresh counts the objects; destroy empties both buckets.
        for n in range(25):
            s3.put_object(Bucket=buckets[0], Key=f"logistics_events/part-{n}.parquet", Body=b"x")
        s3.put_object(Bucket=buckets[1], Key="logistics_events/offsets/0", Body=b"v1")
        stack.refresh()
        (res,) = stack.resources(TYPE)
        assert res["outputs"]["objects"] == {buckets[0]: 25, buckets[1]: 1}
        stack.assert_no_plaintext([target.secret_key])
        assert stack.destroy().changes == {"delete": 3}
        for bucket in buckets:
            assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    finally:
        for bucket in buckets:
            bucket_contents.empty_bucket(target, bucket)
            s3.delete_bucket(Bucket=bucket)
