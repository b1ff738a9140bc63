"""The job state machine, driven tick by tick with fakes of Orion's launcher and master reader."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from orion_fakes import FakeLauncher, FakeMaster

from orion.main import create_app
from orion.manager import JobConflict, JobManager
from orion.models import JobState
from orion.registry import Registry
from orion.scrub import Scrubber
from orion.settings import OrionSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_manager(
    make_settings: Callable[..., OrionSettings], launcher: FakeLauncher, master: FakeMaster, clock: Clock
) -> Iterator[Callable[..., JobManager]]:
    """A JobManager on a fake clock (no HTTP), for timing rules: backoff, reset, max restarts."""
    registries: list[Registry] = []

    def make(**overrides: object) -> JobManager:
        settings = make_settings(**overrides)
        registry = Registry(settings.data_dir / "orion.sqlite3")
        registries.append(registry)
        manager = JobManager(settings, registry, launcher, master, Scrubber(), clock=clock)
        manager.start(monitor=False)
        return manager

    yield make
    for r in registries:
        r.close()


def _submit(m: JobManager, supervise: bool = False, name: str = "rate_stream") -> int:
    return m.submit(name=name, source="shipped", file_path=f"/jobs/{name}.py", args=[], conf={}, supervise=supervise).id


def _run_app(launcher: FakeLauncher, master: FakeMaster, job_id: int, app_id: str) -> None:
    launcher.last(job_id).detected_app_id = app_id
    master.apps[app_id] = "RUNNING"


# ------------------------------------------------------------------ via the API
def test_job_is_running_only_when_the_master_lists_its_app_running(
    client: TestClient, manager: JobManager, launcher: FakeLauncher, master: FakeMaster
) -> None:
    job_id = client.post("/jobs", data={"job": "count_batch"}).json()["id"]
    manager.tick()
    assert client.get(f"/jobs/{job_id}").json()["state"] == "submitted"  # no app id yet

    launcher.last(job_id).detected_app_id = "app-1"
    master.apps["app-1"] = "WAITING"
    manager.tick()
    job = client.get(f"/jobs/{job_id}").json()
    assert (job["state"], job["app_id"], job["detail"]) == ("submitted", "app-1", "waiting for cores on the cluster")

    master.apps["app-1"] = "RUNNING"
    manager.tick()
    job = client.get(f"/jobs/{job_id}").json()
    assert job["state"] == "running" and job["running_at"] is not None and job["pid"] == 10_000

    del master.apps["app-1"]  # the master lost it while the driver still runs
    manager.tick()
    job = client.get(f"/jobs/{job_id}").json()
    assert job["state"] == "submitted"
    assert "app-1 as unknown" in job["detail"]


def test_app_id_is_taken_from_the_driver_agent_report(
    client: TestClient, manager: JobManager, master: FakeMaster, settings: OrionSettings
) -> None:
    job_id = client.post("/jobs", data={"job": "count_batch"}).json()["id"]
    status = settings.data_dir / "jobs" / str(job_id) / "driver-status.json"
    status.write_text(json.dumps({"app_id": "app-from-agent", "queries": []}))
    master.apps["app-from-agent"] = "RUNNING"
    manager.tick()
    job = client.get(f"/jobs/{job_id}").json()
    assert (job["state"], job["app_id"]) == ("running", "app-from-agent")


@pytest.mark.parametrize(("rc", "state", "detail"), [(0, "succeeded", ""), (1, "failed", "driver exited with code 1")])
def test_unsupervised_job_ends_by_its_exit_code(
    client: TestClient, manager: JobManager, launcher: FakeLauncher, rc: int, state: str, detail: str
) -> None:
    job_id = client.post("/jobs", data={"job": "count_batch"}).json()["id"]
    launcher.last(job_id).rc = rc
    manager.tick()
    job = client.get(f"/jobs/{job_id}").json()
    assert (job["state"], job["exit_code"], job["detail"], job["pid"]) == (state, rc, detail, None)
    assert job["ended_at"] is not None
    manager.tick()
    assert len(launcher.runs) == 1  # never resubmitted


def test_supervised_job_that_crashes_is_resubmitted(
    client: TestClient, manager: JobManager, launcher: FakeLauncher, master: FakeMaster
) -> None:
    job_id = client.post("/jobs", data={"job": "rate_stream", "supervise": "true"}).json()["id"]
    _run_app(launcher, master, job_id, "app-1")
    manager.tick()
    launcher.last(job_id).rc = -9  # kill -9 of the driver
    manager.tick()  # sees the exit, schedules the restart (backoff 0 s in these settings), launches it
    job = client.get(f"/jobs/{job_id}").json()
    assert (job["state"], job["run"], job["restart_count"]) == ("submitted", 2, 1)
    assert job["app_id"] is None
    _run_app(launcher, master, job_id, "app-2")
    manager.tick()
    job = client.get(f"/jobs/{job_id}").json()
    assert (job["state"], job["app_id"]) == ("running", "app-2")


def test_stop_terminates_the_driver_and_ends_stopped(
    client: TestClient, manager: JobManager, launcher: FakeLauncher, master: FakeMaster
) -> None:
    job_id = client.post("/jobs", data={"job": "rate_stream", "supervise": "true"}).json()["id"]
    _run_app(launcher, master, job_id, "app-1")
    manager.tick()
    resp = client.post(f"/jobs/{job_id}/stop")
    assert resp.status_code == 200
    assert (resp.json()["state"], resp.json()["exit_code"], resp.json()["detail"]) == (
        "stopped", 143, "stopped on request",
    )  # fmt: skip
    assert launcher.last(job_id).signals == ["TERM"]
    manager.tick()
    assert len(launcher.runs) == 1  # a stopped supervised job stays stopped
    assert client.post(f"/jobs/{job_id}/stop").status_code == 409


def test_stop_escalates_to_sigkill_when_the_driver_ignores_sigterm(client: TestClient, launcher: FakeLauncher) -> None:
    job_id = client.post("/jobs", data={"job": "rate_stream"}).json()["id"]
    launcher.last(job_id).ignores_sigterm = True
    resp = client.post(f"/jobs/{job_id}/stop")
    assert (resp.json()["state"], resp.json()["exit_code"]) == ("stopped", -9)
    assert launcher.last(job_id).signals == ["TERM", "KILL"]


def test_restart_of_a_running_job_replaces_its_driver(
    client: TestClient, manager: JobManager, launcher: FakeLauncher, master: FakeMaster
) -> None:
    job_id = client.post("/jobs", data={"job": "rate_stream", "args": '["--x"]'}).json()["id"]
    _run_app(launcher, master, job_id, "app-1")
    manager.tick()
    first = launcher.last(job_id)
    resp = client.post(f"/jobs/{job_id}/restart")
    assert resp.status_code == 200
    assert (resp.json()["state"], resp.json()["run"], resp.json()["restart_count"]) == ("submitted", 2, 1)
    assert first.signals == ["TERM"]
    assert launcher.last(job_id) is not first
    assert launcher.runs[-1][0].args == ["--x"]


def test_restart_of_a_finished_job_submits_it_again(
    client: TestClient, manager: JobManager, launcher: FakeLauncher
) -> None:
    job_id = client.post("/jobs", data={"job": "count_batch"}).json()["id"]
    launcher.last(job_id).rc = 1
    manager.tick()
    resp = client.post(f"/jobs/{job_id}/restart")
    assert (resp.json()["state"], resp.json()["run"], resp.json()["exit_code"]) == ("submitted", 2, None)


def test_queued_job_waits_for_a_slot_and_can_be_stopped_before_it_runs(
    make_settings: Callable[..., OrionSettings], launcher: FakeLauncher, master: FakeMaster
) -> None:
    settings = make_settings(max_active_jobs=1)
    with TestClient(create_app(settings, launcher=launcher, master=master, monitor=False)) as c:
        c.headers["Authorization"] = "Bearer unit-test-token-0123456789"
        manager: JobManager = c.app.state.manager  # type: ignore[attr-defined]
        first = c.post("/jobs", data={"job": "count_batch"}).json()
        second = c.post("/jobs", data={"job": "count_batch"}).json()
        third = c.post("/jobs", data={"job": "count_batch"}).json()
        assert (first["state"], second["state"], third["state"]) == ("submitted", "queued", "queued")
        assert c.post(f"/jobs/{second['id']}/restart").status_code == 409
        assert c.post(f"/jobs/{second['id']}/stop").json()["state"] == "stopped"
        launcher.last(first["id"]).rc = 0
        manager.tick()
        assert c.get(f"/jobs/{third['id']}").json()["state"] == "submitted"
        assert [j.id for j, _ in launcher.runs] == [first["id"], third["id"]]


def test_delete_forgets_a_finished_job_with_its_log_and_upload(
    client: TestClient, manager: JobManager, launcher: FakeLauncher, settings: OrionSettings
) -> None:
    job_id = client.post("/jobs", files={"file": ("up.py", b"print(1)\n")}).json()["id"]
    upload = Path(launcher.last(job_id).command[1])
    assert client.delete(f"/jobs/{job_id}").status_code == 409  # still active
    launcher.last(job_id).rc = 0
    manager.tick()
    assert client.delete(f"/jobs/{job_id}").status_code == 204
    assert client.get(f"/jobs/{job_id}").status_code == 404
    assert client.get(f"/jobs/{job_id}/logs").status_code == 404
    assert not upload.exists() and not (settings.data_dir / "jobs" / str(job_id)).exists()
    assert client.delete(f"/jobs/{job_id}").status_code == 404


def test_unknown_job_is_404_on_every_job_route(client: TestClient) -> None:
    for method, path in [("GET", "/jobs/7"), ("GET", "/jobs/7/logs"), ("POST", "/jobs/7/stop"),
                         ("POST", "/jobs/7/restart"), ("DELETE", "/jobs/7")]:  # fmt: skip
        resp = client.request(method, path)
        assert resp.status_code == 404 and resp.json()["detail"] == "no job with id 7"


def test_spark_submit_that_cannot_start_fails_the_job(client: TestClient, launcher: FakeLauncher) -> None:
    launcher.fail_with = FileNotFoundError(2, "No such file or directory", "/opt/spark/bin/spark-submit")
    job = client.post("/jobs", data={"job": "count_batch"}).json()["job"]
    assert job["state"] == "failed"
    assert "spark-submit could not be started" in job["detail"]


def test_master_unreachable_keeps_the_last_known_state(
    client: TestClient, manager: JobManager, launcher: FakeLauncher, master: FakeMaster
) -> None:
    job_id = client.post("/jobs", data={"job": "rate_stream"}).json()["id"]
    _run_app(launcher, master, job_id, "app-1")
    manager.tick()
    master.reachable = False
    manager.tick()
    assert client.get(f"/jobs/{job_id}").json()["state"] == "running"


def test_job_detail_carries_streaming_progress_reported_by_the_driver(
    client: TestClient, settings: OrionSettings
) -> None:
    job_id = client.post("/jobs", data={"job": "rate_stream"}).json()["id"]
    progress = {
        "id": "q-1", "runId": "r-1", "name": "rate_to_noop", "timestamp": "2026-11-26T22:56:08.000Z",
        "batchId": 21, "batchDuration": 397, "numInputRows": 20, "inputRowsPerSecond": 20.0,
        "processedRowsPerSecond": 50.4, "durationMs": {"triggerExecution": 397},
        "sources": [{"description": "KafkaV2[Subscribe[events]]", "startOffset": {"events": {"0": 70}},
                     "endOffset": {"events": {"0": 90}}, "latestOffset": {"events": {"0": 95}},
                     "inputRowsPerSecond": 20.0, "processedRowsPerSecond": 50.4}],
        "sink": {"description": "DeltaSink[s3a://lake/events]"},
    }  # fmt: skip
    status = settings.data_dir / "jobs" / str(job_id) / "driver-status.json"
    status.write_text(json.dumps({"app_id": "app-1", "updated_at": 1795733768.5, "queries": [
        {"id": "q-1", "run_id": "r-1", "name": "rate_to_noop", "active": True, "progress": progress}]}))  # fmt: skip
    streaming = client.get(f"/jobs/{job_id}").json()["streaming"]
    q = streaming["queries"][0]
    assert (q["batch_id"], q["last_batch_at"], q["batch_duration_ms"]) == (21, "2026-11-26T22:56:08.000Z", 397)
    assert (q["input_rows_per_second"], q["processed_rows_per_second"], q["num_input_rows"]) == (20.0, 50.4, 20)
    assert q["sources"][0]["end_offset"] == {"events": {"0": 90}}
    assert q["sources"][0]["latest_offset"] == {"events": {"0": 95}}
    assert q["sink"] == "DeltaSink[s3a://lake/events]"
    assert q["active"] is True  # what the stack's StreamingJob waits for: a live query that made progress
    assert streaming["updated_at"].startswith("2026-")
    assert client.get("/jobs").json()[0]["streaming"] is None  # the listing stays light


def test_batch_job_has_no_streaming_progress(client: TestClient, settings: OrionSettings) -> None:
    job_id = client.post("/jobs", data={"job": "count_batch"}).json()["id"]
    (settings.data_dir / "jobs" / str(job_id) / "driver-status.json").write_text('{"app_id": "a", "queries": []}')
    assert client.get(f"/jobs/{job_id}").json()["streaming"] is None


# ------------------------------------------------------------------ timing rules (fake clock)
def test_supervised_restarts_back_off_exponentially_and_give_up_after_the_maximum(
    make_manager: Callable[..., JobManager], launcher: FakeLauncher, clock: Clock
) -> None:
    m = make_manager(restart_backoff_seconds=2, restart_backoff_max_seconds=5, max_restarts=3)
    job_id = _submit(m, supervise=True)
    delays = []
    for expected_delay in (2, 4, 5):  # 2, 4, then capped at 5
        launcher.last(job_id).rc = 1
        m.tick()
        job = m.get(job_id)
        assert job.state == JobState.RESTARTING
        delays.append(job.next_restart_at - clock.now)  # type: ignore[operator]
        clock.now += expected_delay - 0.5
        m.tick()
        assert m.get(job_id).state == JobState.RESTARTING  # not yet
        clock.now += 0.5
        m.tick()
        assert m.get(job_id).state == JobState.SUBMITTED
    assert delays == [2, 4, 5]
    launcher.last(job_id).rc = 1
    m.tick()
    job = m.get(job_id)
    assert job.state == JobState.FAILED
    assert "gave up after 3 restarts in a row (ORION_MAX_RESTARTS)" in job.detail
    assert (job.run, job.restart_count) == (4, 3)


def test_a_long_healthy_run_resets_the_restart_budget(
    make_manager: Callable[..., JobManager], launcher: FakeLauncher, clock: Clock
) -> None:
    m = make_manager(max_restarts=1, restart_reset_seconds=60)
    job_id = _submit(m, supervise=True)
    launcher.last(job_id).rc = 1
    m.tick()  # restart 1 of 1
    assert m.get(job_id).state == JobState.SUBMITTED
    clock.now += 61  # this run stays up longer than ORION_RESTART_RESET_SECONDS
    launcher.last(job_id).rc = 1
    m.tick()
    job = m.get(job_id)
    assert (job.state, job.restart_count, job.consecutive_failures) == (JobState.SUBMITTED, 2, 1)


# ------------------------------------------------------------------ Orion restarts
def test_orion_restart_keeps_history_and_resubmits_only_supervised_jobs(
    make_manager: Callable[..., JobManager], launcher: FakeLauncher, master: FakeMaster
) -> None:
    m = make_manager()
    done = _submit(m, name="count_batch")
    launcher.last(done).rc = 0
    m.tick()
    supervised, plain = _submit(m, supervise=True), _submit(m)
    _run_app(launcher, master, supervised, "app-s")
    _run_app(launcher, master, plain, "app-p")
    m.tick()
    assert {m.get(supervised).state, m.get(plain).state} == {JobState.RUNNING}

    # Orion dies without a shutdown (kill -9): a new manager opens the same registry.
    m2 = make_manager()
    assert {(j.id, j.state) for j in m2.list()} == {
        (done, JobState.SUCCEEDED), (supervised, JobState.SUBMITTED), (plain, JobState.FAILED),
    }  # fmt: skip
    assert "not supervised" in m2.get(plain).detail
    assert (m2.get(supervised).run, m2.get(supervised).restart_count) == (2, 1)
    assert (supervised, 1) in launcher.leftover_calls and (plain, 1) in launcher.leftover_calls
    _run_app(launcher, master, supervised, "app-s2")
    m2.tick()
    assert m2.get(supervised).state == JobState.RUNNING


def test_orion_shutdown_stops_drivers_and_the_next_start_resumes_supervised_ones(
    make_manager: Callable[..., JobManager], launcher: FakeLauncher
) -> None:
    m = make_manager()
    supervised, plain = _submit(m, supervise=True), _submit(m)
    m.close()
    assert launcher.last(supervised).signals == ["TERM"] and launcher.last(plain).signals == ["TERM"]
    assert m.get(supervised).state == JobState.RESTARTING
    assert "resubmitted when Orion starts again" in m.get(supervised).detail
    assert (m.get(plain).state, m.get(plain).detail) == (JobState.STOPPED, "stopped because Orion shut down")
    m2 = make_manager()
    assert (m2.get(supervised).state, m2.get(supervised).run) == (JobState.SUBMITTED, 2)
    assert m2.get(plain).state == JobState.STOPPED


def test_conflicting_operations_raise(make_manager: Callable[..., JobManager], launcher: FakeLauncher) -> None:
    m = make_manager()
    job_id = _submit(m)
    with pytest.raises(JobConflict, match="stop it before deleting it"):
        m.delete(job_id)
    launcher.last(job_id).rc = 0
    m.tick()
    with pytest.raises(JobConflict, match="already succeeded"):
        m.stop(job_id)


# ------------------------------------------------------------------ bounded stop (contract 4)
@pytest.mark.parametrize(
    ("outcome", "detail"),
    [
        (("finished", 12), "stopped on request: the job finished batch 12 first"),
        (("abandoned", 17), "stopped on request: the job abandoned batch 17 (it is replayed on the next start)"),
        (("finished", None), "stopped on request: the job stopped cleanly"),
    ],
)
def test_stop_reports_the_outcome_the_job_logged(
    client: TestClient, launcher: FakeLauncher, outcome: tuple[str, int | None], detail: str
) -> None:
    job_id = client.post("/jobs", data={"job": "rate_stream", "supervise": "true"}).json()["id"]
    launcher.last(job_id).outcome_on_sigterm = outcome
    stopped = client.post(f"/jobs/{job_id}/stop").json()
    assert (stopped["state"], stopped["stop_outcome"], stopped["stop_batch_id"]) == ("stopped", *outcome)
    assert stopped["detail"] == detail
    assert client.get(f"/jobs/{job_id}").json()["stop_outcome"] == outcome[0]
    assert "the job reports its stop: " + outcome[0] in client.get(f"/jobs/{job_id}/logs").json()["text"]


def test_stop_that_needs_sigkill_reports_killed(client: TestClient, launcher: FakeLauncher) -> None:
    job_id = client.post("/jobs", data={"job": "rate_stream"}).json()["id"]
    launcher.last(job_id).ignores_sigterm = True
    stopped = client.post(f"/jobs/{job_id}/stop").json()
    assert (stopped["stop_outcome"], stopped["stop_batch_id"], stopped["exit_code"]) == ("killed", None, -9)
    assert "killed (SIGKILL) after ORION_STOP_TIMEOUT_SECONDS" in stopped["detail"]


def test_each_run_reports_its_own_stop_outcome(client: TestClient, manager: JobManager, launcher: FakeLauncher) -> None:
    job_id = client.post("/jobs", data={"job": "rate_stream", "supervise": "true"}).json()["id"]
    launcher.last(job_id).outcome_on_sigterm = ("finished", 3)
    resp = client.post(f"/jobs/{job_id}/restart").json()  # the old run stops (finished 3), a new one starts
    assert (resp["run"], resp["stop_outcome"], resp["stop_batch_id"]) == (2, None, None)
    # A job that stops by itself on an outside SIGTERM (e.g. docker stop) still reports it.
    run = launcher.last(job_id)
    run.stop_outcome, run.stop_batch_id, run.rc = "abandoned", 9, 0
    manager.tick()
    job = client.get(f"/jobs/{job_id}").json()
    assert (job["state"], job["stop_outcome"], job["stop_batch_id"]) == ("succeeded", "abandoned", 9)


def test_orion_shutdown_records_the_outcome_of_each_driver(
    make_manager: Callable[..., JobManager], launcher: FakeLauncher
) -> None:
    m = make_manager()
    polite, stubborn = _submit(m, supervise=True), _submit(m, name="other")
    launcher.last(polite).outcome_on_sigterm = ("finished", 5)
    launcher.last(stubborn).ignores_sigterm = True
    m.close()
    assert (m.get(polite).stop_outcome, m.get(polite).stop_batch_id) == ("finished", 5)
    assert m.get(stubborn).stop_outcome == "killed"


def test_a_launch_records_the_code_hash_of_what_it_shipped(
    make_manager: Callable[..., JobManager], launcher: FakeLauncher
) -> None:
    m = make_manager()
    job_id = m.submit(name="rate_stream", source="shipped", file_path="/jobs/rate_stream.py", args=[], conf={},
                      supervise=True, code_hash="a" * 64).id  # fmt: skip
    assert m.get(job_id).code_hash == "a" * 64  # the fake launcher computed none: the submission's stays
    launcher.next_code_hash = "b" * 64
    launcher.last(job_id).rc = 1  # crash: the restart ships the code as it is now
    m.tick()
    assert (m.get(job_id).run, m.get(job_id).code_hash) == (2, "b" * 64)
    assert "ships different code: code hash bbbbbbbbbbbb" in m.log(job_id).read(0).text
