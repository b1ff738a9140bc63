"""Processes of the test bed: start in their own process group with a log file, stop by group, wait for
readiness with a clear error; and the one reader of /proc (process stats, command lines, memory, groups,
listening sockets), shared with bench/machine.py."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class ServiceError(RuntimeError):
    """A service did not become usable. The message names the service and shows the tail of its log."""

    def __init__(self, service: str, problem: str, log: Path | None = None) -> None:
        self.service = service
        tail = log_tail(log) if log else ""
        where = f"\n--- last lines of {log} ---\n{tail}" if log else ""
        super().__init__(f"test bed service {service!r}: {problem}{where}")


def log_tail(path: Path | None, lines: int = 40) -> str:
    if path is None or not path.exists():
        return "(no log)"
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - 64_000))
        text = fh.read().decode("utf-8", "replace")
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Proc:
    """A started process; its pid is also its process group id (start_new_session)."""

    name: str
    pid: int
    log: Path
    popen: subprocess.Popen | None = None

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        st = read_stat(self.pid)
        return st is not None and st.state not in ("Z", "X")

    def returncode(self) -> int | None:
        return self.popen.poll() if self.popen is not None else None


def spawn(name: str, argv: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path | None = None) -> Proc:
    """Start `argv` detached from our terminal in a new process group, stdout+stderr appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        fh.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name}: {' '.join(argv)}\n".encode())
        fh.flush()
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    return Proc(name=name, pid=popen.pid, log=log, popen=popen)


def run_logged(
    name: str, argv: Sequence[str], *, env: Mapping[str, str], log: Path, cwd: Path | None = None, timeout: float = 600
) -> None:
    """Run a one-shot step (format storage, db upgrade) to completion, its output appended to `log`."""
    proc = spawn(name, argv, env=env, log=log, cwd=cwd)
    assert proc.popen is not None
    try:
        code = proc.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(proc.pid, timeout=5)
        raise ServiceError(name, f"step {' '.join(argv[:3])}... did not finish in {timeout:.0f} s", log) from None
    if code != 0:
        raise ServiceError(name, f"step {' '.join(argv[:3])}... exited with code {code}", log)


@dataclass(frozen=True)
class ProcStat:
    """One process as /proc/<pid>/stat shows it."""

    pid: int
    ppid: int
    pgid: int
    ticks: int
    """utime + stime of the process itself (its dead children are not counted)."""
    rss: int
    name: str
    state: str = "R"


def read_stat(pid: int) -> ProcStat | None:
    """The process `pid` (zombies included: see `state`), or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    f = raw[raw.rindex(")") + 2 :].split()
    # f[0] is field 3 (state); ppid, pgrp are 4, 5; utime, stime 14, 15; rss 24 (in pages).
    ticks, rss = int(f[11]) + int(f[12]), int(f[21]) * PAGE
    return ProcStat(pid, int(f[1]), int(f[2]), ticks, rss, raw[raw.index("(") + 1 : raw.rindex(")")], f[0])


def processes() -> dict[int, ProcStat]:
    """Every live process (zombies left out) by pid."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := read_stat(int(entry.name))) is not None and st.state not in ("Z", "X"):
            out[st.pid] = st
    return out


def argv(pid: int) -> list[str]:
    """The command line of `pid` (empty if it is gone or a kernel thread)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def meminfo() -> dict[str, int]:
    """/proc/meminfo in kB (MemTotal, MemAvailable...)."""
    out = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        with contextlib.suppress(ValueError, IndexError):
            out[key] = int(rest.split()[0])
    return out


def group_members(pgid: int) -> list[int]:
    return [pid for pid, st in processes().items() if st.pgid == pgid]


def rss_bytes(pgid: int) -> int:
    """Resident memory of every live process in the group (a worker's executors, gunicorn's workers...)."""
    return sum(st.rss for st in processes().values() if st.pgid == pgid)


def stop_group(pgid: int, *, timeout: float = 20, popen: subprocess.Popen | None = None) -> None:
    """SIGTERM the whole group, wait up to `timeout`, then SIGKILL what is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if popen is not None:
            popen.poll()
        if not group_members(pgid):
            break
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        end = time.monotonic() + 5
        while group_members(pgid) and time.monotonic() < end:
            time.sleep(0.1)
    if popen is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=1)


def _listening() -> dict[int, tuple[str, int]]:
    """inode -> (ip, port) of every TCP socket in LISTEN state (0A) on this host."""
    out: dict[int, tuple[str, int]] = {}
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        with contextlib.suppress(FileNotFoundError):
            for parts in (line.split() for line in Path(table).read_text().splitlines()[1:]):
                if parts[3] == "0A":
                    hexip, hexport = parts[1].split(":")
                    out[int(parts[9])] = (_decode_ip(hexip, v6), int(hexport, 16))
    return out


def _decode_ip(hexip: str, v6: bool) -> str:
    raw = bytes.fromhex(hexip)
    # The kernel prints each 32-bit word in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET6 if v6 else socket.AF_INET, words)


def listening_ports() -> set[int]:
    return {port for _, port in _listening().values()}


def group_listening(pgid: int) -> list[tuple[str, int]]:
    """Every (ip, port) a process of the group listens on."""
    inodes: set[int] = set()
    for pid in group_members(pgid):
        fd_dir = Path(f"/proc/{pid}/fd")
        with contextlib.suppress(FileNotFoundError, PermissionError, ProcessLookupError):
            for fd in fd_dir.iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(int(target[8:-1]))
    table = _listening()
    return sorted({table[i] for i in inodes if i in table})


def wait_for(
    check: Callable[[], bool],
    *,
    service: str,
    what: str,
    timeout: float,
    proc: Proc | None = None,
    interval: float = 0.5,
    not_yet: str = "not ready",
) -> float:
    """Poll `check` until it returns True; fail early if `proc` exits. Returns the seconds waited."""
    start = time.monotonic()
    last_error = ""
    while True:
        try:
            if check():
                return time.monotonic() - start
        except ServiceError:
            raise
        except Exception as exc:  # a readiness probe fails in many ways while a server starts
            last_error = f" (last probe error: {type(exc).__name__}: {exc})"
        if proc is not None and not proc.alive():
            raise ServiceError(service, f"exited (code {proc.returncode()}) before {what}{last_error}", proc.log)
        if time.monotonic() - start > timeout:
            raise ServiceError(
                service, f"{not_yet} after {timeout:.0f} s: {what}{last_error}", proc.log if proc else None
            )
        time.sleep(interval)
