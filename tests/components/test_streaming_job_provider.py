"""The StreamingJob dynamic provider's pure parts (validation, diff, restart rules, engine numbers) and the
job logic of lakehouse.orion_jobs against a scripted Orion (the real one is in tests/integration)."""

from __future__ import annotations

from typing import Any

import pytest

from components.providers import streaming_job as sj
from lakehouse import orion_jobs
from lakehouse.orion_jobs import JobSpec, OrionError

HASH = "a" * 64
GOOD: dict[str, Any] = {
    "orion_url": "http://127.0.0.1:8000",
    "orion_token": "t0ken-of-at-least-16-chars",
    "spark_master_ui": "http://127.0.0.1:8080",
    "job": "logistics_stream",
    "args": ["--trigger-interval", "2 seconds"],
    "conf": {},
    "supervise": True,
    "code_hash": HASH,
    "start_timeout_seconds": 600,
    "stop_timeout_seconds": 300,
    "provider_hash": "p",
}


def test_valid_inputs_pass() -> None:
    assert sj.validate(GOOD) == []


@pytest.mark.parametrize(
    ("change", "prop"),
    [
        ({"orion_url": "localhost:8000"}, "orion_url"),
        ({"orion_token": "short"}, "orion_token"),
        ({"job": "../etc/passwd"}, "job"),
        ({"args": "--x"}, "args"),
        ({"conf": {"spark.x": 1}}, "conf"),
        ({"supervise": "yes"}, "supervise"),
        ({"code_hash": "abc"}, "code_hash"),
        ({"start_timeout_seconds": 0}, "start_timeout_seconds"),
    ],
)
def test_invalid_inputs_name_the_property(change: dict, prop: str) -> None:
    assert [p for p, _ in sj.validate({**GOOD, **change})] == [prop]


def test_an_invalid_token_is_never_echoed() -> None:
    (failure,) = sj.validate({**GOOD, "orion_token": "hunter2"})
    assert "hunter2" not in failure[1]


def test_check_turns_engine_floats_back_into_ints() -> None:
    result = sj.StreamingJobProvider().check(
        {}, {**GOOD, "start_timeout_seconds": 600.0, "stop_timeout_seconds": 300.0}
    )
    assert result.failures == []
    assert type(result.inputs["start_timeout_seconds"]) is int


def test_check_lets_through_what_a_preview_does_not_know_yet() -> None:
    from pulumi.runtime.rpc import UNKNOWN

    # A fresh stack's preview: the token is a RandomPassword's result, not generated yet.
    assert sj.StreamingJobProvider().check({}, {**GOOD, "orion_token": UNKNOWN}).failures == []
    failures = sj.StreamingJobProvider().check({}, {**GOOD, "orion_token": UNKNOWN, "job": "no/such"}).failures
    assert [f.property for f in failures] == ["job"]


def test_diff_restarts_for_code_or_settings_and_replaces_for_another_job() -> None:
    assert sj.diff(GOOD, dict(GOOD)) == (False, [])
    assert sj.diff(GOOD, {**GOOD, "code_hash": "b" * 64}) == (True, [])
    assert sj.diff(GOOD, {**GOOD, "job": "other_job"}) == (True, ["job"])
    assert sj.needs_restart(GOOD, {**GOOD, "code_hash": "b" * 64})
    assert sj.needs_restart(GOOD, {**GOOD, "args": []})
    assert sj.needs_restart(GOOD, {**GOOD, "conf": {"spark.executor.memory": "1g"}})
    # A new URL, token or timeout is recorded but restarts nothing.
    for change in ({"orion_url": "http://localhost:8000"}, {"orion_token": "another-token-0123456"},
                   {"stop_timeout_seconds": 60}, {"provider_hash": "q"}):  # fmt: skip
        assert sj.diff(GOOD, {**GOOD, **change}) == (True, [])
        assert not sj.needs_restart(GOOD, {**GOOD, **change})


def test_diff_ignores_outputs_but_sees_a_job_that_ended() -> None:
    running = {**GOOD, "job_id": 3.0, "state": "running", "app_id": "app-1", "adopted": False}
    assert sj.StreamingJobProvider().diff("3", running, GOOD).changes is False
    ended = {**running, "state": "failed"}
    assert sj.diff(ended, GOOD) == (True, [])
    assert sj.needs_restart(ended, GOOD)


class ScriptedOrion:
    """A stand-in for OrionClient: jobs in memory, each submitted job running at its first read."""

    def __init__(self, jobs: list[dict[str, Any]] | None = None, end_as: str | None = None) -> None:
        self.url = "http://orion"
        self.by_id = {int(j["id"]): dict(j) for j in jobs or []}
        self.end_as = end_as
        self.calls: list[str] = []

    def jobs(self) -> list[dict[str, Any]]:
        return [dict(j) for j in self.by_id.values()]

    def job(self, job_id: int) -> dict[str, Any] | None:
        job = self.by_id.get(int(job_id))
        if job and job["state"] == "submitted":
            job["state"], job["app_id"] = (self.end_as or "running"), f"app-{job_id}"
        return dict(job) if job else None

    def submit(self, spec: JobSpec) -> dict[str, Any]:
        self.calls.append("submit")
        job_id = max(self.by_id, default=0) + 1
        self.by_id[job_id] = {"id": job_id, "name": spec.name, "state": "submitted", "args": spec.args,
                              "conf": spec.conf, "supervise": spec.supervise, "code_hash": spec.code_hash}  # fmt: skip
        return dict(self.by_id[job_id])

    def stop(self, job_id: int, *, timeout: float) -> dict[str, Any]:
        self.calls.append(f"stop {job_id}")
        self.by_id[job_id]["state"] = "stopped"
        return dict(self.by_id[job_id])

    def delete(self, job_id: int) -> bool:
        self.calls.append(f"delete {job_id}")
        return self.by_id.pop(job_id, None) is not None

    def log_tail(self, job_id: int) -> str:
        return "Traceback: boom"


SPEC = JobSpec(name="logistics_stream", args=["--x", "1"], conf={}, supervise=True, code_hash=HASH)


def _running(job_id: int, **change: Any) -> dict[str, Any]:
    job = {"id": job_id, "name": "logistics_stream", "state": "running", "app_id": f"app-{job_id}",
           "args": ["--x", "1"], "conf": {}, "supervise": True, "code_hash": HASH}  # fmt: skip
    return {**job, **change}


def test_ensure_running_adopts_the_job_orion_already_runs() -> None:
    orion = ScriptedOrion([_running(4)])
    job, adopted = orion_jobs.ensure_running(orion, SPEC, start_timeout=10)  # type: ignore[arg-type]
    assert (job["id"], adopted) == (4, True)
    assert orion.calls == []


@pytest.mark.parametrize(
    "change",
    [{"code_hash": "b" * 64}, {"args": ["--x", "2"]}, {"supervise": False}, {"state": "failed"}, {"name": "other"}],
)
def test_ensure_running_submits_when_no_job_matches(change: dict) -> None:
    orion = ScriptedOrion([_running(4, **change)])
    job, adopted = orion_jobs.ensure_running(orion, SPEC, start_timeout=10)  # type: ignore[arg-type]
    assert adopted is False
    assert job["id"] == 5
    assert job["state"] == "running"
    assert orion.calls == ["submit"]


def test_a_job_that_dies_while_starting_is_an_error_with_its_log() -> None:
    orion = ScriptedOrion(end_as="failed")
    with pytest.raises(OrionError, match=r"ended as failed while starting(.|\n)*Traceback: boom"):
        orion_jobs.ensure_running(orion, SPEC, start_timeout=10)  # type: ignore[arg-type]


def test_wait_running_times_out_naming_the_state() -> None:
    class Stuck(ScriptedOrion):
        def job(self, job_id: int) -> dict[str, Any] | None:
            return {"id": job_id, "name": "logistics_stream", "state": "submitted", "detail": "waiting for cores"}

    now = [0.0]
    with pytest.raises(OrionError, match="still submitted after 30 s \\(waiting for cores\\)"):
        orion_jobs.wait_running(
            Stuck(), 1, timeout=30, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
        )  # type: ignore[arg-type]


def test_stop_and_forget_waits_for_the_master_then_deletes(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = [{"app-4"}, {"app-4"}, set()]
    monkeypatch.setattr(orion_jobs, "master_active_apps", lambda ui: seen.pop(0))
    orion = ScriptedOrion([_running(4)])
    orion_jobs.stop_and_forget(orion, 4, master_ui="http://master", stop_timeout=60)  # type: ignore[arg-type]
    assert orion.calls == ["stop 4", "delete 4"]
    assert seen == []
    # A job that is already gone is not an error.
    orion_jobs.stop_and_forget(orion, 4, master_ui="http://master", stop_timeout=60)  # type: ignore[arg-type]


def test_stop_and_forget_fails_when_the_master_keeps_the_application(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orion_jobs, "master_active_apps", lambda ui: {"app-4"})
    monkeypatch.setattr(orion_jobs.time, "sleep", lambda s: None)
    orion = ScriptedOrion([_running(4)])
    with pytest.raises(OrionError, match="still lists app-4 as active after 0 s"):
        orion_jobs.stop_and_forget(orion, 4, master_ui="http://master", stop_timeout=0)  # type: ignore[arg-type]
    assert orion.calls == ["stop 4"]
