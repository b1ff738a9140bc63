"""The BucketContents provider against a real S3 server (the test bed's SeaweedFS): what `pulumi destroy` does to
the stack's buckets before pulumi-minio deletes them. A bucket of its own holding more objects than one
DeleteObjects request takes, nested keys and an unfinished multipart upload (a killed s3a writer leaves those):
create counts them, delete leaves the bucket empty, so deleting the bucket itself then succeeds."""

from __future__ import annotations

import uuid

import pytest

from components.providers.bucket_contents import BucketContentsProvider
from lakehouse.clients import bucket_contents
from lakehouse.clients.bucket_contents import S3Target

pytestmark = [pytest.mark.integration]


@pytest.fixture
def target(testbed: dict[str, str], require_services) -> S3Target:
    require_services("s3")
    return S3Target(
        testbed["s3_endpoint"],
        testbed["testbed_s3_region"],
        testbed["testbed_s3_admin_access_key"],
        testbed["testbed_s3_admin_secret_key"],
    )


def _props(target: S3Target, bucket: str) -> dict:
    credentials = {"access_key": target.access_key, "secret_key": target.secret_key}
    return {"endpoint": target.endpoint, "region": target.region, **credentials, "buckets": [bucket],
            "timeout_seconds": 60, "provider_hash": "t"}  # fmt: skip


def test_delete_empties_the_buckets_so_they_can_be_deleted(target: S3Target) -> None:
    s3 = target.client()
    bucket = f"contents-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    try:
        keys = [f"logistics_events/event_date=2026-12-0{i % 7 + 1}/part-{i:05d}.parquet" for i in range(1203)]
        for key in keys:
            s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        s3.put_object(Bucket=bucket, Key="logistics_events/_delta_log/00000000000000000000.json", Body=b"{}")
        s3.create_multipart_upload(Bucket=bucket, Key="logistics_events/unfinished.parquet")

        provider = BucketContentsProvider()
        props = provider.check({}, {**_props(target, bucket), "timeout_seconds": 600.0}).inputs
        created = provider.create(props)
        assert created.outs["objects"] == {bucket: len(keys) + 1}

        provider.delete(created.id, created.outs)

        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
        assert (s3.list_multipart_uploads(Bucket=bucket).get("Uploads") or []) == []
        assert provider.read(created.id, created.outs).outs["objects"] == {bucket: 0}
    finally:
        bucket_contents.empty_bucket(target, bucket)
        s3.delete_bucket(Bucket=bucket)  # an empty bucket is deleted: what pulumi-minio then does


def test_a_bucket_already_gone_is_nothing_to_empty_but_create_refuses_it(target: S3Target) -> None:
    gone = f"gone-{uuid.uuid4().hex[:10]}"
    assert bucket_contents.empty_bucket(target, gone).missing is True
    provider = BucketContentsProvider()
    props = _props(target, gone)
    with pytest.raises(bucket_contents.BucketError, match=rf"bucket\(s\) \['{gone}'\] do not exist"):
        provider.create(props)
    provider.delete("id", props)  # a destroy after the bucket went by hand succeeds
