"""The SupersetDashboards dynamic provider's pure parts: validation, diff (what replaces, what updates, what is
ignored), the engine's floats, the inputs built from Settings, the password kept secret in the graph. The
provider against a real Superset is in tests/integration/test_superset_dashboards.py and tests/engine/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.providers import superset_dashboards as prov
from lakehouse import superset_bundle
from lakehouse.clients import superset_dashboards
from lakehouse.settings import Settings

PASSWORD = "Adm1n-pw-for-unit-tests"  # pragma: allowlist secret - a unit test's fake
GOOD: dict[str, Any] = {
    **superset_dashboards.inputs(Settings(), superset_url="http://127.0.0.1:8088"),
    "admin_password": PASSWORD,
    "provider_hash": "p1",
}


def test_inputs_from_settings_name_the_stacks_tables_and_trino_inside_docker() -> None:
    s = Settings()
    got = superset_dashboards.inputs(s, superset_url="http://localhost:8088/")
    assert got == {
        "superset_url": "http://localhost:8088",
        "public_url": "http://localhost:8088",  # no other given: the dashboards' URLs use superset_url
        "admin_user": s.superset_admin_user,
        "trino_uri": "trino://superset@trino:8080/delta",
        "catalog": "delta",
        "schema": "lakehouse",
        "events_table": "logistics_events",
        "rejected_table": "logistics_events_rejected",
        "instance": "",
        "assets_dir": "",
        "timeout_seconds": 600,
        "assets_hash": superset_bundle.assets_hash(),
    }
    assert "admin_password" not in got
    other = superset_dashboards.inputs(
        Settings(delta_table="shipments"), superset_url="http://x:1", trino_host="127.0.0.1", trino_port=20085
    )
    assert other["events_table"] == "shipments" and other["rejected_table"] == "shipments_rejected"
    assert other["trino_uri"] == "trino://superset@127.0.0.1:20085/delta"


def test_valid_inputs_pass() -> None:
    assert prov.validate(GOOD) == []


@pytest.mark.parametrize(
    ("change", "prop", "text"),
    [
        ({"superset_url": "localhost:8088"}, "superset_url", "http(s)://host[:port]"),
        ({"superset_url": "http://x:1/path"}, "superset_url", "http(s)://host[:port]"),
        ({"admin_user": "a b"}, "admin_user", "letters, digits"),
        ({"admin_password": ""}, "admin_password", "non-empty"),
        ({"timeout_seconds": 5}, "timeout_seconds", "from 10 to 3600"),
        ({"timeout_seconds": 60.5}, "timeout_seconds", "from 10 to 3600"),
        ({"trino_uri": "http://trino:8080"}, "trino_uri", "trino://"),
        ({"schema": "Lake-House"}, "schema", "SQL identifier"),
        ({"events_table": ""}, "events_table", "SQL identifier"),
        ({"instance": "UPPER"}, "instance", "a-z, 0-9"),
        ({"assets_dir": "/no/such/dir"}, "assets_dir", "a directory"),
        ({"assets_hash": ""}, "assets_hash", "non-empty"),
    ],
)
def test_invalid_inputs_name_the_property(change: dict, prop: str, text: str) -> None:
    failures = prov.validate({**GOOD, **change})
    assert [p for p, _ in failures] == [prop]
    assert text in failures[0][1]


def test_validation_never_echoes_the_password() -> None:
    failures = prov.validate({**GOOD, "admin_password": 12345678, "superset_url": "nope"})
    assert {p for p, _ in failures} == {"admin_password", "superset_url"}
    assert all("12345678" not in reason for _, reason in failures)


def test_check_accepts_the_floats_the_engine_sends() -> None:
    result = prov.SupersetDashboardsProvider().check({}, {**GOOD, "timeout_seconds": 600.0})
    assert result.failures == []
    assert type(result.inputs["timeout_seconds"]) is int


def test_diff_no_change_is_no_update() -> None:
    assert prov.diff(GOOD, dict(GOOD)) == ([], [])
    result = prov.SupersetDashboardsProvider().diff("id", {**GOOD, "timeout_seconds": 600.0}, dict(GOOD))
    assert result.changes is False


@pytest.mark.parametrize(
    "prop",
    ["assets_hash", "provider_hash", "trino_uri", "schema", "events_table", "rejected_table", "catalog",
     "admin_user", "admin_password", "instance", "assets_dir"],
)  # fmt: skip
def test_diff_updates_in_place_for(prop: str) -> None:
    value = "/tmp" if prop == "assets_dir" else "changed"
    assert prov.diff(GOOD, {**GOOD, prop: value}) == ([prop], [])


def test_diff_replaces_for_another_superset() -> None:
    changed, replaces = prov.diff(GOOD, {**GOOD, "superset_url": "http://127.0.0.1:9999", "assets_hash": "x"})
    assert replaces == ["superset_url"] and set(changed) == {"superset_url", "assets_hash"}
    result = prov.SupersetDashboardsProvider().diff("id", GOOD, {**GOOD, "superset_url": "http://other:8088"})
    assert result.changes is True and result.replaces == ["superset_url"]
    assert result.delete_before_replace is False  # the new Superset gets them before the old one loses them


def test_diff_ignores_the_timeout_and_the_outputs() -> None:
    outputs = {"dashboard_urls": {"a": "b"}, "object_ids": {"chart": {}}, "adopted": {}, "import_seconds": 3.2}
    assert prov.diff({**GOOD, **outputs}, {**GOOD, "timeout_seconds": 30}) == ([], [])


def test_provider_hash_covers_the_code_it_applies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    before = prov.provider_hash()
    assert prov.provider_hash() == before
    edited = tmp_path / "superset_api.py"
    edited.write_text(Path(prov.superset_api.__file__).read_text() + "\n# edited\n")
    monkeypatch.setattr(prov.superset_api, "__file__", str(edited))
    assert prov.provider_hash() != before


def test_provider_captures_nothing_secret() -> None:
    p = prov.SupersetDashboardsProvider()
    assert p.serialize_as_secret_always is False
    assert vars(p) == {}


def test_dashboard_url_uses_the_slug_on_the_url_browsers_open() -> None:
    props = {"superset_url": "http://127.0.0.1:8088/", "public_url": "http://localhost:8088"}
    assert (
        superset_dashboards.dashboard_url(props, {"slug": "logistics-live", "id": 3})
        == "http://localhost:8088/superset/dashboard/logistics-live/"
    )
    no_public = {"superset_url": "http://h:1"}
    assert superset_dashboards.dashboard_url(no_public, {"slug": "", "id": 3}) == "http://h:1/superset/dashboard/3/"


# ----- in the graph (Pulumi mocks, with check() run as the engine runs it) -----


def test_resource_passes_check_and_keeps_the_password_secret_even_when_given_plain() -> None:
    from pulumi.runtime.rpc import is_rpc_secret
    from stack_harness import plain, run_program

    def program() -> None:
        inputs = superset_dashboards.inputs(Settings(), superset_url="http://127.0.0.1:8088")
        prov.SupersetDashboards("dashboards", admin_password=PASSWORD, **inputs)

    rec = run_program(program)
    (res,) = [r for r in rec.resources if r.name == "dashboards"]
    assert is_rpc_secret(res.inputs["admin_password"]) and plain(res.inputs["admin_password"]) == PASSWORD
    leaked = [k for k, v in res.inputs.items() if k != "admin_password" and PASSWORD in repr(plain(v))]
    assert leaked == []
    assert plain(res.inputs["assets_hash"]) == superset_bundle.assets_hash()
    assert plain(res.inputs["provider_hash"]) == prov.provider_hash()
    reg = next(r for r in rec.registrations if r.name == "dashboards")
    assert "admin_password" in reg.additional_secret_outputs


def test_diff_sees_objects_refresh_found_missing() -> None:
    wanted = {"chart": ["c1", "c2"], "dashboard": ["d1"]}
    complete = {**GOOD, "object_ids": {"chart": {"c1": 1, "c2": 2}, "dashboard": {"d1": 1}}}
    assert prov.diff(complete, dict(GOOD), wanted) == ([], [])
    deleted_by_hand = {**GOOD, "object_ids": {"chart": {"c1": 1}, "dashboard": {"d1": 1}}}
    assert prov.diff(deleted_by_hand, dict(GOOD), wanted) == (["object_ids"], [])


def test_values_unknown_during_a_preview_are_not_refused() -> None:
    from pulumi.output import Unknown
    from pulumi.runtime.rpc import UNKNOWN

    for placeholder in (UNKNOWN, Unknown()):  # the wire string, and the object the provider host hands over
        unknown = {**GOOD, "superset_url": placeholder, "trino_uri": placeholder, "admin_password": placeholder}
        assert prov.validate(unknown) == []
        assert prov.SupersetDashboardsProvider().check({}, unknown).failures == []


def test_check_refuses_broken_assets_before_anything_is_imported(tmp_path: Path) -> None:
    import shutil

    assets = tmp_path / "assets"
    shutil.copytree(superset_bundle.ASSETS_DIR, assets)
    (assets / "charts" / "risk_share.yaml").write_text("slice_name: [unclosed\n")
    result = prov.SupersetDashboardsProvider().check({}, {**GOOD, "assets_dir": str(assets)})
    assert [f.property for f in result.failures] == ["assets_hash"]
    assert "charts/risk_share.yaml is not valid YAML" in result.failures[0].reason
