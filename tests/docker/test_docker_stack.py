"""The stack's own containers on a real Docker engine, exactly as the Pulumi program declares them
(testbed/docker: the program's graph under the mocks, created through the Docker Engine API), end to end:

  deploy (images ensured, every container healthy as wait=True requires, the MinIO resources in the S3
  stand-in, the post-deploy steps through the published ports) -> events from `python -m producer` with
  malformed records and re-sends -> exact counts through Trino's registered tables -> every chart of both
  dashboards returns data (Superset's chart data API) -> both dashboards render in headless Chromium
  (screenshots in artifacts/) -> pulumi-docker's read-back of every container shows no change -> a second
  deploy adopts everything (no container re-created, no dynamic resource changed) and every dynamic provider's
  create adopts what exists (the job, the registrations, the dashboards' ids) -> teardown in the reverse order
  -> nothing of the stack is left on the engine.

Its own stack name (`dockercheck`), the program's default config (memory limits included), the default host
ports on 127.0.0.1 (checked free first). Timings and the containers' peak memory go to
artifacts/docker-check.json. LAKEHOUSE_DOCKERCHECK_KEEP=1 leaves the stack running after a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lakehouse import superset_bundle
from lakehouse.clients import superset_dashboards
from lakehouse.clients.trino_sql import query
from testbed.docker import dynamic, inventory
from testbed.docker.containers import describe
from testbed.docker.graph import Graph, Node, run_graph
from testbed.docker.recording import CONTAINER
from testbed.docker.stack import DEFAULT_STACK, Deployment, Report
from tests.browser.test_superset_dashboards_browser import (
    charts_without_data,
    offline_page,
    superset_login,
    wait_for_charts,
)

pytestmark = [pytest.mark.docker, pytest.mark.browser, pytest.mark.timeout(5400)]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
EVENTS, MALFORMED, RESENT = 4000, 40, 40


def _echo(line: str) -> None:
    print(f"[docker {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def _wait(check: Any, timeout: float, what: str, every: float = 5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # a service still settling: keep the last answer for the message
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


@pytest.fixture(scope="module")
def client(docker_engine: Any) -> Any:
    return docker_engine.client


@pytest.fixture
def page(tmp_path: Path):  # type: ignore[no-untyped-def]
    with offline_page(tmp_path / "profile", ("localhost", "127.0.0.1")) as p:
        yield p


@pytest.fixture(scope="module")
def record() -> Iterator[dict[str, Any]]:
    """Timings and measurements, written to artifacts/docker-check.json whatever the outcome."""
    data: dict[str, Any] = {"stack": DEFAULT_STACK, "seconds": {}, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    t0 = time.monotonic()
    yield data
    data["seconds"]["total"] = round(time.monotonic() - t0)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "docker-check.json").write_text(json.dumps(data, indent=1, default=str))
    _echo(f"measurements: {json.dumps(data, default=str)}")


def _produce(bootstrap: str, topic: str, manifest: Path) -> list[dict]:
    argv = [sys.executable, "-m", "producer", "--bootstrap-servers", bootstrap, "--topic", topic,
            "--count", str(EVENTS), "--rate", "0", "--seed", "11", "--inject-malformed", str(MALFORMED),
            "--duplicates", str(RESENT), "--manifest", str(manifest), "--no-progress"]  # fmt: skip
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return [json.loads(line) for line in manifest.read_text().splitlines()]


def _done_after(report: Report, graph: Graph, pick: Callable[[Node], bool]) -> float:
    """Seconds from the start of the run until the last node `pick` chooses was done."""
    assert report.outcome is not None
    return max((end for urn, (_, end) in report.outcome.spans.items() if pick(graph.nodes[urn])), default=0.0)


def _dynamic_outputs(dep: Deployment, graph: Graph) -> dict[str, dict[str, Any]]:
    """The stored outputs of each dynamic resource, by its logical name."""
    return {graph.nodes[u].name: d["outs"] for u, d in dep.state.dynamic.items() if u in graph.nodes}


def _readopt(graph: Graph) -> dict[str, dynamic.DynamicState]:
    """Every dynamic provider's create() again, as after a lost state: each must adopt what exists."""
    out: dict[str, dynamic.DynamicState] = {}

    def act(node: Node) -> None:
        if node.dynamic:
            out[node.name] = dynamic.create(node)

    failures = run_graph(graph, act).failures
    assert not failures, {graph.nodes[urn].label: f"{type(exc).__name__}: {exc}" for urn, exc in failures.items()}
    return out


def _rows(dep: Deployment) -> list[dict[str, Any]]:
    return inventory.status_rows(dep.client, dep.stack)


def _log_tails(client: Any, dep: Deployment) -> None:
    """On a failure: the last lines of every container of the stack that is not running healthy."""
    for row in _rows(dep):
        info = client.api.inspect_container(row["name"])
        health = ((info.get("State") or {}).get("Health") or {}).get("Status")
        if row["state"] != "running" or health not in (None, "healthy"):
            tail = client.api.logs(row["name"], tail=60).decode(errors="replace")
            _echo(f"--- {row['name']} ({row['status']}) last log lines ---\n{tail}")


def test_the_stack_runs_on_docker_end_to_end(client: Any, page, record: dict[str, Any], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    secs = record["seconds"]
    t = time.monotonic()
    from lakehouse.versions import load
    from testbed.docker import images

    images.ensure_images(client, load(), _echo)
    secs["images_ensured"] = round(time.monotonic() - t)

    dep = Deployment(client, stack=DEFAULT_STACK, echo=_echo)
    if any(dep.leftovers().values()) or dep.state.path.exists():
        _echo(f"an earlier run left {dep.leftovers()}: tearing it down first")
        dep.down()
    failed = True
    try:
        # ----- deploy: every resource in the program's order, containers healthy, post-deploy done
        report = dep.up()
        graph = dep.graph
        assert graph is not None
        secs["deploy"] = round(report.seconds)
        healthy = _done_after(report, graph, lambda n: n.type == CONTAINER)
        secs["deploy_to_all_healthy"] = round(healthy)
        secs["post_deploy_after_healthy"] = round(_done_after(report, graph, lambda n: n.dynamic) - healthy)
        record["healthy_after"] = {k: round(v) for k, v in report.healthy_after.items()}
        record["notes"] = report.notes
        assert set(report.actions.values()) <= {"kept", "local", "created", "applied"}, report.actions
        out = graph.outputs
        dyn = _dynamic_outputs(dep, graph)
        job, tables = dyn["postdeploy-streaming-job"], dyn["postdeploy-delta-tables"]
        dash = dyn["postdeploy-dashboards"]
        assert job["state"] == "running" and job["app_id"], job
        assert set(tables["registrations"].values()) == {"registered"}, tables
        assert set(dash["dashboard_urls"]) == {"Logistics — live", "Pipeline health"}

        _echo("deployed; checking the job runs inside spark-orion")
        # ----- the job streams inside the Spark image: its driver runs in the spark-orion container
        orion = next(n.values["name"] for n in graph.of_type(CONTAINER) if n.values["hostname"] == "spark-orion")
        # -ww: full command lines (dockerd runs the host's ps, which cuts lines at COLUMNS when that is set:
        # CI's 80 columns cut the driver's line before the job's file name).
        top = client.api.top(orion, ps_args="-ww -eo pid,args")
        assert any("logistics_stream" in " ".join(p) for p in top["Processes"]), top["Processes"]

        _echo("producing events")
        # ----- events in through the published bootstrap servers, exact counts out through Trino
        t = time.monotonic()
        manifest = _produce(out["kafka_bootstrap_servers"], out["kafka_topic"], tmp_path / "manifest.jsonl")
        valid_ids = {r["event_id"] for r in manifest if r["kind"] == "valid"}
        assert sum(1 for r in manifest if r["kind"] not in ("valid", "duplicate")) == MALFORMED
        events_t, rejected_t = out["trino_tables"]
        trino = out["trino_url"]

        def counts() -> tuple[int, int, int]:
            ((n, distinct),) = query(trino, f"SELECT count(*), count(DISTINCT event_id) FROM {events_t}")  # noqa: S608
            ((bad,),) = query(trino, f"SELECT count(*) FROM {rejected_t}")  # noqa: S608
            return int(n), int(distinct), int(bad)

        _wait(lambda: (c := counts())[0] >= len(valid_ids) and c[2] >= MALFORMED, 1200, "the events in Trino")
        assert counts() == (len(valid_ids), len(valid_ids), MALFORMED)
        assert {r[0] for r in query(trino, f"SELECT event_id FROM {events_t}")} == valid_ids  # noqa: S608

        _echo("events counted in Trino; chart data")
        # ----- every chart of both dashboards has data (Superset's chart data API)
        superset, user, password = out["superset_url"], out["superset_admin_user"], out["superset_admin_password"]
        chart_ids = dash["object_ids"]["chart"]
        assert len(chart_ids) >= 12
        assert charts_without_data(superset, user, password, chart_ids) == []

        _echo("charts have data; rendering both dashboards")
        # ----- both dashboards render in headless Chromium
        superset_login(page, superset, user, password)
        ARTIFACTS.mkdir(exist_ok=True)
        dash_node = next(n for n in graph.nodes.values() if n.name == "postdeploy-dashboards")
        files = superset_dashboards.bundle_of(dash_node.values).files
        layouts = {doc["uuid"]: len(superset_bundle.chart_uuids_in_layout(doc))
                   for rel, doc in files.items() if superset_bundle.kind_of(rel) == "dashboard"}  # fmt: skip
        for d in dash["dashboards"]:
            page.goto(d["url"])
            page.wait_for_selector('[data-test="dashboard-component-chart-holder"]', timeout=180_000)
            expected = layouts[d["uuid"]]
            states = wait_for_charts(page, expected, timeout=300)
            assert [x["state"] for x in states] == ["rendered"] * expected, (d["title"], states)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / f"docker-{d['slug']}.png"))
        page.goto("about:blank")  # the dashboards refresh themselves: no more requests from here on
        secs["e2e"] = round(time.monotonic() - t)

        _echo("dashboards rendered; read-back comparison")
        # ----- pulumi-docker's read-back of every container: the next `pulumi up` changes nothing
        changes = {name: [str(c) for c in found] for name, found in dep.compare().items() if found}
        assert changes == {}, f"the next `pulumi up` would change: {json.dumps(changes, indent=1)}"

        _echo("no change; deploying again")
        # ----- a second deploy adopts everything; every dynamic provider's create adopts what exists
        ids = {r["name"]: client.api.inspect_container(r["name"])["Id"] for r in _rows(dep)}
        again = dep.up(replace_changed=False)
        secs["redeploy"] = round(again.seconds)
        containers = {n.label for n in graph.of_type(CONTAINER)}
        assert {k: v for k, v in again.actions.items() if k in containers} == dict.fromkeys(containers, "adopted")
        dynamics = {n.label for n in graph.nodes.values() if n.dynamic}
        assert {k: v for k, v in again.actions.items() if k in dynamics} == dict.fromkeys(dynamics, "same")
        assert {r["name"]: client.api.inspect_container(r["name"])["Id"] for r in _rows(dep)} == ids
        _echo("adopted; every dynamic provider's create again")
        readopted = _readopt(dep.graph)
        assert readopted["postdeploy-streaming-job"].outs["adopted"] is True
        assert int(readopted["postdeploy-streaming-job"].outs["job_id"]) == int(job["job_id"])
        assert set(readopted["postdeploy-delta-tables"].outs["registrations"].values()) == {"adopted"}
        ids_of = lambda outs: {k: {u: int(i) for u, i in v.items()} for k, v in outs["object_ids"].items()}  # noqa: E731
        assert ids_of(readopted["postdeploy-dashboards"].outs) == ids_of(dash)

        _echo("re-created dynamic resources adopted; memory")
        record["memory_mib"] = {
            name: {k: round(v / 2**20) for k, v in m.items()} for name, m in inventory.memory(client, dep.stack).items()
        }  # fmt: skip
        record["memory_mib_sum_of_peaks"] = sum(m["peak"] for m in record["memory_mib"].values())
        # ----- at the laptop-sized memory limits, no container was killed or restarted, and each is healthy
        troubled = {}
        for row in _rows(dep):
            info = client.api.inspect_container(row["name"])
            state = info.get("State") or {}
            health = (state.get("Health") or {}).get("Status")
            if info.get("RestartCount") or state.get("OOMKilled") or health not in (None, "healthy"):
                troubled[row["name"]] = describe(info)
        assert troubled == {}, f"containers in trouble after the run: {json.dumps(troubled, indent=1)}"
        failed = False
    except Exception:
        _log_tails(client, dep)
        raise
    finally:
        if not (failed and os.environ.get("LAKEHOUSE_DOCKERCHECK_KEEP") == "1"):
            t = time.monotonic()
            down = dep.down()
            secs["teardown"] = round(time.monotonic() - t)
            record["teardown_notes"] = down.notes
    # ----- nothing of the stack is left
    assert dep.leftovers() == {"containers": [], "volumes": [], "networks": []}
    assert down.notes == [], f"the orderly teardown left things that had to be removed by name: {down.notes}"
