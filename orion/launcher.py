"""Starts a job's driver: `spark-submit` in client mode as a child process, never through a shell.

The child gets Orion's environment minus ORION_* (the API token stays with Orion), and runs in its own
process group so stop/kill reach both the driver JVM and the Python process it spawns. Each launch ships
the packages of ORION_JOBS_DIR as one zip (`--py-files`, orion/codehash.py) and records their code hash.
A pump thread masks secrets before any output reaches the bounded log, and spots the application id and
the job's stop outcome line (contract 4: `stop-outcome=...`).
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Protocol

from orion import codehash
from orion.agent.driver import STATUS_FILE_ENV
from orion.joblog import BoundedLog
from orion.models import JobRecord
from orion.scrub import Scrubber
from orion.settings import OrionSettings

AGENT = Path(__file__).resolve().parent / "agent" / "driver.py"
STATUS_FILE = "driver-status.json"
RUN_MARKER_ENV = "ORION_JOB_RUN"

_APP_ID = re.compile(r"Connected to Spark cluster with app ID (app-[\w-]+)")
# The job's bounded stop reports how it ended, once (contract 4 of the team brief).
_STOP_OUTCOME = re.compile(r"\bstop-outcome=(finished|abandoned)\b(?:\s+batch=(\d+))?")


class Run(Protocol):
    """A launched driver as the manager sees it (the real one and the unit tests' fake)."""

    pid: int
    command: list[str]
    detected_app_id: str | None
    code_hash: str | None  # of what this launch shipped (None: not computed)
    stop_outcome: str | None  # 'finished' or 'abandoned' once the job logged its stop outcome line
    stop_batch_id: int | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float) -> int | None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


class Launcher(Protocol):
    def launch(self, job: JobRecord, log: BoundedLog) -> Run: ...

    def kill_leftovers(self, job: JobRecord) -> int: ...


def instance_id(data_dir: Path) -> str:
    """Tells this Orion's children from another Orion's (job ids repeat across data dirs)."""
    return hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]


def run_marker(instance: str, job: JobRecord) -> str:
    return f"{instance}:{job.id}:{job.run}"


def job_dir(data_dir: Path, job_id: int) -> Path:
    return data_dir / "jobs" / str(job_id)


def spark_defaults_keys(environ: Mapping[str, str]) -> set[str]:
    """Property names set in $SPARK_CONF_DIR/spark-defaults.conf (to know what Orion must add)."""
    conf_dir = environ.get("SPARK_CONF_DIR")
    try:
        text = (Path(conf_dir) / "spark-defaults.conf").read_text() if conf_dir else ""
    except OSError:
        return set()
    lines = [line.strip() for line in text.splitlines()]
    return {re.split(r"[\s=:]", line, maxsplit=1)[0] for line in lines if line and not line.startswith(("#", "!"))}


def build_command(
    settings: OrionSettings, job: JobRecord, defaults: AbstractSet[str] = frozenset(), py_files: Path | None = None
) -> list[str]:
    """The spark-submit argument list; the agent runs first and then the job's file with its args.
    `py_files` is the zip of ORION_JOBS_DIR's packages (on the driver's and the executors' sys.path)."""
    conf = {"spark.ui.showConsoleProgress": "false", **job.conf}
    if "spark.driver.memory" not in conf and "spark.driver.memory" not in defaults:
        # Every JVM gets a heap cap: without one a driver would take a quarter of the machine's memory.
        conf["spark.driver.memory"] = settings.driver_memory_when_unset
    # The cores cap always applies: a lower value from the job is kept (validated on submit).
    conf["spark.cores.max"] = str(min(int(conf.get("spark.cores.max", settings.cores_max)), settings.cores_max))
    argv = [str(settings.spark_submit), "--master", settings.spark_master_url, "--deploy-mode", "client",
            "--name", f"orion-{job.id}-{job.name}"]  # fmt: skip
    argv += [arg for key in sorted(conf) for arg in ("--conf", f"{key}={conf[key]}")]
    argv += ["--py-files", str(py_files)] if py_files is not None else []
    return [*argv, str(AGENT), job.file_path, *job.args]


def child_env(environ: Mapping[str, str], marker: str, status_file: Path) -> dict[str, str]:
    env = {k: v for k, v in environ.items() if not k.upper().startswith("ORION_")}
    env |= {RUN_MARKER_ENV: marker, STATUS_FILE_ENV: str(status_file), "PYTHONUNBUFFERED": "1"}
    # The driver's Python must import pyspark: default to the interpreter running Orion.
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    return env


class SparkRun:
    """A running spark-submit child and the thread pumping its output into the job's log."""

    def __init__(
        self, proc: subprocess.Popen[bytes], command: list[str], log: BoundedLog, scrub: Scrubber, code_hash: str | None
    ) -> None:
        self.proc, self.pid, self.command, self.code_hash = proc, proc.pid, command, code_hash
        self.detected_app_id: str | None = None
        self.stop_outcome: str | None = None
        self.stop_batch_id: int | None = None
        self._log, self._scrub = log, scrub
        self._pump = threading.Thread(target=self._pump_output, name=f"orion-log-{proc.pid}", daemon=True)
        self._pump.start()

    def _pump_output(self) -> None:
        assert self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            line = self._scrub.text(raw.decode("utf-8", errors="replace"))
            if self.detected_app_id is None and (m := _APP_ID.search(line)):
                self.detected_app_id = m.group(1)
            if m := _STOP_OUTCOME.search(line):
                self.stop_batch_id = int(m.group(2)) if m.group(2) else None
                self.stop_outcome = m.group(1)
            self._log.append(line if line.endswith("\n") else line + "\n")
        self.proc.stdout.close()

    def poll(self) -> int | None:
        rc = self.proc.poll()
        if rc is not None:
            # The JVM is gone; its Python child may linger (~10 s after a kill -9): end the group.
            send_signal(-self.pid, signal.SIGKILL)
            # Then the pipe closes: let the pump log the last lines (the stop outcome is among them).
            self._pump.join(timeout=2)
        return rc

    def wait(self, timeout: float) -> int | None:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.poll()

    def terminate(self) -> None:
        """Graceful stop: SIGTERM to the job's Python process (a job may stop its queries on it); the
        JVM exits once its Python child is gone. Without a Python driver yet, the whole group."""
        # The Python driver runs `python <agent> <job> ...`; the JVM only has the agent among its args.
        members, agent = _group_members(self.pid), str(AGENT).encode()
        drivers = [pid for pid, cmd in _proc_files("cmdline") if pid in members and cmd.split(b"\0")[1:2] == [agent]]
        for pid in drivers or [-self.pid]:
            send_signal(pid, signal.SIGTERM)

    def kill(self) -> None:
        send_signal(-self.pid, signal.SIGKILL)


def send_signal(pid: int, sig: signal.Signals) -> bool:
    """`sig` to a process, or to a process group when `pid` is minus its id; False when none was reached."""
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _proc_files(name: str) -> Iterator[tuple[int, bytes]]:
    """(pid, /proc/<pid>/<name>) of every process this user can read."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                yield int(entry.name), (entry / name).read_bytes()
            except OSError:
                continue


def _group_members(pgid: int) -> set[int]:
    members = set()
    for pid, stat in _proc_files("stat"):
        # Fields after the command name (which may hold spaces): state ppid pgrp ...
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            members.add(pid)
    return members


class SparkSubmitLauncher:
    def __init__(self, settings: OrionSettings, scrub: Scrubber, environ: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.scrub = scrub
        self.environ = dict(os.environ if environ is None else environ)
        self.instance = instance_id(settings.data_dir)
        self.defaults = spark_defaults_keys(self.environ)

    def launch(self, job: JobRecord, log: BoundedLog) -> SparkRun:
        workdir = job_dir(self.settings.data_dir, job.id)
        workdir.mkdir(parents=True, exist_ok=True)
        status = workdir / STATUS_FILE
        status.unlink(missing_ok=True)
        # One zip per launch from one read of the packages: what runs is what the hash describes.
        packages = codehash.snapshot(self.settings.jobs_dir)
        zip_path = workdir / codehash.ZIP_NAME
        if packages:
            codehash.write_zip(packages, zip_path)
        else:
            zip_path.unlink(missing_ok=True)
        try:
            code_hash: str | None = codehash.code_hash(Path(job.file_path).read_bytes(), packages)
        except OSError:
            code_hash = None  # spark-submit will say that the file is missing
        argv = build_command(self.settings, job, self.defaults, zip_path if packages else None)
        shown = self.scrub.command(argv)
        log.append(f"[orion] run {job.run}: {' '.join(shown)}\n")
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(workdir),
            env=child_env(self.environ, run_marker(self.instance, job), status), start_new_session=True, close_fds=True,
        )  # fmt: skip
        return SparkRun(proc, shown, log, self.scrub, code_hash)

    def kill_leftovers(self, job: JobRecord) -> int:
        """Kill what is left of a job's previous run (after an Orion crash); returns how many processes."""
        marker = f"{RUN_MARKER_ENV}={run_marker(self.instance, job)}".encode()
        leftovers = [pid for pid, env in _proc_files("environ") if pid != os.getpid() and marker in env.split(b"\0")]
        return sum(send_signal(pid, signal.SIGKILL) for pid in leftovers)
