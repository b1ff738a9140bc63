"""Orion's web UI in a real browser: Debian's headless Chromium driven by Playwright.

Signs in with the token, submits a shipped job with markup in its arguments, sees it running (and
checks the master agrees), opens its log, checks that the markup stayed text, stops the job, and
saves a screenshot to artifacts/orion-ui.png. Playwright never downloads a browser here: it
drives /usr/bin/chromium (apt-get install chromium).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.orion.orion_live import TEST_JOBS, TOKEN, OrionProcess, master_apps

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip
MARKUP = '<img id="xss" src="x">'


@pytest.fixture(scope="module")
def orion(testbed: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrionProcess]:
    proc = OrionProcess(testbed, tmp_path_factory.mktemp("orion-ui") / "data")
    proc.start()
    try:
        yield proc
    finally:
        for job in proc.http.get(f"{proc.url}/jobs", timeout=10).json():
            if job["state"] in {"queued", "submitted", "running", "restarting"}:
                proc.http.post(f"{proc.url}/jobs/{job['id']}/stop", timeout=120)
        proc.stop()


@pytest.fixture
def page(tmp_path: Path):  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (Debian's package; never downloaded)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh user-data-dir
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000},
        )  # fmt: skip
        try:
            yield context.new_page()
        finally:
            context.close()


def test_ui_submits_a_job_shows_it_running_with_its_log_and_stops_it(orion: OrionProcess, page) -> None:  # type: ignore[no-untyped-def]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(orion.url + "/")

    # A visitor who has not signed in sees the sign-in card, which says what signing in shows; not the jobs.
    page.wait_for_selector("#login:not([hidden])")
    assert page.is_visible("#login") and "Sign in to see the jobs" in page.inner_text("#login")
    assert not page.is_visible("#app") and not page.is_visible("#jobs-empty")

    # Sign in once: the token lands in sessionStorage, nowhere else.
    page.fill("#token-input", "not-the-right-token-000")
    page.click("#login-button")
    page.wait_for_selector("#login-error:has-text('refused')")
    page.fill("#token-input", TOKEN)
    page.click("#login-button")
    page.wait_for_selector("#app:not([hidden])")
    assert page.evaluate("sessionStorage.getItem('orion.token')") == TOKEN
    page.reload()  # kept for the tab's session
    page.wait_for_selector("#app:not([hidden])")

    # Submit a shipped job; its arguments carry markup that must stay text.
    page.wait_for_selector("#job-select option[value='count_batch']", state="attached")
    page.select_option("#job-select", "count_batch")
    args = f'["--rows", "1000", "--hold-seconds", "120", "--note", "{MARKUP.replace(chr(34), chr(92) + chr(34))}"]'
    page.fill("#args-input", args)
    page.click("#submit-button")
    page.wait_for_selector("#submit-result:has-text('Job ')")
    job_id = int(page.text_content("#submit-result").split()[1].rstrip("."))

    row_state = f"#jobs-table tbody tr[data-job-id='{job_id}'] .state"
    page.wait_for_selector(f"{row_state}:has-text('running')", timeout=240_000)
    app_id = orion.job(job_id)["app_id"]
    assert master_apps(orion.endpoints["spark_master_ui"])[app_id] == "RUNNING"

    # Open the job (its detail and log) from the list.
    page.click(f"#jobs-table tbody tr[data-job-id='{job_id}']")
    page.wait_for_selector("#detail:not([hidden])")
    page.wait_for_function(
        "t => document.getElementById('log-view').textContent.includes(t)", arg=f"app ID {app_id}", timeout=60_000
    )
    page.wait_for_function(
        "t => document.getElementById('log-view').textContent.includes(t)", arg=f"note: {MARKUP}", timeout=60_000
    )
    assert page.text_content("#detail-state") == "running"
    assert MARKUP in page.text_content("#detail-fields")  # shown as text...
    assert page.query_selector("#xss") is None  # ...never turned into an element

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "orion-ui.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    page.click("#stop-button")
    page.wait_for_selector(f"{row_state}:has-text('stopped')", timeout=150_000)
    assert errors == []


def test_ui_uploads_a_streaming_job_and_shows_its_metrics(orion: OrionProcess, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{orion.url}/#token={TOKEN}")  # the fragment signs in and is removed from the address
    page.wait_for_selector("#app:not([hidden])")
    assert "token" not in page.url

    page.set_input_files("#file-input", str(TEST_JOBS / "rate_stream.py"))
    assert page.is_checked("#source-upload")
    page.fill("#args-input", f'["--checkpoint", "{tmp_path / "ckpt"}", "--rows-per-second", "30"]')
    page.click("#submit-button")
    page.wait_for_selector("#submit-result:has-text('Job ')")
    job_id = int(page.text_content("#submit-result").split()[1].rstrip("."))
    page.wait_for_selector(f"#jobs-table tbody tr[data-job-id='{job_id}'] .state:has-text('running')", timeout=240_000)

    # The detail panel (opened on submit) fills the metrics table from the driver's progress.
    page.wait_for_function(
        "() => { const t = document.getElementById('metrics-table');"
        " return t && t.rows.length > 1 && Number(t.rows[1].cells[1].textContent) >= 2; }",
        timeout=180_000,
    )
    cells = [c.text_content() for c in page.query_selector_all("#metrics-table tr:nth-child(2) td")]
    assert cells[0] == "rate_to_noop" and float(cells[3]) > 0 and int(cells[5]) > 0 and cells[7]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "orion-ui-streaming.png"), full_page=True)

    # The detail shows the checkpoint Orion learnt from the job (--describe) and the code hash it ships.
    fields = page.text_content("#detail-fields")
    assert f"Checkpoint{tmp_path / 'ckpt'}" in fields and f"Code hash{orion.job(job_id)['code_hash'][:12]}" in fields

    page.click("#stop-button")
    page.wait_for_selector(f"#jobs-table tbody tr[data-job-id='{job_id}'] .state:has-text('stopped')", timeout=150_000)
    # How the stop went, as the job logged it: it finished its batch in flight.
    page.wait_for_function(
        "() => /Stop outcomefinished \\(batch \\d+\\)/.test(document.getElementById('detail-fields').textContent)",
        timeout=30_000,
    )
    page.screenshot(path=str(ARTIFACTS / "orion-ui-stopped.png"), full_page=True)
