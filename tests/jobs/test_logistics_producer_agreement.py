"""The producer and the job agree: generated events are valid, injected ones land under their own kind."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from jobs_testlib import kafka_rows
from pyspark.sql import SparkSession

from contract.events import FIELDS
from jobs.logistics import rules
from producer import malformed
from producer.events import EventGenerator, SimulatedClock, encode


def test_injected_oversize_strings_exceed_every_fields_limit() -> None:
    assert malformed.OVERSIZE_LENGTH > max(f.max_length or 0 for f in FIELDS)


def test_generated_events_are_all_valid_and_injected_ones_rejected_by_kind(spark: SparkSession) -> None:
    gen = EventGenerator(seed=11, clock=SimulatedClock(datetime(2026, 3, 1, tzinfo=UTC), timedelta(seconds=1)))
    rng = random.Random(5)
    good, bad = [], []
    for i in range(600):
        event = gen.next_event()
        good.append(encode(event))
        kind = malformed.KINDS[i % len(malformed.KINDS)]
        key, value, _ = malformed.build(kind, event, rng)
        bad.append(((key, value), kind))
    frame = kafka_rows(spark, good + [record for record, _ in bad])

    classified = rules.classify(frame).select("kafka_offset", "problems").collect()
    screened = {r["kafka_offset"]: r["_ok"] for r in rules.screen(frame).select("kafka_offset", "_ok").collect()}

    codes = {r["kafka_offset"]: [p["code"] for p in r["problems"]] for r in classified}
    assert all(codes[i] == [] and screened[i] for i in range(len(good)))
    assert all(codes[len(good) + i] == [kind] for i, (_, kind) in enumerate(bad))
    assert not any(screened[len(good) + i] for i in range(len(bad)))
