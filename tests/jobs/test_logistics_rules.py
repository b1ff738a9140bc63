"""The rules as pure DataFrame functions (no Kafka, no Delta): every hostile input gets its reason code,
the fast screen and the detailed explanation agree on every case, typed values are right.

All cases go through one DataFrame (one Spark job per evaluation); each test looks at its own row.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hostile_inputs import CASES, KINDS
from jobs_testlib import BASE, DROP, KAFKA_TIME, kafka_rows, names_and_types, payload
from pyspark.sql import Row, SparkSession

from contract.events import DOUBLE_FIELDS, FIELDS
from jobs.logistics import rules, schema, tables

RANGE_CASES: list[tuple[str, bytes, str | None]] = [
    *[(f"above-{f.name}", payload(**{f.name: f.high + 1}), "out_of_range") for f in DOUBLE_FIELDS],
    *[(f"below-{f.name}", payload(**{f.name: f.low - 1}), "out_of_range") for f in DOUBLE_FIELDS],
    *[(f"missing-{f.name}", payload(**{f.name: DROP}), "missing_field") for f in FIELDS],
    ("bounds-low", payload(**{f.name: f.low for f in DOUBLE_FIELDS}), None),
    ("bounds-high", payload(**{f.name: f.high for f in DOUBLE_FIELDS}), None),
]
ALL = [(name, key, value, code) for _, name, key, value, code, _ in CASES] + [
    (name, b"k", value, code) for name, value, code in RANGE_CASES
]
OFFSET = 100


@pytest.fixture(scope="module")
def evaluated(spark: SparkSession) -> dict[str, dict[str, Row]]:
    frame = kafka_rows(spark, [(key, value) for _, key, value, _ in ALL], partition=3, first_offset=OFFSET).cache()
    screened = rules.screen(frame).cache()
    explained = {r["kafka_offset"]: r for r in rules.classify(frame).collect()}
    quarantine = {r["kafka_offset"]: r for r in tables.rejected_records(screened).collect()}
    screen_rows = {r["kafka_offset"]: r for r in screened.collect()}
    assert len(screen_rows) == len(explained) == len(ALL)
    return {
        name: {
            "screen": screen_rows[OFFSET + i],
            "explain": explained[OFFSET + i],
            "quarantine": quarantine.get(OFFSET + i),
        }
        for i, (name, *_rest) in enumerate(ALL)
    }


def test_the_catalogue_covers_at_least_twelve_kinds_of_hostile_input() -> None:
    assert len(KINDS) >= 12
    assert len({c[1] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("name", "code", "text"), [(c[1], c[4], c[5]) for c in CASES], ids=[c[1] for c in CASES])
def test_hostile_input_gets_its_rule(
    evaluated: dict[str, dict[str, Row]], name: str, code: str | None, text: str
) -> None:
    row = evaluated[name]
    if code is None:
        assert row["screen"]["_ok"], f"{name} was quarantined: {row['explain']['problems']}"
        assert row["quarantine"] is None
        return
    assert not row["screen"]["_ok"], f"{name} was accepted as an event"
    quarantined = row["quarantine"]
    assert quarantined is not None
    assert quarantined["reason_code"] == code, quarantined["reason"]
    assert text in quarantined["reason"], quarantined["reason"]


@pytest.mark.parametrize("name", [a[0] for a in ALL])
def test_screen_and_explanation_agree(evaluated: dict[str, dict[str, Row]], name: str) -> None:
    row = evaluated[name]
    problems = row["explain"]["problems"]
    assert row["screen"]["_ok"] == (problems == []), (row["screen"]["_why"], problems)
    if not row["screen"]["_ok"]:
        assert row["screen"]["_why"], "a quarantined record carries the check it failed"


@pytest.mark.parametrize(("name", "code"), [(n, c) for n, _, c in RANGE_CASES], ids=[n for n, _, _ in RANGE_CASES])
def test_every_field_is_required_and_bounded(evaluated: dict[str, dict[str, Row]], name: str, code: str | None) -> None:
    quarantined = evaluated[name]["quarantine"]
    assert (quarantined["reason_code"] if quarantined else None) == code


def test_quarantine_keeps_raw_payload_coordinates_and_reason(spark: SparkSession) -> None:
    raw = b'{"event_id": "x", broken'
    frame = kafka_rows(spark, [(b"SHP-7", raw)], partition=5, first_offset=9000)

    rejected = tables.rejected_records(rules.screen(frame))
    row = rejected.first()

    assert names_and_types(rejected.schema) == names_and_types(schema.REJECTED_SCHEMA)
    assert bytes(row["raw_value"]) == raw
    assert row["raw_text"] == raw.decode()
    assert (row["kafka_key"], row["kafka_partition"], row["kafka_offset"]) == ("SHP-7", 5, 9000)
    assert row["kafka_timestamp"] == KAFKA_TIME
    assert row["reason_code"] == "malformed_json"
    assert row["ingestion_date"] is not None


def test_quarantine_lists_every_problem_and_keeps_the_event_id(spark: SparkSession) -> None:
    frame = kafka_rows(spark, [(b"k", payload(shipment_id=DROP, delay_probability=3.0, iot_temperature="warm"))])

    row = tables.rejected_records(rules.screen(frame)).first()

    assert row["reason_code"] == "missing_field"
    assert row["reason"] == (
        "missing required field shipment_id; iot_temperature has the wrong type: JSON STRING, expected a number; "
        "delay_probability = 3.0 is out of range [0.0, 1.0]"
    )
    assert row["event_id"] == BASE["event_id"]


def test_a_huge_payload_is_stored_truncated(spark: SparkSession) -> None:
    huge = payload(note="x" * (3 * tables.MAX_STORED_RAW_BYTES))
    frame = kafka_rows(spark, [(b"k", huge)])

    row = tables.rejected_records(rules.screen(frame)).first()

    assert bytes(row["raw_value"]) == huge[: tables.MAX_STORED_RAW_BYTES]
    assert len(row["raw_text"]) == tables.MAX_STORED_TEXT_CHARS
    assert f"payload of {len(huge)} bytes is over the 65536-byte limit" in row["reason"]


def test_valid_events_have_proper_types_and_kafka_columns(spark: SparkSession) -> None:
    frame = kafka_rows(
        spark, [(b"SHP-00000000A001", payload(event_time="2026-03-01T23:30:00.5+00:00"))], partition=2, first_offset=41
    )

    events = tables.valid_events(rules.screen(frame))
    row = events.first()

    assert names_and_types(events.schema) == names_and_types(schema.EVENTS_SCHEMA)
    assert row["event_time"] == datetime(2026, 3, 1, 23, 30, 0, 500000)
    assert row["timestamp"] == datetime(2026, 3, 1, 11, 59, 57)
    assert row["event_date"] == date(2026, 3, 1)
    assert row["lead_time_days"] == 5.0 and isinstance(row["lead_time_days"], float)
    assert row["vehicle_gps_longitude"] == -87.25
    assert (row["event_id"], row["shipment_id"], row["risk_classification"]) == (
        BASE["event_id"], BASE["shipment_id"], "Low Risk")  # fmt: skip
    assert (row["kafka_key"], row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]) == (
        "SHP-00000000A001", "logistics-events", 2, 41)  # fmt: skip
    assert row["kafka_timestamp"] == KAFKA_TIME
    assert row["ingestion_time"] is not None


def test_event_date_is_the_utc_date_of_event_time(spark: SparkSession) -> None:
    # 01:30 at +02:00 is still the previous day in UTC.
    frame = kafka_rows(spark, [(b"k", payload(event_time="2026-03-02T01:30:00+02:00"))])

    row = tables.valid_events(rules.screen(frame)).first()

    assert row["event_time"] == datetime(2026, 3, 1, 23, 30)
    assert row["event_date"] == date(2026, 3, 1)


def test_a_bom_and_a_bad_key_do_not_change_the_event(spark: SparkSession) -> None:
    frame = kafka_rows(spark, [(b"\xff" + b"SHP", b"\xef\xbb\xbf" + payload(event_id="bom"))])

    row = tables.valid_events(rules.screen(frame)).first()

    assert row["event_id"] == "bom"
    assert row["kafka_key"] == "\ufffdSHP"


def test_only_quarantined_records_carry_their_payload(spark: SparkSession) -> None:
    frame = kafka_rows(spark, [(b"k", payload()), (b"k", b"{oops")])

    rows = rules.screen(frame).orderBy("kafka_offset").collect()

    assert (rows[0]["_ok"], rows[0]["raw_value"]) == (True, None)
    assert (rows[1]["_ok"], bytes(rows[1]["raw_value"])) == (False, b"{oops")


def test_the_screen_parses_each_payload_once(spark: SparkSession) -> None:
    frame = kafka_rows(spark, [(b"k", payload())])

    plan = rules.screen(frame)._jdf.queryExecution().optimizedPlan().toString()

    assert plan.count("from_json(") == 1, "Spark split the parse (enableJsonExpressionOptimization must be off)"
