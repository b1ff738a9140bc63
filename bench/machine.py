"""What the machine is doing around a figure: cores, memory, load averages, and CPU and resident memory per
test-bed service (process groups of .testbed/state.json) and per other process, all from /proc.

    python -m bench.machine idle|notes [--seconds 30] [--samples 2]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from testbed import proc
from testbed.proc import CLK_TCK, ProcStat, read_stat


def machine_notes() -> dict[str, object]:
    """Cores, memory, load averages and the time: noted before and after every figure."""
    mem = proc.meminfo()
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem.get("MemTotal", 0) / 2**20, 1),
        "memory_available_gib": round(mem.get("MemAvailable", 0) / 2**20, 1),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "kernel": platform.release(),
        "at": datetime.now().isoformat(timespec="seconds"),
    }


def print_json(out: object) -> int:
    """A CLI's result on stdout; its exit code."""
    print(json.dumps(out, indent=2, default=str))
    return 0


def noted(fn: Callable[..., dict]) -> Callable[..., dict]:
    """`fn(endpoints, ...)`'s result between the machine's notes taken before and after it (what else ran shows
    in the load); `endpoints` default to the running test bed's."""

    @functools.wraps(fn)
    def run(endpoints: Mapping[str, str] | None = None, *args: object, **kwargs: object) -> dict:
        from bench.sparkrun import load_endpoints

        before = machine_notes()
        out = fn(endpoints or load_endpoints(), *args, **kwargs)
        return {"machine_before": before, **out, "machine_after": machine_notes()}

    return run


def testbed_groups() -> dict[str, list[int]]:
    """Service -> process group ids, from the running test bed's state.json (empty if there is none)."""
    from testbed.paths import testbed_dir
    from testbed.state import load

    st = load(testbed_dir())
    return {name: list(rec.pids) for name, rec in st.services.items()} if st else {}


@dataclass
class Snapshot:
    at: float
    procs: dict[int, ProcStat]


def snapshot() -> Snapshot:
    return Snapshot(time.monotonic(), proc.processes())


def claimed_by_name(snap: Snapshot, roots: Mapping[str, Iterable[int]]) -> dict[str, list[int]]:
    """name -> the live pids of its roots and all their descendants."""
    owner = {pid: name for name, pids in roots.items() for pid in pids}
    out: dict[str, list[int]] = {name: [] for name in roots}
    for pid in snap.procs:
        p, hops = pid, 0
        while p in snap.procs and hops < 64:
            if p in owner:
                out[owner[p]].append(pid)
                break
            p, hops = snap.procs[p].ppid, hops + 1
    return out


def cpu_between(
    a: Snapshot, b: Snapshot, groups: Mapping[str, Iterable[int]], extra: Mapping[str, Iterable[int]] | None = None
) -> dict[str, object]:
    """CPU (% of one core) and resident memory (MiB, at `b`) per service (its process groups) between two
    snapshots; `extra`'s root pids and their descendants count for their own name, even inside a service's group
    (an executor is in its worker's group). Processes that ended meanwhile are lost (short-lived helpers); the
    busiest other processes are listed under `others`, so a figure says what else ran."""
    seconds = max(b.at - a.at, 1e-6)
    by_group = {pgid: name for name, pgids in groups.items() for pgid in pgids}
    owner = {pid: by_group[st.pgid] for pid, st in b.procs.items() if st.pgid in by_group}
    owner |= {pid: name for name, pids in claimed_by_name(b, extra or {}).items() for pid in pids}
    services = {n: {"cpu_pct_of_one_core": 0.0, "rss_mib": 0.0, "processes": 0} for n in [*groups, *(extra or {})]}
    others: dict[int, float] = {}
    for pid, st in b.procs.items():
        before = a.procs.get(pid)
        ticks = st.ticks - (before.ticks if before and before.ticks <= st.ticks else 0)
        pct = 100.0 * ticks / CLK_TCK / seconds
        name = owner.get(pid)
        if name is None:
            if pid != os.getpid() and pct > 0:
                others[pid] = pct
            continue
        svc = services[name]
        svc["cpu_pct_of_one_core"] += pct
        svc["rss_mib"] += st.rss / 2**20
        svc["processes"] += 1
    for svc in services.values():
        svc["cpu_pct_of_one_core"] = round(svc["cpu_pct_of_one_core"], 2)
        svc["rss_mib"] = round(svc["rss_mib"], 1)
    top = sorted(others.items(), key=lambda kv: -kv[1])[:8]
    return {
        "seconds": round(seconds, 1),
        "services": services,
        "total_cpu_pct_of_one_core": round(sum(s["cpu_pct_of_one_core"] for s in services.values()), 2),
        "total_rss_mib": round(sum(s["rss_mib"] for s in services.values()), 1),
        "others": [
            {"pid": pid, "cpu_pct_of_one_core": round(pct, 2), "command": " ".join(proc.argv(pid))[:160]}
            for pid, pct in top
        ],
        "others_cpu_pct_of_one_core": round(sum(others.values()), 1),
    }


def sample(seconds: float = 30, samples: int = 2, *, groups: Mapping[str, Iterable[int]] | None = None,
           extra: Mapping[str, Iterable[int]] | None = None) -> dict[str, object]:  # fmt: skip
    """`samples` consecutive windows of `seconds`: each window's figures, and the mean of each service's CPU."""
    groups = groups if groups is not None else testbed_groups()
    windows = []
    a = snapshot()
    for _ in range(samples):
        time.sleep(seconds)
        b = snapshot()
        windows.append(cpu_between(a, b, groups, extra))
        a = b
    names = windows[0]["services"] if windows else {}
    mean = {n: round(sum(w["services"][n]["cpu_pct_of_one_core"] for w in windows) / len(windows), 2) for n in names}
    return {
        "windows": windows,
        "mean_cpu_pct_of_one_core": mean,
        "mean_total_cpu_pct_of_one_core": round(sum(mean.values()), 2),
        "rss_mib": windows[-1]["services"] if windows else {},
        "total_rss_mib": windows[-1]["total_rss_mib"] if windows else 0,
    }


class GroupCpu(threading.Thread):
    """Samples the CPU seconds of one process group (a driver: spark-submit's JVM and its Python) every `every`
    seconds with wall-clock times, so a batch's driver CPU can be read off between its start and end."""

    def __init__(self, pgid: int, every: float = 0.5) -> None:
        super().__init__(name="driver-cpu", daemon=True)
        self.pgid, self.every = pgid, every
        self.samples: list[tuple[int, float]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        pids, refreshed = [], 0.0
        while not self.stopping.is_set():
            if time.monotonic() - refreshed > 5:
                pids, refreshed = proc.group_members(self.pgid), time.monotonic()
            ticks = sum(st.ticks for st in map(read_stat, pids) if st is not None and st.state not in ("Z", "X"))
            self.samples.append((int(time.time() * 1000), ticks / CLK_TCK))
            self.stopping.wait(self.every)

    def between(self, start_ms: int, end_ms: int) -> float | None:
        """CPU seconds between two times (the nearest samples inside); None without samples there."""
        inside = [cpu for at, cpu in self.samples if start_ms <= at <= end_ms + int(self.every * 1000)]
        return round(max(0.0, inside[-1] - inside[0]), 3) if len(inside) >= 2 else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.machine", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["idle", "notes"])
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--samples", type=int, default=2)
    a = p.parse_args(argv)
    if a.what == "notes":
        return print_json(machine_notes())
    before = machine_notes()
    result = sample(a.seconds, a.samples)
    return print_json({"machine_before": before, "idle": result, "machine_after": machine_notes()})


if __name__ == "__main__":
    sys.exit(main())
