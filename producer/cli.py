"""`python -m producer`: flags, defaults from the environment/test bed/stack, progress, summary, exit code.

Exit codes: 0 every record sent was acknowledged; 1 some record failed or was never acknowledged;
2 bad flags or unreachable Kafka/topic; 130 stopped with Ctrl-C (after a flush; everything acknowledged).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from producer import delivery, endpoints, malformed, parallel
from producer.delivery import Sink, SinkOptions
from producer.plan import Plan
from producer.replay import ReplayStats, read_events
from producer.runner import Progress, RunResult, stop_on_ctrl_c

EXIT_OK, EXIT_UNACKED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _bounded(name: str, convert: Callable[[str], float], ok: Callable[[float], bool], rule: str) -> Callable:
    """An argparse type: `convert`, then refuse values that are not `ok` (argparse names it in its own errors)."""

    def parse(text: str) -> float:
        value = convert(text)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{text} is not allowed: {rule}")
        return value

    parse.__name__ = name
    return parse


_positive_float = _bounded("_positive_float", float, lambda v: v > 0, "a number greater than 0")
_non_negative_int = _bounded("_non_negative_int", int, lambda v: v >= 0, "an integer of 0 or more")
_positive_int = _bounded("_positive_int", int, lambda v: v >= 1, "an integer of 1 or more")
_rate = _bounded("_rate", float, lambda v: v >= 0, "events per second, 0 for as fast as possible")


def _start_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 time such as 2026-01-01T00:00:00Z") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone, e.g. 2026-01-01T00:00:00Z")
    return value


def _kinds(text: str) -> tuple[str, ...]:
    try:
        return malformed.parse_kinds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m producer",
        description="Send logistics events as JSON to Kafka (acks=all, idempotent), generated or replayed from CSV.",
    )
    p.add_argument(
        "--bootstrap-servers",
        help=f"Kafka brokers, host:port[,host:port]. Default: ${endpoints.ENV_BOOTSTRAP}, then "
        f"{endpoints.TESTBED_FILE} (test bed), then `pulumi stack output` (deployed stack).",
    )
    p.add_argument(
        "--topic",
        help=f"Topic (default: ${endpoints.ENV_TOPIC}, the test bed's/stack's, or {endpoints.DEFAULT_TOPIC}).",
    )
    _add_what_to_send(p)
    _add_output_and_delivery(p)
    return p


def _add_what_to_send(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rate", type=_rate, default=100.0, help="Events per second; 0 = as fast as possible (default 100)."
    )
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--count", type=_non_negative_int, help="Number of records to send (injected ones included).")
    stop.add_argument("--duration", type=_positive_float, help="Seconds to send for.")
    p.add_argument("--seed", type=int, help="Seed of the generator: the same seed gives the same events.")
    p.add_argument(
        "--start-time",
        type=_start_time,
        help="Simulate event times from this ISO-8601 time (step 1/rate s, 10 ms at rate 0) instead of "
        "the wall clock: with --seed the output is then identical on every run.",
    )
    p.add_argument(
        "--replay", type=Path, metavar="FILE.csv", help="Replay the rows of a CSV with the dataset's columns."
    )
    n_records = {"type": _non_negative_int, "default": 0, "metavar": "N"}
    p.add_argument(
        "--inject-malformed", **n_records, help="Add N records that the streaming job must quarantine (needs --count)."
    )
    p.add_argument(
        "--malformed-kinds",
        default="all",
        type=_kinds,
        help=f"Kinds of injected records, in turn: 'all' or a comma list of {', '.join(malformed.KINDS)}.",
    )
    p.add_argument(
        "--duplicates",
        **n_records,
        help="Re-send N earlier events unchanged (same event_id), as a retrying producer would (needs --count).",
    )


def _add_output_and_delivery(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--manifest", type=Path, help="Write one JSON line per record: kind, event_id, partition/offset or error."
    )
    p.add_argument("--summary-json", type=Path, help="Write the summary as JSON to this file.")
    p.add_argument(
        "--processes",
        type=_positive_int,
        default=1,
        metavar="N",
        help="Producer processes, one core each (default 1). Process i sends records i, i+N, ...: the same "
        "totals, injected kinds and steady --rate as one process; with --seed the events are fixed for a given N.",
    )
    p.add_argument(
        "--compression",
        choices=delivery.COMPRESSION_TYPES,
        default=delivery.DEFAULT_COMPRESSION,
        help=f"Batch compression (default {delivery.DEFAULT_COMPRESSION}).",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=delivery.DEFAULT_BATCH_SIZE,
        metavar="BYTES",
        help=f"Bytes of records per partition batch, before compression (default {delivery.DEFAULT_BATCH_SIZE}).",
    )
    p.add_argument(
        "--linger-ms",
        type=_non_negative_int,
        default=delivery.DEFAULT_LINGER_MS,
        metavar="MS",
        help=f"How long a batch waits to fill up (default {delivery.DEFAULT_LINGER_MS}).",
    )
    p.add_argument(
        "--flush-timeout", type=_positive_float, default=60.0, help="Seconds to wait for acknowledgements at the end."
    )
    p.add_argument(
        "--no-progress", action="store_true", help="No progress bar (it is off anyway when stderr is not a terminal)."
    )


def _progress(args: argparse.Namespace) -> Progress | None:
    if args.no_progress or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=args.count, unit="ev", dynamic_ncols=True, mininterval=0.5, file=sys.stderr)


def report(result: RunResult, args: argparse.Namespace, target: endpoints.Target, processes: int = 1) -> int:
    s = result.summary
    injected = ", ".join(f"{k} {n}" for k, n in sorted(result.kinds.items()) if k != "valid") or "none"
    by = f" by {processes} processes" if processes > 1 else ""
    lines = [
        f"topic {target.topic} on {target.bootstrap_servers} (from {target.source}){by}",
        f"sent {s.sent}  acknowledged {s.acked}  failed {s.failed}  unacknowledged {s.unacknowledged}  "
        f"in {s.elapsed_s:.1f} s  mean rate {s.mean_rate:.0f} events/s",
        f"valid events {result.kinds.get('valid', 0)}; injected: {injected}",
    ]
    if s.errors:
        lines.append("errors: " + ", ".join(f"{name} x{n}" for name, n in s.errors.items()))
        lines += [f"  {e}" for e in s.first_errors]
    if not result.flushed:
        lines.append(
            f"flush did not finish within {args.flush_timeout:.0f} s: in-flight records count as not acknowledged"
        )
    if result.lost_processes:
        lines.append(
            f"process(es) {', '.join(map(str, result.lost_processes))} ended without reporting: "
            "their records count as not acknowledged"
        )
    if result.interrupted:
        lines.append("interrupted by Ctrl-C")
    print("\n".join(lines), file=sys.stderr)
    code = EXIT_UNACKED if not result.ok else EXIT_INTERRUPTED if result.interrupted else EXIT_OK
    if args.summary_json:
        counts = ("sent", "acked", "failed", "unacknowledged", "elapsed_s", "mean_rate", "value_bytes")
        summary = {k: getattr(s, k) for k in counts} | {
            "mean_value_bytes": s.value_bytes / s.sent if s.sent else 0.0,
            "kinds": result.kinds,
            "errors": s.errors,
            "interrupted": result.interrupted,
            "processes": processes,
            "lost_processes": list(result.lost_processes),
            "compression": args.compression,
            "exit_code": code,
        }
        args.summary_json.write_text(json.dumps(summary, indent=2))
    return code


def main(
    argv: Sequence[str] | None = None, sink: Sink | None = None, sink_factory: parallel.SinkFactory | None = None
) -> int:
    """The CLI. `sink` replaces Kafka for one process, `sink_factory` (picklable) for --processes N (tests)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.inject_malformed or args.duplicates) and args.count is None:
        parser.error("--inject-malformed and --duplicates need --count (the records are spread over the whole run)")
    if args.replay is not None and not args.replay.is_file():
        parser.error(f"--replay {args.replay}: no such file")
    replay_stats = ReplayStats()
    try:
        target, plan = _plan(args, replay_stats)
    except ValueError as exc:
        parser.error(str(exc))
    if plan.processes > 1 and sink is not None:
        parser.error("a sink object serves one process: pass sink_factory with --processes")
    factory = sink_factory or parallel.kafka_sink
    if plan.processes == 1 and sink is None:
        try:
            sink = factory(plan, 0)
        except (ConnectionError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    stop = threading.Event()
    stop_on_ctrl_c(stop, "\nstopping: flushing what was sent (Ctrl-C again to abort)")
    if sink is not None:
        result = parallel.send_part(plan, 0, sink, stop, args.manifest, replay_stats, progress=_progress(args))
    else:
        try:
            result = parallel.run_parallel(
                plan, stop=stop, progress=_progress(args), manifest=args.manifest, sink_factory=factory
            )
        except parallel.WorkerStartError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if replay_stats.unparseable_cells:
        print(
            f"replay: {replay_stats.unparseable_cells} cell(s) were not numbers and were sent as text "
            f"(e.g. {'; '.join(replay_stats.examples)})",
            file=sys.stderr,
        )
    return report(result, args, target, plan.processes)


def _plan(args: argparse.Namespace, replay_stats: ReplayStats) -> tuple[endpoints.Target, Plan]:
    """Where to send and what; raises ValueError for what the flags cannot do (the injected records do not fit,
    a replay file without rows, ...)."""
    target = endpoints.resolve(args.bootstrap_servers, args.topic)
    plan = Plan(
        bootstrap_servers=target.bootstrap_servers or "",
        topic=target.topic or endpoints.DEFAULT_TOPIC,
        options=SinkOptions(compression=args.compression, batch_size=args.batch_size, linger_ms=args.linger_ms),
        processes=args.processes,
        count=args.count,
        duration_s=args.duration,
        rate=args.rate,
        seed=args.seed,
        start_time=args.start_time,
        replay=args.replay,
        inject_malformed=args.inject_malformed,
        duplicates=args.duplicates,
        kinds=args.malformed_kinds,
        flush_timeout_s=args.flush_timeout,
    )
    plan.schedule()  # do the injected records fit?
    if args.replay is not None:  # the header and the first row now, so a wrong file fails before Kafka is touched
        with contextlib.closing(read_events(args.replay)) as rows:
            if next(rows, None) is None:
                raise ValueError(f"--replay {args.replay}: the file has a header but no rows")
    return target, plan.resolved(replay_stats)  # several processes: reads the whole replay file once
