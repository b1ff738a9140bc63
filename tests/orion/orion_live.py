"""Runs a real Orion process (`python -m orion`) against the test bed's Spark, for integration tests.

Each test module gets its own Orion on an ephemeral port with its own data dir, so it can stop,
kill and restart it; the test bed's own Orion is left alone. Jobs come from tests/orion/jobs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests

ROOT = Path(__file__).resolve().parents[2]
TEST_JOBS = Path(__file__).resolve().parent / "jobs"
TOKEN = "integration-token-" + os.urandom(8).hex()
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], T], timeout: float, what: str, every: float = 0.5) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except requests.RequestException as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


def master_apps(master_ui: str) -> dict[str, str]:
    """Application id -> state, straight from the master's own /json/ (not through Orion)."""
    data = requests.get(f"{master_ui.rstrip('/')}/json/", timeout=5).json()
    apps = {a["id"]: a["state"] for a in data.get("completedapps", [])}
    apps.update({a["id"]: a["state"] for a in data.get("activeapps", [])})
    return apps


TESTBED_KEYS = (
    "testbed_spark_home",
    "testbed_spark_conf_dir",
    "testbed_spark_python",
    "testbed_java_home",
    "testbed_s3_spark_secret_key",
)


def require_testbed_client(endpoints: dict[str, str]) -> None:
    """Tests that start their own Orion need the test bed's Spark client; a deployed stack has none."""
    import pytest

    missing = [k for k in TESTBED_KEYS if k not in endpoints]
    if missing:
        pytest.skip(f"needs the test bed's Spark client ({', '.join(missing)}); not available with a deployed stack")


def orion_env(
    endpoints: dict[str, str], data_dir: Path, port: int, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """Orion's environment as the test bed gives it: ORION_* plus the Spark client env and S3 keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORION_", "SPARK_", "PYSPARK_"))}
    env.update(
        ORION_TOKEN=TOKEN,
        ORION_SPARK_MASTER_URL=endpoints["spark_master_url"],
        ORION_SPARK_MASTER_UI=endpoints["spark_master_ui"],
        ORION_SPARK_HOME=endpoints["testbed_spark_home"],
        ORION_DATA_DIR=str(data_dir),
        ORION_JOBS_DIR=str(TEST_JOBS),
        ORION_HOST="127.0.0.1",
        ORION_PORT=str(port),
        ORION_CORES_MAX="1",
        ORION_RESTART_BACKOFF_SECONDS="1",
        # Room for the test jobs' clean stop (query.stop, spark.stop) on a loaded machine before the SIGKILL.
        ORION_STOP_TIMEOUT_SECONDS="60",
        JAVA_HOME=endpoints["testbed_java_home"],
        SPARK_HOME=endpoints["testbed_spark_home"],
        SPARK_CONF_DIR=endpoints["testbed_spark_conf_dir"],
        SPARK_LOCAL_IP="127.0.0.1",
        # The Spark image's Python (the test bed's testbed.artifacts.spark_python), as in the stack.
        PYSPARK_PYTHON=endpoints["testbed_spark_python"],
        PYSPARK_DRIVER_PYTHON=endpoints["testbed_spark_python"],
        AWS_ACCESS_KEY_ID=endpoints["testbed_s3_spark_access_key"],
        AWS_SECRET_ACCESS_KEY=endpoints["testbed_s3_spark_secret_key"],
    )
    env.update(extra or {})
    return env


class OrionClient:
    """The API as a test uses it: submit, read, wait for states, check against the master's /json/."""

    def __init__(self, url: str, token: str, master_ui: str) -> None:
        self.url = url.rstrip("/")
        self.master_ui = master_ui
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def submit(self, **form: Any) -> dict[str, Any]:
        files = form.pop("files", None)
        resp = self.http.post(f"{self.url}/jobs", data=form, files=files, timeout=30)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def job(self, job_id: int) -> dict[str, Any]:
        resp = self.http.get(f"{self.url}/jobs/{job_id}", timeout=10)
        resp.raise_for_status()
        return resp.json()

    def logs(self, job_id: int) -> str:
        out, offset = [], 0
        while True:
            chunk = self.http.get(f"{self.url}/jobs/{job_id}/logs", params={"offset": offset}, timeout=10).json()
            out.append(chunk["text"])
            if not chunk["text"] or chunk["next_offset"] >= chunk["size"]:
                return "".join(out)
            offset = chunk["next_offset"]

    def wait_state(self, job_id: int, states: set[str], timeout: float = 240) -> dict[str, Any]:
        return wait_until(
            lambda: (j := self.job(job_id))["state"] in states and j, timeout, f"job {job_id} in {sorted(states)}"
        )

    def wait_running_on_master(self, job_id: int, timeout: float = 240, not_app: str | None = None) -> dict[str, Any]:
        """Orion says running AND the master's own /json/ lists the job's app as RUNNING."""

        def check() -> dict[str, Any] | None:
            job = self.job(job_id)
            app = job["app_id"]
            if job["state"] != "running" or not app or app == not_app:
                return None
            return job if master_apps(self.master_ui).get(app) == "RUNNING" else None

        return wait_until(check, timeout, f"job {job_id} RUNNING in the master's /json/", every=0.25)


class OrionProcess(OrionClient):
    """One `python -m orion` child; `restart()` keeps its data dir (registry, logs, uploads)."""

    def __init__(self, endpoints: dict[str, str], data_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        require_testbed_client(endpoints)
        self.endpoints = endpoints
        self.data_dir = data_dir
        self.extra_env = extra_env or {}
        self.port = free_port()
        super().__init__(f"http://127.0.0.1:{self.port}", TOKEN, endpoints["spark_master_ui"])
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-orion.log"

    def start(self, timeout: float = 60) -> float:
        """Start and wait for /health; returns the seconds it took."""
        t0 = time.monotonic()
        env = orion_env(self.endpoints, self.data_dir, self.port, self.extra_env)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.endpoints["testbed_spark_python"], "-m", "orion"], cwd=ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        wait_until(self._healthy, timeout, f"Orion /health at {self.url} (log: {self.log_path})")
        return time.monotonic() - t0

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"Orion exited with {self.proc.returncode}: {self.log_path.read_text()[-3000:]}")
        return requests.get(f"{self.url}/health", timeout=3).status_code == 200

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        self.proc.wait(timeout=timeout)

    def restart(self, sig: int = signal.SIGTERM) -> float:
        self.stop(sig)
        return self.start()
