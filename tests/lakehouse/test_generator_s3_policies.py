"""Least-privilege S3 policies: Spark read/write on data and checkpoints; Trino reads data, owns its metastore."""

from __future__ import annotations

import json

import pytest

from lakehouse.generators.s3_policies import bucket_policy, render_policy, spark_policy, trino_policy


def grants(policy: dict) -> dict[str, set[str]]:
    """resource -> actions."""
    out: dict[str, set[str]] = {}
    for st in policy["Statement"]:
        assert st["Effect"] == "Allow"
        for res in st["Resource"]:
            out.setdefault(res, set()).update(st["Action"])
    return out


def test_spark_reads_and_writes_data_and_checkpoints_only() -> None:
    g = grants(spark_policy(lake_bucket="lake", checkpoint_bucket="checkpoints"))
    assert set(g) == {
        "arn:aws:s3:::lake",
        "arn:aws:s3:::checkpoints",
        "arn:aws:s3:::lake/*",
        "arn:aws:s3:::checkpoints/*",
    }
    for bucket in ("lake", "checkpoints"):
        assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} <= g[f"arn:aws:s3:::{bucket}/*"]
        assert "s3:ListBucket" in g[f"arn:aws:s3:::{bucket}"]


def test_trino_reads_data_and_writes_only_its_metastore() -> None:
    g = grants(trino_policy(lake_bucket="lake", metastore_bucket="trino-metastore"))
    assert g["arn:aws:s3:::lake/*"] == {"s3:GetObject"}
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"} <= g["arn:aws:s3:::trino-metastore/*"]
    assert "arn:aws:s3:::checkpoints/*" not in g


def test_no_policy_grants_admin_or_wildcards() -> None:
    for policy in (
        spark_policy(lake_bucket="a", checkpoint_bucket="b"),
        trino_policy(lake_bucket="a", metastore_bucket="c"),
    ):
        for st in policy["Statement"]:
            assert all(a.startswith("s3:") and "*" not in a for a in st["Action"])
            assert all(r != "arn:aws:s3:::*" for r in st["Resource"])


def test_bucket_policy_rejects_overlap_and_empty() -> None:
    with pytest.raises(ValueError, match="both read_write and read_only"):
        bucket_policy(read_write=["lake"], read_only=["lake"])
    with pytest.raises(ValueError, match="at least one bucket"):
        bucket_policy()


def test_rendering_is_stable_json() -> None:
    policy = spark_policy(lake_bucket="lake", checkpoint_bucket="checkpoints")
    text = render_policy(policy)
    assert json.loads(text) == policy
    assert text == render_policy(json.loads(text))
    assert json.loads(text)["Version"] == "2012-10-17"
