"""Start, stop and inspect the whole test bed: `up()`, `down()`, `status_rows()`.

`up` walks testbed.services.SERVICES in parallel threads (each after the services it needs), then writes
.testbed/endpoints.json (mode 600: the stack outputs' keys plus `testbed_*` extras). Every process is recorded in
.testbed/state.json first, so `down` (from any process) stops it by process group.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse import versions as versions_mod
from lakehouse.endpoints import PUBLIC_KEYS, SECRET_KEYS, public_endpoints
from testbed import prereqs
from testbed.context import Context
from testbed.creds import Credentials
from testbed.paths import endpoints_file, logs_dir, testbed_dir, write_private
from testbed.plan import HOST, PortPlan, bed_settings, default_plan
from testbed.proc import ServiceError, group_members, listening_ports, rss_bytes, stop_group
from testbed.services import BY_NAME, NAMES, Artifact, Service, kafka, orion, s3, spark
from testbed.state import State, StateStore, load

ALL_SERVICES = NAMES
STOP_ORDER = tuple(reversed(NAMES))
"""Consumers of a service before the service."""
# Orion's own stop timeout for a driver (ORION_STOP_TIMEOUT_SECONDS, 120 s) plus its shutdown, as in the stack.
ORION_STOP_SECONDS = 150


class AlreadyRunning(RuntimeError):
    """A test bed is already up (or starting) in this run directory."""


@dataclass
class UpResult:
    endpoints: dict[str, str]
    seconds: float
    ready: dict[str, float] = field(default_factory=dict)


def running_state(run_dir: Path | None = None) -> State | None:
    """The state of a test bed whose processes are alive, or None."""
    run_dir = run_dir or testbed_dir()
    st = load(run_dir)
    if st is None or (st.status == "starting" and _owner_alive(st)):
        return st
    return st if any(group_members(pid) for rec in st.services.values() for pid in rec.pids) else None


def _owner_alive(st: State) -> bool:
    return bool(st.owner_pid) and Path(f"/proc/{st.owner_pid}").exists()


def wait_until_up(run_dir: Path | None = None, timeout: float = 900) -> dict[str, str]:
    """For a test bed another process is starting: wait for it, then return its endpoints."""
    run_dir = run_dir or testbed_dir()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = load(run_dir)
        if st is None or st.status == "failed" or (st.status == "starting" and not _owner_alive(st)):
            raise RuntimeError(f"the test bed being started by another process failed; see {logs_dir(run_dir)}")
        if st.status == "up":
            return json.loads(endpoints_file(run_dir).read_text())
        time.sleep(1)
    raise TimeoutError(f"the test bed in {run_dir} did not come up within {timeout:.0f} s")


def build_endpoints(ctx: Context, services: Iterable[str], fetched: Mapping[str, Path]) -> dict[str, str]:
    """The stack outputs' keys (public + secret) with the test bed's values, plus `testbed_*` extras."""
    c = ctx.creds
    ep = public_endpoints(ctx.settings, host=HOST)
    # As in the stack, the S3 keys handed to users are the Spark identity's (read/write lake + checkpoints).
    ep |= {
        "s3_access_key": c.s3_spark_key,
        "s3_secret_key": c.s3_spark_secret,
        "superset_admin_password": c.superset_admin_password,
        "orion_token": c.orion_token,
    }
    assert set(ep) == set(PUBLIC_KEYS) | set(SECRET_KEYS)
    quorum = kafka.kraft_quorum(ctx.plan)
    ep |= {
        "testbed_services": ",".join(services),
        "testbed_dir": str(ctx.run_dir),
        "testbed_logs_dir": str(ctx.run_dir / "logs"),
        "testbed_kafka_internal_bootstrap": kafka.internal_bootstrap(quorum),
        "testbed_kafka_brokers": str(len(quorum)),
        "testbed_s3_region": ctx.settings.s3_region,
        "testbed_metastore_bucket": ctx.settings.metastore_bucket,
        "testbed_s3_admin_access_key": c.s3_admin_key,
        "testbed_s3_admin_secret_key": c.s3_admin_secret,
        "testbed_s3_spark_access_key": c.s3_spark_key,
        "testbed_s3_spark_secret_key": c.s3_spark_secret,
        "testbed_s3_trino_access_key": c.s3_trino_key,
        "testbed_s3_trino_secret_key": c.s3_trino_secret,
        "testbed_java_home": str(ctx.java.home),
        "testbed_trino_catalog": "delta",
        "testbed_superset_secret_key": c.superset_secret_key,
    }
    if "spark" in services:
        ep |= {
            "testbed_spark_home": str(fetched["spark_home"]),
            "testbed_spark_conf_dir": str(spark.conf_dir(ctx)),
            "testbed_spark_extra_jars": str(fetched["jars"]),
            # The Python of the drivers, executors and Orion (the Spark image's packages, not the dev venv): a
            # test's own spark-submit uses it too.
            "testbed_spark_python": str(fetched["spark_python"]),
        }
    return ep


class _Abandoned(Exception):
    """Another service failed while this one waited for a service it needs."""


class _Runner:
    """One thread per service: each waits for the services it needs (those wanted), then fetches, starts and waits
    until usable. The first failure stops every process, so that the other threads' waits end at once."""

    def __init__(self, wanted: list[str], ctx: Context, echo: Callable[[str], None]) -> None:
        self.ctx, self.echo = ctx, echo
        self.events = {name: threading.Event() for name in wanted}
        self.ready: dict[str, float] = {}
        self.fetched: dict[str, Path] = {}
        self.errors: list[BaseException] = []
        self.failed = threading.Event()
        self.mvn_lock = threading.Lock()  # one Maven at a time: parallel resolvers race on ~/.m2

    def wait_for(self, names: Iterable[str]) -> None:
        for name in names:
            while name in self.events and not self.events[name].wait(0.5):
                if self.failed.is_set():
                    raise _Abandoned(name)

    def fetch(self, a: Artifact) -> Path:
        began = time.monotonic()
        with self.mvn_lock if a.maven else contextlib.nullcontext():
            path = a.get(self.ctx.versions, self.fetched)
        if a.what and (took := time.monotonic() - began) > 2:
            self.echo(f"  fetched {a.what.format(v=self.ctx.versions)} into the cache in {took:.0f} s")
        return path

    def bring_up(self, svc: Service) -> None:
        try:
            self.wait_for(svc.needs)
            for a in svc.artifacts:
                self.fetched[a.key] = self.fetch(a)
            began = time.monotonic()
            procs = svc.start(self.ctx, self.fetched)
            self.wait_for(svc.ready_needs)
            svc.ready(self.ctx, procs)
            took = self.ready[svc.name] = time.monotonic() - began
            self.ctx.store.service(svc.name, state="ready", ready_seconds=round(took, 1))
            self.echo(f"  {svc.name:<9} ready in {took:5.1f} s")
            self.events[svc.name].set()
        except _Abandoned:
            pass
        except BaseException as exc:
            if not isinstance(exc, ServiceError):
                cause, exc = exc, ServiceError(svc.name, f"failed to start: {type(exc).__name__}: {exc}")
                exc.__cause__ = cause
            self.errors.append(exc)
            self.failed.set()

    def run(self) -> None:
        threads = [
            threading.Thread(target=self.bring_up, args=(BY_NAME[name],), name=f"testbed-{name}", daemon=True)
            for name in self.events
        ]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            if self.failed.wait(0.2):
                _stop_all(self.ctx.store.state)
                break
        for t in threads:
            t.join()
        if self.errors:
            raise self.errors[0]


def up(
    *,
    services: Iterable[str] = ALL_SERVICES,
    plan: PortPlan | None = None,
    run_dir: Path | None = None,
    echo: Callable[[str], None] = print,
) -> UpResult:
    run_dir = run_dir or testbed_dir()
    wanted = [s for s in ALL_SERVICES if s in set(services)]
    unknown = set(services) - set(ALL_SERVICES)
    if unknown:
        raise ValueError(f"unknown test bed service(s) {sorted(unknown)}; allowed: {', '.join(ALL_SERVICES)}")
    if "orion" in wanted and not orion.available():
        echo("orion/ has no __main__.py yet: starting the test bed without Spark Orion")
        wanted.remove("orion")
    run_dir.mkdir(parents=True, exist_ok=True)
    lock_fh = (run_dir / ".up.lock").open("w")
    try:
        fcntl.flock(lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise AlreadyRunning(
            f"a test bed is being started in {run_dir} by another process; "
            "wait for it or run `python -m testbed status`"
        ) from None
    try:
        return _up_locked(wanted, plan or default_plan(), run_dir, echo)
    finally:
        fcntl.flock(lock_fh, fcntl.LOCK_UN)
        lock_fh.close()


def _check_free(wanted: list[str], plan: PortPlan, run_dir: Path) -> None:
    current = running_state(run_dir)
    if current is not None:
        raise AlreadyRunning(
            f"a test bed is already running in {run_dir} (started {time.ctime(current.started_at)}, status "
            f"{current.status}): use it (`python -m testbed status`) or stop it (`python -m testbed down`)"
        )
    if load(run_dir) is not None:
        _clean(run_dir, keep=False)  # a stale record of a test bed whose processes are gone
    prereqs.require(need_maven=any(a.maven for s in wanted for a in BY_NAME[s].artifacts))
    listening = listening_ports()
    busy = {port: name for name in wanted for port in plan.service_ports(name) if port in listening}
    if busy:
        raise ServiceError(
            "test bed",
            "ports already in use by another process: "
            + ", ".join(f"{p} ({n})" for p, n in sorted(busy.items()))
            + "; stop it (another test bed? `python -m testbed down`) and retry",
        )


def _up_locked(wanted: list[str], plan: PortPlan, run_dir: Path, echo: Callable[[str], None]) -> UpResult:
    _check_free(wanted, plan, run_dir)
    t0 = time.monotonic()
    store = StateStore(run_dir, State())
    store.save()
    ctx = Context(
        run_dir=run_dir,
        plan=plan,
        settings=bed_settings(plan),
        versions=versions_mod.load(),
        creds=Credentials.generate(),
        store=store,
        java=prereqs.spark_jdk(),
        trino_java=prereqs.trino_jdk() if "trino" in wanted else None,
    )
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    runner = _Runner(wanted, ctx, echo)
    echo(f"starting test bed in {run_dir}: {', '.join(wanted)}")
    try:
        runner.run()
    except BaseException:
        store.set_status("failed")
        _stop_all(store.state)
        raise
    endpoints = build_endpoints(ctx, wanted, runner.fetched)
    write_private(endpoints_file(run_dir), json.dumps(endpoints, indent=2, sort_keys=True))
    store.set_status("up")
    return UpResult(endpoints=endpoints, seconds=time.monotonic() - t0, ready=runner.ready)


def _stop_all(st: State) -> None:
    """Orion first, on its own: it stops its drivers within their bounded stop while Spark, Kafka and S3 are
    still there (a driver whose cluster vanishes cannot finish its batch); then everything else in parallel."""
    names = [n for n in STOP_ORDER if n in st.services] + [n for n in st.services if n not in STOP_ORDER]
    waves = (([n for n in names if n == "orion"], ORION_STOP_SECONDS), ([n for n in names if n != "orion"], 25))
    for wave, timeout in waves:
        threads = [
            threading.Thread(target=stop_group, args=(pid,), kwargs={"timeout": timeout})
            for name in wave
            for pid in reversed(st.services[name].pids)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def down(
    *,
    keep: bool = False,
    run_dir: Path | None = None,
    plan: PortPlan | None = None,
    echo: Callable[[str], None] = print,
) -> list[int]:
    """Stop every process the test bed started; return the test bed's ports still listening (should be [])."""
    run_dir = run_dir or testbed_dir()
    plan = plan or default_plan()
    st = load(run_dir)
    # The ports to check afterwards: those the run recorded (a partial test bed has fewer).
    ports = {p for rec in st.services.values() for p in rec.ports} if st else set(plan.all_ports().values())
    if st is None:
        echo(f"no test bed recorded in {run_dir}")
    else:
        st.status = "stopping"
        StateStore(run_dir, st).save()
        began = time.monotonic()
        _stop_all(st)
        echo(
            f"stopped {sum(len(r.pids) for r in st.services.values())} process groups "
            f"in {time.monotonic() - began:.1f} s"
        )
    if st is None or "s3" in st.services:
        s3.remove_sockets(plan.seaweed().values())
    deadline = time.monotonic() + 10
    while (left := sorted(ports & listening_ports())) and time.monotonic() < deadline:
        time.sleep(0.3)
    if left:
        echo(f"WARNING: ports still listening after down: {left}")
    _clean(run_dir, keep=keep)
    return left


def _clean(run_dir: Path, *, keep: bool) -> None:
    """Remove the run's data (and secrets); logs stay for post-mortems. --keep keeps data too."""
    endpoints_file(run_dir).unlink(missing_ok=True)
    (run_dir / "state.json").unlink(missing_ok=True)
    if keep or not run_dir.exists():
        return
    for child in run_dir.iterdir():
        if child.name in ("logs", ".up.lock"):
            continue
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


@dataclass
class Row:
    service: str
    address: str
    state: str
    ready_seconds: float | None
    rss: int


def status_rows(run_dir: Path | None = None) -> list[Row]:
    st = load(run_dir or testbed_dir())
    if st is None:
        return []
    rows = []
    for name, rec in st.services.items():
        alive = [pid for pid in rec.pids if group_members(pid)]
        state = rec.state if alive and len(alive) == len(rec.pids) else ("degraded" if alive else "stopped")
        rows.append(Row(name, rec.address, state, rec.ready_seconds, sum(rss_bytes(p) for p in alive)))
    return rows


def format_table(rows: list[Row]) -> str:
    head = f"{'service':<10} {'address':<52} {'state':<9} {'ready s':>8} {'RSS MiB':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        ready = f"{r.ready_seconds:.1f}" if r.ready_seconds is not None else "-"
        address = r.address if len(r.address) <= 52 else r.address[:49] + "..."
        lines.append(f"{r.service:<10} {address:<52} {r.state:<9} {ready:>8} {r.rss / 2**20:>8.0f}")
    lines.append(f"{'total':<10} {'':<52} {'':<9} {'':>8} {sum(r.rss for r in rows) / 2**20:>8.0f}")
    return "\n".join(lines)
