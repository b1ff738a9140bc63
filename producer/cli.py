"""`python -m producer`: flags, defaults from the environment/test bed/stack, progress, summary, exit code.

Exit codes: 0 every record sent was acknowledged; 1 some record failed or was never acknowledged;
2 bad flags or unreachable Kafka/topic; 130 stopped with Ctrl-C (after a flush; everything acknowledged).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from producer import endpoints, malformed, parallel
from producer.delivery import (
    COMPRESSION_TYPES,
    DEFAULT_BATCH_SIZE,
    DEFAULT_COMPRESSION,
    DEFAULT_LINGER_MS,
    Sink,
    SinkOptions,
)
from producer.plan import Plan, share
from producer.replay import ReplayStats, read_events
from producer.runner import Manifest, Progress, RunResult, run

EXIT_OK, EXIT_UNACKED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not allowed: a number greater than 0")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not allowed: an integer of 0 or more")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not allowed: an integer of 1 or more")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not allowed: events per second, 0 for as fast as possible")
    return value


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
    p.add_argument(
        "--inject-malformed",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="Add N records that the streaming job must quarantine (needs --count).",
    )
    p.add_argument(
        "--malformed-kinds",
        default="all",
        type=_kinds,
        help=f"Kinds of injected records, in turn: 'all' or a comma list of {', '.join(malformed.KINDS)}.",
    )
    p.add_argument(
        "--duplicates",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="Re-send N earlier events unchanged (same event_id), as a retrying producer would (needs --count).",
    )
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
        choices=COMPRESSION_TYPES,
        default=DEFAULT_COMPRESSION,
        help=f"Batch compression (default {DEFAULT_COMPRESSION}).",
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=DEFAULT_BATCH_SIZE,
        metavar="BYTES",
        help=f"Bytes of records per partition batch, before compression (default {DEFAULT_BATCH_SIZE}).",
    )
    p.add_argument(
        "--linger-ms",
        type=_non_negative_int,
        default=DEFAULT_LINGER_MS,
        metavar="MS",
        help=f"How long a batch waits to fill up (default {DEFAULT_LINGER_MS}).",
    )
    p.add_argument(
        "--flush-timeout", type=_positive_float, default=60.0, help="Seconds to wait for acknowledgements at the end."
    )
    p.add_argument(
        "--no-progress", action="store_true", help="No progress bar (it is off anyway when stderr is not a terminal)."
    )
    return p


def _progress(args: argparse.Namespace) -> Progress | None:
    if args.no_progress or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=args.count, unit="ev", dynamic_ncols=True, mininterval=0.5, file=sys.stderr)


def _install_sigint(stop: threading.Event) -> None:
    """First Ctrl-C: stop sending, flush, summarise. A second one aborts at once."""

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nstopping: flushing what was sent (Ctrl-C again to abort)", file=sys.stderr)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)


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
    code = EXIT_OK if result.ok else EXIT_UNACKED
    if code == EXIT_OK and result.interrupted:
        code = EXIT_INTERRUPTED
    if args.summary_json:
        args.summary_json.write_text(
            json.dumps(
                {
                    "sent": s.sent,
                    "acked": s.acked,
                    "failed": s.failed,
                    "unacknowledged": s.unacknowledged,
                    "elapsed_s": s.elapsed_s,
                    "mean_rate": s.mean_rate,
                    "value_bytes": s.value_bytes,
                    "mean_value_bytes": s.value_bytes / s.sent if s.sent else 0.0,
                    "kinds": result.kinds,
                    "errors": s.errors,
                    "interrupted": result.interrupted,
                    "processes": processes,
                    "lost_processes": list(result.lost_processes),
                    "compression": args.compression,
                    "exit_code": code,
                },
                indent=2,
            )
        )
    return code


def main(
    argv: Sequence[str] | None = None,
    sink: Sink | None = None,
    sink_factory: parallel.SinkFactory | None = None,
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
        target = endpoints.resolve(args.bootstrap_servers, args.topic)
        options = SinkOptions(compression=args.compression, batch_size=args.batch_size, linger_ms=args.linger_ms)
        plan = Plan(
            bootstrap_servers=target.bootstrap_servers or "",
            topic=target.topic or endpoints.DEFAULT_TOPIC,
            options=options,
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
        if args.replay is not None:
            _check_replay_file(args.replay)
        plan = plan.resolved(replay_stats)  # several processes: reads the whole replay file once
        plan.schedule()
    except ValueError as exc:
        parser.error(str(exc))

    if plan.processes > 1 and sink is not None:
        parser.error("a sink object serves one process: pass sink_factory with --processes")
    if plan.processes == 1 and sink is None:
        try:
            sink = (sink_factory or parallel.kafka_sink)(plan, 0)
        except (ConnectionError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE

    stop = threading.Event()
    _install_sigint(stop)
    if sink is not None:
        result = _run_one(plan, args, stop, sink, replay_stats)
    else:
        try:
            result = parallel.run_parallel(
                plan,
                stop=stop,
                progress=_progress(args),
                manifest=args.manifest,
                sink_factory=sink_factory or parallel.kafka_sink,
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


def _check_replay_file(path: Path) -> None:
    """Read the header and the first row now, so a wrong file fails before Kafka is touched."""
    events = read_events(path)
    try:
        next(events)
    except StopIteration:
        raise ValueError(f"--replay {path}: the file has a header but no rows") from None
    finally:
        events.close()


def _run_one(
    plan: Plan, args: argparse.Namespace, stop: threading.Event, sink: Sink, replay_stats: ReplayStats
) -> RunResult:
    manifest_fh = args.manifest.open("w") if args.manifest else None
    try:
        return run(
            sink,
            plan.part(0, replay_stats),
            count=share(plan.total, 0, 1),
            duration_s=plan.duration_s,
            rate=plan.rate,
            stop=stop,
            progress=_progress(args),
            manifest=Manifest(manifest_fh) if manifest_fh else None,
            flush_timeout_s=plan.flush_timeout_s,
        )
    finally:
        if manifest_fh:
            manifest_fh.close()
