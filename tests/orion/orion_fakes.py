"""Fakes of Orion's OWN collaborators (launcher = spark-submit, master = /json/ reader) for unit tests.

They let a test drive the state machine tick by tick; the real spark-submit and master are
exercised by the integration tests (tests/integration/test_orion_*.py) on the test bed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orion.joblog import BoundedLog
from orion.master import MasterUnreachable, MasterView
from orion.models import JobRecord


@dataclass
class FakeRun:
    pid: int
    command: list[str]
    detected_app_id: str | None = None
    rc: int | None = None
    ignores_sigterm: bool = False
    signals: list[str] = field(default_factory=list)
    code_hash: str | None = None
    stop_outcome: str | None = None
    stop_batch_id: int | None = None
    outcome_on_sigterm: tuple[str, int | None] | None = None
    """What the fake job "logs" when it gets SIGTERM: (finished|abandoned, batch id)."""

    def poll(self) -> int | None:
        return self.rc

    def wait(self, timeout: float) -> int | None:
        return self.rc

    def terminate(self) -> None:
        self.signals.append("TERM")
        if self.outcome_on_sigterm is not None:
            self.stop_outcome, self.stop_batch_id = self.outcome_on_sigterm
        if not self.ignores_sigterm and self.rc is None:
            self.rc = 143

    def kill(self) -> None:
        self.signals.append("KILL")
        if self.rc is None:
            self.rc = -9


class FakeLauncher:
    """Records launches; each gets a FakeRun the test can finish (set rc) or tag with an app id."""

    def __init__(self) -> None:
        self.runs: list[tuple[JobRecord, FakeRun]] = []
        self.leftover_calls: list[tuple[int, int]] = []
        self.fail_with: OSError | None = None
        self.next_code_hash: str | None = None
        """The code hash the next launches report (the real launcher computes it from what it ships)."""

    def launch(self, job: JobRecord, log: BoundedLog) -> FakeRun:
        if self.fail_with is not None:
            raise self.fail_with
        log.append(f"fake driver of job {job.id} run {job.run}\n")
        run = FakeRun(
            pid=10_000 + len(self.runs),
            command=["spark-submit", job.file_path, *job.args],
            code_hash=self.next_code_hash,
        )
        self.runs.append((job, run))
        return run

    def kill_leftovers(self, job: JobRecord) -> int:
        self.leftover_calls.append((job.id, job.run))
        return 0

    def last(self, job_id: int) -> FakeRun:
        return [r for j, r in self.runs if j.id == job_id][-1]


class FakeMaster:
    url = "http://master.invalid:8080"

    def __init__(self) -> None:
        self.apps: dict[str, str] = {}
        self.reachable = True

    def view(self) -> MasterView:
        if not self.reachable:
            raise MasterUnreachable("Spark master UI http://master.invalid:8080/json/ did not answer: refused")
        return MasterView(status="ALIVE", alive_workers=2, cores=2, cores_used=len(self.apps), apps=dict(self.apps))
