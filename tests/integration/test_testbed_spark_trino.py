"""Spark standalone + Delta on S3 + Trino: a PySpark job on the test bed's cluster writes a Delta table
to the S3 server through s3a; Trino registers it (register_table) and returns exactly the rows written."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from lakehouse.clients.trino_sql import query
from testbed.services.s3 import client

pytestmark = pytest.mark.integration

JOB = Path(__file__).resolve().parent.parent / "testbed" / "spark_write_delta.py"
ROWS = 1000


def _expected() -> list[list[object]]:
    sys.path.insert(0, str(JOB.parent))
    try:
        from spark_write_delta import row
    finally:
        sys.path.remove(str(JOB.parent))
    return [[i, name, amount, day] for i, name, amount, day in (row(n) for n in range(ROWS))]


def _spark_env(tb: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return keep | {
        "JAVA_HOME": tb["testbed_java_home"],
        "SPARK_HOME": tb["testbed_spark_home"],
        "SPARK_CONF_DIR": tb["testbed_spark_conf_dir"],
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": tb["testbed_spark_python"],
        "PYSPARK_DRIVER_PYTHON": tb["testbed_spark_python"],
        "AWS_ACCESS_KEY_ID": tb["testbed_s3_spark_access_key"],
        "AWS_SECRET_ACCESS_KEY": tb["testbed_s3_spark_secret_key"],
        "AWS_REGION": tb["testbed_s3_region"],
    }


@pytest.fixture
def table(testbed: dict[str, str], require_services):
    require_services("s3", "spark", "trino")
    name = f"t_{uuid.uuid4().hex[:10]}"
    prefix = f"testbed-it/{name}"
    yield name, prefix
    try:
        query(
            testbed["trino_url"],
            f"CALL delta.system.unregister_table(schema_name => 'testbed_it', table_name => '{name}')",
        )
    except Exception as exc:  # the test may have failed before registering
        print(f"unregister {name}: {exc}")
    s3 = client(testbed["s3_endpoint"], testbed["s3_access_key"], testbed["s3_secret_key"])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=testbed["lake_bucket"], Prefix=prefix + "/"):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=testbed["lake_bucket"], Delete={"Objects": keys})


def test_spark_writes_delta_and_trino_reads_exactly_those_rows(testbed: dict[str, str], table) -> None:
    name, prefix = table
    bucket = testbed["lake_bucket"]
    app_name = f"testbed-it-{name}"
    t0 = time.monotonic()
    done = subprocess.run(
        [
            f"{testbed['testbed_spark_home']}/bin/spark-submit",
            "--name",
            app_name,
            str(JOB),
            f"s3a://{bucket}/{prefix}",
            str(ROWS),
        ],
        env=_spark_env(testbed),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    spark_s = time.monotonic() - t0
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert f"wrote {ROWS} rows to s3a://{bucket}/{prefix}, read back {ROWS}" in done.stdout

    # It ran on the standalone cluster, not in local mode.
    master = requests.get(f"{testbed['spark_master_ui']}/json/", timeout=10).json()
    apps = {a["name"]: a for a in master["completedapps"] + master["activeapps"]}
    assert app_name in apps, f"{app_name} not in the master's apps: {sorted(apps)}"

    s3 = client(testbed["s3_endpoint"], testbed["s3_access_key"], testbed["s3_secret_key"])
    log = s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/_delta_log/")
    assert any(o["Key"].endswith("00000000000000000000.json") for o in log.get("Contents", []))

    url = testbed["trino_url"]
    t1 = time.monotonic()
    query(url, "CREATE SCHEMA IF NOT EXISTS delta.testbed_it")
    query(
        url,
        f"CALL delta.system.register_table(schema_name => 'testbed_it', table_name => '{name}', "
        f"table_location => 's3://{bucket}/{prefix}')",
    )
    # S608: `name` is generated above (t_ + hex), not input.
    rows = query(url, f"SELECT id, name, amount, CAST(day AS varchar) FROM delta.testbed_it.{name} ORDER BY id")  # noqa: S608
    trino_s = time.monotonic() - t1
    print(f"\n[spark+trino] spark-submit {spark_s:.1f} s; Trino register + SELECT {trino_s:.1f} s")
    assert rows == _expected()
    parts = query(url, f'SELECT count(*) FROM delta.testbed_it."{name}$partitions"')  # noqa: S608
    assert parts == [[3]]
