"""A small synthetic lakehouse for the dashboard tests: the streaming job's two Delta tables, with the job's own
schemas (EVENTS_SCHEMA, REJECTED_SCHEMA), written by delta-rs to the test bed's S3 under a unique prefix in
several commits, and registered in the test bed's Trino under a unique schema.

`synthetic_lake(...)` is shared by the integration, browser and engine tests of the SupersetDashboards
provider; the test here checks that what it writes is what Trino reads (counts, columns, Delta history).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from lakehouse.clients import delta_tables
from lakehouse.clients.trino_sql import query

pytestmark = pytest.mark.integration

CATALOG = "delta"
EVENTS = "logistics_events"
REJECTED = "logistics_events_rejected"
SHIPMENTS = 16
RISK_BANDS = ((0.4, "Low Risk"), (0.7, "Moderate Risk"), (1.01, "High Risk"))
REASONS = ("malformed_json", "missing_field", "wrong_type", "out_of_range", "oversize")


@dataclass(frozen=True)
class Lake:
    schema: str
    events_table: str
    rejected_table: str
    prefix: str
    events_location: str
    rejected_location: str
    events: int
    rejected: int
    commits: int
    """Commits to the events table (its Delta history has this many rows)."""


def storage_options(ep: dict[str, str]) -> dict[str, str]:
    """delta-rs options with the test bed's admin S3 identity."""
    return {
        "AWS_ENDPOINT_URL": ep["s3_endpoint"],
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": ep.get("testbed_s3_region", "us-east-1"),
        "AWS_ACCESS_KEY_ID": ep["testbed_s3_admin_access_key"],
        "AWS_SECRET_ACCESS_KEY": ep["testbed_s3_admin_secret_key"],
    }


def arrow_schema(spark_schema):
    """The pyarrow schema of a Spark StructType (the job's table schemas), as Delta stores it."""
    import pyarrow as pa

    kinds = {
        "string": pa.string(),
        "double": pa.float64(),
        "int": pa.int32(),
        "bigint": pa.int64(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
        "binary": pa.binary(),
    }
    return pa.schema([pa.field(f.name, kinds[f.dataType.simpleString()], nullable=True) for f in spark_schema.fields])


def _risk(p: float) -> str:
    return next(label for bound, label in RISK_BANDS if p < bound)


def event_rows(n: int, now: dt.datetime, rng: random.Random, offset0: int = 0) -> list[dict]:
    """`n` plausible events of the last ~20 minutes over SHIPMENTS shipments, each ingested 2-40 s after it happened."""
    rows = []
    for i in range(n):
        event_time = now - dt.timedelta(seconds=rng.uniform(45, 20 * 60))
        congestion = rng.uniform(0, 10)
        delay = min(0.99, max(0.01, rng.betavariate(2, 3) + congestion / 40))
        ship = rng.randrange(SHIPMENTS)
        ingestion = event_time + dt.timedelta(seconds=rng.uniform(2, 40))
        rows.append(
            {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128))),
                "shipment_id": f"SHP-{ship:04d}",
                "event_time": event_time,
                "timestamp": event_time,
                "vehicle_gps_latitude": 30 + ship + rng.uniform(-0.5, 0.5),
                "vehicle_gps_longitude": -120 + 3 * ship + rng.uniform(-0.5, 0.5),
                "fuel_consumption_rate": 5 + congestion * 1.2 + rng.uniform(0, 3),
                "eta_variation_hours": rng.uniform(-2, 5),
                "traffic_congestion_level": congestion,
                "weather_condition_severity": rng.uniform(0, 1),
                "lead_time_days": rng.uniform(1, 10),
                "iot_temperature": rng.uniform(-5, 30),
                "cargo_condition_status": rng.uniform(0, 1),
                "route_risk_level": rng.uniform(0, 10),
                "customs_clearance_time": rng.uniform(0, 5),
                "driver_behavior_score": rng.uniform(0, 1),
                "fatigue_monitoring_score": rng.uniform(0, 1),
                "delay_probability": delay,
                "risk_classification": _risk(delay),
                "delivery_time_deviation": rng.uniform(-5, 12) + 10 * delay,
                "kafka_key": f"SHP-{ship:04d}",
                "kafka_topic": "logistics-events",
                "kafka_partition": ship % 6,
                "kafka_offset": offset0 + i,
                "kafka_timestamp": event_time,
                "ingestion_time": ingestion,
                "event_date": event_time.date(),
            }
        )
    return rows


def rejected_rows(n: int, now: dt.datetime, rng: random.Random) -> list[dict]:
    rows = []
    for i in range(n):
        ingestion = now - dt.timedelta(seconds=rng.uniform(30, 15 * 60))
        code = REASONS[i % len(REASONS)]
        raw = b"{not json" if code == "malformed_json" else b'{"event_id": "x"}'
        rows.append(
            {
                "kafka_key": None,
                "kafka_topic": "logistics-events",
                "kafka_partition": i % 6,
                "kafka_offset": 10_000 + i,
                "kafka_timestamp": ingestion,
                "raw_value": raw,
                "raw_text": raw.decode(),
                "reason_code": code,
                "reason": f"synthetic {code}",
                "event_id": None,
                "ingestion_time": ingestion,
                "ingestion_date": ingestion.date(),
            }
        )
    return rows


def _s3(ep: dict[str, str]):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=ep["s3_endpoint"],
        aws_access_key_id=ep["testbed_s3_admin_access_key"],
        aws_secret_access_key=ep["testbed_s3_admin_secret_key"],
        region_name=ep.get("testbed_s3_region", "us-east-1"),
    )


def remove_prefix(ep: dict[str, str], prefix: str) -> int:
    """Delete every object under `prefix` (s3://bucket/path); returns how many."""
    bucket, _, path = prefix.removeprefix("s3://").partition("/")
    s3, removed = _s3(ep), 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{path}/"):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            removed += len(keys)
    return removed


def spread_commits(ep: dict[str, str], location: str, now: dt.datetime, *, minutes_apart: int) -> None:
    """Back-date the table's commits (commitInfo.timestamp, what Trino's "$history" shows) so they lie
    `minutes_apart` from each other up to `now`, as a streaming job's commits do; written at once, they would
    all fall into one minute. Only the commit records' timestamps change, not the data."""
    import json

    bucket, _, path = location.removeprefix("s3://").partition("/")
    s3 = _s3(ep)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{path}/_delta_log/")
    keys = sorted(o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(".json"))
    for i, key in enumerate(keys):
        at = now - dt.timedelta(minutes=minutes_apart * (len(keys) - 1 - i), seconds=30)
        lines = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        actions = [json.loads(line) for line in lines if line.strip()]
        for action in actions:
            if "commitInfo" in action:
                action["commitInfo"]["timestamp"] = int(at.timestamp() * 1000)
        body = "\n".join(json.dumps(a, separators=(",", ":")) for a in actions) + "\n"
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode())


def write_lake(ep: dict[str, str], prefix: str, *, events: int = 360, rejected: int = 30, commits: int = 4) -> Lake:
    """Write both tables under `prefix` (s3://lake/...): the events in `commits` appends, the quarantine in one."""
    import deltalake
    import pyarrow as pa

    from jobs.logistics.schema import EVENTS_SCHEMA, REJECTED_SCHEMA

    rng = random.Random(prefix)
    now = dt.datetime.now(dt.UTC)
    opts = storage_options(ep)
    ev_loc, rj_loc = f"{prefix}/logistics_events", f"{prefix}/logistics_events_rejected"
    per = events // commits
    for c in range(commits):
        rows = event_rows(per if c < commits - 1 else events - per * (commits - 1), now, rng, offset0=c * per)
        table = pa.Table.from_pylist(rows, schema=arrow_schema(EVENTS_SCHEMA))
        deltalake.write_deltalake(ev_loc, table, storage_options=opts, mode="append", partition_by=["event_date"])
    spread_commits(ep, ev_loc, now, minutes_apart=4)
    table = pa.Table.from_pylist(rejected_rows(rejected, now, rng), schema=arrow_schema(REJECTED_SCHEMA))
    deltalake.write_deltalake(rj_loc, table, storage_options=opts, mode="append", partition_by=["ingestion_date"])
    return Lake("", EVENTS, REJECTED, prefix, ev_loc, rj_loc, events, rejected, commits)


@contextlib.contextmanager
def synthetic_lake(ep: dict[str, str], *, tag: str = "lake", **sizes: int) -> Iterator[Lake]:
    """Both tables written and registered as delta.<unique schema>.<unique table>; unregistered, the schema
    dropped and the files removed afterwards.

    The table names are unique too (`logistics_events_<id>` and `..._rejected`): Superset's SQLite metadata
    keeps dataset names unique across schemas, and the shared test bed's Superset may hold the stack's own
    `logistics_events` datasets (`make demo`)."""
    rid = uuid.uuid4().hex[:8]
    written = write_lake(ep, f"s3://{ep['lake_bucket']}/it-superset/{rid}", **sizes)
    events = f"{EVENTS}_{rid}"
    lake = dataclasses.replace(
        written, schema=f"it_superset_{tag}_{rid}", events_table=events, rejected_table=f"{events}_rejected"
    )
    url = ep["trino_url"]
    delta_tables.ensure_schema(url, CATALOG, lake.schema, user="lakehouse")
    tables = ((lake.events_table, lake.events_location), (lake.rejected_table, lake.rejected_location))
    try:
        for name, location in tables:
            spec = delta_tables.TableSpec(name, location)
            delta_tables.register(url, CATALOG, lake.schema, spec, user="lakehouse", wait_seconds=60)
        yield lake
    finally:
        for name, _ in tables:
            delta_tables.unregister(url, CATALOG, lake.schema, name, user="lakehouse")
        delta_tables.drop_schema_if_empty(url, CATALOG, lake.schema, user="lakehouse")
        remove_prefix(ep, lake.prefix)  # synthetic data: nothing to keep


def dashboard_props(ep: dict[str, str], lake: Lake, *, instance: str, assets_dir: str = "") -> dict:
    """The SupersetDashboards provider's inputs for the test bed's Superset and Trino and this lake, built as
    the stack builds them (lakehouse.clients.superset_dashboards.inputs), plus the admin password."""
    from urllib.parse import urlparse

    from components.providers.superset_dashboards import provider_hash
    from lakehouse.clients import superset_dashboards
    from lakehouse.settings import Settings

    trino = urlparse(ep["trino_url"])
    props = superset_dashboards.inputs(
        Settings(superset_admin_user=ep["superset_admin_user"]),
        superset_url=ep["superset_url"],
        trino_host=trino.hostname,
        trino_port=trino.port,
        schema=lake.schema,
        instance=instance,
        assets_dir=assets_dir,
        timeout_seconds=300,
    )
    props |= {"events_table": lake.events_table, "rejected_table": lake.rejected_table}
    return props | {"admin_password": ep["superset_admin_password"], "provider_hash": provider_hash()}


def test_synthetic_lake_is_what_trino_reads(testbed: dict[str, str], require_services) -> None:
    require_services("trino", "s3")
    url = testbed["trino_url"]
    with synthetic_lake(testbed, tag="self", events=120, rejected=10, commits=3) as lake:
        ev = f"{CATALOG}.{lake.schema}.{lake.events_table}"  # generated here (a prefix + hex), not input
        rj = f"{CATALOG}.{lake.schema}.{lake.rejected_table}"
        hist = f'{CATALOG}.{lake.schema}."{lake.events_table}$history"'

        def rows(sql: str) -> list[list]:
            return query(url, sql.replace("{ev}", ev).replace("{rj}", rj).replace("{hist}", hist))

        assert rows("SELECT count(*) FROM {ev}") == [[120]]
        assert rows("SELECT count(*) FROM {rj}") == [[10]]
        cols = [r[0] for r in rows("DESCRIBE {ev}")]
        assert cols[:3] == ["event_id", "shipment_id", "event_time"] and "event_date" in cols
        history = rows("SELECT version, operation FROM {hist} ORDER BY 1")
        assert [r[0] for r in history] == [0, 1, 2] and {r[1] for r in history} == {"WRITE"}
        minutes = rows("SELECT count(DISTINCT date_trunc('minute', \"timestamp\")) FROM {hist}")
        assert minutes == [[3]]  # one commit per minute bucket, as a streaming job's would be
        # Every event is ingested after it happened (the freshness chart's premise).
        assert rows("SELECT count(*) FROM {ev} WHERE ingestion_time <= event_time") == [[0]]
    assert not [r for r in query(url, "SHOW SCHEMAS FROM delta") if r[0] == lake.schema]
    assert remove_prefix(testbed, lake.prefix) == 0  # already gone
