"""The send loop: what to send (valid events, injected bad records, re-sent duplicates), at which rate,
until when, with acknowledgement accounting and an optional manifest of every record's fate.

Injected records take extra positions in the stream; they never consume the event generator, so the
valid events of a seed are the same with or without injection (running the same seed again re-sends
the same events, which is how tests produce duplicates across runs).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Protocol

from producer import malformed
from producer.delivery import DeliveryTracker, Sink, Summary
from producer.events import encode

VALID = "valid"
DUPLICATE = "duplicate"
RECENT_FOR_DUPLICATES = 1000
"""A re-sent duplicate copies one of this many most recent valid events."""


@dataclass(frozen=True)
class Record:
    key: bytes | None
    value: bytes
    kind: str
    """'valid', 'duplicate' or one of malformed.KINDS."""
    event_id: str | None
    note: str = ""


def injection_schedule(count: int, n_malformed: int, n_duplicates: int, seed: int | None) -> dict[int, str]:
    """Positions (0-based, never 0: a valid event comes first) of the injected records -> 'malformed'/'duplicate'."""
    if n_malformed < 0 or n_duplicates < 0:
        raise ValueError("the numbers of malformed and duplicate records cannot be negative")
    if n_malformed + n_duplicates > count - 1:
        raise ValueError(
            f"{n_malformed} malformed + {n_duplicates} duplicate records do not fit in --count {count}: "
            "at least one valid event must come first"
        )
    rng = random.Random(f"{seed}-schedule")  # noqa: S311 - seeded, reproducible
    positions = rng.sample(range(1, count), n_malformed + n_duplicates)
    return {p: ("malformed" if i < n_malformed else DUPLICATE) for i, p in enumerate(positions)}


def records(
    events: Iterable[dict[str, object]],
    schedule: dict[int, str] | None = None,
    kinds: tuple[str, ...] = malformed.KINDS,
    seed: int | None = None,
) -> Iterator[Record]:
    """Interleave `events` with the scheduled bad records (kinds in turn) and duplicates."""
    schedule = schedule or {}
    rng = random.Random(f"{seed}-inject")  # noqa: S311 - seeded, reproducible
    recent: deque[Record] = deque(maxlen=RECENT_FOR_DUPLICATES)
    last_event: dict[str, object] | None = None
    n_bad = 0
    position = 0
    source = iter(events)
    while True:
        what = schedule.get(position)
        if what == DUPLICATE and recent:
            original = rng.choice(recent)
            yield Record(original.key, original.value, DUPLICATE, original.event_id, "re-sent")
        elif what == "malformed" and last_event is not None:
            kind = kinds[n_bad % len(kinds)]
            n_bad += 1
            base = dict(last_event, event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
            key, value, note = malformed.build(kind, base, rng)
            yield Record(key, value, kind, str(base["event_id"]), note)
        else:
            try:
                event = next(source)
            except StopIteration:
                return
            last_event = event
            key, value = encode(event)
            record = Record(key, value, VALID, str(event["event_id"]))
            recent.append(record)
            yield record
        position += 1


class Progress(Protocol):
    def update(self, n: int) -> None: ...
    def set_postfix_str(self, s: str) -> None: ...
    def close(self) -> None: ...


class NoProgress:
    def update(self, n: int) -> None:
        pass

    def set_postfix_str(self, s: str) -> None:
        pass

    def close(self) -> None:
        pass


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


@dataclass
class RunResult:
    summary: Summary
    kinds: dict[str, int]
    interrupted: bool
    flushed: bool


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
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Send until `count` records, `duration_s` seconds, the source's end or `stop`; then flush and close."""
    if rate < 0:
        raise ValueError(f"rate {rate} is not allowed: events per second, 0 for as fast as possible")
    stop = stop if stop is not None else threading.Event()
    progress = progress if progress is not None else NoProgress()
    tracker = DeliveryTracker()
    kinds: dict[str, int] = {}
    start = monotonic()
    last_postfix = start
    n = 0
    for record in source:
        if stop.is_set() or (count is not None and n >= count):
            break
        now = monotonic()
        if duration_s is not None and now - start >= duration_s:
            break
        if rate > 0:
            # Pace against the schedule start + n/rate, so short sleeps do not accumulate drift.
            due = start + n / rate
            while not stop.is_set() and (wait := due - monotonic()) > 0.001:
                sleep(min(wait, 0.25))
            if stop.is_set():
                break
        kinds[record.kind] = kinds.get(record.kind, 0) + 1
        tracker.sending()

        def on_ack(partition: int, offset: int, record: Record = record) -> None:
            tracker.acknowledged(partition, offset)
            if manifest is not None:
                manifest.write(record, partition=partition, offset=offset)

        def on_error(exc: BaseException, record: Record = record) -> None:
            tracker.failed(exc)
            if manifest is not None:
                manifest.write(record, error=f"{type(exc).__name__}: {exc}")

        try:
            sink.send(record.key, record.value, on_ack, on_error)
        except Exception as exc:  # a send that raises (buffer full, metadata timeout) is a failed delivery
            on_error(exc)
        n += 1
        progress.update(1)
        if now - last_postfix >= 0.5:
            last_postfix = now
            progress.set_postfix_str(f"acked={tracker.acked} failed={tracker.failed_count}")
    interrupted = stop.is_set()
    flushed = sink.flush(flush_timeout_s)
    # Callbacks run on the client's I/O thread right after the batch completes: give the last ones a moment.
    settle_until = monotonic() + 1.0
    while flushed and tracker.acked + tracker.failed_count < n and monotonic() < settle_until:
        sleep(0.01)
    sink.close(5.0)
    progress.set_postfix_str(f"acked={tracker.acked} failed={tracker.failed_count}")
    progress.close()
    return RunResult(tracker.summary(monotonic() - start), kinds, interrupted, flushed)
