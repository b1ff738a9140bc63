"""Figure 4, freshness: an event produced -> its row visible through Trino, p50/p95/p99, at a steady rate.

    python -m bench.freshness [--rates 1000 5000] [--seconds 180]

A marker's freshness is the end of the first Trino query that returned it minus its send time: what a dashboard
user waits.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import sparkrun
from bench.machine import machine_notes, noted, print_json
from bench.stream_session import TRINO_USER, StreamSession, marker_event, send_marker
from lakehouse.clients.trino_sql import query
from producer.events import EventGenerator


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def summary(values: Sequence[float]) -> dict[str, object]:
    out = {f"p{q}_s": percentile(values, q) for q in (50, 95, 99)}
    out |= {"max_s": max(values), "mean_s": statistics.mean(values)} if values else {"max_s": None, "mean_s": None}
    return {"count": len(values)} | {k: None if v is None else round(v, 3) for k, v in out.items()}


@dataclass
class Marker:
    event_id: str
    sent: float  # time.time() just before the send
    acked: float | None = None
    seen_start: float | None = None
    seen_end: float | None = None


class MarkerSender(threading.Thread):
    """Sends a valid event with a known event_id every `every` seconds until stopped; `poll` looks for them."""

    def __init__(self, bootstrap: str, topic: str, every: float) -> None:
        super().__init__(name="bench-markers", daemon=True)
        from kafka import KafkaProducer

        self.every, self.topic = every, topic
        self.markers: list[Marker] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.errors: list[str] = []
        self.polls, self.poll_errors = 0, []  # type: ignore[var-annotated]
        self._gen = EventGenerator()
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap.split(","), acks="all", linger_ms=0, enable_idempotence=True
        )

    def run(self) -> None:
        next_at = time.monotonic()
        while not self.stopping.is_set():
            event_id, key, value = marker_event(self._gen)
            marker = Marker(event_id, time.time())
            try:
                future = self._producer.send(self.topic, key=key, value=value)
                future.add_callback(lambda _md, m=marker: setattr(m, "acked", time.time()))
                future.add_errback(lambda exc: self.errors.append(repr(exc)))
                self._producer.flush(timeout=30)
            except Exception as exc:  # a failed marker is reported, not fatal
                self.errors.append(repr(exc))
                continue
            with self.lock:
                self.markers.append(marker)
            next_at += self.every
            self.stopping.wait(max(0.0, next_at - time.monotonic()))
        self._producer.close(timeout=30)

    def pending(self) -> list[Marker]:
        with self.lock:
            return [m for m in self.markers if m.seen_end is None]

    def poll(self, trino_url: str, table: str) -> None:
        """One Trino query for the pending markers, marking those it returns as seen; its error is kept."""
        if not (pending := self.pending()):
            self.polls += 1
            return
        since = datetime.fromtimestamp(min(m.sent for m in pending), UTC) - timedelta(seconds=30)
        ids = ", ".join(f"'{m.event_id}'" for m in pending)
        # Our own table name, times and uuid4 strings:
        sql = f"SELECT event_id FROM {table} WHERE ingestion_time >= TIMESTAMP '{since:%Y-%m-%d %H:%M:%S} UTC' "  # noqa: S608
        sql += f"AND event_date >= DATE '{since:%Y-%m-%d}' AND event_id IN ({ids})"
        try:
            start = time.time()
            seen = {r[0] for r in query(trino_url, sql, user=TRINO_USER, timeout=60)}
            end = time.time()
            self.polls += 1
        except Exception as exc:  # Trino busy or a table version mid-commit: count and go on
            self.poll_errors.append(str(exc)[:300])
            return
        for m in pending:
            if m.event_id in seen:
                m.seen_start, m.seen_end = start, end


def measure_rate(session: StreamSession, *, rate: int, seconds: float, marker_every: float, poll: float,
                 warmup: float) -> dict[str, object]:  # fmt: skip
    """One rate: the load for `seconds`, markers throughout, visibility polled until every marker is seen (or
    two minutes after the load ends)."""
    before = machine_notes()
    with tempfile.TemporaryDirectory(prefix="bench-fresh-") as tmp:
        summary_file = Path(tmp) / "producer.json"
        args = ["--rate", str(rate), "--duration", str(seconds), "--processes", "1"]
        argv = sparkrun.producer_argv(session.endpoints, session.topic, summary_file, args)
        load = subprocess.Popen(argv, cwd=sparkrun.REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        sender = MarkerSender(session.endpoints["kafka_bootstrap_servers"], session.topic, marker_every)
        poll_args = (session.endpoints["trino_url"], session.trino_table)
        t0 = time.time()
        sender.start()
        try:
            while load.poll() is None:
                time.sleep(poll)
                sender.poll(*poll_args)
        finally:
            sender.stopping.set()
            sender.join(timeout=60)
            if load.poll() is None:
                load.terminate()
            load_err = load.communicate(timeout=60)[1]
        load_end = time.time()
        deadline = time.monotonic() + 120
        while sender.pending() and time.monotonic() < deadline:
            time.sleep(poll)
            sender.poll(*poll_args)
        produced = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    markers = sender.markers
    steady = [m for m in markers if m.sent - t0 >= warmup]
    last_seen = max((m.seen_end or load_end for m in markers), default=None)

    def lag(ms: list[Marker], attr: str = "seen_end") -> dict[str, object]:
        return summary([getattr(m, attr) - m.sent for m in ms if getattr(m, attr) is not None])

    return {
        "rate_events_per_s": rate,
        "seconds": seconds,
        "producer": {k: produced.get(k) for k in ("sent", "acked", "failed", "mean_rate", "elapsed_s", "processes")},
        "producer_exit_code": load.returncode,
        "producer_stderr_tail": (load_err or "")[-1000:] if load.returncode else "",
        "markers_sent": len(markers),
        "markers_never_seen": sum(1 for m in markers if m.seen_end is None),
        "marker_every_s": marker_every,
        "poll_every_s": poll,
        "warmup_s": warmup,
        "freshness": lag(steady),
        "freshness_query_start": lag(steady, "seen_start"),
        "freshness_warmup": lag([m for m in markers if m.sent - t0 < warmup]),
        "marker_ack_s": lag(markers, "acked"),
        "trino_polls": sender.polls,
        "trino_poll_errors": len(sender.poll_errors),
        "trino_poll_error_sample": sender.poll_errors[:3],
        "marker_errors": sender.errors[:3],
        "series": [
            [round(m.sent - t0, 2), None if m.seen_end is None else round(m.seen_end - m.sent, 3)] for m in markers
        ],
        "seconds_after_load_to_last_marker": None if last_seen is None else round(last_seen - load_end, 1),
        "machine_before": before,
        "machine_after": machine_notes(),
    }


@noted
def figure(endpoints: Mapping[str, str] | None = None, *, rates: Sequence[int] = (1000, 5000), seconds: float = 180,
           warmup: float = 20, marker_every: float = 0.5, poll: float = 0.5,
           session: StreamSession | None = None) -> dict[str, object]:  # fmt: skip
    """Figure 4: one streaming job (as the stack submits it, or `session`'s), each rate in turn on its topic."""
    own = session is None
    session = session or StreamSession(endpoints)
    result: dict[str, Any] = {}
    with session if own else contextlib.nullcontext(session):
        result["job_args"] = session.args
        result["job_start_to_tables_registered_s"] = session.started_s
        result["cold_start"] = dict(session.cold)
        # A marker visible through Trino: the job has run its first batches (JIT, state store, first commits).
        marker, began = send_marker(session.endpoints, session.topic), time.monotonic()
        result["first_event_visible_s"] = session.wait_visible(marker, began, deadline=began + 900, poll_s=1.0)
        result["runs"] = []
        for rate in rates:
            began_ms = int(time.time() * 1000)
            run = measure_rate(session, rate=rate, seconds=seconds, warmup=warmup, marker_every=marker_every, poll=poll)
            # Where the batches of this rate spent their time (after the warm-up, until the load ended).
            steps = _safe(
                lambda b=began_ms: session.breakdown(since_ms=b + int(warmup * 1000), until_ms=int(time.time() * 1000))
            )
            run["breakdown"] = {k: v for k, v in steps.items() if k != "batches"} if isinstance(steps, dict) else steps
            result["runs"].append(run)
        result["rows_in_table"] = _safe(session.count)
        result["job_log_tail"] = session.log_lines()[-15:]
    result["targets"] = {"p95_s_at_1000_events_per_s": 3.0}
    return result


def _safe(fn):  # type: ignore[no-untyped-def]
    try:
        return fn()
    except Exception as exc:
        return f"error: {exc}"[:300]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.freshness", description=__doc__.split("\n\n")[0])
    p.add_argument("--rates", type=int, nargs="+", default=[1000, 5000])
    p.add_argument("--seconds", type=float, default=180)
    p.add_argument("--warmup", type=float, default=20)
    p.add_argument("--marker-every", type=float, default=0.5)
    p.add_argument("--poll", type=float, default=0.5)
    return print_json(figure(**vars(p.parse_args(argv))))


if __name__ == "__main__":
    sys.exit(main())
