"""The SupersetDashboards provider through the real Pulumi engine, against the test bed's Superset and Trino.

The program declares the resource as the stack does: the same class and `lakehouse.clients.superset_dashboards.inputs`
with the settings from `lakehouse:*` config, the admin password a secret. Only the URLs, the schema (a
synthetic lake of the job's two tables) and the instance (its own copy of the dashboards) are the test's.
up -> a second up with no change -> a changed timeout is no update -> an edit of a chart's YAML in the
clone is an update, visible in Superset -> a chart deleted by hand: refresh sees it, up imports it again ->
an edit of the provider's code is an update -> no secret in plain text in the state -> destroy removes it all.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any
from urllib.parse import urlparse

import pytest

from lakehouse.clients.superset_api import KINDS, SupersetClient
from tests.engine import harness
from tests.integration.test_superset_lake import synthetic_lake

pytestmark = [pytest.mark.integration, pytest.mark.engine]

TYPE = "pulumi-python:dynamic/lakehouse:SupersetDashboards"
SECRET_ENVELOPE = "4dabf18193072939515e22adb298388d"  # pragma: allowlist secret - Pulumi's secret-envelope key


def program() -> dict[str, Any]:
    from components.config import load_stack_config
    from components.providers.superset_dashboards import SupersetDashboards
    from lakehouse.clients import superset_dashboards
    from tests.engine.later import Later

    s = load_stack_config().settings
    p = harness.params()
    inputs = superset_dashboards.inputs(
        s,
        superset_url=p["superset_url"],
        trino_host=p["trino_host"],
        trino_port=p["trino_port"],
        schema=p["schema"],
        instance=p["instance"],
        timeout_seconds=p.get("timeout", 300),
    )
    # The password as the stack gives it: a generated value, unknown at a fresh stack's preview.
    password = Later("admin-password", harness.secret("admin_password")).result
    dashboards = SupersetDashboards("dashboards", admin_password=password, **inputs)
    return {"dashboard_urls": dashboards.dashboard_urls, "probe": harness.secret("probe")}


def test_superset_dashboards_lifecycle_through_the_real_engine(
    engine: harness.Engine, testbed: dict[str, str], require_services
) -> None:
    require_services("superset", "trino", "s3")
    ep = testbed
    trino = urlparse(ep["trino_url"])
    instance = f"eng-{uuid.uuid4().hex[:8]}"
    with (
        synthetic_lake(ep, tag="engine", events=200, rejected=20, commits=3) as lake,
        SupersetClient.login(ep["superset_url"], ep["superset_admin_user"], ep["superset_admin_password"]) as client,
    ):
        stack = engine.stack(
            program,
            params={
                "superset_url": ep["superset_url"],
                "trino_host": trino.hostname,
                "trino_port": trino.port,
                "schema": lake.schema,
                "instance": instance,
            },
            secrets={"admin_password": ep["superset_admin_password"], "probe": secrets.token_urlsafe(24)},
            config={
                "lakehouse:deltaTable": lake.events_table,
                "lakehouse:supersetAdminUser": ep["superset_admin_user"],
            },
        )
        # A fresh stack's preview: check() sees the password unknown and lets it through; up imports the bundle
        # (the engine sends timeout_seconds as a float: check() must cope).
        assert stack.preview().changes == {"create": 3}
        assert stack.up().changes == {"create": 3}
        urls = stack.outputs()["dashboard_urls"]
        assert set(urls) == {f"Logistics — live ({instance})", f"Pipeline health ({instance})"}
        (res,) = stack.resources(TYPE)
        ids = res["outputs"]["object_ids"]
        assert {k: len(v) for k, v in ids.items()} == {"dashboard": 2, "chart": 18, "dataset": 5, "database": 1}
        for kind in KINDS:
            for u in ids[kind]:
                assert client.find(kind, u) is not None, (kind, u)
        # The password: an input and an output of the state, a secret in both.
        assert SECRET_ENVELOPE in res["inputs"]["admin_password"]
        assert SECRET_ENVELOPE in res["outputs"]["admin_password"]

        # Nothing to do on a preview or a second up; a new timeout alone changes nothing in Superset.
        assert stack.preview().changed() == {}
        assert stack.up().changed() == {}
        assert stack.preview(timeout=200).changed() == {}

        # An edit of a chart's YAML (in the clone) is an update, and Superset shows it.
        chart_file = "superset_assets/charts/events_per_minute.yaml"
        engine.edit(chart_file, old="slice_name: Events per minute", new="slice_name: Events per minute (engine)")
        step = stack.preview(timeout=300).step("dashboards")
        assert (step.op, step.changed_inputs) == ("update", ["assets_hash"])
        assert stack.up().changed() == {"update": 1}
        titles = {client.get("chart", cid)["slice_name"] for cid in ids["chart"].values()}
        assert "Events per minute (engine)" in titles and "Events per minute" not in titles

        # A chart deleted by hand: refresh sees it gone, the next up imports it again.
        gone_uuid, gone_id = next(iter(ids["chart"].items()))
        client.delete("chart", gone_id)
        assert stack.refresh().changed() == {"update": 1}
        (res,) = stack.resources(TYPE)
        assert gone_uuid not in res["outputs"]["object_ids"]["chart"]
        assert stack.up().changed() == {"update": 1}
        assert client.find("chart", gone_uuid) is not None

        # An edit of the code the provider runs is an update (provider_hash).
        engine.edit("lakehouse/clients/superset_dashboards.py", append="\n# an edit\n")
        assert stack.preview().changed() == {"update": 1}

        stack.assert_no_plaintext(list(stack.secrets.values()))
        (res,) = stack.resources(TYPE)
        final = res["outputs"]["object_ids"]
        assert stack.destroy().changes == {"delete": 3}
        for kind in KINDS:
            for u in final[kind]:
                assert client.find(kind, u) is None, (kind, u)
