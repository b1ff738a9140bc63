"""The DeltaTables provider through the real Pulumi engine, against the test bed's Trino and S3.

The program declares the resource as components/postdeploy.py does (the same class and input builders of
lakehouse.postdeploy, with the settings from `lakehouse:*` config); only the Trino URL and the schema are
the test's. The tables are written by delta-rs under a unique prefix; every check on Trino is a query.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import deltalake
import pyarrow as pa
import pytest

from lakehouse.clients import delta_tables
from lakehouse.clients.trino_sql import query
from tests.engine import harness

pytestmark = [pytest.mark.integration, pytest.mark.engine]

TYPE = "pulumi-python:dynamic/lakehouse:DeltaTables"


def program() -> dict[str, Any]:
    from components.config import load_stack_config
    from components.providers.delta_tables import DeltaTables
    from lakehouse import postdeploy
    from lakehouse.generators.trino import CATALOG

    s = load_stack_config().settings
    p = harness.params()
    tables = DeltaTables(
        "delta-tables",
        trino_url=p["trino_url"],
        catalog=CATALOG,
        schema=p["schema"],
        tables=postdeploy.delta_tables(s),
        trino_user=postdeploy.PROVIDER_TRINO_USER,
        wait_seconds=p.get("wait", 120),
    )
    return {"table_names": tables.table_names, "probe": harness.secret("probe")}


def _storage(ep: dict[str, str]) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": ep["s3_endpoint"],
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": ep["s3_access_key"],
        "AWS_SECRET_ACCESS_KEY": ep["s3_secret_key"],
    }


def _write(ep: dict[str, str], location: str, rows: int) -> None:
    deltalake.write_deltalake(location, pa.table({"n": list(range(rows))}), storage_options=_storage(ep), mode="append")


def _count(ep: dict[str, str], table: str) -> int:
    return int(query(ep["trino_url"], f"SELECT count(*) FROM {table}")[0][0])  # noqa: S608 (the test's own table)


def test_delta_tables_lifecycle_through_the_real_engine(
    engine: harness.Engine, testbed: dict[str, str], require_services
) -> None:
    require_services("trino", "s3")
    ep, rid = testbed, uuid.uuid4().hex[:8]
    schema, table = f"engine_tables_{rid}", f"engine_events_{rid}"
    lake = ep["lake_bucket"]
    _write(ep, f"s3://{lake}/{table}", 11)
    _write(ep, f"s3://{lake}/{table}_rejected", 2)
    stack = engine.stack(
        program,
        params={"trino_url": ep["trino_url"], "schema": schema},
        secrets={"probe": secrets.token_urlsafe(24)},
        config={"lakehouse:deltaTable": table},
    )
    try:
        # up registers both tables (the engine sends wait_seconds as a float: check() must cope).
        assert stack.up().changes == {"create": 2}
        names = stack.outputs()["table_names"]
        assert names == {table: f"delta.{schema}.{table}", f"{table}_rejected": f"delta.{schema}.{table}_rejected"}
        assert _count(ep, names[table]) == 11
        assert _count(ep, names[f"{table}_rejected"]) == 2
        # Nothing to do on a second up or a preview.
        assert stack.preview().changed() == {}
        assert stack.up().changed() == {}
        # A changed input that Trino does not care about is an update in place, never a replacement.
        step = stack.preview(wait=300).step("delta-tables")
        assert (step.op, step.changed_inputs) == ("update", ["wait_seconds"])
        assert stack.up().changed() == {"update": 1}
        # Another schema replaces the resource: registrations in the new schema, none left in the old one.
        other = f"{schema}_b"
        step = stack.preview(schema=other).step("delta-tables")
        assert step.keys == ["schema"]
        assert stack.up().changed() == {"replace": 1}
        assert _count(ep, f"delta.{other}.{table}") == 11
        assert delta_tables.registered_location(ep["trino_url"], "delta", schema, table, user="x") is None
        # refresh reads what Trino holds: a table unregistered behind the stack's back leaves the state.
        delta_tables.unregister(ep["trino_url"], "delta", other, f"{table}_rejected", user="x")
        stack.refresh()
        (res,) = stack.resources(TYPE)
        assert set(res["outputs"]["tables"]) == {table}
        # ... and the next up registers it again.
        assert stack.up().changed() == {"update": 1}
        assert _count(ep, f"delta.{other}.{table}_rejected") == 2
        # An edit of the code the provider runs is an update (provider_hash).
        engine.edit("lakehouse/clients/delta_tables.py", append="\n# an edit\n")
        assert stack.preview().changed() == {"update": 1}
        stack.assert_no_plaintext(list(stack.secrets.values()))
        assert stack.destroy().changes == {"delete": 2}
        assert delta_tables.registered_location(ep["trino_url"], "delta", other, table, user="x") is None
        # The data stays.
        assert (
            deltalake.DeltaTable(f"s3://{lake}/{table}", storage_options=_storage(ep)).to_pyarrow_table().num_rows == 11
        )
    finally:
        for sch in (schema, f"{schema}_b"):
            for t in (table, f"{table}_rejected"):
                delta_tables.unregister(ep["trino_url"], "delta", sch, t, user="x")
            delta_tables.drop_schema_if_empty(ep["trino_url"], "delta", sch, user="x")
