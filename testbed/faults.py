"""Faults on a running test bed: kill -9, pause, and restart ONE process of a service on its kept data and config.

Processes are named by their log (`kafka-2`, `spark-worker-1`, `s3`, `orion`...). `kill` first captures from /proc
what the process was started with (an `Image`), then SIGKILLs its whole group (a Spark worker takes its executors
with it, as a lost node does); `restart(image)` starts the same command on the same data (a broker is not formatted
again), records the new group in state.json in place of the old one and waits until the process is usable again.
The captured environment holds secrets: it stays in memory, never on disk.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from testbed.creds import Credentials
from testbed.paths import endpoints_file, testbed_dir
from testbed.plan import bed_settings
from testbed.proc import Proc, group_listening, group_members, listening_ports, read_stat, spawn, wait_for
from testbed.services import SERVICES, kafka, orion, s3, spark
from testbed.state import State, StateStore, load

_started: list[subprocess.Popen] = []
"""Processes restarted by this Python process: kept so that a later kill can reap them (no zombies)."""


@dataclass
class Image:
    """What a process of the test bed was started with, read from /proc before a kill."""

    name: str
    service: str
    pgid: int
    argv: list[str]
    env: dict[str, str] = field(repr=False)
    cwd: Path
    log: Path
    ports: list[int]
    identity: str = ""
    """What the cluster knew the process as, where that changes with each start (a Spark worker's id)."""

    def flag(self, name: str) -> str | None:
        """The value of `-name=value` (SeaweedFS style) or `--name value` in the command line."""
        for i, arg in enumerate(self.argv):
            if arg.startswith(f"-{name}="):
                return arg.split("=", 1)[1]
            if arg == f"--{name}" and i + 1 < len(self.argv):
                return self.argv[i + 1]
        return None


class FaultError(RuntimeError):
    """A fault could not be injected or a process did not come back; the message names it."""


def _log_of(pid: int) -> Path | None:
    with contextlib.suppress(OSError):
        target = os.readlink(f"/proc/{pid}/fd/1")
        if target.startswith("/"):
            return Path(target.removesuffix(" (deleted)"))
    return None


def processes(run_dir: Path | None = None) -> dict[str, tuple[str, int]]:
    """Live processes of the test bed: name (the stem of the group leader's log) -> (service, process group id)."""
    run_dir = run_dir or testbed_dir()
    out: dict[str, tuple[str, int]] = {}
    for service, rec in _state(run_dir).services.items():
        for pgid in rec.pids:
            log = _log_of(pgid)
            if log and log.parent == run_dir / "logs" and log.suffix == ".log" and group_members(pgid):
                out[log.stem] = (service, pgid)
    return out


def _state(run_dir: Path) -> State:
    st = load(run_dir)
    if st is None:
        raise FaultError(f"no test bed recorded in {run_dir} (state.json): is one running?")
    return st


def capture(name: str, run_dir: Path | None = None) -> Image:
    """Read what process `name` was started with from /proc (it must be running)."""
    run_dir = run_dir or testbed_dir()
    found = processes(run_dir)
    if name not in found:
        raise FaultError(
            f"no live test bed process {name!r} in {run_dir}; running: {', '.join(sorted(found)) or 'none'}"
        )
    service, pgid = found[name]
    try:
        argv = [a.decode() for a in Path(f"/proc/{pgid}/cmdline").read_bytes().split(b"\0") if a]
        raw_env = Path(f"/proc/{pgid}/environ").read_bytes().split(b"\0")
        cwd = Path(os.readlink(f"/proc/{pgid}/cwd"))
    except OSError as exc:
        raise FaultError(f"cannot read /proc/{pgid} of {name}: {exc}") from exc
    env = dict(item.decode().split("=", 1) for item in raw_env if b"=" in item)
    log = _log_of(pgid) or run_dir / "logs" / f"{name}.log"
    # Only the ports the test bed gave the service: a worker's group also holds its executors, whose block
    # managers listen on ephemeral ports that a restarted worker will never open again.
    planned = set(_state(run_dir).services[service].ports)
    ports = sorted({port for _, port in group_listening(pgid) if not planned or port in planned})
    image = Image(name=name, service=service, pgid=pgid, argv=argv, env=env, cwd=cwd, log=log, ports=ports)
    if service == "spark" and name.startswith("spark-worker-"):
        import requests

        with contextlib.suppress(Exception):  # the worker's own /json/ says its id
            info = requests.get(f"http://127.0.0.1:{image.flag('webui-port')}/json/", timeout=5).json()
            image.identity = str(info["id"])
    return image


def _reap() -> None:
    for p in list(_started):
        if p.poll() is not None:
            _started.remove(p)


def wait_gone(pgid: int, timeout: float = 30) -> float:
    start = time.monotonic()
    while group_members(pgid):
        _reap()
        if time.monotonic() - start > timeout:
            raise FaultError(f"process group {pgid} still has live members {group_members(pgid)} after {timeout:.0f} s")
        time.sleep(0.05)
    return time.monotonic() - start


def kill(name: str, run_dir: Path | None = None) -> Image:
    """kill -9 the process group of `name` and wait until it is gone."""
    image = capture(name, run_dir)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(image.pgid, signal.SIGKILL)
    wait_gone(image.pgid)
    return image


def pause(name: str, run_dir: Path | None = None) -> Image:
    """SIGSTOP the group of `name`: it stays alive and answers nothing."""
    image = capture(name, run_dir)
    os.killpg(image.pgid, signal.SIGSTOP)
    return image


def resume(image: Image) -> None:
    os.killpg(image.pgid, signal.SIGCONT)


def is_stopped(pgid: int) -> bool:
    """True when the group leader is in state T (stopped by a signal)."""
    st = read_stat(pgid)
    return st is not None and st.state == "T"


def restart(
    image: Image,
    run_dir: Path | None = None,
    *,
    endpoints: Mapping[str, str] | None = None,
    timeout: float = 240,
) -> Proc:
    """Start the process of `image` again on its kept data and config; return once it is usable again."""
    run_dir = run_dir or testbed_dir()
    endpoints = endpoints if endpoints is not None else json.loads(endpoints_file(run_dir).read_text())
    if group_members(image.pgid):
        raise FaultError(f"{image.name} still runs (group {image.pgid}): kill it before restarting it")
    if not awaits_restart(image, run_dir):
        raise FaultError(f"{image.name} was restarted already: state.json no longer records group {image.pgid}")
    identities = prepare_restart(image, endpoints)
    proc = spawn(image.name, image.argv, env=image.env, log=image.log, cwd=image.cwd)
    if proc.popen is not None:
        _started.append(proc.popen)
    replace_group(run_dir, image.service, image.pgid, proc.pid)
    try:
        wait_usable(image, proc, endpoints, timeout=timeout)
    finally:
        if identities is not None:
            identities.unlink(missing_ok=True)
    return proc


def awaits_restart(image: Image, run_dir: Path | None = None) -> bool:
    """True while state.json still records the killed group of `image` (a restart replaces it, even one whose
    wait for the process to be usable failed)."""
    rec = _state(run_dir or testbed_dir()).services.get(image.service)
    return rec is not None and image.pgid in rec.pids


def replace_group(run_dir: Path, service: str, old: int, new: int) -> None:
    """Put process group `new` in place of `old` in the service's record (state.json)."""
    store = StateStore(run_dir, _state(run_dir))
    rec = store.state.services.get(service)
    if rec is None or old not in rec.pids:
        raise FaultError(f"state.json of {run_dir} has no process group {old} for {service}")
    rec.pids[rec.pids.index(old)] = new
    store.save()


def seaweed_ports(argv: list[str]) -> list[int]:
    """Every `-<component>.port[.grpc]=N` of a `weed mini` command line (0 = off, left out)."""
    found = (re.fullmatch(r"-[a-z0-9]+\.port(?:\.grpc)?=(\d+)", arg) for arg in argv)
    return sorted(int(m.group(1)) for m in found if m and int(m.group(1)))


def prepare_restart(image: Image, endpoints: Mapping[str, str]) -> Path | None:
    """What a restart needs on disk first; SeaweedFS: its identities file (the test bed deleted it) and no stale
    unix sockets. Returns the file to delete once the process is usable."""
    if image.service != "s3":
        return None
    s3.remove_sockets(seaweed_ports(image.argv))
    config = image.flag("s3.config")
    if not config:
        return None
    # s3_admin_key <- testbed_s3_admin_access_key, s3_admin_secret <- testbed_s3_admin_secret_key, ...
    pairs = (("key", "access"), ("secret", "secret"))
    keys = {
        f"s3_{who}_{k}": endpoints[f"testbed_s3_{who}_{e}_key"] for who in ("admin", "spark", "trino") for k, e in pairs
    }
    not_in_s3_json = dict.fromkeys(("superset_secret_key", "superset_admin_password", "orion_token"), "-")
    creds = Credentials(**keys, **not_in_s3_json)
    return s3.write_identities(Path(config), creds, bed_settings())


def wait_usable(image: Image, proc: Proc, endpoints: Mapping[str, str], *, timeout: float) -> float:
    """Wait until the restarted process listens on its old ports again, then until it does its job again."""
    start = time.monotonic()
    wait = functools.partial(wait_for, service=image.name, proc=proc, not_yet="not usable")
    wait(lambda: set(image.ports) <= listening_ports(), what=f"ports {image.ports} open", timeout=timeout)
    if usable := _doing_its_job(image, endpoints):
        wait(usable[0], what=usable[1], timeout=max(10.0, timeout - (time.monotonic() - start)))
    return time.monotonic() - start


def _doing_its_job(image: Image, endpoints: Mapping[str, str]) -> tuple[Callable[[], bool], str] | None:
    """(check, what it checks): a broker listed unfenced, a worker registered ALIVE under a new id, every bucket
    answering, Orion's /health."""
    if image.service == "kafka" and (m := re.fullmatch(r"kafka-(\d+)", image.name)):
        node = int(m.group(1))
        boot = endpoints["kafka_bootstrap_servers"]
        return lambda: node in kafka.describe_brokers(boot), f"broker {node} listed unfenced in the cluster metadata"
    if image.service == "spark" and image.name.startswith("spark-worker-"):
        port, ui = int(image.flag("port") or 0), endpoints["spark_master_ui"]
        what = f"the master lists the worker on port {port} ALIVE under a new id"
        return lambda: worker_state(ui, port, not_id=image.identity) == "ALIVE", what
    if image.service == "s3":
        buckets = (image.flag("bucket") or "").split(",")
        return lambda: s3.buckets_answer(endpoints, buckets), f"HeadBucket on {buckets}"
    if image.service == "orion":
        return lambda: orion.health_ok(endpoints["orion_url"]), "GET /health answers 200"
    return None


def worker_state(master_ui: str, port: int, *, not_id: str = "") -> str | None:
    """State of the worker registered from `port` on the master (ALIVE, DEAD...; ALIVE if any entry is), None if
    none; `not_id` leaves out the registration of a worker that was killed."""
    states = [
        w.get("state")
        for w in spark.master_json(master_ui).get("workers", [])
        if int(w.get("port", -1)) == port and (not not_id or w.get("id") != not_id)
    ]
    return "ALIVE" if "ALIVE" in states else (states[-1] if states else None)


def health_problems(run_dir: Path | None = None, endpoints: Mapping[str, str] | None = None) -> list[str]:
    """What is wrong with the test bed now ([] = every recorded process runs and every service is usable)."""
    run_dir = run_dir or testbed_dir()
    endpoints = endpoints if endpoints is not None else json.loads(endpoints_file(run_dir).read_text())
    st = _state(run_dir)
    problems = []
    for service, rec in st.services.items():
        for pgid in rec.pids:
            if not group_members(pgid):
                problems.append(f"{service}: process group {pgid} is gone")
            elif is_stopped(pgid):
                problems.append(f"{service}: process group {pgid} is stopped (SIGSTOP)")
    for svc in SERVICES:
        if svc.probe is None or svc.name not in st.services:
            continue
        try:
            verdict = svc.probe(endpoints, st.services[svc.name].pids)
        except Exception as exc:
            verdict = f"{type(exc).__name__}: {exc}"
        if verdict is not True:
            problems.append(f"{svc.name}: {verdict}")
    return problems
