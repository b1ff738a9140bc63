"""What the machine is doing around a figure: cores, memory, load averages, and CPU and resident memory per
test-bed service (process groups of .testbed/state.json) and per other process, all from /proc.

    python -m bench.machine idle [--seconds 30] [--samples 2]
        the test bed's idle CPU (% of one core) and resident memory per service, `--samples` windows of
        `--seconds` each, plus the busiest other processes over the same windows ("what else ran").

Nothing here starts or stops anything; every function reads /proc only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def machine_notes() -> dict[str, object]:
    """Cores, memory, load averages and the time: noted before and after every figure."""
    mem = _meminfo()
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem.get("MemTotal", 0) / 2**20, 1),
        "memory_available_gib": round(mem.get("MemAvailable", 0) / 2**20, 1),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "kernel": platform.release(),
        "at": datetime.now().isoformat(timespec="seconds"),
    }


def _meminfo() -> dict[str, int]:
    out = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        with contextlib.suppress(ValueError, IndexError):
            out[key] = int(rest.split()[0])  # kB
    return out


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    pgid: int
    ticks: int
    """utime + stime of the process itself (its dead children are not counted)."""
    rss: int
    """Bytes resident."""
    name: str


def read_proc(pid: int) -> ProcStat | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    f = raw[raw.rindex(")") + 2 :].split()
    # f[0] = state (field 3); utime is field 14, stime 15, rss 24 (1-based): f[11], f[12], f[21].
    if f[0] in ("Z", "X"):
        return None
    return ProcStat(pid, int(f[1]), int(f[2]), int(f[11]) + int(f[12]), int(f[21]) * PAGE, name)


def all_procs() -> dict[int, ProcStat]:
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = read_proc(int(entry.name))
            if st is not None:
                out[st.pid] = st
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def testbed_groups(run_dir: Path | None = None) -> dict[str, list[int]]:
    """Service -> process group ids, from the running test bed's state.json (empty if there is none)."""
    from testbed.paths import testbed_dir
    from testbed.state import load

    st = load(run_dir or testbed_dir())
    return {name: list(rec.pids) for name, rec in st.services.items()} if st else {}


@dataclass
class Snapshot:
    at: float
    procs: dict[int, ProcStat]


def snapshot() -> Snapshot:
    return Snapshot(time.monotonic(), all_procs())


def _group_of(groups: Mapping[str, Iterable[int]]) -> dict[int, str]:
    return {pgid: name for name, pgids in groups.items() for pgid in pgids}


def cpu_between(
    a: Snapshot, b: Snapshot, groups: Mapping[str, Iterable[int]], extra: Mapping[str, Iterable[int]] | None = None
) -> dict[str, object]:
    """CPU (% of one core) and resident memory (MiB, at `b`) per service between two snapshots.

    A process counts for a service when its process group is one of the service's groups; `extra` adds
    named sets of pids (the streaming job's driver, say) whose processes are counted by pid and by their
    descendants. Processes that started between the snapshots count from zero; those that ended are lost
    (their CPU cannot be read any more), which only under-counts short-lived helpers. The busiest other
    processes are listed under `others` (top 8), so a figure says what else ran.
    """
    seconds = max(b.at - a.at, 1e-6)
    by_group = _group_of(groups)
    owner: dict[int, str] = {}
    extra_roots = {pid: name for name, pids in (extra or {}).items() for pid in pids}
    for pid, st in b.procs.items():
        if st.pgid in by_group:
            owner[pid] = by_group[st.pgid]
    for pid in b.procs:  # descendants of the extra roots (a driver JVM's Python, its executors are elsewhere)
        p, hops = pid, 0
        while p in b.procs and hops < 64:
            if p in extra_roots:
                owner.setdefault(pid, extra_roots[p])
                break
            p, hops = b.procs[p].ppid, hops + 1
    services: dict[str, dict[str, float]] = {}
    names = [*groups, *(extra or {})]
    for name in names:
        services[name] = {"cpu_pct_of_one_core": 0.0, "rss_mib": 0.0, "processes": 0}
    others: dict[int, float] = {}
    me = os.getpid()
    for pid, st in b.procs.items():
        before = a.procs.get(pid)
        ticks = st.ticks - (before.ticks if before and before.ticks <= st.ticks else 0)
        pct = 100.0 * ticks / CLK_TCK / seconds
        name = owner.get(pid)
        if name is None:
            if pid != me and pct > 0:
                others[pid] = pct
            continue
        svc = services[name]
        svc["cpu_pct_of_one_core"] += pct
        svc["rss_mib"] += st.rss / 2**20
        svc["processes"] += 1
    for svc in services.values():
        svc["cpu_pct_of_one_core"] = round(svc["cpu_pct_of_one_core"], 2)
        svc["rss_mib"] = round(svc["rss_mib"], 1)
    total_cpu = round(sum(s["cpu_pct_of_one_core"] for s in services.values()), 2)
    total_rss = round(sum(s["rss_mib"] for s in services.values()), 1)
    top = sorted(others.items(), key=lambda kv: -kv[1])[:8]
    return {
        "seconds": round(seconds, 1),
        "services": services,
        "total_cpu_pct_of_one_core": total_cpu,
        "total_rss_mib": total_rss,
        "others": [
            {"pid": pid, "cpu_pct_of_one_core": round(pct, 2), "command": cmdline(pid)[:160]} for pid, pct in top
        ],
        "others_cpu_pct_of_one_core": round(sum(others.values()), 1),
    }


def sample(
    seconds: float = 30,
    samples: int = 2,
    *,
    groups: Mapping[str, Iterable[int]] | None = None,
    extra: Mapping[str, Iterable[int]] | None = None,
) -> dict[str, object]:
    """`samples` consecutive windows of `seconds`: each window's figures, and the mean of each service's CPU."""
    groups = groups if groups is not None else testbed_groups()
    windows = []
    a = snapshot()
    for _ in range(samples):
        time.sleep(seconds)
        b = snapshot()
        windows.append(cpu_between(a, b, groups, extra))
        a = b
    names = list(windows[0]["services"]) if windows else []  # type: ignore[call-overload]
    mean = {
        n: round(sum(w["services"][n]["cpu_pct_of_one_core"] for w in windows) / len(windows), 2)  # type: ignore[index]
        for n in names
    }
    return {
        "windows": windows,
        "mean_cpu_pct_of_one_core": mean,
        "mean_total_cpu_pct_of_one_core": round(sum(mean.values()), 2),
        "rss_mib": windows[-1]["services"] if windows else {},
        "total_rss_mib": windows[-1]["total_rss_mib"] if windows else 0,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.machine", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["idle", "notes"])
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--samples", type=int, default=2)
    a = p.parse_args(argv)
    if a.what == "notes":
        print(json.dumps(machine_notes(), indent=2))
        return 0
    before = machine_notes()
    result = sample(a.seconds, a.samples)
    print(json.dumps({"machine_before": before, "idle": result, "machine_after": machine_notes()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
