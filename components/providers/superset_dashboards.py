"""The dashboards of superset_assets/ in Superset, as a Pulumi resource (a dynamic provider) driving Superset
through its published port with `lakehouse.clients.superset_dashboards`:
- create/update: imports the bundle (database, datasets, charts, dashboards, matched by uuid: never a second copy),
  then deletes what the previous import made that the bundle no longer has; a new `superset_url` replaces it;
- delete: every object it imported, by uuid; read: what Superset holds now (objects deleted by hand come back).
`timeout_seconds` only bounds waiting (no update of its own). The admin password arrives only as a secret input;
nothing is captured in the provider object, which is pickled into the state.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from components.providers.inputs import Provider, changed_inputs, code_hash, is_unknown, known_failures
from lakehouse import superset_bundle
from lakehouse.clients import superset_api, superset_dashboards

BUNDLE_PROPS = ("trino_uri", "catalog", "schema", "events_table", "rejected_table", "instance", "assets_dir")
USER_PROPS = ("superset_url", "public_url", "admin_user", "admin_password")
INPUT_PROPS = (*USER_PROPS, *BUNDLE_PROPS, "timeout_seconds", "assets_hash", "provider_hash")
INT_PROPS = ("timeout_seconds",)
REPLACE_PROPS = ("superset_url",)
# Inputs whose change alters nothing in Superset.
IGNORED_PROPS = ("timeout_seconds",)
_URL = re.compile(r"^https?://[^/\s]+$")
_USER = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


def provider_hash() -> str:
    return code_hash(Path(__file__), superset_dashboards, superset_api, superset_bundle)


def validate(props: dict[str, Any]) -> list[tuple[str, str]]:
    failures: list[tuple[str, str]] = []
    url = props.get("superset_url")
    if not isinstance(url, str) or not _URL.match(url.rstrip("/")):
        failures.append(("superset_url", f"superset_url = {url!r} must be http(s)://host[:port] of Superset"))
    public = props.get("public_url", "")
    if not isinstance(public, str) or (public and not _URL.match(public.rstrip("/"))):
        failures.append(("public_url", f"public_url = {public!r} must be '' or http(s)://host[:port] (for browsers)"))
    user = props.get("admin_user")
    if not isinstance(user, str) or not _USER.match(user):
        failures.append(("admin_user", f"admin_user = {user!r} must be 1-64 letters, digits, '_', '.', '@', '-'"))
    password = props.get("admin_password")
    if not isinstance(password, str) or not password:
        # Never echo the value.
        failures.append(("admin_password", "admin_password must be a non-empty string (pass it as a secret)"))
    timeout = props.get("timeout_seconds")
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 10 <= timeout <= 3600:
        failures.append(("timeout_seconds", f"timeout_seconds = {timeout!r} must be an integer from 10 to 3600"))
    assets_dir = props.get("assets_dir") or ""
    if not isinstance(assets_dir, str) or (assets_dir and not Path(assets_dir).is_dir()):
        failures.append(("assets_dir", f"assets_dir = {assets_dir!r} must be '' (superset_assets/) or a directory"))
    params = BUNDLE_PROPS[:-1]  # BundleParams' fields, assets_dir aside
    try:
        if not any(is_unknown(props.get(p)) for p in BUNDLE_PROPS):
            plain = {p: str(props.get(p)) for p in params[:-1]}
            superset_bundle.BundleParams(**plain, instance=str(props.get("instance") or ""))
    except superset_bundle.BundleError as exc:
        failures.append((next((p for p in params if str(exc).startswith(p)), "trino_uri"), str(exc)))
    for prop in ("assets_hash", "provider_hash"):
        if not isinstance(props.get(prop), str) or not props.get(prop):
            failures.append((prop, f"{prop} must be a non-empty string (a hash of what is applied)"))
    # A value still unknown during a preview (an output of another resource) is checked at `up`.
    return known_failures(props, failures)


def diff(
    olds: dict[str, Any], news: dict[str, Any], wanted: dict[str, list[str]] | None = None
) -> tuple[list[str], list[str]]:
    """(changed properties, those forcing a replacement); `object_ids` when the stored ones are not `wanted` (kind ->
    uuids of the bundle `news` builds): objects `pulumi refresh` found missing are imported again."""
    changed = changed_inputs(olds, news, [k for k in INPUT_PROPS if k not in IGNORED_PROPS])
    stored = olds.get("object_ids")
    if wanted is not None and isinstance(stored, dict) and not changed:
        if {k: sorted(stored.get(k) or {}) for k in wanted} != {k: sorted(v) for k, v in wanted.items()}:
            changed.append("object_ids")
    return changed, [k for k in REPLACE_PROPS if k in changed]


class SupersetDashboardsProvider(Provider):
    """The resource id is the Superset URL plus the instance (one set of dashboards per Superset and instance)."""

    INT_PROPS = INT_PROPS
    DELETE_BEFORE_REPLACE = False  # another Superset: create there, then delete here

    def failures(self, news: dict[str, Any], olds: dict[str, Any]) -> list[tuple[str, str]]:
        failures = validate(news)
        if not failures and not any(is_unknown(news.get(p)) for p in BUNDLE_PROPS):
            try:  # the assets themselves: a broken file is refused at preview, before anything is imported
                superset_dashboards.bundle_of(news)
            except superset_bundle.BundleError as exc:
                failures.append(("assets_hash", str(exc)))
        return failures

    def changes(self, olds: dict[str, Any], news: dict[str, Any]) -> tuple[list[str], list[str]]:
        try:
            wanted = superset_dashboards.bundle_of(news).uuids()
        except (superset_bundle.BundleError, KeyError, TypeError):
            wanted = None  # unknown inputs during a preview, or check() reports the problem
        return diff(olds, news, wanted)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(_resource_id(props), {**props, **superset_dashboards.apply(props)})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**news, **superset_dashboards.apply(news, previous=olds)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        live = superset_dashboards.inspect(props)
        return ReadResult(id_, live) if live is not None else ReadResult(None, {})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        superset_dashboards.remove(props)


def _resource_id(props: dict[str, Any]) -> str:
    instance = props.get("instance") or ""
    return props["superset_url"].rstrip("/") + (f"#{instance}" if instance else "")


class SupersetDashboards(pulumi.dynamic.Resource, module="lakehouse", name="SupersetDashboards"):
    """The dashboards of `assets_dir` (default superset_assets/) imported into the Superset at `superset_url`: the
    inputs of `lakehouse.clients.superset_dashboards.inputs(settings, ...)` plus the admin password (a secret)."""

    dashboard_urls: pulumi.Output[dict[str, str]]
    dashboards: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self,
        resource_name: str,
        *,
        superset_url: pulumi.Input[str],
        admin_user: pulumi.Input[str],
        admin_password: pulumi.Input[str],
        trino_uri: pulumi.Input[str],
        schema: str,
        events_table: str,
        rejected_table: str,
        assets_hash: str,
        catalog: str = "delta",
        instance: str = "",
        assets_dir: str = "",
        timeout_seconds: int = 600,
        public_url: pulumi.Input[str] = "",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "superset_url": superset_url,
            "public_url": public_url,
            "admin_user": admin_user,
            # Secret even when the caller passed a plain string: the state must never hold it in clear.
            "admin_password": pulumi.Output.secret(admin_password),
            "trino_uri": trino_uri,
            "catalog": catalog,
            "schema": schema,
            "events_table": events_table,
            "rejected_table": rejected_table,
            "instance": instance,
            "assets_dir": assets_dir,
            "timeout_seconds": timeout_seconds,
            "assets_hash": assets_hash,
            "provider_hash": provider_hash(),
            **dict.fromkeys(("dashboard_urls", "dashboards", "object_ids", "adopted", "import_seconds")),
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["admin_password"]))
        super().__init__(SupersetDashboardsProvider(), resource_name, props, opts)
