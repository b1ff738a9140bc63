"""The send loop: what to send (valid events, injected bad records, re-sent duplicates), at which rate,
until when, with acknowledgement accounting and an optional manifest of every record's fate.

Injected records take extra positions in the stream; they never consume the event generator, so the
valid events of a seed are the same with or without injection (running the same seed again re-sends
the same events, which is how tests produce duplicates across runs). Positions are global (producer/plan.py):
the n-th record of process i of N is position i + n*N, due at start + position/rate.
"""

from __future__ import annotations

import bisect
import itertools
import json
import random
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import IO, NamedTuple, Protocol

from producer import malformed
from producer.delivery import DeliveryTracker, OnAck, OnError, Sink, Summary
from producer.events import Encoded, encode, uuid4_text

VALID = "valid"
DUPLICATE = "duplicate"
RECENT_FOR_DUPLICATES = 1000
"""A re-sent duplicate copies one of this many most recent valid events."""
MAX_PENDING = 200_000
"""Records sent but not yet answered before the loop waits (kafka-python 3 has no buffer limit of its own):
about 130 MB of ~650-byte events, far more than the brokers need in flight."""
POSTFIX_EVERY_S = 0.5
"""How often the progress bar's acked/failed figures and the observer are refreshed."""


class Record(NamedTuple):
    key: bytes | None
    value: bytes
    kind: str
    """'valid', 'duplicate' or one of malformed.KINDS."""
    event_id: str | None
    note: str = ""


def injection_schedule(
    count: int, n_malformed: int, n_duplicates: int, seed: int | None, reserved: int = 1
) -> dict[int, str]:
    """Positions (0-based) of the injected records -> 'malformed'/'duplicate'. The first `reserved` positions stay
    valid events (1; with N processes N, so each process sends a valid event before one is copied or spoilt)."""
    if n_malformed < 0 or n_duplicates < 0:
        raise ValueError("the numbers of malformed and duplicate records cannot be negative")
    reserved = max(1, reserved)
    if n_malformed + n_duplicates > count - reserved:
        first = f"the first {reserved} records (one per process) are valid events"
        if reserved == 1:
            first = "at least one valid event must come first"
        raise ValueError(
            f"{n_malformed} malformed + {n_duplicates} duplicate records do not fit in --count {count}: {first}"
        )
    rng = random.Random(f"{seed}-schedule")  # noqa: S311 - seeded, reproducible
    positions = rng.sample(range(reserved, count), n_malformed + n_duplicates)
    return {p: ("malformed" if i < n_malformed else DUPLICATE) for i, p in enumerate(positions)}


def stream_end(schedule: dict[int, str], valid_events: int) -> int:
    """The position at which a source of `valid_events` events runs dry: valid slots + injected ones before it."""
    end = valid_events
    for p in sorted(schedule):
        if p >= end:
            break
        end += 1
    return end


def records(
    events: Iterable[dict[str, object] | Encoded],
    schedule: dict[int, str] | None = None,
    kinds: tuple[str, ...] = malformed.KINDS,
    seed: int | str | None = None,
    *,
    offset: int = 0,
    stride: int = 1,
    shared_source: bool = False,
) -> Iterator[Record]:
    """Interleave `events` (dicts, or Encoded from EventGenerator.encoded_stream) with the scheduled bad
    records and duplicates, for the positions offset, offset+stride, ...; malformed records take the kinds in
    turn by their global order in the schedule. With `shared_source` the events are the whole run's (a replayed
    file every process reads) and those of other processes' positions are skipped."""
    schedule = schedule or {}
    if stride < 1 or not 0 <= offset < stride:
        raise ValueError(f"offset {offset} / stride {stride}: need 0 <= offset < stride")
    rng = random.Random(f"{seed}-inject")  # noqa: S311 - seeded, reproducible
    injected = sorted(schedule)
    rank = {p: r for r, p in enumerate(p for p in injected if schedule[p] == "malformed")}
    recent: deque[Record] = deque(maxlen=RECENT_FOR_DUPLICATES)
    last_event: dict[str, object] | Encoded | None = None
    consumed = 0  # events taken from the source (shared: including the skipped ones)
    source = iter(events)
    for position in itertools.count(offset, stride):
        what = schedule.get(position)
        if what == DUPLICATE and recent:
            original = rng.choice(recent)
            yield Record(original.key, original.value, DUPLICATE, original.event_id, "re-sent")
        elif what == "malformed" and last_event is not None:
            kind = kinds[rank[position] % len(kinds)]
            event = last_event if type(last_event) is dict else json.loads(last_event.value)  # type: ignore[union-attr]
            base = dict(event, event_id=uuid4_text(rng.getrandbits(128)))
            key, value, note = malformed.build(kind, base, rng)
            yield Record(key, value, kind, str(base["event_id"]), note)
        else:
            # Shared: this position's event is the source's (position - injected before it)-th; skip to it.
            skip = position - bisect.bisect_left(injected, position) - consumed if shared_source else 0
            item = next(itertools.islice(source, skip, None), None)
            if item is None:
                return
            consumed += skip + 1
            last_event = item
            if type(item) is dict:
                key, value = encode(item)
                record = Record(key, value, VALID, str(item["event_id"]))
            else:
                record = Record(item[0], item[1], VALID, item[2])  # type: ignore[index]
            recent.append(record)
            yield record


def stop_on_ctrl_c(stop: threading.Event, notice: str | None = None) -> None:
    """First Ctrl-C: set `stop` (the loop stops sending, flushes, summarises); a second one aborts at once.
    Python handles signals in the main thread only: elsewhere this does nothing."""

    def handler(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        if notice:
            print(notice, file=sys.stderr)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, handler)


class Progress(Protocol):
    def update(self, n: int) -> None: ...
    def set_postfix_str(self, s: str) -> None: ...
    def close(self) -> None: ...


class NoProgress(Progress):
    """Shows nothing."""


Observer = Callable[[int, int, int], None]
"""Called with (sent, acknowledged, failed) about every POSTFIX_EVERY_S and once at the end."""


class Manifest:
    """JSON lines, one per record once its fate is known: kind, event_id, partition/offset or error."""

    def __init__(self, fh: IO[str]) -> None:
        self._fh = fh
        self._lock = threading.Lock()

    def write(self, record: Record, **fate: object) -> None:
        line = json.dumps({"kind": record.kind, "event_id": record.event_id, "note": record.note, **fate})
        with self._lock:
            if not self._fh.closed:  # a callback after a timed-out flush must not raise on the I/O thread
                self._fh.write(line + "\n")


class RunResult(NamedTuple):
    summary: Summary
    kinds: dict[str, int]
    interrupted: bool
    flushed: bool
    lost_processes: tuple[int, ...] = ()
    """Processes (of `--processes N`) that ended without reporting: their records count as unacknowledged."""

    @property
    def ok(self) -> bool:
        return self.summary.ok and not self.lost_processes


def run(
    sink: Sink,
    source: Iterable[Record],
    *,
    count: int | None = None,
    duration_s: float | None = None,
    rate: float = 0.0,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    manifest: Manifest | None = None,
    flush_timeout_s: float = 60.0,
    start: float | None = None,
    offset: int = 0,
    stride: int = 1,
    observer: Observer | None = None,
    max_pending: int = MAX_PENDING,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Send until `count` records, `duration_s` seconds, the source's end or `stop`; then flush and close.
    `start` (a time.monotonic() reading, default now) anchors the rate and the duration."""
    if rate < 0:
        raise ValueError(f"rate {rate} is not allowed: events per second, 0 for as fast as possible")
    stop = stop if stop is not None else threading.Event()
    progress = progress if progress is not None else NoProgress()
    observer = observer or (lambda sent, acked, failed: None)
    tracker = DeliveryTracker()
    kinds: dict[str, int] = {}
    start = monotonic() if start is None else start
    last_postfix = monotonic()
    n = value_bytes = shown = 0
    # Without a manifest every record shares the tracker's own callbacks: no closures per record.
    shared_callbacks = (tracker.acknowledged, tracker.failed)
    for record in source:
        if stop.is_set() or (count is not None and n >= count):
            break
        now = monotonic()
        if duration_s is not None and now - start >= duration_s:
            break
        if rate > 0:  # paced against the schedule (start + position/rate), so short sleeps do not add up to drift
            due = start + (offset + n * stride) / rate
            while not stop.is_set() and (wait := due - monotonic()) > 0.001:
                sleep(min(wait, 0.25))
        while n - tracker.answered >= max_pending and not stop.is_set():  # too many records unanswered
            sleep(0.005)
        if stop.is_set():
            break
        kinds[record.kind] = kinds.get(record.kind, 0) + 1
        on_ack, on_error = shared_callbacks if manifest is None else _manifest_callbacks(tracker, manifest, record)
        n += 1
        value_bytes += len(record.value)
        try:
            sink.send(record.key, record.value, on_ack, on_error)
        except Exception as exc:  # a send that raises (buffer full, metadata timeout) is a failed delivery
            on_error(exc)
        if now - last_postfix >= POSTFIX_EVERY_S:
            last_postfix = now
            acked, failed = tracker.acked, tracker.failed_count
            shown = show(progress, n, acked, failed, shown)
            observer(n, acked, failed)
    progress.update(n - shown)
    interrupted = stop.is_set()
    flushed = sink.flush(flush_timeout_s)
    # Callbacks run on the client's I/O thread right after the batch completes: give the last ones a moment.
    settle_until = monotonic() + 1.0
    while flushed and tracker.answered < n and monotonic() < settle_until:
        sleep(0.01)
    sink.close(5.0)
    summary = tracker.summary(monotonic() - start, sent=n, value_bytes=value_bytes)
    progress.set_postfix_str(f"acked={summary.acked} failed={summary.failed}")
    progress.close()
    observer(summary.sent, summary.acked, summary.failed)
    return RunResult(summary, kinds, interrupted, flushed)


def _manifest_callbacks(tracker: DeliveryTracker, manifest: Manifest, record: Record) -> tuple[OnAck, OnError]:
    def on_ack(partition: int, offset: int) -> None:
        tracker.acknowledged(partition, offset)
        manifest.write(record, partition=partition, offset=offset)

    def on_error(exc: BaseException) -> None:
        tracker.failed(exc)
        manifest.write(record, error=f"{type(exc).__name__}: {exc}")

    return on_ack, on_error


def show(progress: Progress, sent: int, acked: int, failed: int, shown: int) -> int:
    """Move the progress bar on from `shown` to `sent` records, with the answers so far; returns `sent`."""
    progress.update(sent - shown)
    progress.set_postfix_str(f"acked={acked} failed={failed}")
    return sent
