"""The test bed's S3 server (SeaweedFS): put, get, list, delete with the admin identity, and the
per-service identities confined to their buckets."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from testbed.services.s3 import client

pytestmark = pytest.mark.integration


@pytest.fixture
def admin(testbed: dict[str, str], require_services):
    require_services("s3")
    keys = testbed["testbed_s3_admin_access_key"], testbed["testbed_s3_admin_secret_key"]
    return client(testbed["s3_endpoint"], *keys)


def _denied(call) -> str:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response["Error"]["Code"]


def test_put_get_list_delete(admin, testbed: dict[str, str]) -> None:
    bucket, prefix = testbed["lake_bucket"], f"testbed-it/{uuid.uuid4().hex}/"
    bodies = {f"{prefix}a.txt": b"alpha", f"{prefix}sub/b.bin": bytes(range(256)) * 1000}
    for key, body in bodies.items():
        admin.put_object(Bucket=bucket, Key=key, Body=body)
    for key, body in bodies.items():
        assert admin.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    listed = admin.list_objects_v2(Bucket=bucket, Prefix=prefix)
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(bodies)
    assert {o["Size"] for o in listed["Contents"]} == {5, 256_000}
    for key in bodies:
        admin.delete_object(Bucket=bucket, Key=key)
    assert admin.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount", 0) == 0
    assert _denied(lambda: admin.get_object(Bucket=bucket, Key=f"{prefix}a.txt")) in ("NoSuchKey", "404")


def test_stack_buckets_exist(admin, testbed: dict[str, str]) -> None:
    names = {b["Name"] for b in admin.list_buckets()["Buckets"]}
    assert {testbed["lake_bucket"], testbed["checkpoint_bucket"], testbed["testbed_metastore_bucket"]} <= names


def test_user_keys_are_the_spark_identity_as_in_the_stack(testbed: dict[str, str], require_services) -> None:
    """`s3_access_key`/`s3_secret_key` mean the same in endpoints.json as in the stack's outputs."""
    require_services("s3")
    assert testbed["s3_access_key"] == testbed["testbed_s3_spark_access_key"]
    assert testbed["s3_secret_key"] == testbed["testbed_s3_spark_secret_key"]
    assert testbed["s3_access_key"] != testbed["testbed_s3_admin_access_key"]


def test_spark_identity_is_confined_to_lake_and_checkpoints(testbed: dict[str, str], require_services) -> None:
    require_services("s3")
    spark = client(
        testbed["s3_endpoint"], testbed["testbed_s3_spark_access_key"], testbed["testbed_s3_spark_secret_key"]
    )
    key = f"testbed-it/{uuid.uuid4().hex}"
    for bucket in (testbed["lake_bucket"], testbed["checkpoint_bucket"]):
        spark.put_object(Bucket=bucket, Key=key, Body=b"ok")
        assert spark.get_object(Bucket=bucket, Key=key)["Body"].read() == b"ok"
        spark.delete_object(Bucket=bucket, Key=key)
    metastore = testbed["testbed_metastore_bucket"]
    assert _denied(lambda: spark.put_object(Bucket=metastore, Key=key, Body=b"no")) == "AccessDenied"
    assert _denied(lambda: spark.list_objects_v2(Bucket=metastore)) == "AccessDenied"
    assert _denied(lambda: spark.create_bucket(Bucket=f"tb-{uuid.uuid4().hex[:8]}")) == "AccessDenied"


def test_trino_identity_reads_the_lake_and_writes_only_its_metastore(testbed: dict[str, str], admin) -> None:
    trino = client(
        testbed["s3_endpoint"], testbed["testbed_s3_trino_access_key"], testbed["testbed_s3_trino_secret_key"]
    )
    key = f"testbed-it/{uuid.uuid4().hex}"
    admin.put_object(Bucket=testbed["lake_bucket"], Key=key, Body=b"table data")
    try:
        assert trino.get_object(Bucket=testbed["lake_bucket"], Key=key)["Body"].read() == b"table data"
        assert (
            _denied(lambda: trino.put_object(Bucket=testbed["lake_bucket"], Key=key + "x", Body=b"")) == "AccessDenied"
        )
        trino.put_object(Bucket=testbed["testbed_metastore_bucket"], Key=key, Body=b"schema")
        trino.delete_object(Bucket=testbed["testbed_metastore_bucket"], Key=key)
        assert _denied(lambda: trino.get_object(Bucket=testbed["checkpoint_bucket"], Key=key)) == "AccessDenied"
    finally:
        admin.delete_object(Bucket=testbed["lake_bucket"], Key=key)


def test_wrong_secret_is_refused(testbed: dict[str, str], require_services) -> None:
    require_services("s3")
    bad = client(testbed["s3_endpoint"], testbed["s3_access_key"], "not-the-secret")
    assert _denied(lambda: bad.list_objects_v2(Bucket=testbed["lake_bucket"])) == "SignatureDoesNotMatch"
