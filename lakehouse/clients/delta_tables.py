"""Registering the streaming job's Delta tables in Trino: wait for the log, register (or adopt), unregister.

Trino's file metastore only learns of a table Spark writes through `CALL <catalog>.system.register_table(...)`,
which fails until the table's `_delta_log` exists. Unregistering leaves the data where it is.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from lakehouse.clients.trino_sql import TrinoQueryError, TrinoUnavailable, query

TRINO_SCHEMA = "lakehouse"
"""The Trino schema the stack registers its tables in (delta.lakehouse.<table>); the dashboards read them there."""
IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
LOCATION = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9._=/-]+)?$")
_NO_LOG = "No transaction log found"
_SHOWN_LOCATION = re.compile(r"location = '([^']*)'")


class DeltaTablesError(RuntimeError):
    """A step against Trino failed; the message names Trino's URL, the step and Trino's answer."""


@dataclass(frozen=True)
class TableSpec:
    name: str  # in `<catalog>.<schema>`
    location: str  # s3://bucket/path


def qualified(catalog: str, schema: str, table: str) -> str:
    return f"{catalog}.{schema}.{table}"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _procedure(catalog: str, name: str, **args: str) -> str:
    named = ", ".join(f"{key} => {_sql_string(value)}" for key, value in args.items())
    return f"CALL {catalog}.system.{name}({named})"


def registered_location(url: str, catalog: str, schema: str, table: str, *, user: str) -> str | None:
    """Where Trino's metastore says `catalog.schema.table` lives, or None when it is not registered."""
    try:
        rows = query(url, f"SHOW CREATE TABLE {qualified(catalog, schema, table)}", user=user, timeout=60)
    except TrinoQueryError as exc:
        if exc.error_name in ("TABLE_NOT_FOUND", "SCHEMA_NOT_FOUND"):
            return None
        raise
    m = _SHOWN_LOCATION.search(rows[0][0]) if rows else None
    return m.group(1).rstrip("/") if m else None


def ensure_schema(url: str, catalog: str, schema: str, *, user: str) -> bool:
    """Create the schema if it is missing; True when this call created it."""
    existed = _schema_exists(url, catalog, schema, user=user)
    if not existed:
        query(url, f"CREATE SCHEMA IF NOT EXISTS {catalog}.{schema}", user=user, timeout=60)
    return not existed


def _schema_exists(url: str, catalog: str, schema: str, *, user: str) -> bool:
    rows = query(url, f"SHOW SCHEMAS FROM {catalog} LIKE {_sql_string(schema)}", user=user, timeout=60)
    return any(r[0] == schema for r in rows)


def register(
    url: str,
    catalog: str,
    schema: str,
    spec: TableSpec,
    *,
    user: str,
    wait_seconds: float,
    poll_seconds: float = 3.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Register `spec` once its `_delta_log` exists (waiting at most `wait_seconds`); adopt an existing
    registration at the same location, move one at another location. Returns 'registered', 'adopted' or
    'moved'."""
    where = registered_location(url, catalog, schema, spec.name, user=user)
    if where == spec.location.rstrip("/"):
        return "adopted"
    outcome = "registered"
    if where is not None:
        unregister(url, catalog, schema, spec.name, user=user)
        outcome = "moved"
    call = _procedure(catalog, "register_table", schema_name=schema, table_name=spec.name, table_location=spec.location)
    deadline = clock() + wait_seconds
    while True:
        try:
            query(url, call, user=user, timeout=120)
            return outcome
        except TrinoQueryError as exc:
            waiting_for_log = _NO_LOG in exc.error_message
            if not (waiting_for_log or isinstance(exc, TrinoUnavailable)):
                raise DeltaTablesError(f"registering {qualified(catalog, schema, spec.name)} failed: {exc}") from exc
            if clock() >= deadline:
                why = (
                    f"{spec.location}/_delta_log does not exist yet (the streaming job creates it when it starts: "
                    "is it running? see Orion's job list and log)"
                    if waiting_for_log
                    else f"Trino kept failing: {exc}"
                )
                raise DeltaTablesError(
                    f"Trino at {url}: gave up registering {qualified(catalog, schema, spec.name)} after "
                    f"{wait_seconds:.0f} s: {why}"
                ) from exc
        sleep(poll_seconds)


def unregister(url: str, catalog: str, schema: str, table: str, *, user: str) -> bool:
    """Forget the table in Trino's metastore (its files stay). False when it was not registered."""
    call = _procedure(catalog, "unregister_table", schema_name=schema, table_name=table)
    try:
        query(url, call, user=user, timeout=60)
    except TrinoQueryError as exc:
        if exc.error_name in ("NOT_FOUND", "TABLE_NOT_FOUND", "SCHEMA_NOT_FOUND"):
            return False
        raise DeltaTablesError(f"unregistering {qualified(catalog, schema, table)} failed: {exc}") from exc
    return True


def drop_schema_if_empty(url: str, catalog: str, schema: str, *, user: str) -> bool:
    """Drop the schema when nothing is registered in it any more; True if it was dropped."""
    if not _schema_exists(url, catalog, schema, user=user):
        return False
    if query(url, f"SHOW TABLES FROM {catalog}.{schema}", user=user, timeout=60):
        return False
    query(url, f"DROP SCHEMA IF EXISTS {catalog}.{schema}", user=user, timeout=60)
    return True


def live_locations(url: str, catalog: str, schema: str, names: Mapping[str, str], *, user: str) -> dict[str, str]:
    """name -> registered location of each table in `names` that Trino knows (for `pulumi refresh`)."""
    found = {name: registered_location(url, catalog, schema, name, user=user) for name in names}
    return {name: where for name, where in found.items() if where is not None}
