"""The DeltaTables provider's own create/read/update/delete against the test bed's real Trino, on Delta
tables written to the test bed's S3 by delta-rs (a writer that is not Spark, under a unique prefix)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import deltalake
import pyarrow as pa
import pytest

from components.providers.delta_tables import DeltaTablesProvider
from lakehouse.clients import delta_tables
from lakehouse.clients.trino_sql import query

pytestmark = pytest.mark.integration


def _storage(ep: dict[str, str]) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": ep["s3_endpoint"],
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": ep.get("testbed_s3_region", "us-east-1"),
        "AWS_ACCESS_KEY_ID": ep["s3_access_key"],
        "AWS_SECRET_ACCESS_KEY": ep["s3_secret_key"],
    }


def _write(ep: dict[str, str], location: str, rows: int) -> None:
    deltalake.write_deltalake(location, pa.table({"n": list(range(rows))}), storage_options=_storage(ep), mode="append")


@pytest.fixture
def run(testbed: dict[str, str], require_services) -> Iterator[dict[str, str]]:
    require_services("trino", "s3")
    rid = uuid.uuid4().hex[:8]
    yield {"schema": f"it_tables_{rid}", "prefix": f"s3://{testbed['lake_bucket']}/it-tables/{rid}"}


def _props(ep: dict[str, str], schema: str, tables: dict[str, str], wait: int = 120) -> dict:
    return {
        "trino_url": ep["trino_url"],
        "trino_user": "lakehouse",
        "catalog": "delta",
        "schema": schema,
        "tables": tables,
        # As the engine sends numbers: check() must turn it back into an int.
        "wait_seconds": float(wait),
        "provider_hash": "test",
    }


def _count(ep: dict[str, str], table: str) -> int:
    return int(query(ep["trino_url"], f"SELECT count(*) FROM {table}")[0][0])  # noqa: S608 (the test's own table)


def test_delta_tables_lifecycle_against_trino(testbed: dict[str, str], run: dict[str, str]) -> None:
    ep, schema, prefix = testbed, run["schema"], run["prefix"]
    events, rejected = f"{prefix}/events", f"{prefix}/events_rejected"
    _write(ep, rejected, 3)
    provider = DeltaTablesProvider()
    checked = provider.check({}, _props(ep, schema, {"events": events, "events_rejected": rejected}))
    assert checked.failures == []
    props = checked.inputs

    # The events table appears only a few seconds after create starts: create must wait for its _delta_log.
    writer = threading.Timer(8, _write, args=(ep, events, 250))
    writer.start()
    began = time.monotonic()
    try:
        created = provider.create(props)
    finally:
        writer.join()
    assert time.monotonic() - began >= 8
    assert created.id == f"delta.{schema}"
    assert created.outs["registrations"] == {"events": "registered", "events_rejected": "registered"}
    assert created.outs["table_names"] == {
        "events": f"delta.{schema}.events",
        "events_rejected": f"delta.{schema}.events_rejected",
    }
    assert created.outs["schema_created"] is True
    assert _count(ep, f"delta.{schema}.events") == 250
    assert _count(ep, f"delta.{schema}.events_rejected") == 3

    # Creating again (a lost state, a second `up` elsewhere) adopts the registrations.
    again = provider.create(props)
    assert again.outs["registrations"] == {"events": "adopted", "events_rejected": "adopted"}
    assert again.outs["schema_created"] is False

    # A new location re-registers: Trino then reads the other table.
    moved_to = f"{prefix}/events_v2"
    _write(ep, moved_to, 7)
    news = {**props, "tables": {"events": moved_to, "events_rejected": rejected}}
    updated = provider.update(created.id, created.outs, news)
    assert updated.outs["registrations"]["events"] == "moved"
    assert updated.outs["schema_created"] is True  # still this resource's schema
    assert _count(ep, f"delta.{schema}.events") == 7

    # refresh sees what Trino holds: a table unregistered behind the stack's back is missing.
    delta_tables.unregister(ep["trino_url"], "delta", schema, "events_rejected", user="lakehouse")
    read = provider.read(created.id, updated.outs)
    assert read.outs["tables"] == {"events": moved_to}

    # delete unregisters (the data stays) and drops the schema it created.
    provider.delete(created.id, updated.outs)
    assert delta_tables.registered_location(ep["trino_url"], "delta", schema, "events", user="lakehouse") is None
    assert not [r for r in query(ep["trino_url"], "SHOW SCHEMAS FROM delta") if r[0] == schema]
    assert deltalake.DeltaTable(moved_to, storage_options=_storage(ep)).to_pyarrow_table().num_rows == 7
    # Deleting what is already gone succeeds.
    provider.delete(created.id, updated.outs)


def test_delta_tables_create_gives_up_with_a_clear_error(testbed: dict[str, str], run: dict[str, str]) -> None:
    provider = DeltaTablesProvider()
    props = provider.check({}, _props(testbed, run["schema"], {"never": f"{run['prefix']}/never"}, wait=5)).inputs
    try:
        with pytest.raises(delta_tables.DeltaTablesError) as err:
            provider.create(props)
        text = str(err.value)
        assert testbed["trino_url"] in text
        assert f"delta.{run['schema']}.never" in text
        assert "_delta_log does not exist yet" in text
    finally:
        delta_tables.drop_schema_if_empty(testbed["trino_url"], "delta", run["schema"], user="lakehouse")
