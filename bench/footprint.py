"""Figure 6, footprint: the test bed's warm start to all usable; resident memory and idle CPU per service and in
total, at rest and with the streaming job running.

    python -m bench.footprint [--seconds 30] [--samples 2]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Mapping
from typing import Any

from bench import machine
from bench.stream_session import StreamSession
from testbed import proc


def recorded_start() -> dict[str, object] | None:
    """What the running test bed recorded about its own start (None if there is no record)."""
    from testbed.paths import endpoints_file, testbed_dir
    from testbed.state import load

    st = load(testbed_dir())
    if st is None:
        return None
    ep = endpoints_file(testbed_dir())
    return {
        "source": "the running test bed's state.json (started before this run)",
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.started_at)),
        "total_s": round(ep.stat().st_mtime - st.started_at, 1) if ep.exists() else None,
        "ready_s": {name: rec.ready_seconds for name, rec in st.services.items()},
    }


def executor_pids(groups: Mapping[str, list[int]], driver_ports: set[int] | None = None) -> list[int]:
    """Executor JVMs (CoarseGrainedExecutorBackend) inside the Spark workers' process groups; with
    `driver_ports`, only those of the driver listening there (on a shared cluster the other applications'
    executors are not the job's footprint)."""
    spark = set(groups.get("spark", []))
    procs = proc.processes().items()
    return [pid for pid, st in procs if st.pgid in spark and is_executor_of(" ".join(proc.argv(pid)), driver_ports)]


_DRIVER_URL = re.compile(r"--driver-url spark://CoarseGrainedScheduler@[^:\s]+:(\d+)")


def is_executor_of(cmdline: str, driver_ports: set[int] | None) -> bool:
    """An executor names its driver: `... CoarseGrainedExecutorBackend --driver-url spark://...@host:port`.
    (Not the application's name: the job names itself `logistics_stream`, whoever submits it.)"""
    if "CoarseGrainedExecutorBackend" not in cmdline:
        return False
    m = _DRIVER_URL.search(cmdline)
    return driver_ports is None or (m is not None and int(m.group(1)) in driver_ports)


def sample_with_job(session: StreamSession, seconds: float, samples: int, settle_s: float) -> dict[str, object]:
    """Idle figures while `session`'s job runs with no traffic (after `settle_s` for its first batches); the
    driver and its executors count apart from the services whose process groups they share."""
    time.sleep(settle_s)
    groups = machine.testbed_groups()
    drivers = session.driver_pids()  # the spark-submit JVM leads its own process group
    ports = {port for pgid in drivers for _, port in proc.group_listening(pgid)} or None
    extra = {"streaming job (driver)": drivers, "streaming job (executor)": executor_pids(groups, ports)}
    out = machine.sample(seconds, samples, groups=groups, extra=extra)
    # Without the driver's ports every executor on the cluster counted as the job's: say so beside the figure.
    out["executors_of_driver_ports"] = sorted(ports) if ports else "unknown: every executor counted (an upper bound)"
    return out


@machine.noted
def figure(endpoints: Mapping[str, str] | None = None, *, seconds: float = 30, samples: int = 2, settle_s: float = 20,
           start: dict[str, object] | None = None, session: StreamSession | None = None,
           at_rest: Mapping[str, Any] | None = None) -> dict[str, object]:  # fmt: skip
    """Figure 6. `start`: the warm start this run measured (bench/run.py), else the test bed's record is used;
    `session`: a running streaming job to measure with (else one is started for the measurement); `at_rest`:
    bench/run.py's at-rest sample, taken before anything of ours ran."""
    from components.sizing import stack_memory_limits_mib
    from lakehouse.settings import Settings

    result: dict[str, object] = {"warm_start": start or recorded_start()}
    if at_rest is None:
        result["at_rest"] = machine.sample(seconds, samples)
    else:
        result["at_rest"] = at_rest.get("result")
        result["at_rest_load"] = [at_rest[k]["load_average_1_5_15"] for k in ("machine_before", "machine_after")]
    if session is not None:
        result["with_job"] = sample_with_job(session, seconds, samples, settle_s)
    else:
        with StreamSession(endpoints) as own:
            result["job_start_to_tables_registered_s"] = own.started_s
            result["with_job"] = sample_with_job(own, seconds, samples, settle_s)
    result["docker_memory_limits_mib"] = stack_memory_limits_mib(Settings())  # what the default Docker stack declares
    result["targets"] = {
        "idle_cpu_pct_of_one_core_whole_test_bed": 5.0,
        "idle_memory_gib_with_job": 3.0,
        "docker_memory_limits_gib": 8.0,
    }
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.footprint", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--samples", type=int, default=2)
    p.add_argument("--settle", type=float, default=20)
    a = p.parse_args(argv)
    return machine.print_json(figure(seconds=a.seconds, samples=a.samples, settle_s=a.settle))


if __name__ == "__main__":
    sys.exit(main())
