"""The send loop and its delivery accounting, against a fake of the producer's own Sink."""

from __future__ import annotations

import io
import itertools
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from producer_fakes import FakeSink

from producer import malformed
from producer.delivery import DeliveryTracker
from producer.events import EventGenerator, SimulatedClock
from producer.runner import DUPLICATE, VALID, Manifest, Record, injection_schedule, records, run

START = datetime(2026, 3, 1, tzinfo=UTC)


def events(seed: int = 3):
    gen = EventGenerator(seed=seed, clock=SimulatedClock(START, timedelta(milliseconds=10)))
    while True:
        yield gen.next_event()


def take(n: int, source) -> list[Record]:
    out = []
    for record in source:
        out.append(record)
        if len(out) == n:
            break
    return out


# ----- what is sent -----
def test_schedule_places_every_injected_record_once_never_first() -> None:
    schedule = injection_schedule(1000, 30, 20, seed=5)

    assert len(schedule) == 50
    assert 0 not in schedule
    assert sorted(schedule.values()).count("malformed") == 30
    assert list(schedule.values()).count(DUPLICATE) == 20
    assert schedule == injection_schedule(1000, 30, 20, seed=5)


def test_schedule_refuses_more_injected_records_than_fit() -> None:
    with pytest.raises(ValueError, match="do not fit in --count 10"):
        injection_schedule(10, 5, 5, seed=1)


def test_records_inject_malformed_kinds_in_turn_and_duplicates() -> None:
    schedule = injection_schedule(2000, 50, 40, seed=9)

    sent = take(2000, records(events(), schedule, malformed.KINDS, seed=9))

    kinds = [r.kind for r in sent]
    assert kinds.count(VALID) == 1910 and kinds.count(DUPLICATE) == 40
    assert all(kinds.count(k) == 10 for k in malformed.KINDS)
    valid_values = {r.value for r in sent if r.kind == VALID}
    assert all(r.value in valid_values for r in sent if r.kind == DUPLICATE)
    assert all(r.value not in valid_values for r in sent if r.kind in malformed.KINDS)


def test_injection_does_not_change_the_valid_events_of_a_seed() -> None:
    plain = take(500, records(events()))
    injected = take(600, records(events(), injection_schedule(600, 60, 40, seed=1), seed=1))

    assert [r.value for r in injected if r.kind == VALID] == [r.value for r in plain]


def test_malformed_records_keep_the_shipment_key_and_a_fresh_event_id() -> None:
    sent = take(300, records(events(), injection_schedule(300, 25, 0, seed=2), seed=2))

    valid_ids = {r.event_id for r in sent if r.kind == VALID}
    bad = [r for r in sent if r.kind in malformed.KINDS]
    assert bad and all(r.key and r.key.startswith(b"SHP-") for r in bad)
    assert all(r.event_id not in valid_ids for r in bad)


# ----- delivery accounting -----
def test_run_counts_every_acknowledgement() -> None:
    sink = FakeSink(threaded=True)

    result = run(sink, records(events()), count=500)

    s = result.summary
    assert (s.sent, s.acked, s.failed, s.unacknowledged) == (500, 500, 0, 0)
    assert s.ok and sink.closed and len(sink.sent) == 500


def test_run_counts_failed_deliveries_and_names_the_error() -> None:
    sink = FakeSink(behaviour=lambda n: "fail" if n % 10 == 0 else "ack", threaded=True)

    s = run(sink, records(events()), count=100).summary

    assert (s.sent, s.acked, s.failed) == (100, 90, 10)
    assert not s.ok
    assert s.errors == {"TimeoutError": 10}
    assert s.first_errors[0] == "TimeoutError: record 0: not enough in-sync replicas"
    assert len(s.first_errors) == DeliveryTracker.MAX_KEPT_ERRORS


def test_run_counts_a_send_that_raises_as_failed() -> None:
    sink = FakeSink(behaviour=lambda n: "raise" if n in (3, 4) else "ack")

    s = run(sink, records(events()), count=20).summary

    assert (s.sent, s.acked, s.failed) == (20, 18, 2)
    assert s.errors == {"BufferError": 2}


def test_run_counts_records_never_answered_as_unacknowledged() -> None:
    sink = FakeSink(behaviour=lambda n: "hang" if n >= 45 else "ack")

    result = run(sink, records(events()), count=50, flush_timeout_s=0.5)

    s = result.summary
    assert not result.flushed
    assert sink.flush_timeouts == [0.5]
    assert (s.sent, s.acked, s.failed, s.unacknowledged) == (50, 45, 0, 5)
    assert not s.ok


def test_run_stops_after_duration() -> None:
    clock = FakeClock()
    sink = FakeSink(on_send=lambda n: clock.advance(0.01))

    s = run(sink, records(events()), duration_s=1.0, monotonic=clock, sleep=clock.advance).summary

    assert s.sent == 100


def test_run_paces_to_the_rate() -> None:
    clock = FakeClock()
    sink = FakeSink()

    s = run(sink, records(events()), count=200, rate=50.0, monotonic=clock, sleep=clock.advance).summary

    # 200 events at 50/s: the last one is due at 199/50 s.
    assert s.sent == 200
    assert clock.now == pytest.approx(199 / 50, abs=0.01)


def test_run_stops_when_asked_and_still_flushes() -> None:
    stop = threading.Event()
    sink = FakeSink(on_send=lambda n: stop.set() if n == 30 else None, threaded=True)

    result = run(sink, records(events()), count=1000, stop=stop)

    assert result.interrupted
    assert result.summary.sent == 31 and result.summary.acked == 31
    assert sink.flush_timeouts and sink.closed


def test_run_rejects_a_negative_rate() -> None:
    with pytest.raises(ValueError, match="events per second"):
        run(FakeSink(), records(events()), count=1, rate=-1)


def test_manifest_records_each_fate() -> None:
    out = io.StringIO()
    sink = FakeSink(behaviour=lambda n: "fail" if n == 1 else "ack")

    run(sink, records(events()), count=3, manifest=Manifest(out))

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["kind"] for line in lines] == [VALID] * 3
    assert (lines[0]["partition"], lines[0]["offset"]) == (0, 0)
    assert lines[1]["error"].startswith("TimeoutError")
    assert (lines[2]["partition"], lines[2]["offset"]) == (2, 0)


def test_tracker_counts_concurrent_callbacks_exactly() -> None:
    tracker = DeliveryTracker()

    def ack_many() -> None:
        for i in range(1000):
            tracker.acknowledged(0, i)

    threads = [threading.Thread(target=ack_many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert tracker.summary(1.0).acked == 8000


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# ----- several processes, speed -----
def test_run_paces_one_process_of_several_against_the_common_schedule() -> None:
    clock = FakeClock()
    sends: list[float] = []
    sink = FakeSink(on_send=lambda n: sends.append(clock.now))

    run(sink, records(events()), count=50, rate=100.0, start=0.0, offset=1, stride=2, monotonic=clock,
        sleep=clock.advance)  # fmt: skip

    # Process 1 of 2 sends positions 1, 3, 5, ...: position p is due at p/100 s, so two processes
    # together send one record every 10 ms.
    assert sends == pytest.approx([(1 + 2 * n) / 100 for n in range(50)], abs=0.0011)


def test_run_reports_progress_to_the_observer_and_at_the_end() -> None:
    clock = FakeClock()
    seen: list[tuple[int, int, int]] = []
    sink = FakeSink(behaviour=lambda n: "fail" if n == 3 else "ack", on_send=lambda n: clock.advance(0.1))

    run(sink, records(events()), count=30, observer=lambda *c: seen.append(c), monotonic=clock, sleep=clock.advance)

    assert len(seen) >= 5  # about every 0.5 s of the 3 s run, plus the end
    assert seen[-1] == (30, 29, 1)
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(seen))


def test_run_waits_while_too_many_records_are_unanswered() -> None:
    released = threading.Event()
    pending: list = []
    sink = FakeSink(behaviour=lambda n: "hang")
    sink.flush = lambda timeout: True  # type: ignore[method-assign]

    def send(key, value, on_ack, on_error) -> None:
        pending.append(on_ack)
        if len(pending) == 10:
            released.set()

    sink.send = send  # type: ignore[method-assign]

    def answer_later() -> None:
        released.wait(10)
        for on_ack in list(pending):
            on_ack(0, 0)

    helper = threading.Thread(target=answer_later)
    helper.start()
    result = run(sink, records(events()), count=12, max_pending=10)
    helper.join()

    # It stopped at 10 in flight, went on once they were answered, and sent the rest.
    assert result.summary.sent == 12 and len(pending) == 12


def test_run_counts_the_bytes_sent() -> None:
    sink = FakeSink()

    s = run(sink, records(events()), count=40).summary

    assert s.value_bytes == sum(len(v) for _, v in sink.sent)


def test_records_take_encoded_events_as_they_are() -> None:
    gen = EventGenerator(seed=3, clock=SimulatedClock(START, timedelta(milliseconds=10)))
    schedule = injection_schedule(300, 20, 10, seed=3)

    sent = take(300, records(gen.encoded_stream(), schedule, seed=3))

    assert [r.kind for r in sent].count(VALID) == 270
    valid = [r for r in sent if r.kind == VALID]
    assert all(json.loads(r.value)["event_id"] == r.event_id for r in valid)
    assert all(r.key == json.loads(r.value)["shipment_id"].encode() for r in valid)


def test_records_refuse_an_offset_outside_the_stride() -> None:
    with pytest.raises(ValueError, match="0 <= offset < stride"):
        next(records(events(), offset=2, stride=2))
