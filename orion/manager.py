"""The job state machine: submits, watches, stops, restarts and supervises jobs.

    queued ──launch──▶ submitted ◀──▶ running          (RUNNING = the master's /json/ says so)
                          │  └─────────────┤
                  exit 0  │  exit ≠ 0      │ stop
                          ▼     │          ▼
                     succeeded  │       stopped
                                ├─ not supervised ─▶ failed
                                └─ supervised ─▶ restarting ─(backoff)─▶ submitted
                                                    └─ more than ORION_MAX_RESTARTS in a row ─▶ failed

A monitor thread calls `tick()` every ORION_POLL_INTERVAL_SECONDS (unit tests call it directly). Every change
is written to the registry at once; `recover()` resubmits supervised jobs that were active when Orion went away.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orion.joblog import BoundedLog
from orion.launcher import STATUS_FILE, Launcher, Run, job_dir
from orion.master import Master, MasterUnreachable, MasterView
from orion.models import ACTIVE_STATES, FINISHED_STATES, JobRecord, JobState
from orion.progress import read_status
from orion.registry import Registry
from orion.scrub import Scrubber
from orion.settings import OrionSettings

log = logging.getLogger("orion")


class JobNotFound(LookupError):
    pass


class JobConflict(Exception):
    pass


class CheckpointConflict(JobConflict):
    """Another active job writes the same checkpoint: two drivers on one checkpoint lose data."""

    def __init__(self, other: JobRecord, checkpoint: str) -> None:
        super().__init__(
            f"job {other.id} ({other.name}) is {other.state} on checkpoint {checkpoint}: two drivers on one "
            f"checkpoint lose data. Stop job {other.id} first, or give this run a checkpoint of its own"
        )


# A job holds its checkpoint from acceptance until it ends (a restarting job comes back to it).
HOLDS_CHECKPOINT = frozenset(JobState) - FINISHED_STATES


class JobManager:
    def __init__(
        self,
        settings: OrionSettings,
        registry: Registry,
        launcher: Launcher,
        master: Master,
        scrub: Scrubber,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.launcher = launcher
        self.master = master
        self.scrub = scrub
        self.clock = clock
        self._runs: dict[int, Run] = {}
        self._started: dict[int, float] = {}
        self._logs: dict[int, BoundedLog] = {}
        self._lock = threading.RLock()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self, monitor: bool = True) -> None:
        self.recover()
        if monitor:
            self._thread = threading.Thread(target=self._loop, name="orion-monitor", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Orion shuts down: stop the monitor, then every driver (supervised ones resume on next start)."""
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.poll_interval_seconds + 10)
        self._stop_all_for_shutdown()

    def _loop(self) -> None:
        while not self._halt.wait(self.settings.poll_interval_seconds):
            try:
                self.tick()
            except Exception:  # the monitor must survive anything one tick runs into
                log.exception("monitor tick failed")

    def _now(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="milliseconds")

    def log(self, job_id: int) -> BoundedLog:
        with self._lock:
            if job_id not in self._logs:
                self._logs[job_id] = BoundedLog(job_dir(self.settings.data_dir, job_id), self.settings.log_max_bytes)
            return self._logs[job_id]

    def _note(self, job: JobRecord, text: str) -> None:
        self.log(job.id).append(f"[orion] {self._now()} {text}\n")

    # ---------------------------------------------------------------- queries
    def get(self, job_id: int) -> JobRecord:
        job = self.registry.get(job_id)
        if job is None:
            raise JobNotFound(f"no job with id {job_id}")
        return job

    def list(self) -> list[JobRecord]:
        return self.registry.list()

    # ---------------------------------------------------------------- operations
    def submit(self, *, checkpoint_note: str = "", **fields: Any) -> JobRecord:
        """Accept a job (`fields`: the JobRecord's name, source, file_path, args, conf, supervise and optionally
        code_hash, checkpoint); raises CheckpointConflict when an active job already holds its checkpoint."""
        now = self._now()
        job = JobRecord(id=0, state=JobState.QUEUED, created_at=now, updated_at=now, **fields)
        with self._lock:  # the check and the insert under one lock: two racing submissions cannot both pass
            self._check_checkpoint_free(job.checkpoint, None)
            job = self.registry.create(job)
            self._note(job, f"job {job.id} ({job.name}) accepted")
            if checkpoint_note:
                self._note(job, f"checkpoint {checkpoint_note}")
            self._launch_due()
            return self.get(job.id)

    def _check_checkpoint_free(self, checkpoint: str | None, exclude: int | None) -> None:
        """Refuse a second driver on one checkpoint: the active job (other than `exclude`) writing it wins."""
        for other in self.registry.list(HOLDS_CHECKPOINT) if checkpoint is not None else []:
            if other.id != exclude and other.checkpoint == checkpoint:
                raise CheckpointConflict(other, checkpoint)

    def stop(self, job_id: int) -> JobRecord:
        with self._lock:
            job = self.get(job_id)
            if job.state in FINISHED_STATES:
                raise JobConflict(f"job {job_id} is already {job.state}; nothing to stop")
            run = self._runs.get(job_id)
            if run is None:  # queued or waiting to restart: nothing runs yet
                ended_at = job.ended_at or self._now()
                self._settle(job, JobState.STOPPED, "stopped on request", next_restart_at=None, ended_at=ended_at)
                return job
            job.stop_requested = True
            self._save(job)
            self._note(job, "stop requested: SIGTERM to the driver (SIGKILL after ORION_STOP_TIMEOUT_SECONDS)")
        self._end_run(job_id, run)
        return self.get(job_id)

    def restart(self, job_id: int) -> JobRecord:
        with self._lock:
            job = self.get(job_id)
            if job.state == JobState.QUEUED:
                raise JobConflict(f"job {job_id} is queued and has not started yet; nothing to restart")
            # The same job keeps its own checkpoint; another job may have taken it since this one ended.
            self._check_checkpoint_free(job.checkpoint, job.id)
            run = self._runs.get(job_id)
            if run is None:
                now = self.clock()
                self._settle(job, JobState.RESTARTING, "restart requested", next_restart_at=now, consecutive_failures=0)
                self._launch_due()
                return self.get(job_id)
            job.restart_requested = True
            self._save(job)
            self._note(job, "restart requested: stopping the running driver first")
        self._end_run(job_id, run)
        with self._lock:
            self._launch_due()
        return self.get(job_id)

    def delete(self, job_id: int) -> None:
        with self._lock:
            job = self.get(job_id)
            if job.state not in FINISHED_STATES:
                raise JobConflict(f"job {job_id} is {job.state}; stop it before deleting it")
            self.registry.delete(job_id)
            self.log(job_id).remove()  # the log's directory is the job's directory
            self._logs.pop(job_id, None)
            upload_dir = Path(job.file_path).parent
            if job.source == "upload" and upload_dir.parent == self.settings.data_dir / "uploads":
                shutil.rmtree(upload_dir, ignore_errors=True)

    def _end_run(self, job_id: int, run: Run) -> None:
        """Terminate a driver, escalate to SIGKILL after the timeout, and record how it ended."""
        run.terminate()
        killed = False
        if run.wait(self.settings.stop_timeout_seconds) is None:
            killed = True
            run.kill()
            run.wait(10)
        with self._lock:
            rc = run.poll()
            if rc is not None and self._runs.get(job_id) is run:
                job = self.get(job_id)
                if killed and run.stop_outcome is None:
                    job.stop_outcome, job.stop_batch_id = "killed", None
                    self._note(job, f"no stop outcome after {self.settings.stop_timeout_seconds:g} s: SIGKILL")
                self._finish(job, run, rc)

    # ---------------------------------------------------------------- monitor
    def tick(self) -> None:
        view: MasterView | None = None
        if self._runs:
            try:
                view = self.master.view()
            except MasterUnreachable as exc:
                log.warning("%s", exc)
        with self._lock:
            for job_id, run in list(self._runs.items()):
                self._check(self.get(job_id), run, view)
            self._launch_due()

    def _take_stop_outcome(self, job: JobRecord, run: Run) -> bool:
        """Copy the outcome line the pump saw onto the job (once per change); True when it changed."""
        outcome = run.stop_outcome
        if outcome is None or (job.stop_outcome, job.stop_batch_id) == (outcome, run.stop_batch_id):
            return False
        job.stop_outcome, job.stop_batch_id = outcome, run.stop_batch_id
        batch = f" (batch {run.stop_batch_id})" if run.stop_batch_id is not None else ""
        self._note(job, f"the job reports its stop: {outcome}{batch}")
        return True

    def _check(self, job: JobRecord, run: Run, view: MasterView | None) -> None:
        changed = self._take_stop_outcome(job, run)
        status_file = job_dir(self.settings.data_dir, job.id) / STATUS_FILE
        app_id = job.app_id or run.detected_app_id or (read_status(status_file) or {}).get("app_id")
        if app_id and app_id != job.app_id:
            job.app_id, changed = app_id, True
            self._note(job, f"Spark application {app_id}")
        rc = run.poll()
        if rc is not None:
            self._finish(job, run, rc)
            return
        if view is not None and job.app_id:
            app_state = view.apps.get(job.app_id)
            if app_state == "RUNNING" and job.state != JobState.RUNNING:
                job.state, job.detail, changed = JobState.RUNNING, "", True
                job.running_at = job.running_at or self._now()
                self._note(job, f"{job.app_id} is RUNNING on the master")
            elif app_state != "RUNNING" and job.state == JobState.RUNNING:
                job.state, changed = JobState.SUBMITTED, True
                job.detail = f"the master lists {job.app_id} as {app_state or 'unknown'}"
            elif app_state == "WAITING" and not job.detail:
                job.detail, changed = "waiting for cores on the cluster", True
        if changed:
            self._save(job)

    def _finish(self, job: JobRecord, run: Run, rc: int) -> None:
        self._take_stop_outcome(job, run)
        self._runs.pop(job.id, None)
        ran_for = self.clock() - self._started.pop(job.id, self.clock())
        job.pid, job.exit_code, job.ended_at = None, rc, self._now()
        s = self.settings
        if job.restart_requested:
            job.state, job.next_restart_at, job.consecutive_failures = JobState.RESTARTING, self.clock(), 0
            job.detail = "restart requested"
        elif job.stop_requested:
            job.state, job.detail = JobState.STOPPED, "stopped on request" + _outcome_text(job)
        elif rc == 0:
            job.state, job.detail = JobState.SUCCEEDED, ""
        elif not job.supervise:
            job.state, job.detail = JobState.FAILED, f"driver exited with code {rc}"
        else:
            # A run that lasted long enough counts as healthy: the backoff starts over.
            if ran_for >= s.restart_reset_seconds:
                job.consecutive_failures = 0
            job.consecutive_failures += 1
            if job.consecutive_failures > s.max_restarts:
                job.state = JobState.FAILED
                job.detail = (
                    f"driver exited with code {rc}; gave up after {s.max_restarts} restarts in a row "
                    "(ORION_MAX_RESTARTS)"
                )
            else:
                delay = min(
                    s.restart_backoff_seconds * 2 ** (job.consecutive_failures - 1), s.restart_backoff_max_seconds
                )
                job.state, job.next_restart_at = JobState.RESTARTING, self.clock() + delay
                job.detail = (
                    f"driver exited with code {rc}; restart {job.consecutive_failures} of {s.max_restarts} "
                    f"in {delay:.1f} s"
                )
        job.stop_requested = job.restart_requested = False
        self._save(job)
        self._note(
            job, f"run {job.run} ended with exit code {rc}; now {job.state}" + (f": {job.detail}" if job.detail else "")
        )

    def _launch_due(self) -> None:
        now = self.clock()
        free = self.settings.max_active_jobs - len(self._runs)
        waiting = [
            j for j in self.registry.list({JobState.QUEUED, JobState.RESTARTING})
            if j.state == JobState.QUEUED or j.next_restart_at is None or j.next_restart_at <= now
        ]  # fmt: skip
        for job in sorted(waiting, key=lambda j: j.id)[: max(free, 0)]:
            self._launch(job)

    def _launch(self, job: JobRecord) -> None:
        if job.state == JobState.RESTARTING:
            job.restart_count += 1
        job.run += 1
        job.app_id = job.exit_code = job.ended_at = job.running_at = job.next_restart_at = None
        job.stop_outcome = job.stop_batch_id = None  # each run reports its own stop
        job.started_at = self._now()
        job.stop_requested = job.restart_requested = False
        try:
            run = self.launcher.launch(job, self.log(job.id))
        except OSError as exc:
            self._settle(job, JobState.FAILED, f"spark-submit could not be started: {exc}", ended_at=self._now())
            return
        self._runs[job.id] = run
        self._started[job.id] = self.clock()
        job.pid, job.command, job.state, job.detail = run.pid, run.command, JobState.SUBMITTED, ""
        if run.code_hash and run.code_hash != job.code_hash:
            if job.code_hash:
                self._note(job, f"run {job.run} ships different code: code hash {run.code_hash[:12]}")
            job.code_hash = run.code_hash
        self._save(job)

    def _settle(self, job: JobRecord, state: JobState, detail: str, **fields: object) -> None:
        """Move `job` to `state` with `detail` (and `fields`), store it and note why in its log."""
        vars(job).update(state=state, detail=detail, **fields)
        self._save(job)
        self._note(job, detail)

    def _save(self, job: JobRecord) -> None:
        job.updated_at = self._now()
        self.registry.save(job)

    # ---------------------------------------------------------------- restarts of Orion
    def recover(self) -> None:
        """After Orion (re)starts: clear leftovers of the last run and resubmit supervised jobs."""
        with self._lock:
            for job in self.registry.list(ACTIVE_STATES | {JobState.RESTARTING}):
                killed = self.launcher.kill_leftovers(job) if job.run else 0
                if killed:
                    self._note(job, f"killed {killed} leftover process(es) of run {job.run}")
                if job.state not in ACTIVE_STATES:
                    continue
                cleared = {"pid": None, "stop_requested": False, "restart_requested": False}
                if job.stop_requested:
                    self._settle(job, JobState.STOPPED, "stopped on request", ended_at=self._now(), **cleared)
                elif job.supervise or job.restart_requested:
                    resubmit = "resubmitted after an Orion restart"
                    self._settle(job, JobState.RESTARTING, resubmit, next_restart_at=self.clock(), **cleared)
                else:
                    why = "Orion restarted while the job ran; it is not supervised, so it was not resubmitted"
                    self._settle(job, JobState.FAILED, why, ended_at=self._now(), **cleared)
            self._launch_due()

    def _stop_all_for_shutdown(self) -> None:
        with self._lock:
            runs = dict(self._runs)
            for run in runs.values():
                run.terminate()
        deadline = time.monotonic() + self.settings.stop_timeout_seconds
        killed = set()
        for job_id, run in runs.items():
            if run.wait(max(deadline - time.monotonic(), 0.1)) is None:
                killed.add(job_id)
                run.kill()
                run.wait(5)
        with self._lock:
            for job_id, run in runs.items():
                job = self.get(job_id)
                run.poll()  # lets the pump log the last lines
                if not self._take_stop_outcome(job, run) and job_id in killed:
                    job.stop_outcome, job.stop_batch_id = "killed", None
                self._runs.pop(job_id, None)
                self._started.pop(job_id, None)
                job.pid, job.exit_code, job.ended_at = None, run.poll(), self._now()
                if job.supervise and not job.stop_requested:
                    state, detail = JobState.RESTARTING, "Orion shut down; it is resubmitted when Orion starts again"
                    job.next_restart_at = None
                else:
                    state, detail = JobState.STOPPED, "stopped because Orion shut down"
                self._settle(job, state, detail, stop_requested=False, restart_requested=False)


def _outcome_text(job: JobRecord) -> str:
    batch = f"batch {job.stop_batch_id}" if job.stop_batch_id is not None else "the batch in flight"
    if job.stop_outcome == "finished":
        return f": the job finished {batch} first" if job.stop_batch_id is not None else ": the job stopped cleanly"
    if job.stop_outcome == "abandoned":
        return f": the job abandoned {batch} (it is replayed on the next start)"
    if job.stop_outcome == "killed":
        return ": killed (SIGKILL) after ORION_STOP_TIMEOUT_SECONDS without a stop outcome from the job"
    return ""
