"""The SupersetDashboards provider's own check/create/update/read/delete against the shared test bed's Superset
6.1.0 and Trino 476, on the streaming job's two Delta tables (synthetic rows written by delta-rs, registered
under a unique schema): create -> every chart of both dashboards returns data through Superset's chart data
API, with the exact counts -> an edit of a chart's and a dataset's YAML (in a temporary copy of
superset_assets/) and a chart removed -> update re-imports, the edits are visible, the removed chart is gone,
the other objects are the same ones -> create again adopts (no second dashboard) -> delete removes
dashboards, charts, datasets and the database.

The copy is an `instance` of its own (its own uuids and slugs), so it never touches the stack's dashboards
that `make demo` may have imported into the same Superset.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from components.providers.superset_dashboards import SupersetDashboardsProvider
from lakehouse import superset_bundle
from lakehouse.clients import superset_dashboards
from lakehouse.clients.superset_api import KINDS, SupersetClient
from tests.integration.test_superset_lake import Lake, dashboard_props, synthetic_lake

pytestmark = pytest.mark.integration

EDITED_TITLE = "Events per minute (edited in YAML)"
EDITED_DESCRIPTION = "Valid logistics events: description edited in YAML."
REMOVED_CHART = "live_shipments_reporting"


@pytest.fixture
def lake(testbed: dict[str, str], require_services) -> Iterator[Lake]:
    require_services("superset", "trino", "s3")
    with synthetic_lake(testbed, tag="dash") as lake:
        yield lake


@pytest.fixture
def client(testbed: dict[str, str]) -> Iterator[SupersetClient]:
    with SupersetClient.login(
        testbed["superset_url"], testbed["superset_admin_user"], testbed["superset_admin_password"]
    ) as c:
        yield c


def chart_rows(client: SupersetClient, chart_id: int) -> tuple[list[int], list[dict], float]:
    started = time.monotonic()
    body = client.chart_data(chart_id, force=True)
    return [r["rowcount"] for r in body["result"]], [r["data"] for r in body["result"]], time.monotonic() - started


def by_title(client: SupersetClient, outs: dict) -> dict[str, int]:
    """slice_name -> chart id of every chart the outputs name."""
    return {client.get("chart", cid)["slice_name"]: cid for cid in outs["object_ids"]["chart"].values()}


def edit_assets(assets: Path) -> None:
    """A chart title and a dataset description changed, one chart removed (its file and its layout entry)."""
    chart = assets / "charts" / "events_per_minute.yaml"
    chart.write_text(chart.read_text().replace("slice_name: Events per minute", f"slice_name: {EDITED_TITLE}"))
    dataset = assets / "datasets" / "trino" / "logistics_events.yaml"
    doc = yaml.safe_load(dataset.read_text())
    doc["description"] = EDITED_DESCRIPTION
    dataset.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    (assets / "charts" / f"{REMOVED_CHART}.yaml").unlink()
    dash_file = assets / "dashboards" / "logistics_live.yaml"
    dash = yaml.safe_load(dash_file.read_text())
    node = dash["position"].pop(f"CHART-{REMOVED_CHART}")
    dash["position"][node["parents"][-1]]["children"].remove(f"CHART-{REMOVED_CHART}")
    dash_file.write_text(yaml.safe_dump(dash, sort_keys=False, allow_unicode=True))


def test_dashboards_lifecycle_on_the_test_bed(
    testbed: dict[str, str], lake: Lake, client: SupersetClient, tmp_path: Path
) -> None:
    assets = tmp_path / "superset_assets"
    shutil.copytree(superset_bundle.ASSETS_DIR, assets)
    instance = f"it-{uuid.uuid4().hex[:8]}"
    provider = SupersetDashboardsProvider()
    checked = provider.check({}, {**dashboard_props(testbed, lake, instance=instance, assets_dir=str(assets)),
                                  "timeout_seconds": 300.0})  # fmt: skip
    assert checked.failures == []
    props = checked.inputs
    bundle = superset_dashboards.bundle_of(props)
    expected = bundle.uuids()
    layouts = {
        f["uuid"]: superset_bundle.chart_uuids_in_layout(f)
        for r, f in bundle.files.items()
        if superset_bundle.kind_of(r) == "dashboard"
    }

    # ----- create
    created = provider.create(props)
    outs = created.outs
    try:
        assert {k: sorted(v) for k, v in outs["object_ids"].items()} == expected
        assert outs["adopted"] == {}  # nothing of this instance existed
        assert set(outs["dashboard_urls"]) == {f"Logistics — live ({instance})", f"Pipeline health ({instance})"}
        for d in outs["dashboards"]:
            assert d["url"] == f"{testbed['superset_url']}/superset/dashboard/{d['slug']}/"
            # The URL's slug is this dashboard's (the page itself is the browser test's).
            assert (
                client.request("GET", f"/api/v1/dashboard/{d['slug']}", what="reading by slug").json()["result"]["id"]
                == d["id"]
            )
            # The charts are linked to their dashboard (the layout's uuids resolved at import).
            linked = client.request("GET", f"/api/v1/dashboard/{d['id']}/charts", what="listing charts").json()
            wanted = {outs["object_ids"]["chart"][u] for u in layouts[d["uuid"]]}
            assert {c["id"] for c in linked["result"]} == wanted, d["title"]

        # ----- every chart returns data through the chart data API, with the lake's exact counts
        titles = by_title(client, outs)
        latencies = {}
        for title, cid in titles.items():
            counts, _, seconds = chart_rows(client, cid)
            latencies[title] = seconds
            assert counts and all(n > 0 for n in counts), (title, counts)
        print(f"\n[superset] import {outs['import_seconds']} s; chart data (s): "
              + ", ".join(f"{t}: {s:.2f}" for t, s in sorted(latencies.items())))  # fmt: skip

        def single(title: str) -> dict:
            (rows,) = chart_rows(client, titles[title])[1]
            return rows[0]

        assert single("Events (last hour)") == {"count": lake.events}
        assert single("Rows ingested (last hour)") == {"rows_ingested": lake.events}
        assert single("Quarantined (last hour)") == {"count": lake.rejected}
        assert single("Shipments reporting") == {"shipments": 16}
        rate = single("Quarantine rate (last hour)")["quarantine_rate"]
        assert rate == pytest.approx(lake.rejected / (lake.events + lake.rejected))
        (pie,) = chart_rows(client, titles["Share by risk classification"])[1]
        assert sum(r["count"] for r in pie) == lake.events
        assert {r["risk_classification"] for r in pie} <= {"Low Risk", "Moderate Risk", "High Risk"}
        commits, rows_per_commit = chart_rows(client, titles["Commits per minute and rows per commit"])[1]
        assert sum(v for r in commits for k, v in r.items() if k != "commit_time" and v) == lake.commits
        assert {k for r in rows_per_commit for k in r} == {"commit_time", "rows_per_commit"}
        (top,) = chart_rows(client, titles["Top shipments by delay probability"])[1]
        assert len(top) == 10

        # ----- an edit of the YAML: update re-imports, the edit is visible, the removed chart is gone
        edit_assets(assets)
        news = {**props, "assets_hash": superset_bundle.assets_hash(assets)}
        assert provider.diff(created.id, outs, news).changes is True
        updated = provider.update(created.id, outs, news).outs
        removed_uuid = next(u for u in outs["object_ids"]["chart"] if u not in updated["object_ids"]["chart"])
        assert client.find("chart", removed_uuid) is None
        assert len(updated["object_ids"]["chart"]) == len(outs["object_ids"]["chart"]) - 1
        # The same objects, updated in place (not new ones beside the old).
        for kind in KINDS:
            for u, oid in updated["object_ids"][kind].items():
                assert outs["object_ids"][kind][u] == oid, (kind, u)
        titles_after = by_title(client, updated)
        assert EDITED_TITLE in titles_after and "Events per minute" not in titles_after
        files = superset_dashboards.bundle_of(news).files
        ds_uuid = next(f["uuid"] for r, f in files.items() if r.endswith("/logistics_events.yaml"))
        assert client.get("dataset", updated["object_ids"]["dataset"][ds_uuid])["description"] == EDITED_DESCRIPTION
        assert chart_rows(client, titles_after[EDITED_TITLE])[0][0] > 0
        outs = updated

        # ----- create again (a lost state): adopts, no second copy
        again = provider.create(news).outs
        assert again["object_ids"] == outs["object_ids"]
        assert {k: len(v) for k, v in again["adopted"].items()} == {k: len(v) for k, v in outs["object_ids"].items()}
        for d in outs["dashboards"]:
            q = f"(filters:!((col:slug,opr:eq,value:'{d['slug']}')))"
            found = client.request("GET", "/api/v1/dashboard/", what="dashboards by slug", params={"q": q}).json()
            assert found["count"] == 1, d["slug"]

        # ----- refresh sees what Superset holds
        read = provider.read(created.id, outs)
        assert read.id == created.id and read.outs["object_ids"] == outs["object_ids"]
    finally:
        provider.delete(created.id, outs)

    # ----- delete removed everything it made, in dependency order; deleting again succeeds
    for kind in KINDS:
        for u in outs["object_ids"][kind]:
            assert client.find(kind, u) is None, (kind, u)
    assert provider.read(created.id, outs).id is None
    provider.delete(created.id, outs)
