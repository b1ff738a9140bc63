"""What the SupersetDashboards provider does to Superset: import the bundle of superset_assets/ (creating or
adopting and updating every object), find the imported objects by uuid, delete them in dependency order.
Every function takes the provider's property dict, which `inputs(settings, ...)` builds.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lakehouse import superset_bundle
from lakehouse.clients.delta_tables import TRINO_SCHEMA
from lakehouse.clients.superset_api import KINDS, SupersetClient, SupersetError
from lakehouse.generators.superset import trino_sqlalchemy_uri
from lakehouse.generators.trino import CATALOG
from lakehouse.settings import Settings

IN_NETWORK_TRINO = ("trino", 8080)
"""How Superset's container reaches Trino inside the Docker network."""


def inputs(
    s: Settings,
    *,
    superset_url: str,
    public_url: str = "",
    trino_host: str = IN_NETWORK_TRINO[0],
    trino_port: int = IN_NETWORK_TRINO[1],
    schema: str = TRINO_SCHEMA,
    instance: str = "",
    assets_dir: str = "",
    timeout_seconds: int = 600,
) -> dict[str, Any]:
    """The provider's inputs for the lakehouse of `s`, except `admin_password` (a secret the caller adds).

    `superset_url` is Superset as the provider reaches it, `public_url` as a browser opens it (the dashboards'
    URLs; default: `superset_url`); `trino_host` and `trino_port` are Trino as *Superset* reaches it."""
    from contract.names import rejected_table_name

    return {
        "superset_url": superset_url.rstrip("/"),
        "public_url": (public_url or superset_url).rstrip("/"),
        "admin_user": s.superset_admin_user,
        "trino_uri": trino_sqlalchemy_uri(host=trino_host, port=trino_port, catalog=CATALOG),
        "catalog": CATALOG,
        "schema": schema,
        "events_table": s.delta_table,
        "rejected_table": rejected_table_name(s.delta_table),
        "instance": instance,
        "assets_dir": assets_dir,
        "timeout_seconds": timeout_seconds,
        "assets_hash": superset_bundle.assets_hash(Path(assets_dir) if assets_dir else superset_bundle.ASSETS_DIR),
    }


def _assets_dir(props: Mapping[str, Any]) -> Path:
    return Path(props["assets_dir"]) if props.get("assets_dir") else superset_bundle.ASSETS_DIR


def bundle_of(props: Mapping[str, Any]) -> superset_bundle.Bundle:
    named = {key: props[key] for key in ("trino_uri", "schema", "events_table", "rejected_table")}
    catalog, instance = props.get("catalog") or CATALOG, props.get("instance") or ""
    return superset_bundle.build(
        superset_bundle.BundleParams(**named, catalog=catalog, instance=instance), _assets_dir(props)
    )


def _client(props: Mapping[str, Any]) -> SupersetClient:
    timeout = float(props.get("timeout_seconds") or 600)
    user, password = props["admin_user"], props["admin_password"]
    return SupersetClient.login_when_ready(
        props["superset_url"], user, password, wait_seconds=timeout, timeout=min(timeout, 120)
    )


def dashboard_url(props: Mapping[str, Any], dashboard: Mapping[str, Any]) -> str:
    """Where a browser opens `dashboard`: on `public_url` (as users reach Superset), else `superset_url`."""
    base = props.get("public_url") or props["superset_url"]
    key = dashboard.get("slug") or dashboard["id"]
    return f"{base.rstrip('/')}/superset/dashboard/{key}/"


def _located(client: SupersetClient, bundle: superset_bundle.Bundle, props: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs describing the imported objects: ids by uuid, each dashboard's id and URL."""
    wanted = bundle.uuids()
    ids = {kind: client.ids_by_uuid(kind, wanted[kind]) for kind in KINDS}
    missing = {kind: sorted(set(wanted[kind]) - set(ids[kind])) for kind in KINDS if set(wanted[kind]) - set(ids[kind])}
    if missing:
        raise SupersetError(
            f"Superset at {client.base_url}: after importing {_assets_dir(props)} these objects are not there: "
            f"{missing} (the import answered OK; is another bundle using the same uuids?)"
        )
    return _outputs(props, ids, bundle.dashboards())


def _outputs(props: Mapping[str, Any], ids: dict[str, dict[str, int]], dashboards: Any) -> dict[str, Any]:
    """The outputs naming the objects Superset holds (`ids`: kind -> uuid -> id), with each dashboard's URL."""
    entries = [{**d, "id": ids["dashboard"][d["uuid"]]} for d in dashboards if d["uuid"] in ids["dashboard"]]
    found = [{**entry, "url": dashboard_url(props, entry)} for entry in entries]
    return {
        "object_ids": {kind: dict(sorted(ids[kind].items())) for kind in KINDS},
        "dashboards": found,
        "dashboard_urls": {d["title"]: d["url"] for d in found},
    }


def apply(props: Mapping[str, Any], *, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Import the bundle (create, or adopt and update: the assets endpoint overwrites databases, datasets, charts
    and dashboards matched by uuid) and return the outputs. Objects that `previous` (the last outputs) had and the
    bundle no longer has (a chart removed from superset_assets/, another `instance`) are deleted afterwards."""
    bundle = bundle_of(props)
    started = time.monotonic()
    with _client(props) as client:
        existing = {kind: client.ids_by_uuid(kind, uuids) for kind, uuids in bundle.uuids().items()}
        what = f"importing {_assets_dir(props)} (assets bundle)"
        client.import_bundle(bundle.data, passwords=bundle.passwords, what=what)
        seconds = time.monotonic() - started
        outs = _located(client, bundle, props)
        if previous:
            old, now = previous.get("object_ids") or {}, outs["object_ids"]
            client.delete_by_uuid({kind: sorted(set(old.get(kind) or {}) - set(now[kind])) for kind in KINDS})
    outs["adopted"] = {kind: sorted(found) for kind, found in existing.items() if found}
    outs["import_seconds"] = round(seconds, 2)
    return outs


def remove(props: Mapping[str, Any]) -> dict[str, list[str]]:
    """Delete what the outputs `props` name, dashboards first, then charts, datasets and the database. Objects
    already gone are skipped. Returns kind -> uuids deleted."""
    uuids = {kind: list((props.get("object_ids") or {}).get(kind) or {}) for kind in KINDS}
    if not any(uuids.values()):
        return {}
    with _client(props) as client:
        return client.delete_by_uuid(uuids)


def inspect(props: Mapping[str, Any]) -> dict[str, Any] | None:
    """What Superset holds now of the objects the outputs `props` name (for `pulumi refresh`): the outputs with
    the live ids, or None when none of the dashboards exists any more."""
    with _client(props) as client:
        ids = {kind: client.ids_by_uuid(kind, (props.get("object_ids") or {}).get(kind) or {}) for kind in KINDS}
    if not ids["dashboard"]:
        return None
    return {**props, **_outputs(props, ids, props.get("dashboards") or [])}
