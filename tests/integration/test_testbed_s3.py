"""The test bed's S3 server (SeaweedFS): put, get, list, delete with the admin identity, and the
per-service identities confined to their buckets and actions: read, write, delete and list on each of the
three buckets for the Spark and Trino identities, and no bucket creation or deletion for either."""

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


# ----- every service identity against every bucket and action (the stack's grants, on the real server) -----

OPERATIONS = ("read", "write", "delete", "list")
# What each identity may do per bucket role (lakehouse.generators.s3_policies): everything else is refused.
GRANTS = {
    "spark": {"lake": {"read", "write", "delete", "list"}, "checkpoints": {"read", "write", "delete", "list"}},
    "trino": {"lake": {"read", "list"}, "metastore": {"read", "write", "delete", "list"}},
}
ROLES = ("lake", "checkpoints", "metastore")


def _bucket(testbed: dict[str, str], role: str) -> str:
    return {
        "lake": testbed["lake_bucket"],
        "checkpoints": testbed["checkpoint_bucket"],
        "metastore": testbed["testbed_metastore_bucket"],
    }[role]


def _identity(testbed: dict[str, str], name: str):
    return client(
        testbed["s3_endpoint"], testbed[f"testbed_s3_{name}_access_key"], testbed[f"testbed_s3_{name}_secret_key"]
    )


def _attempt(s3, op: str, bucket: str, key: str) -> None:
    if op == "read":
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"seed"
    elif op == "write":
        s3.put_object(Bucket=bucket, Key=key + ".new", Body=b"written")
    elif op == "delete":
        s3.delete_object(Bucket=bucket, Key=key)
    elif op == "list":
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=key)
        assert [o["Key"] for o in listed.get("Contents", [])] == [key]


@pytest.mark.parametrize("identity", sorted(GRANTS))
@pytest.mark.parametrize("role", ROLES)
def test_identity_may_do_exactly_its_grants_on_each_bucket(
    testbed: dict[str, str], require_services, admin, identity: str, role: str
) -> None:
    require_services("s3")
    s3, bucket = _identity(testbed, identity), _bucket(testbed, role)
    allowed = GRANTS[identity].get(role, set())
    outcome: dict[str, str] = {}
    for op in OPERATIONS:
        key = f"testbed-it/grants/{uuid.uuid4().hex}"
        admin.put_object(Bucket=bucket, Key=key, Body=b"seed")  # a fresh object for each attempt
        try:
            try:
                _attempt(s3, op, bucket, key)
                outcome[op] = "allowed"
            except ClientError as exc:
                outcome[op] = exc.response["Error"]["Code"]
        finally:
            admin.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key}, {"Key": key + ".new"}]})
    expected = {op: ("allowed" if op in allowed else "AccessDenied") for op in OPERATIONS}
    assert outcome == expected, f"{identity} on {role} ({bucket})"


@pytest.mark.parametrize("identity", sorted(GRANTS))
def test_identity_deletes_for_real_where_it_may(
    testbed: dict[str, str], require_services, admin, identity: str
) -> None:
    require_services("s3")
    s3 = _identity(testbed, identity)
    for role, ops in GRANTS[identity].items():
        if "delete" not in ops:
            continue
        bucket, key = _bucket(testbed, role), f"testbed-it/grants/{uuid.uuid4().hex}"
        admin.put_object(Bucket=bucket, Key=key, Body=b"seed")
        s3.delete_object(Bucket=bucket, Key=key)
        assert admin.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) == 0, f"{identity}: {role}"


@pytest.mark.parametrize("identity", sorted(GRANTS))
def test_identity_can_neither_create_nor_delete_buckets(
    testbed: dict[str, str], require_services, admin, identity: str
) -> None:
    require_services("s3")
    s3 = _identity(testbed, identity)
    name = f"tb-{identity}-{uuid.uuid4().hex[:8]}"
    assert _denied(lambda: s3.create_bucket(Bucket=name)) == "AccessDenied"
    assert name not in {b["Name"] for b in admin.list_buckets()["Buckets"]}
    # Deleting one: tried on an empty scratch bucket (never on the shared test bed's own buckets).
    admin.create_bucket(Bucket=name)
    try:
        assert _denied(lambda: s3.delete_bucket(Bucket=name)) == "AccessDenied"
        assert name in {b["Name"] for b in admin.list_buckets()["Buckets"]}
    finally:
        admin.delete_bucket(Bucket=name)
