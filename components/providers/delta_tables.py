"""The streaming job's Delta tables registered in Trino, as a Pulumi resource (a dynamic provider) driving Trino
through its published port with `lakehouse.clients.delta_tables`: create waits (bounded) for each `_delta_log` and
registers each table (adopting a registration at the same location), update re-registers moved tables and
unregisters dropped ones, delete unregisters them all (the data stays) and drops the schema it created if empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from components.providers.inputs import Provider, changed_inputs, code_hash
from lakehouse.clients import delta_tables, trino_sql
from lakehouse.clients.delta_tables import IDENT, LOCATION, TableSpec

INPUT_PROPS = ("trino_url", "trino_user", "catalog", "schema", "tables", "wait_seconds", "provider_hash")
INT_PROPS = ("wait_seconds",)
REPLACE_PROPS = ("catalog", "schema")


def provider_hash() -> str:
    return code_hash(Path(__file__), delta_tables, trino_sql)


def validate(props: dict[str, Any]) -> list[tuple[str, str]]:
    failures: list[tuple[str, str]] = []
    url = props.get("trino_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        failures.append(("trino_url", f"trino_url = {url!r} must be an http(s):// URL of Trino"))
    for prop in ("catalog", "schema", "trino_user"):
        value = props.get(prop)
        if not isinstance(value, str) or not IDENT.match(value):
            failures.append((prop, f"{prop} = {value!r} must be a lower-case SQL identifier (a-z, 0-9, '_')"))
    tables = props.get("tables")
    if not isinstance(tables, dict) or not tables:
        failures.append(("tables", f"tables = {tables!r} must map at least one table name to its s3:// location"))
    else:
        for name, location in tables.items():
            if not IDENT.match(str(name)):
                failures.append(("tables", f"table name {name!r} must be a lower-case SQL identifier"))
            if not isinstance(location, str) or not LOCATION.match(location.rstrip("/")):
                failures.append(("tables", f"location {location!r} of table {name!r} must look like s3://bucket/path"))
    wait = props.get("wait_seconds")
    if not isinstance(wait, int) or isinstance(wait, bool) or not 1 <= wait <= 86400:
        failures.append(("wait_seconds", f"wait_seconds = {wait!r} must be an integer from 1 to 86400"))
    return failures


def diff(olds: dict[str, Any], news: dict[str, Any]) -> tuple[bool, list[str]]:
    changed = changed_inputs(olds, news, INPUT_PROPS)
    return bool(changed), [k for k in REPLACE_PROPS if k in changed]


def qualified_names(props: dict[str, Any]) -> dict[str, str]:
    return {name: delta_tables.qualified(props["catalog"], props["schema"], name) for name in props["tables"]}


class DeltaTablesProvider(Provider):
    """The resource id is `<catalog>.<schema>`."""

    INT_PROPS = INT_PROPS

    def failures(self, news: dict[str, Any], olds: dict[str, Any]) -> list[tuple[str, str]]:
        return validate(news)

    def changes(self, olds: dict[str, Any], news: dict[str, Any]) -> tuple[bool, list[str]]:
        return diff(olds, news)

    def create(self, props: dict[str, Any]) -> CreateResult:
        created = delta_tables.ensure_schema(*_schema(props), user=props["trino_user"])
        return CreateResult(f"{props['catalog']}.{props['schema']}", _registered(props, created))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        for gone in set(olds.get("tables") or {}) - set(news["tables"]):
            delta_tables.unregister(*_schema(news), gone, user=news["trino_user"])
        delta_tables.ensure_schema(*_schema(news), user=news["trino_user"])
        return UpdateResult(_registered(news, bool(olds.get("schema_created"))))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = delta_tables.live_locations(*_schema(props), props.get("tables") or {}, user=props["trino_user"])
        if not live:
            return ReadResult(None, {})
        # Trino reports locations without a trailing slash; keep the user's spelling where they agree.
        tables = {
            name: props["tables"][name] if props["tables"][name].rstrip("/") == where else where
            for name, where in live.items()
        }
        return ReadResult(id_, {**props, "tables": tables, "table_names": qualified_names({**props, "tables": tables})})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        for name in props.get("tables") or {}:
            delta_tables.unregister(*_schema(props), name, user=props["trino_user"])
        if props.get("schema_created"):
            delta_tables.drop_schema_if_empty(*_schema(props), user=props["trino_user"])


def _schema(props: dict[str, Any]) -> tuple[str, str, str]:
    return props["trino_url"], props["catalog"], props["schema"]


def _registered(props: dict[str, Any], schema_created: bool) -> dict[str, Any]:
    registrations = {
        name: delta_tables.register(
            *_schema(props),
            TableSpec(name, location.rstrip("/")),
            user=props["trino_user"],
            wait_seconds=props["wait_seconds"],
        )
        for name, location in props["tables"].items()
    }
    return {
        **props,
        "schema_created": schema_created,
        "registrations": registrations,
        "table_names": qualified_names(props),
    }


class DeltaTables(pulumi.dynamic.Resource, module="lakehouse", name="DeltaTables"):
    """The tables of `tables` (name -> s3:// location) registered in Trino as `<catalog>.<schema>.<name>`."""

    table_names: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        resource_name: str,
        *,
        trino_url: pulumi.Input[str],
        catalog: str,
        schema: str,
        tables: dict[str, str],
        trino_user: str = "lakehouse",
        wait_seconds: int = 600,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "trino_url": trino_url,
            "trino_user": trino_user,
            "catalog": catalog,
            "schema": schema,
            "tables": dict(tables),
            "wait_seconds": wait_seconds,
            "provider_hash": provider_hash(),
            **dict.fromkeys(("schema_created", "registrations", "table_names")),
        }
        super().__init__(DeltaTablesProvider(), resource_name, props, opts)
