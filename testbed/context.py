"""What every service module of the test bed needs: directories, ports, settings, versions,
credentials, JDKs and the run record. One `Context` per `up`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lakehouse.generators.s3 import S3Endpoint
from lakehouse.settings import Settings
from lakehouse.versions import Versions
from testbed.creds import Credentials
from testbed.plan import HOST, PortPlan
from testbed.prereqs import Jdk
from testbed.proc import Proc, ServiceError, spawn
from testbed.state import StateStore

# Variables passed from the caller's environment to the servers; nothing else leaks in (no AWS_*,
# SPARK_*, JAVA_TOOL_OPTIONS... of whoever runs the test bed).
_PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")


@dataclass
class Context:
    run_dir: Path
    plan: PortPlan
    settings: Settings
    versions: Versions
    creds: Credentials
    store: StateStore
    java: Jdk
    """Kafka, ZooKeeper, Spark."""
    trino_java: Jdk | None = None

    @property
    def s3(self) -> S3Endpoint:
        return S3Endpoint(url=f"http://{HOST}:{self.plan.s3}", region=self.settings.s3_region)

    def log(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    def data(self, *parts: str) -> Path:
        p = self.run_dir.joinpath(*parts)
        p.mkdir(parents=True, exist_ok=True)
        return p

    def base_env(self, **extra: str) -> dict[str, str]:
        env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.update(extra)
        return env

    def spawn(self, service: str, name: str, argv: list[str], *, env: dict[str, str], cwd: Path | None = None) -> Proc:
        """Start a process of `service` and record its group in state.json before anything else happens."""
        proc = spawn(name, argv, env=env, log=self.log(name), cwd=cwd)
        self.store.add_pid(service, proc.pid)
        return proc


def all_alive(procs: list[Proc]) -> bool:
    """True, or a ServiceError naming the first process that exited (for readiness checks of several processes)."""
    for p in procs:
        if not p.alive():
            raise ServiceError(p.name, f"exited (code {p.returncode()})", p.log)
    return True
