"""Both dashboards in a real browser (Debian's headless Chromium driven by Playwright), offline.

The SupersetDashboards provider imports its own copy (an `instance`) into the shared test bed's Superset, on
synthetic Delta tables in the test bed's S3 and Trino. Logged in through the login form, the browser opens each
dashboard with every request to a host other than 127.0.0.1 refused (no map tiles, fonts or CDNs: what renders
here renders without the internet), waits until every chart has rendered or failed, finds none failed or
empty, and saves a screenshot to artifacts/superset-<dashboard>.png.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from components.providers.superset_dashboards import SupersetDashboardsProvider
from lakehouse import superset_bundle
from lakehouse.clients import superset_dashboards
from tests.integration.test_superset_lake import Lake, dashboard_props, synthetic_lake

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip
# Each chart holder's state: failed (Superset's error alert), loading, rendered (an ECharts canvas, a table or a
# big number inside the chart container), else pending.
CHART_STATES = """() => [...document.querySelectorAll('[data-test="dashboard-component-chart-holder"]')].map(h => ({
  title: (h.querySelector('[data-test="editable-title"]') || {}).innerText || '',
  state: h.querySelector('.ant-alert-error, [role="alert"]') ? 'failed'
       : h.querySelector('[data-test="loading-indicator"], .loading') ? 'loading'
       : h.querySelector('[data-test="chart-container"] canvas, [data-test="chart-container"] table,'
                         + ' .superset-legacy-chart-big-number .header-line') ? 'rendered' : 'pending',
  text: h.innerText.slice(0, 300),
}))"""


@pytest.fixture(scope="module")
def deployed(testbed: dict[str, str]) -> Iterator[tuple[Lake, dict]]:
    running = testbed.get("testbed_services")
    if running is not None:
        missing = {"superset", "trino", "s3"} - set(running.split(","))
        if missing:
            pytest.fail(f"the running test bed has no {sorted(missing)}: restart it with all services")
    with synthetic_lake(testbed, tag="browser") as lake:
        provider = SupersetDashboardsProvider()
        props = provider.check({}, dashboard_props(testbed, lake, instance=f"ui-{uuid.uuid4().hex[:8]}")).inputs
        created = provider.create(props)
        try:
            yield lake, {**created.outs, "layouts": _layouts(props)}
        finally:
            provider.delete(created.id, created.outs)


def _layouts(props: dict) -> dict[str, int]:
    """Dashboard uuid -> how many charts its layout has."""
    files = superset_dashboards.bundle_of(props).files
    return {
        doc["uuid"]: len(superset_bundle.chart_uuids_in_layout(doc))
        for rel, doc in files.items()
        if superset_bundle.kind_of(rel) == "dashboard"
    }


@contextlib.contextmanager
def offline_page(profile: Path, hosts: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """Headless Debian Chromium whose requests reach only `hosts` (what renders, renders offline); the page's
    `blocked` lists what it tried to reach elsewhere."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (Debian's package; never downloaded)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            # Tall enough for a whole dashboard: no full-page resize (which re-lays out the charts) to screenshot.
            viewport={"width": 1600, "height": 1700},
        )  # fmt: skip
        blocked: list[str] = []

        def offline(route, request) -> None:  # type: ignore[no-untyped-def]
            if urlparse(request.url).hostname in hosts:
                route.continue_()
            else:
                blocked.append(request.url)
                route.abort()

        context.route("**/*", offline)
        try:
            p = context.new_page()
            p.blocked = blocked  # type: ignore[attr-defined]
            yield p
        finally:
            context.close()


@pytest.fixture
def page(tmp_path: Path, testbed: dict[str, str]):  # type: ignore[no-untyped-def]
    with offline_page(tmp_path / "profile", (urlparse(testbed["superset_url"]).hostname or "",)) as p:
        yield p


def charts_without_data(superset_url: str, user: str, password: str, chart_ids: dict[str, int]) -> list[str]:
    """The uuids of the charts whose data (Superset's chart data API, cache bypassed) has no rows."""
    from lakehouse.clients.superset_api import SupersetClient

    empty = []
    with SupersetClient.login(superset_url, user, password) as sc:
        for chart_uuid, chart_id in chart_ids.items():
            data = sc.chart_data(int(chart_id), force=True)
            if not any(r.get("rowcount") or r.get("data") for r in data["result"]):
                empty.append(chart_uuid)
    return empty


def superset_login(page, url: str, user: str, password: str, attempts: int = 3) -> None:  # type: ignore[no-untyped-def]
    """Log in through Superset's login form. On a Superset that has just started, a submit can land before the
    page's scripts are ready and come back to the form (seen in CI, the first test after the test bed's start):
    submit again if it does. (Not "wait for networkidle": the login page need never go idle; a CI run waited
    the whole 120 s for it.)"""
    for attempt in range(1, attempts + 1):
        page.goto(f"{url}/login/", wait_until="load")
        page.wait_for_selector("#username", state="visible", timeout=60_000)
        page.fill("#username", user)
        page.fill("#password", password)
        page.keyboard.press("Enter")
        try:
            page.wait_for_url(lambda u: "/login" not in u, timeout=60_000)
            return
        except Exception:
            if attempt == attempts:
                raise AssertionError(
                    f"Superset's login form came back {attempts} times; the page says: " + page.inner_text("body")[:500]
                ) from None


def wait_for_charts(page, expected: int, timeout: float = 240) -> list[dict]:  # type: ignore[no-untyped-def]
    """The chart states once all `expected` charts have rendered or failed (bounded; the machine is loaded)."""
    deadline = time.monotonic() + timeout
    while True:
        states = page.evaluate(CHART_STATES)
        settled = len(states) == expected and all(s["state"] in ("rendered", "failed") for s in states)
        if settled or time.monotonic() > deadline:
            return states
        page.wait_for_timeout(1000)


def test_both_dashboards_render_every_chart_offline(deployed: tuple[Lake, dict], page, testbed: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    _, outs = deployed
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    superset_login(page, testbed["superset_url"], testbed["superset_admin_user"], testbed["superset_admin_password"])
    ARTIFACTS.mkdir(exist_ok=True)
    for d in outs["dashboards"]:
        expected = outs["layouts"][d["uuid"]]
        started = time.monotonic()
        page.goto(d["url"])
        page.wait_for_selector('[data-test="dashboard-component-chart-holder"]', timeout=120_000)
        states = wait_for_charts(page, expected)
        seconds = time.monotonic() - started
        not_rendered = [s for s in states if s["state"] != "rendered"]
        assert len(states) == expected and not_rendered == [], (d["title"], not_rendered)
        assert not [s for s in states if "No results" in s["text"]], d["title"]
        assert page.locator(f"text={d['title']}").first.is_visible()
        page.wait_for_timeout(1500)  # let the last chart finish its animation before the screenshot
        base_slug = d["slug"].rsplit("-ui-", 1)[0]
        page.screenshot(path=str(ARTIFACTS / f"superset-{base_slug}.png"))
        after = page.evaluate(CHART_STATES)
        assert [s["state"] for s in after] == ["rendered"] * expected, (d["title"], after)
        print(f"\n[superset-ui] {d['title']}: {expected} charts rendered in {seconds:.1f} s")
    assert errors == []
    # Only Superset's telemetry pixel ever tried to leave the machine (see the report); never data or assets.
    assert {urlparse(u).hostname for u in page.blocked} <= {"apachesuperset.gateway.scarf.sh"}
