"""The StreamingJob dynamic provider's pure parts (validation, diff, restart rules, engine numbers) and the
job logic of lakehouse.clients.streaming_job against a scripted Orion (the real one is in tests/integration)."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.output import Unknown

from components.providers import streaming_job as sj
from lakehouse.clients import streaming_job
from lakehouse.clients.streaming_job import JobSpec, OrionError

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


def test_diff_ignores_outputs_but_sees_a_job_that_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sj, "live_state", lambda props: None)  # Orion not reachable: the stored state decides
    running = {**GOOD, "job_id": 3.0, "state": "running", "app_id": "app-1", "adopted": False}
    assert sj.StreamingJobProvider().diff("3", running, GOOD).changes is False
    ended = {**running, "state": "failed"}
    assert sj.diff(ended, GOOD) == (True, [])
    assert sj.needs_restart(ended, GOOD)


@pytest.mark.parametrize(("live", "changed"), [("running", False), ("restarting", False), ("failed", True),
                                               ("stopped", True), ("gone", True), (None, False)])  # fmt: skip
def test_diff_asks_orion_so_a_job_that_died_since_the_last_up_is_started_again(
    monkeypatch: pytest.MonkeyPatch, live: str | None, changed: bool
) -> None:
    """`pulumi up` after the job died: the stored state still says running; Orion's answer decides."""
    asked: list[dict[str, Any]] = []
    monkeypatch.setattr(sj, "live_state", lambda props: asked.append(props) or live)
    stored = {**GOOD, "job_id": 3.0, "state": "running", "app_id": "app-1", "adopted": False}
    assert sj.StreamingJobProvider().diff("3", stored, GOOD).changes is changed
    assert asked and asked[0]["job_id"] == 3  # the engine's 3.0, turned back into Orion's job id
    assert sj.needs_restart(stored, GOOD, live) is changed


def test_live_state_says_gone_or_the_state_and_none_when_orion_cannot_be_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs = {3: {"id": 3, "state": "failed"}}

    class Client:
        def __init__(self, url: str, token: str, *, timeout: float = 30) -> None:
            if url.endswith(":1"):
                raise OrionError("not answering")

        def job(self, job_id: int) -> dict[str, Any] | None:
            return jobs.get(job_id)

    monkeypatch.setattr(sj, "OrionClient", Client)
    assert sj.live_state({**GOOD, "job_id": 3}) == "failed"
    assert sj.live_state({**GOOD, "job_id": 4}) == "gone"
    assert sj.live_state({**GOOD, "job_id": 3, "orion_url": "http://127.0.0.1:1"}) is None
    assert sj.live_state({**GOOD}) is None  # no job yet
    assert sj.live_state({**GOOD, "job_id": 3, "orion_token": Unknown()}) is None  # a preview


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
        if job and job["state"] == "running" and "streaming" not in job:
            job["streaming"] = {"queries": [{"active": True, "batch_id": 0}]}
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
    job, adopted = streaming_job.ensure_running(orion, SPEC, start_timeout=10)  # type: ignore[arg-type]
    assert (job["id"], adopted) == (4, True)
    assert orion.calls == []


@pytest.mark.parametrize(
    "change",
    [{"code_hash": "b" * 64}, {"args": ["--x", "2"]}, {"supervise": False}, {"state": "failed"}, {"name": "other"}],
)
def test_ensure_running_submits_when_no_job_matches(change: dict) -> None:
    orion = ScriptedOrion([_running(4, **change)])
    job, adopted = streaming_job.ensure_running(orion, SPEC, start_timeout=10)  # type: ignore[arg-type]
    assert adopted is False
    assert job["id"] == 5
    assert job["state"] == "running"
    assert orion.calls == ["submit"]


def test_a_job_that_dies_while_starting_is_an_error_with_its_log() -> None:
    orion = ScriptedOrion(end_as="failed")
    with pytest.raises(OrionError, match=r"ended as failed while starting(.|\n)*Traceback: boom"):
        streaming_job.ensure_running(orion, SPEC, start_timeout=10)  # type: ignore[arg-type]


def test_wait_streaming_times_out_naming_the_state() -> None:
    class Stuck(ScriptedOrion):
        def job(self, job_id: int) -> dict[str, Any] | None:
            return {"id": job_id, "name": "logistics_stream", "state": "submitted", "run": 1,
                    "detail": "waiting for cores"}  # fmt: skip

    now, stuck = [0.0], Stuck([_running(1, state="submitted")])
    with pytest.raises(OrionError, match="still submitted and not streaming after 30 s \\(waiting for cores"):
        streaming_job.wait_streaming(
            stuck, 1, timeout=30, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s)
        )  # type: ignore[arg-type]
    assert stuck.calls == ["stop 1"]  # not left to start later behind the stack's back


APP_1 = "app-20261207100005-0001"
DIED_LOG = f"""\
[orion] 2026-12-07T10:00:00.000Z job 1 (logistics_stream) accepted
[orion] run 1: spark-submit --master spark://spark-master:7077 --name orion-1-logistics_stream ...
26/12/07 10:00:05 INFO SparkContext: Running Spark version 4.2.0
26/12/07 10:00:05 INFO StandaloneSchedulerBackend: Connected to Spark cluster with app ID {APP_1}
Traceback (most recent call last):
  File "/opt/lakehouse/jobs/logistics/tables.py", line 37, in ensure_tables
    from delta.tables import DeltaTable
ModuleNotFoundError: No module named 'delta'
26/12/07 10:00:09 INFO SparkContext: Successfully stopped SparkContext
[orion] 2026-12-07T10:00:10.000Z run 1 ended with exit code 1; now restarting: driver exited with code 1
[orion] run 2: spark-submit --master spark://spark-master:7077 --name orion-1-logistics_stream ...
"""


class DiesAfterRunning(ScriptedOrion):
    """The finding of a real Docker run: the master lists the app RUNNING, then the driver dies at start."""

    def __init__(self, states: list[tuple[str, int, bool]]) -> None:
        super().__init__()
        self.states = states

    def submit(self, spec: JobSpec) -> dict[str, Any]:
        self.calls.append("submit")
        self.by_id[1] = {"id": 1, "name": spec.name, "state": "submitted", "run": 1}
        return dict(self.by_id[1])

    def job(self, job_id: int) -> dict[str, Any] | None:
        state, run, known = self.states.pop(0) if self.states else (self.by_id[1]["state"], self.by_id[1]["run"], True)
        # Orion knows a run's application once its driver reported it; a relaunched run starts with none.
        app_id = APP_1 if known and run == 1 else None
        self.by_id[1].update(state=state, run=run, app_id=app_id, detail="driver exited with code 1")
        return dict(self.by_id[1])

    def log_tail(self, job_id: int) -> str:
        return DIED_LOG


@pytest.mark.parametrize(
    "states",
    [
        [("submitted", 1, False), ("running", 1, True), ("restarting", 1, True)],  # seen going down
        [("running", 1, True), ("running", 2, False)],  # already relaunched between two polls
        # CI: relaunched before Orion's poll ever showed run 1's application: its log names it
        [("submitted", 1, False), ("running", 2, False)],
        [("running", 1, True), ("failed", 1, True)],  # not supervised, or out of restarts
    ],
)
def test_a_driver_that_dies_after_running_fails_fast_with_its_error_line(states: list[tuple[str, int, bool]]) -> None:
    supervised = states[-1][0] != "failed"
    orion = DiesAfterRunning(list(states))
    with pytest.raises(OrionError) as err:
        streaming_job.ensure_running(orion, SPEC, start_timeout=600)  # type: ignore[arg-type]
    message = str(err.value)
    assert f"job 1 (logistics_stream), Spark application {APP_1}, " in message
    assert "ModuleNotFoundError: No module named 'delta'." in message.splitlines()[0]
    if supervised:  # a supervised job would restart in a loop: it is stopped, its log kept
        assert orion.calls == ["submit", "stop 1"]
        assert "Orion job 1 was stopped" in message


def test_running_on_the_master_is_not_enough_the_job_must_stream() -> None:
    class SlowStart(ScriptedOrion):
        reads = 0

        def job(self, job_id: int) -> dict[str, Any] | None:
            self.reads += 1
            job = {"id": job_id, "name": "logistics_stream", "state": "running", "run": 1, "app_id": "app-1"}
            if self.reads >= 3:  # the query started and reported its first trigger
                job["streaming"] = {"queries": [{"active": True, "batch_id": 0}]}
            elif self.reads == 2:  # a query of the previous run, already stopped
                job["streaming"] = {"queries": [{"active": False, "batch_id": 7}]}
            return job

    orion = SlowStart([_running(9, state="submitted")])
    job = streaming_job.wait_streaming(orion, 9, timeout=600, sleep=lambda s: None)  # type: ignore[arg-type]
    assert (orion.reads, job["streaming"]["queries"][0]["batch_id"]) == (3, 0)


@pytest.mark.parametrize(
    ("log", "line"),
    [
        (DIED_LOG, "ModuleNotFoundError: No module named 'delta'"),
        ("x\npyspark.errors.exceptions.captured.AnalysisException: [PATH_NOT_FOUND] s3a://lake\n",
         "pyspark.errors.exceptions.captured.AnalysisException: [PATH_NOT_FOUND] s3a://lake"),
        ('Exception in thread "main" java.lang.OutOfMemoryError: Java heap space\n\tat x.y(Z.java:1)\n',
         'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space'),
        ("26/12/07 10:00:05 INFO A: ok\n26/12/07 10:00:06 ERROR Inbox: boom\n", "26/12/07 10:00:06 ERROR Inbox: boom"),
        ("[orion] run 1 ended with exit code 1; now restarting\n", None),
    ],
)  # fmt: skip
def test_driver_error_line_is_the_drivers_own_last_error(log: str, line: str | None) -> None:
    assert streaming_job.driver_error_line(log) == line


def test_stop_and_forget_waits_for_the_master_then_deletes(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = [{"app-4"}, {"app-4"}, set()]
    monkeypatch.setattr(streaming_job, "master_active_apps", lambda ui: seen.pop(0))
    orion = ScriptedOrion([_running(4)])
    streaming_job.stop_and_forget(orion, 4, master_ui="http://master", stop_timeout=60)  # type: ignore[arg-type]
    assert orion.calls == ["stop 4", "delete 4"]
    assert seen == []
    # A job that is already gone is not an error.
    streaming_job.stop_and_forget(orion, 4, master_ui="http://master", stop_timeout=60)  # type: ignore[arg-type]


def test_stop_and_forget_fails_when_the_master_keeps_the_application(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming_job, "master_active_apps", lambda ui: {"app-4"})
    monkeypatch.setattr(streaming_job.time, "sleep", lambda s: None)
    orion = ScriptedOrion([_running(4)])
    with pytest.raises(OrionError, match="still lists app-4 as active after 0 s"):
        streaming_job.stop_and_forget(orion, 4, master_ui="http://master", stop_timeout=0)  # type: ignore[arg-type]
    assert orion.calls == ["stop 4"]


def test_update_starts_again_a_job_that_died_since_the_last_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pulumi up` after the job died, with the inputs unchanged: the provider's update (which diff asked for)
    stops and forgets the job Orion now runs for the resource (`job_id`, not the resource's first id) and
    submits it again."""
    orion = ScriptedOrion([_running(7, state="failed", run=3)])
    monkeypatch.setattr(sj, "OrionClient", lambda url, token, **kw: orion)
    monkeypatch.setattr(streaming_job, "master_active_apps", lambda ui: set())
    stored = {**GOOD, "job_id": 7.0, "state": "running", "app_id": "app-7", "adopted": False}
    out = sj.StreamingJobProvider().update("2", stored, GOOD).outs
    assert orion.calls == ["delete 7", "submit"]
    assert out["job_id"] != 7 and out["state"] == "running"

    # A job that still runs, with unchanged inputs, is left alone.
    orion.calls.clear()
    again = sj.StreamingJobProvider().update("2", {**stored, **out}, GOOD).outs
    assert orion.calls == [] and again["job_id"] == out["job_id"]
