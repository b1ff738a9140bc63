"""The whole lakehouse, flowing and visible, on the test bed: the three post-deploy steps through their
providers' own create/update/delete (StreamingJob on the test bed's Orion, DeltaTables on its Trino,
SupersetDashboards on its Superset), real events through the real job, exact counts through Trino, every
chart's data through Superset's API, both dashboards in headless Chromium.

One run (its own topic, tables, checkpoint and Trino schema), in the order a user lives it:
  create all three → produce events with malformed records and re-sends → Trino has exactly the valid, unique
  events and the quarantine exactly the malformed ones → every chart of both dashboards returns rows → the
  dashboards render in the browser (screenshots in artifacts/) → an edit of a chart's YAML is re-imported by
  update → creating again adopts everything → delete removes the job, the registrations and the dashboards,
  and the Delta data is still there.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import deltalake
import pytest
import yaml

from components.providers.delta_tables import DeltaTablesProvider
from components.providers.streaming_job import StreamingJobProvider
from components.providers.superset_dashboards import SupersetDashboardsProvider
from components.providers.superset_dashboards import provider_hash as dashboards_hash
from lakehouse import postdeploy, superset_bundle
from lakehouse.clients import delta_tables, kafka_topic, superset_dashboards
from lakehouse.clients.streaming_job import OrionClient, master_active_apps
from lakehouse.clients.superset_api import SupersetClient
from lakehouse.clients.trino_sql import query
from lakehouse.generators.job import stream_job_env
from testbed.plan import bed_settings
from tests.browser.test_superset_dashboards_browser import (  # noqa: F401 (page: a fixture)
    ARTIFACTS,
    charts_without_data,
    page,
    superset_login,
    wait_for_charts,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.timeout(2400)]
REPO = Path(__file__).resolve().parents[2]
EVENTS, MALFORMED, RESENT = 4000, 40, 40


def _wait(check: Any, timeout: float, what: str, every: float = 3) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


def _produce(ep: dict[str, str], topic: str, manifest: Path) -> list[dict]:
    argv = [sys.executable, "-m", "producer", "--bootstrap-servers", ep["kafka_bootstrap_servers"], "--topic", topic,
            "--count", str(EVENTS), "--rate", "0", "--seed", "7", "--inject-malformed", str(MALFORMED),
            "--duplicates", str(RESENT), "--manifest", str(manifest), "--no-progress"]  # fmt: skip
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in manifest.read_text().splitlines()]


def _storage(ep: dict[str, str]) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": ep["s3_endpoint"], "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": ep["s3_access_key"], "AWS_SECRET_ACCESS_KEY": ep["s3_secret_key"]}  # fmt: skip


def test_the_lakehouse_flows_end_to_end(testbed: dict[str, str], require_services, page, tmp_path: Path) -> None:  # noqa: F811
    require_services("kafka", "s3", "spark", "trino", "superset", "orion")
    ep, rid = testbed, uuid.uuid4().hex[:8]
    s = bed_settings().replace(kafka_topic=f"e2e-{rid}", delta_table=f"e2e_events_{rid}")
    schema = f"e2e_{rid}"
    urls = postdeploy.service_urls(s, urlparse(ep["orion_url"]).hostname or "127.0.0.1")
    kafka_topic.create_topic(ep["kafka_bootstrap_servers"], s.kafka_topic, partitions=3, replication_factor=3)

    job_p, tables_p, dash_p = StreamingJobProvider(), DeltaTablesProvider(), SupersetDashboardsProvider()
    job_in = job_p.check({}, {
        "orion_url": urls["orion_url"], "orion_token": ep["orion_token"], "spark_master_ui": urls["spark_master_ui"],
        "job": postdeploy.STREAM_JOB, "supervise": True, "conf": {}, "code_hash": postdeploy.stream_code_hash(),
        "args": postdeploy.stream_job_args(stream_job_env(s, bootstrap_servers=ep["testbed_kafka_internal_bootstrap"])),
        "start_timeout_seconds": 900, "stop_timeout_seconds": 300, "provider_hash": "e2e",
    }).inputs  # fmt: skip
    tables_in = tables_p.check({}, {
        "trino_url": urls["trino_url"], "trino_user": postdeploy.PROVIDER_TRINO_USER, "catalog": "delta",
        "schema": schema, "tables": postdeploy.delta_tables(s), "wait_seconds": 600, "provider_hash": "e2e",
    }).inputs  # fmt: skip
    trino = urlparse(ep["trino_url"])
    dash_in = dash_p.check({}, superset_dashboards.inputs(
        s, superset_url=urls["superset_url"], trino_host=trino.hostname, trino_port=trino.port, schema=schema,
        timeout_seconds=300,
    ) | {"admin_password": ep["superset_admin_password"], "provider_hash": dashboards_hash()}).inputs  # fmt: skip
    job = tables = dash = None
    try:
        # ----- create all three, in the stack's order
        job = job_p.create(job_in)
        tables = tables_p.create(tables_in)
        dash = dash_p.create(dash_in)
        assert tables.outs["registrations"] == {n: "registered" for n in postdeploy.delta_tables(s)}
        assert set(dash.outs["dashboard_urls"]) == {"Logistics — live", "Pipeline health"}

        # ----- events in, exact counts out (through the tables Trino registered)
        manifest = _produce(ep, s.kafka_topic, tmp_path / "manifest.jsonl")
        valid_ids = {r["event_id"] for r in manifest if r["kind"] == "valid"}
        malformed = [r for r in manifest if r["kind"] not in ("valid", "duplicate")]
        assert len(malformed) == MALFORMED
        events_t, rejected_t = (f"delta.{schema}.{n}" for n in postdeploy.delta_tables(s))

        def counts() -> tuple[int, int, int]:
            ((n, distinct),) = query(ep["trino_url"], f"SELECT count(*), count(DISTINCT event_id) FROM {events_t}")  # noqa: S608
            ((bad,),) = query(ep["trino_url"], f"SELECT count(*) FROM {rejected_t}")  # noqa: S608
            return int(n), int(distinct), int(bad)

        _wait(lambda: (c := counts())[0] >= len(valid_ids) and c[2] >= MALFORMED, 900, "the events in Trino")
        assert counts() == (len(valid_ids), len(valid_ids), MALFORMED)
        stored = {r[0] for r in query(ep["trino_url"], f"SELECT event_id FROM {events_t}")}  # noqa: S608
        assert stored == valid_ids

        # ----- every chart of both dashboards has data through Superset's chart data API
        chart_ids = dash.outs["object_ids"]["chart"]
        assert len(chart_ids) >= 12
        login = (ep["superset_url"], ep["superset_admin_user"], ep["superset_admin_password"])
        assert charts_without_data(*login, chart_ids) == []

        # ----- the dashboards in a browser: every chart rendered, none failed; screenshots
        superset_login(page, ep["superset_url"], ep["superset_admin_user"], ep["superset_admin_password"])
        ARTIFACTS.mkdir(exist_ok=True)
        files = superset_dashboards.bundle_of(dash_in).files
        layouts = {
            doc["uuid"]: len(superset_bundle.chart_uuids_in_layout(doc))
            for rel, doc in files.items()
            if superset_bundle.kind_of(rel) == "dashboard"
        }
        for d in dash.outs["dashboards"]:
            page.goto(d["url"])
            page.wait_for_selector('[data-test="dashboard-component-chart-holder"]', timeout=120_000)
            layout = range(layouts[d["uuid"]])
            states = wait_for_charts(page, len(layout))
            assert [x["state"] for x in states] == ["rendered"] * len(layout), (d["title"], states)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / f"e2e-{d['slug']}.png"))

        # ----- edit one chart's YAML: update re-imports it and Superset shows the change
        assets = tmp_path / "superset_assets"
        shutil.copytree(superset_bundle.ASSETS_DIR, assets)
        chart_file = sorted((assets / "charts").glob("*.yaml"))[0]
        doc = yaml.safe_load(chart_file.read_text())
        doc["slice_name"] = f"{doc['slice_name']} (edited {rid})"
        chart_file.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
        edited_in = {**dash_in, "assets_dir": str(assets), "assets_hash": superset_bundle.assets_hash(assets)}
        assert dash_p.diff(dash.id, dash.outs, edited_in).changes is True
        dash_outs = dash_p.update(dash.id, dash.outs, edited_in).outs
        with SupersetClient.login(ep["superset_url"], ep["superset_admin_user"], ep["superset_admin_password"]) as sc:
            found = sc.find("chart", doc["uuid"])
            assert found is not None
            assert sc.get("chart", found["id"])["slice_name"] == doc["slice_name"]
        dash = type(dash)(dash.id, dash_outs)

        # ----- creating again adopts everything: no second job, no second registration, no duplicate dashboards
        again_job = job_p.create(job_in)
        assert (again_job.id, again_job.outs["adopted"]) == (job.id, True)
        assert tables_p.create(tables_in).outs["registrations"] == {n: "adopted" for n in postdeploy.delta_tables(s)}
        again_dash = dash_p.create(edited_in)
        assert again_dash.outs["object_ids"]["dashboard"] == dash.outs["object_ids"]["dashboard"]
        orion = OrionClient(urls["orion_url"], ep["orion_token"])
        mine = [j for j in orion.jobs() if j["state"] == "running" and j["args"] == job_in["args"]]
        assert [j["id"] for j in mine] == [int(job.id)]
    finally:
        # ----- delete in the reverse order; the data stays
        if dash is not None:
            dash_p.delete(dash.id, dash.outs)
        if tables is not None:
            tables_p.delete(tables.id, tables.outs)
        if job is not None:
            job_p.delete(job.id, job.outs)
        kafka_topic.delete_topic(ep["kafka_bootstrap_servers"], s.kafka_topic)

    with SupersetClient.login(ep["superset_url"], ep["superset_admin_user"], ep["superset_admin_password"]) as sc:
        for kind, by_uuid in dash.outs["object_ids"].items():
            assert sc.ids_by_uuid(kind, list(by_uuid)) == {}, kind
    for name in postdeploy.delta_tables(s):
        assert delta_tables.registered_location(ep["trino_url"], "delta", schema, name, user="e2e") is None
    assert job.outs["app_id"] not in master_active_apps(ep["spark_master_ui"])
    assert orion.job(int(job.id)) is None
    location = postdeploy.delta_tables(s)[s.delta_table]
    assert deltalake.DeltaTable(location, storage_options=_storage(ep)).to_pyarrow_table().num_rows == len(valid_ids)
