"""Parsing, typing and validation of the streaming job as pure DataFrame functions (no Kafka, no Delta).

Every case is one Kafka record; all cases go through `classify` in one DataFrame (one Spark job), and
each test looks at its own record's row.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from jobs_testlib import BASE, DROP, KAFKA_TIME, kafka_rows, names_and_types, payload
from pyspark.sql import Row, SparkSession

from jobs import logistics_stream as job

DOUBLE_FIELDS = [f for f in job.FIELDS if f.kind == "double"]


# (case id, Kafka value, expected reason_code, text the reason must contain)
BAD: list[tuple[str, bytes | None, str, str]] = [
    ("truncated-json", payload()[:40], "malformed_json", "not valid JSON"),
    ("not-json", b"shipment late, call dispatch", "malformed_json", "not valid JSON"),
    ("duplicate-key", b'{"event_id": "a", "event_id": "b"}', "malformed_json", "not valid JSON"),
    ("json-array", b"[1, 2, 3]", "malformed_json", "a JSON array, not an object"),
    ("json-string", b'"hello"', "malformed_json", "a JSON string, not an object"),
    ("trailing-text", payload() + b" and more", "malformed_json", "text after the JSON object"),
    ("empty", b"", "malformed_json", "empty payload"),
    ("null-value", None, "malformed_json", "empty payload"),
    ("not-utf8", b'{"event_id": "\xff\xfe"}', "malformed_json", "not valid UTF-8"),
    *[
        (f"missing-{f.name}", payload(**{f.name: DROP}), "missing_field", f"missing required field {f.name}")
        for f in job.FIELDS
    ],
    ("null-field", payload(delay_probability=None), "missing_field", "missing required field delay_probability"),
    ("empty-event-id", payload(event_id=""), "missing_field", "missing required field event_id"),
    (
        "word-for-number",
        payload(fuel_consumption_rate="n/a"),
        "wrong_type",
        "fuel_consumption_rate has the wrong type: JSON STRING, expected a number",
    ),
    ("quoted-number", payload(delay_probability="0.25"), "wrong_type", "delay_probability has the wrong type"),
    (
        "bool-for-number",
        payload(iot_temperature=True),
        "wrong_type",
        "iot_temperature has the wrong type: JSON BOOLEAN",
    ),
    ("number-for-string", payload(shipment_id=12345), "wrong_type", "shipment_id has the wrong type: JSON BIGINT"),
    (
        "object-for-string",
        payload(shipment_id={"id": "x"}),
        "wrong_type",
        "shipment_id has the wrong type: JSON OBJECT",
    ),
    ("number-for-time", payload(event_time=1764197401), "wrong_type", "event_time has the wrong type"),
    ("word-for-time", payload(event_time="yesterday"), "wrong_type", "expected an ISO-8601 timestamp string"),
    *[(f"above-{f.name}", payload(**{f.name: f.high + 1}), "out_of_range", f"{f.name} = ") for f in DOUBLE_FIELDS],
    *[(f"below-{f.name}", payload(**{f.name: f.low - 1}), "out_of_range", f"{f.name} = ") for f in DOUBLE_FIELDS],
    (
        "huge-number",
        payload(lead_time_days=7).replace(b": 7,", b": 1e400,"),
        "out_of_range",
        "lead_time_days = Infinity",
    ),
    (
        "unknown-risk-class",
        payload(risk_classification="Extreme Risk"),
        "out_of_range",
        "risk_classification = 'Extreme Risk' is not one of 'Low Risk', 'Moderate Risk', 'High Risk'",
    ),
    ("epoch-event-time", payload(event_time="1970-01-01T00:00:00Z"), "out_of_range", "event_time = 1970-01-01"),
    ("far-future-timestamp", payload(timestamp="2150-01-01 00:00:00"), "out_of_range", "timestamp = 2150-01-01"),
    ("long-event-id", payload(event_id="e" * 65), "oversize", "event_id is 65 characters, over the limit of 64"),
    ("long-shipment-id", payload(shipment_id="S" * 4096), "oversize", "shipment_id is 4096 characters"),
    ("long-risk-class", payload(risk_classification="R" * 33), "oversize", "risk_classification is 33 characters"),
    ("huge-payload", payload(note="x" * (job.MAX_PAYLOAD_BYTES + 1)), "oversize", "over the 65536-byte limit"),
]
GOOD: list[tuple[str, bytes]] = [
    ("base", payload()),
    ("bounds-low", payload(**{f.name: f.low for f in DOUBLE_FIELDS})),
    ("bounds-high", payload(**{f.name: f.high for f in DOUBLE_FIELDS})),
    ("offset-time", payload(event_time="2026-03-01T13:59:58.250+02:00")),
    ("extra-field", payload(note="extra fields are ignored")),
    ("risk-high", payload(risk_classification="High Risk", delay_probability=0.9)),
]
CASES = [(name, value) for name, value, _, _ in BAD] + GOOD


@pytest.fixture(scope="module")
def classified(spark: SparkSession) -> dict[str, Row]:
    frame = kafka_rows(spark, [(b"SHP-00000000A001", value) for _, value in CASES], partition=3, first_offset=100)
    rows = job.classify(frame).collect()
    by_offset = {r["kafka_offset"]: r for r in rows}
    assert len(rows) == len(CASES)
    return {name: by_offset[100 + i] for i, (name, _) in enumerate(CASES)}


@pytest.mark.parametrize(("case", "code", "text"), [(n, c, t) for n, _, c, t in BAD], ids=[b[0] for b in BAD])
def test_classify_bad_input_gets_reason(classified: dict[str, Row], case: str, code: str, text: str) -> None:
    problems = classified[case]["problems"]
    assert problems, f"{case} was accepted as valid"
    assert problems[0]["code"] == code
    assert text in problems[0]["message"], problems


@pytest.mark.parametrize("case", [g[0] for g in GOOD])
def test_classify_good_input_has_no_problems(classified: dict[str, Row], case: str) -> None:
    assert classified[case]["problems"] == []


def test_classify_several_defects_are_all_listed(spark: SparkSession) -> None:
    frame = kafka_rows(spark, [(b"k", payload(event_id=DROP, delay_probability=3.0, iot_temperature="warm"))])

    problems = job.classify(frame).first()["problems"]

    assert [p["code"] for p in problems] == ["missing_field", "wrong_type", "out_of_range"]


def test_valid_events_have_proper_types_and_kafka_columns(spark: SparkSession) -> None:
    frame = kafka_rows(
        spark, [(b"SHP-00000000A001", payload(event_time="2026-03-01T23:30:00.5+00:00"))], partition=2, first_offset=41
    )

    events = job.valid_events(job.classify(frame))
    row = events.first()

    assert names_and_types(events.schema) == names_and_types(job.EVENTS_SCHEMA)
    assert row["event_time"] == datetime(2026, 3, 1, 23, 30, 0, 500000)
    assert row["timestamp"] == datetime(2026, 3, 1, 11, 59, 57)
    assert row["event_date"] == date(2026, 3, 1)
    assert row["lead_time_days"] == 5.0 and isinstance(row["lead_time_days"], float)
    assert row["vehicle_gps_longitude"] == -87.25
    assert row["risk_classification"] == "Low Risk"
    assert (row["kafka_key"], row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]) == (
        "SHP-00000000A001",
        "logistics-events",
        2,
        41,
    )
    assert row["kafka_timestamp"] == KAFKA_TIME
    assert row["ingestion_time"] is not None


def test_event_date_is_the_utc_date_of_event_time(spark: SparkSession) -> None:
    # 01:30 at +02:00 is still the previous day in UTC.
    frame = kafka_rows(spark, [(b"k", payload(event_time="2026-03-02T01:30:00+02:00"))])

    row = job.valid_events(job.classify(frame)).first()

    assert row["event_time"] == datetime(2026, 3, 1, 23, 30)
    assert row["event_date"] == date(2026, 3, 1)


def test_rejected_records_keep_raw_payload_coordinates_and_reason(spark: SparkSession) -> None:
    raw = b'{"event_id": "x", broken'
    frame = kafka_rows(spark, [(b"SHP-7", raw)], partition=5, first_offset=9000)

    rejected = job.rejected_records(job.classify(frame))
    row = rejected.first()

    assert names_and_types(rejected.schema) == names_and_types(job.REJECTED_SCHEMA)
    assert bytes(row["raw_value"]) == raw
    assert row["raw_text"] == raw.decode()
    assert (row["kafka_key"], row["kafka_partition"], row["kafka_offset"]) == ("SHP-7", 5, 9000)
    assert row["kafka_timestamp"] == KAFKA_TIME
    assert row["reason_code"] == "malformed_json"
    assert row["reason"] == "not valid JSON (syntax error or duplicate key)"
    assert row["ingestion_date"] is not None


def test_rejected_event_id_is_kept_when_readable(spark: SparkSession) -> None:
    frame = kafka_rows(spark, [(b"k", payload(delay_probability=2.0))])

    row = job.rejected_records(job.classify(frame)).first()

    assert row["event_id"] == BASE["event_id"]
    assert row["reason"] == "delay_probability = 2.0 is out of range [0.0, 1.0]"


def test_valid_plus_rejected_is_every_record_once(spark: SparkSession) -> None:
    records = [(b"k", value) for _, value in CASES]
    classified = job.classify(kafka_rows(spark, records)).cache()

    valid = {r["kafka_offset"] for r in job.valid_events(classified).select("kafka_offset").collect()}
    rejected = {r["kafka_offset"] for r in job.rejected_records(classified).select("kafka_offset").collect()}

    assert valid.isdisjoint(rejected)
    assert valid | rejected == set(range(len(records)))
    assert len(valid) == len(GOOD) and len(rejected) == len(BAD)


def test_first_per_event_id_keeps_the_earliest_copy(spark: SparkSession) -> None:
    copy = payload()
    frame = kafka_rows(spark, [(b"k", payload(event_id="other")), (b"k", copy), (b"k", copy)], first_offset=10)

    kept = job.first_per_event_id(job.valid_events(job.classify(frame))).collect()

    assert sorted((r["event_id"], r["kafka_offset"]) for r in kept) == [(BASE["event_id"], 11), ("other", 10)]
