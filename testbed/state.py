"""The run record of a test bed (.testbed/state.json): its process groups, ports and readiness times. `down` and
`status` work from it alone, so a test bed started by one process is stopped by another."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from testbed.paths import state_file


@dataclass
class ServiceRecord:
    name: str
    pids: list[int] = field(default_factory=list)
    """Process group ids (one per process the service runs, e.g. a master and its workers)."""
    address: str = ""
    ports: list[int] = field(default_factory=list)
    log: str = ""
    state: str = "starting"
    """starting | ready | failed | stopped"""
    ready_seconds: float | None = None


@dataclass
class State:
    status: str = "starting"
    """starting | up | failed | stopping"""
    owner_pid: int = field(default_factory=os.getpid)
    started_at: float = field(default_factory=time.time)
    services: dict[str, ServiceRecord] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> State:
        raw = json.loads(text)
        services = {k: ServiceRecord(**v) for k, v in raw.pop("services", {}).items()}
        return cls(services=services, **raw)


class StateStore:
    """Thread-safe updates of state.json (services start in parallel threads), written atomically."""

    def __init__(self, run_dir: Path, state: State | None = None) -> None:
        self.path = state_file(run_dir)
        self.state = state or State()
        self._lock = threading.Lock()

    def save(self) -> None:
        with self._lock:
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(self.state.to_json())
        tmp.replace(self.path)

    def service(self, name: str, **changes: object) -> ServiceRecord:
        with self._lock:
            rec = self.state.services.setdefault(name, ServiceRecord(name=name))
            for key, value in changes.items():
                setattr(rec, key, value)
            self._write()
            return rec

    def add_pid(self, name: str, pid: int) -> None:
        with self._lock:
            self.state.services.setdefault(name, ServiceRecord(name=name)).pids.append(pid)
            self._write()

    def set_status(self, status: str) -> None:
        with self._lock:
            self.state.status = status
            self._write()


def load(run_dir: Path) -> State | None:
    path = state_file(run_dir)
    with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, TypeError):
        return State.from_json(path.read_text())
    return None
