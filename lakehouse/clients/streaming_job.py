"""Running the streaming job through Spark Orion's API: submit or adopt, wait until it streams, stop, forget.

"Streaming" is what the job's driver reports through Orion (a live query that made progress); "no longer
running" is taken from the Spark master's own /json/, not from Orion alone. A job that died while starting is
named with its Spark application, the driver's own last error line and the end of its log.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ACTIVE_STATES = frozenset({"queued", "submitted", "running", "restarting"})
FINISHED_STATES = frozenset({"succeeded", "failed", "stopped"})
# Enough of the log to hold the traceback of a driver that died, after the next run's first lines.
_LOG_TAIL_BYTES = 32_000


class OrionError(RuntimeError):
    """Orion refused or failed a request; `status` is the HTTP status (0 when Orion did not answer)."""

    def __init__(self, message: str, status: int = 0, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class JobSpec:
    """What the stack wants Orion to run."""

    name: str  # a shipped job (ORION_JOBS_DIR/<name>.py)
    args: list[str] = field(default_factory=list)
    conf: dict[str, str] = field(default_factory=dict)
    supervise: bool = True
    code_hash: str = ""  # Orion's code hash of the job (orion.codehash) as built from this clone's jobs/


class OrionClient:
    def __init__(self, url: str, token: str, *, timeout: float = 30) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def _call(self, method: str, path: str, *, what: str, timeout: float | None = None, **kwargs: Any) -> Any:
        import requests

        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        try:
            resp = requests.request(method, self.url + path, headers=headers, timeout=timeout or self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise OrionError(f"Spark Orion at {self.url} did not answer {method} {path} ({what}): {exc}") from exc
        if resp.status_code == 404:
            return None
        if resp.status_code >= 400:
            try:
                detail = str(resp.json().get("detail", resp.text))
            except ValueError:
                detail = resp.text[:1000]
            raise OrionError(
                f"Spark Orion at {self.url} refused {method} {path} ({what}): HTTP {resp.status_code}: {detail}",
                resp.status_code,
                detail,
            )
        return resp.json() if resp.content else {}

    def jobs(self) -> list[dict[str, Any]]:
        return self._call("GET", "/jobs", what="list jobs") or []

    def job(self, job_id: int) -> dict[str, Any] | None:
        return self._call("GET", f"/jobs/{int(job_id)}", what=f"read job {job_id}")

    def submit(self, spec: JobSpec) -> dict[str, Any]:
        supervise = "true" if spec.supervise else "false"
        form = {"job": spec.name, "args": json.dumps(spec.args), "conf": json.dumps(spec.conf), "supervise": supervise}
        # multipart/form-data, as Orion's POST /jobs expects (files=... with no file forces multipart).
        created = self._call("POST", "/jobs", what=f"submit {spec.name}", files={k: (None, v) for k, v in form.items()})
        return created["job"]

    def stop(self, job_id: int, *, timeout: float) -> dict[str, Any] | None:
        return self._call("POST", f"/jobs/{int(job_id)}/stop", what=f"stop job {job_id}", timeout=timeout)

    def delete(self, job_id: int) -> bool:
        """False when Orion had no such job."""
        return self._call("DELETE", f"/jobs/{int(job_id)}", what=f"delete job {job_id}") is not None

    def log_tail(self, job_id: int) -> str:
        def read(offset: int, limit: int) -> dict[str, Any]:
            path = f"/jobs/{int(job_id)}/logs"
            return self._call("GET", path, what="read the log", params={"offset": offset, "limit": limit}) or {}

        try:
            size = int(read(0, 1).get("size", 0))
            return str(read(max(0, size - _LOG_TAIL_BYTES), _LOG_TAIL_BYTES).get("text", ""))
        except OrionError:
            return ""


def adoptable(jobs: list[dict[str, Any]], spec: JobSpec) -> dict[str, Any] | None:
    """An active job that already runs `spec` (same name, code hash, arguments, conf and supervision)."""
    for job in jobs:
        if (
            job.get("name") == spec.name
            and job.get("state") in ACTIVE_STATES
            and job.get("code_hash") == spec.code_hash
            and list(job.get("args") or []) == list(spec.args)
            and dict(job.get("conf") or {}) == dict(spec.conf)
            and bool(job.get("supervise")) == spec.supervise
        ):
            return job
    return None


def is_streaming(job: dict[str, Any]) -> bool:
    """Whether Orion reports the job really streaming: its application RUNNING on the master and, in its driver,
    a live query that has made progress (a first micro-batch, or a first trigger that found no data). A driver
    that dies while it starts up is RUNNING on the master for a few seconds without ever getting this far."""
    if job.get("state") != "running" or not job.get("app_id"):
        return False
    queries = (job.get("streaming") or {}).get("queries") or []
    return any(q.get("active") is not False and q.get("batch_id") is not None for q in queries)


# The last line of a Python traceback (`ModuleNotFoundError: No module named 'delta'`,
# `pyspark.errors.exceptions.captured.AnalysisException: ...`) or a JVM's uncaught exception.
_PY_ERROR = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Exit|Interrupt)\b(?::.*)?$")
_JVM_ERROR = re.compile(r"^Exception in thread .*$")
_LOG4J_ERROR = re.compile(r"^\S+ \S+ ERROR .*$|^\[.*\] ERROR .*$|^ERROR .*$")


def driver_error_line(log: str) -> str | None:
    """The driver's own last error line in a job's log: the last exception a Python traceback ended with, else
    the last uncaught JVM exception, else the last ERROR line of Spark's log; Orion's own notes are skipped."""
    lines = [line.rstrip() for line in log.splitlines() if line.strip() and not line.startswith("[orion]")]
    found = ([line.strip() for line in lines if p.match(line.strip())] for p in (_PY_ERROR, _JVM_ERROR, _LOG4J_ERROR))
    return next((hits[-1] for hits in found if hits), None)


_APP_IN_LOG = re.compile(r"\b(app-\d{14}-\d{4,})\b")


def app_in_log(log: str, run: int | None) -> str | None:
    """The Spark application id the driver of `run` logged (Spark's "Connected to Spark cluster with app ID",
    Orion's "Spark application" note), from the part of the log that run wrote; None when it logged none."""
    lines = log.splitlines()
    if run is not None:
        start = next((i for i, line in enumerate(lines) if line.startswith(f"[orion] run {run}:")), 0)
        end = next((i for i, line in enumerate(lines) if line.startswith(f"[orion] run {run + 1}:")), len(lines))
        lines = lines[start:end]
    return next((m.group(1) for line in lines if (m := _APP_IN_LOG.search(line))), None)


def _failed_to_stream(
    client: OrionClient, job: dict[str, Any], what: str, *, run: int | None = None, app_id: str | None = None
) -> OrionError:
    """The error of a job that did not come up streaming: Orion's job, the Spark application of the run that
    failed (`run`, whose `app_id` the caller may have seen; else its log says it), the driver's last error line
    and the end of its log. A supervised job would otherwise restart in a loop behind `pulumi up`'s back: it is
    stopped first (Orion keeps it and its log for reading)."""
    job_id = int(job["id"])
    log = client.log_tail(job_id)
    error = driver_error_line(log) or "no error line in its log"
    # A supervised job already relaunched carries the new run's application (or none yet), not the failed one's.
    app_id = app_id or app_in_log(log, run) or (job.get("app_id") if run is None or job.get("run") == run else None)
    stopped = ""
    if job.get("state") in ACTIVE_STATES:
        try:
            client.stop(job_id, timeout=120)
            stopped = f" Orion job {job_id} was stopped; its log stays readable (GET /jobs/{job_id}/logs)."
        except OrionError as exc:
            stopped = f" Stopping Orion job {job_id} failed too: {exc}"
    return OrionError(
        f"Spark Orion at {client.url}: job {job_id} ({job.get('name')}), Spark application "
        f"{app_id or '(none yet)'}, {what}: {error}.{stopped}"
        "\n--- end of its driver log ---\n" + "\n".join(log.splitlines()[-40:])
    )


def wait_streaming(
    client: OrionClient,
    job_id: int,
    *,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Wait until the job is really streaming (`is_streaming`); fail fast, with the driver's own error line, as
    soon as the run being watched ends (a supervised job's driver that died goes to `restarting`, or a new run
    shows up between two polls), and fail at `timeout` naming where it got stuck."""
    deadline = clock() + timeout
    watched_run: int | None = None
    seen_app: str | None = None  # the watched run's application, once Orion reported it
    while True:
        job = client.job(job_id)
        if job is None:
            raise OrionError(f"Spark Orion at {client.url}: job {job_id} vanished while starting")
        if is_streaming(job):
            return job
        state, run = job.get("state"), job.get("run")
        if watched_run is None or run == watched_run:
            seen_app = job.get("app_id") or seen_app
        failing = {"run": watched_run if watched_run is not None else run, "app_id": seen_app}
        if state in FINISHED_STATES:
            why = f"ended as {state} while starting ({job.get('detail') or 'no detail'})"
        elif state == "restarting" and watched_run is not None:
            why = f"its driver exited while starting ({job.get('detail')})"
        elif state in ("submitted", "running") and watched_run not in (None, run):
            why = f"its driver exited while starting (run {watched_run})"
        elif clock() >= deadline:
            why = (
                f"is still {state} and not streaming after {timeout:.0f} s ({job.get('detail') or 'no detail'}; "
                "are the Spark workers up and free?)"
            )
        else:
            if state in ("submitted", "running"):
                watched_run = run
            sleep(2.0)
            continue
        raise _failed_to_stream(client, job, why, **failing)


def master_active_apps(master_ui: str) -> set[str]:
    """Ids of the applications the Spark master lists as active (RUNNING or WAITING)."""
    import requests

    try:
        data = requests.get(f"{master_ui.rstrip('/')}/json/", timeout=10).json()
    except (requests.RequestException, ValueError) as exc:
        raise OrionError(f"the Spark master at {master_ui} did not answer GET /json/: {exc}") from exc
    return {str(app.get("id")) for app in data.get("activeapps") or []}


def ensure_running(client: OrionClient, spec: JobSpec, *, start_timeout: float) -> tuple[dict[str, Any], bool]:
    """Adopt a job that already runs `spec` or submit it; wait until it streams. Returns (job, adopted). (Another
    job on the same checkpoint makes Orion answer 409: an error, not something to stop behind the user's back.)"""
    existing = adoptable(client.jobs(), spec)
    job = existing if existing is not None else client.submit(spec)
    return wait_streaming(client, int(job["id"]), timeout=start_timeout), existing is not None


def stop_and_forget(client: OrionClient, job_id: int, *, master_ui: str, stop_timeout: float) -> None:
    """Stop the job (if it still runs), wait until the master no longer lists its application, delete it."""
    job = client.job(job_id)
    if job is None:
        return
    app_id = job.get("app_id")
    if job.get("state") in ACTIVE_STATES:
        job = client.stop(job_id, timeout=stop_timeout + 30) or job
        app_id = job.get("app_id") or app_id
    if app_id:
        deadline = time.monotonic() + stop_timeout
        while str(app_id) in master_active_apps(master_ui):
            if time.monotonic() >= deadline:
                raise OrionError(
                    f"the Spark master at {master_ui} still lists {app_id} as active after {stop_timeout:.0f} s"
                )
            time.sleep(1.0)
    client.delete(job_id)
