"""`--processes N`: N producer processes, one run.

kafka-python does its work in Python, so one process is bound to one core. The parent connects nothing: it
spawns the workers (each with its own KafkaProducer and its positions, see producer/plan.py), waits until each
is connected, gives them one start time (time.monotonic is one clock for every process) so `--rate` and
`--duration` hold for the whole run, shows their progress and merges their results and manifests. A worker that
dies without reporting fails the run (exit 1). Ctrl-C reaches the terminal's whole group; the parent also passes
it on, so a signal to the parent alone stops the run the same way.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import queue
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from producer.delivery import DeliveryTracker, KafkaSink, Sink, Summary
from producer.plan import Plan, share
from producer.replay import ReplayStats
from producer.runner import Manifest, Progress, RunResult, run, show, stop_on_ctrl_c

SinkFactory = Callable[[Plan, int], Sink]
"""(plan, process index) -> the sink of that process; must be picklable (a module-level callable)."""
READY_TIMEOUT_S = 180.0
"""How long the workers may take to start and connect (a loaded 2-core machine spawns slowly)."""
REPORT_GRACE_S = 10.0
"""How long after a worker's exit its report may still be on the way before the worker counts as lost."""


def kafka_sink(plan: Plan, index: int) -> Sink:
    return KafkaSink(plan.bootstrap_servers, plan.topic, options=plan.options, client_id=f"lakehouse-producer-{index}")


def manifest_part(manifest: Path, index: int) -> Path:
    return manifest.with_name(f"{manifest.name}.part{index}")


class WorkerStartError(ConnectionError):
    """A worker could not build its sink (Kafka unreachable, topic missing, codec not installed)."""


class _Shared(NamedTuple):
    """The parent's handles on the workers: counters (sent, acked, failed per worker) and the signals.

    The signals are plain shared values that the workers poll, not multiprocessing Events: Event.set()
    waits for every waiter to wake up, and hangs for good when a waiter has exited meanwhile (a worker that
    got the terminal's Ctrl-C itself, finished and left before the parent passed the stop on)."""

    counters: Any
    messages: Any
    go: Any
    stop: Any
    start_at: Any


def _wait_flag(flag: Any, timeout_s: float | None, poll_s: float) -> bool:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while not flag.value:
        if deadline is not None and time.monotonic() > deadline:
            return False
        time.sleep(poll_s)
    return True


def send_part(
    plan: Plan, index: int, sink: Sink, stop: threading.Event, manifest: Path | None, stats: ReplayStats, **loop: Any
) -> RunResult:
    """Process `index`'s part of the run through `sink`; `loop`: the send loop's progress, start and observer."""
    with manifest.open("w") if manifest is not None else contextlib.nullcontext() as fh:
        return run(
            sink,
            plan.part(index, stats),
            count=share(plan.total, index, plan.processes),
            duration_s=plan.duration_s,
            rate=plan.rate,
            stop=stop,
            manifest=Manifest(fh) if fh is not None else None,
            flush_timeout_s=plan.flush_timeout_s,
            offset=index,
            stride=plan.processes,
            **loop,
        )


def worker_main(plan: Plan, index: int, shared: _Shared, sink_factory: SinkFactory, manifest: Path | None) -> None:
    """One process's part of the run; reports ('ready' | 'error' | 'result', index, payload) on `messages`."""
    local_stop = threading.Event()
    stop_on_ctrl_c(local_stop)
    try:
        sink = sink_factory(plan, index)
    except (ConnectionError, ValueError) as exc:
        shared.messages.put(("error", index, str(exc)))
        return
    shared.messages.put(("ready", index, None))
    if not _wait_flag(shared.go, READY_TIMEOUT_S, 0.005):  # the parent is gone
        sink.close(1.0)
        return
    if shared.stop.value:  # stopped before the start: send nothing, still report
        local_stop.set()

    def watch_stop() -> None:
        _wait_flag(shared.stop, None, 0.05)
        local_stop.set()

    threading.Thread(target=watch_stop, daemon=True, name="stop-watch").start()

    def observe(sent: int, acked: int, failed: int) -> None:
        shared.counters[3 * index : 3 * index + 3] = sent, acked, failed

    part = manifest_part(manifest, index) if manifest is not None else None
    result = send_part(
        plan, index, sink, local_stop, part, ReplayStats(), start=shared.start_at.value, observer=observe
    )
    shared.messages.put(("result", index, result))


def merge(reports: dict[int, RunResult], counters: list[int], processes: int, elapsed_s: float) -> RunResult:
    """One RunResult from the workers' reports; a worker without one adds its last published counts and is lost."""
    sent = acked = failed = value_bytes = 0
    errors: Counter[str] = Counter()
    first: list[str] = []
    kinds: Counter[str] = Counter()
    lost = []
    for index in range(processes):
        report = reports.get(index)
        if report is None:
            lost.append(index)
            s, a, f = counters[3 * index : 3 * index + 3]
            first.append(f"process {index} ended without a report after {s} records ({a} acknowledged)")
        else:
            s, a, f = report.summary.sent, report.summary.acked, report.summary.failed
            value_bytes += report.summary.value_bytes
            errors.update(report.summary.errors)
            first.extend(report.summary.first_errors)
            kinds.update(report.kinds)
        sent, acked, failed = sent + s, acked + a, failed + f
    if lost:
        errors["ProcessLost"] += len(lost)
    elapsed_s = max([r.summary.elapsed_s for r in reports.values()] or [elapsed_s])
    first = first[: DeliveryTracker.MAX_KEPT_ERRORS + len(lost)]
    summary = Summary(sent, acked, failed, elapsed_s, dict(errors), tuple(first), value_bytes)
    interrupted, flushed = any(r.interrupted for r in reports.values()), all(r.flushed for r in reports.values())
    return RunResult(summary, dict(kinds), interrupted, flushed, tuple(lost))


def run_parallel(
    plan: Plan,
    *,
    stop: threading.Event,
    progress: Progress | None = None,
    manifest: Path | None = None,
    sink_factory: SinkFactory = kafka_sink,
) -> RunResult:
    """Run `plan` in plan.processes worker processes; raises WorkerStartError if any cannot connect."""
    ctx = multiprocessing.get_context("spawn")
    n = plan.processes
    shared = _Shared(
        counters=ctx.RawArray("q", 3 * n),
        messages=ctx.Queue(),
        go=ctx.RawValue("b", 0),
        stop=ctx.RawValue("b", 0),
        start_at=ctx.RawValue("d", 0.0),
    )
    workers = [
        ctx.Process(target=worker_main, args=(plan, i, shared, sink_factory, manifest), name=f"producer-{i}")
        for i in range(n)
    ]
    for w in workers:
        w.start()
    try:
        _wait_ready(workers, shared, stop)
        reports, elapsed = _collect(workers, shared, stop, progress)
    except BaseException:
        shared.stop.value = shared.go.value = 1
        _end(workers, 5)
        raise
    _end(workers, 30)
    if progress is not None:
        progress.close()
    if manifest is not None:
        _concatenate(manifest, n)
    return merge(reports, list(shared.counters), n, elapsed)


def _collect(
    workers: list[Any], shared: _Shared, stop: threading.Event, progress: Progress | None
) -> tuple[dict[int, RunResult], float]:
    """Start the workers together, pass a stop on, show their progress, collect their reports; returns them
    with the seconds the run took."""
    if stop.is_set():
        shared.stop.value = 1
    shared.start_at.value = start = time.monotonic() + 0.05
    shared.go.value = 1
    reports: dict[int, RunResult] = {}
    shown = 0
    exited_at: dict[int, float] = {}
    while True:
        if stop.is_set():
            shared.stop.value = 1
        with contextlib.suppress(queue.Empty):
            kind, index, payload = shared.messages.get(timeout=0.2)
            if kind == "result":
                reports[index] = payload
        now = time.monotonic()
        for i, w in enumerate(workers):
            if w.exitcode is not None and i not in reports:
                exited_at.setdefault(i, now)
        if progress is not None:
            counts = list(shared.counters)
            shown = show(progress, sum(counts[0::3]), sum(counts[1::3]), sum(counts[2::3]), shown)
        pending = [i for i in range(len(workers)) if i not in reports]
        if not pending or all(i in exited_at and now - exited_at[i] > REPORT_GRACE_S for i in pending):
            return reports, time.monotonic() - start


def _end(workers: list[Any], timeout_s: float) -> None:
    for w in workers:
        w.join(timeout=timeout_s)
        if w.exitcode is None:
            w.terminate()
            w.join(timeout=5)


def _wait_ready(workers: list[Any], shared: _Shared, stop: threading.Event) -> None:
    ready: set[int] = set()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while len(ready) < len(workers) and not stop.is_set():
        if time.monotonic() > deadline:
            raise WorkerStartError(f"the producer processes did not connect within {READY_TIMEOUT_S:.0f} s")
        try:
            kind, index, payload = shared.messages.get(timeout=0.2)
        except queue.Empty:
            dead = [i for i, w in enumerate(workers) if w.exitcode is not None and i not in ready]
            if dead:
                raise WorkerStartError(
                    f"producer process {dead[0]} exited ({workers[dead[0]].exitcode}) before connecting"
                ) from None
            continue
        if kind == "error":
            raise WorkerStartError(payload)
        ready.add(index)


def _concatenate(manifest: Path, processes: int) -> None:
    with manifest.open("w") as out:
        for part in (manifest_part(manifest, i) for i in range(processes)):
            if part.exists():
                with part.open() as fh:
                    shutil.copyfileobj(fh, out)
                part.unlink()
