"""The local Docker engine: found where it runs, or started (Debian's docker.io `dockerd`), as a `docker` SDK client.

`client()` is what callers use: DOCKER_HOST if set, else the default socket if an engine answers there, else a
`dockerd` started here (root only). A dockerd started here is recorded in `<cache>/docker/dockerd.json` and left
running, because the stack's containers live in it; `stop()` stops it again, and only it: never an engine this
code did not start (its recorded pid must still be a `dockerd`). The tests' fixture (tests/docker/engine_session.py)
stops at its end an engine it started.

`python -m testbed.docker.engine [status|stop]` says which engine answers (its API version) or stops ours.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testbed import proc as procfs
from testbed.docker import Echo
from testbed.paths import cache_dir

DEFAULT_SOCKET = "/var/run/docker.sock"
START_TIMEOUT = 180.0  # for /_ping to answer (a loaded 2-core machine, containerd starting too)
STOP_TIMEOUT = 120.0  # after SIGTERM, for dockerd to stop its containers and exit, before SIGKILL


class EngineError(RuntimeError):
    """No Docker engine can be used; the message says why and what to do."""


@dataclass
class Engine:
    client: Any  # docker.DockerClient, API version negotiated with the engine
    api_version: str  # the engine's own (1.41 for Debian's docker.io 20.10)
    server_version: str
    started_here: bool
    pid: int | None = None  # of a dockerd this code started


def _file(suffix: str) -> Path:
    return cache_dir() / "docker" / f"dockerd.{suffix}"


def _quiet(_line: str) -> None:
    pass


def _connect(base_url: str | None) -> Any | None:
    """A client whose engine answers /_ping, or None."""
    import docker

    try:
        c = (
            docker.DockerClient(base_url=base_url, version="auto", timeout=600)
            if base_url
            else docker.from_env(version="auto", timeout=600)
        )
        c.ping()
        return c
    except Exception:
        return None


def _engine(c: Any, *, started_here: bool, pid: int | None = None) -> Engine:
    v = c.version()
    return Engine(c, str(v.get("ApiVersion", "?")), str(v.get("Version", "?")), started_here, pid)


_STARTED: dict[int, subprocess.Popen] = {}  # the dockerds this process started (reaped when stopped)


def _is_dockerd(pid: int, socket_path: str | None = None) -> bool:
    """`pid` runs dockerd (a zombie does not), listening on `socket_path` when one is given."""
    argv = procfs.argv(pid)
    if not argv or os.path.basename(argv[0]) != "dockerd":
        return False
    return socket_path is None or f"unix://{socket_path}" in argv


def _record() -> dict[str, Any] | None:
    try:
        data = json.loads(_file("json").read_text())
        return {"pid": int(data["pid"]), "socket": str(data["socket"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _recorded_pid() -> int | None:
    """The pid of a dockerd this code started and that still runs, else None (a stale record is removed)."""
    rec = _record()
    if rec is None:
        return None
    if _is_dockerd(rec["pid"], rec["socket"]):
        return int(rec["pid"])
    _file("json").unlink(missing_ok=True)
    return None


def _start_dockerd(echo: Echo, socket_path: str) -> int:
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise EngineError(
            "no Docker engine answers and `dockerd` is not installed: `apt-get install -y docker.io` "
            "(Debian's Docker Engine), or point DOCKER_HOST at a running engine"
        )
    if os.geteuid() != 0:
        raise EngineError(
            f"no Docker engine answers at {socket_path} and starting dockerd needs root: start it yourself "
            "(`sudo dockerd &`) or point DOCKER_HOST at a running engine"
        )
    if _recorded_pid() is not None:
        raise EngineError(
            f"a dockerd this code started still runs ({_record()}) but does not answer at {socket_path}: stop it "
            "with `python -m testbed.docker.engine stop`"
        )
    log = _file("log")
    log.parent.mkdir(parents=True, exist_ok=True)
    echo(f"no Docker engine answers: starting {dockerd} (log {log})")
    with log.open("ab") as out:
        # A session of its own: the engine outlives this process and a Ctrl-C of the caller does not reach it.
        argv = [dockerd, "--host", f"unix://{socket_path}"]
        proc = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    _STARTED[proc.pid] = proc
    _file("json").write_text(json.dumps({"pid": proc.pid, "socket": socket_path, "started": time.time()}))
    return proc.pid


def _wait_for_socket(pid: int, socket_path: str, echo: Echo) -> Any:
    t0 = time.monotonic()
    while time.monotonic() - t0 < START_TIMEOUT:
        c = _connect(f"unix://{socket_path}")
        if c is not None:
            echo(f"dockerd (pid {pid}) answers after {time.monotonic() - t0:.1f} s")
            return c
        # Our own child: poll() says whether it exited (its /proc cmdline is briefly empty right after exec).
        if _STARTED[pid].poll() is not None:
            tail = procfs.log_tail(_file("log"), 30)
            raise EngineError(f"dockerd (pid {pid}) exited before it answered; its log ends:\n{tail}")
        time.sleep(0.5)
    raise EngineError(f"dockerd (pid {pid}) did not answer within {START_TIMEOUT:.0f} s; log: {_file('log')}")


def connect(echo: Echo = _quiet, *, start: bool = True, socket_path: str = DEFAULT_SOCKET) -> Engine:
    """The engine to use: DOCKER_HOST's, the one at `socket_path`, or (with `start`) a dockerd started here on it."""
    if os.environ.get("DOCKER_HOST"):
        c = _connect(None)
        if c is None:
            raise EngineError(f"DOCKER_HOST={os.environ['DOCKER_HOST']} does not answer: start that engine or unset it")
        return _engine(c, started_here=False)
    c = _connect(f"unix://{socket_path}")
    if c is not None:
        rec = _record()
        ours = rec is not None and rec["socket"] == socket_path
        return _engine(c, started_here=False, pid=_recorded_pid() if ours else None)
    if not start:
        raise EngineError(f"no Docker engine answers at {socket_path}")
    pid = _start_dockerd(echo, socket_path)
    return _engine(_wait_for_socket(pid, socket_path, echo), started_here=True, pid=pid)


def client(echo: Echo = _quiet, *, start: bool = True) -> Any:
    """A docker.DockerClient of the engine `connect` finds or starts (a dockerd started here stays running)."""
    eng = connect(echo, start=start)
    echo(f"Docker engine {eng.server_version}, API {eng.api_version}" + (" (started here)" * eng.started_here))
    return eng.client


def stop(echo: Echo = _quiet) -> bool:
    """Stop the dockerd this code started (recorded in the state file); False when there is none of ours."""
    pid = _recorded_pid()
    if pid is None:
        return False
    echo(f"stopping dockerd (pid {pid}), which testbed/docker/engine.py started")
    proc = _STARTED.pop(pid, None)

    def running() -> bool:
        # Our own child is reaped by poll(); another process's exited dockerd is gone or a zombie (no cmdline).
        return proc.poll() is None if proc is not None else _is_dockerd(pid)

    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and running():
        time.sleep(0.5)
    if running():
        echo(f"dockerd (pid {pid}) still runs after {STOP_TIMEOUT:.0f} s: SIGKILL")
        os.kill(pid, signal.SIGKILL)
        if proc is not None:
            proc.wait(timeout=60)
    _file("json").unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m testbed.docker.engine", description=__doc__)
    ap.add_argument("command", choices=["status", "start", "stop"], nargs="?", default="status")
    args = ap.parse_args(argv)
    try:
        if args.command == "stop":
            if not stop(print):
                print("no dockerd started by testbed/docker/engine.py is running: nothing stopped")
            return 0
        eng = connect(print, start=args.command == "start")
    except EngineError as exc:
        print(f"error: {exc}")
        return 1
    ours = f", started by this code (pid {eng.pid})" if eng.pid else ""
    print(f"Docker engine {eng.server_version}, API version {eng.api_version}{ours}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
