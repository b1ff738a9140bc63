"""Every kind of hostile input the job must survive, with the rule it falls under (the README's table).

Shared by the unit tests (local SparkSession) and the integration test that sends them through the test
bed's Kafka. Each case: (name, Kafka key, Kafka value, expected reason code or None for accepted, text the
reason must contain).
"""

from __future__ import annotations

import json

from contract.events import MAX_KEY_BYTES, MAX_PAYLOAD_BYTES
from tests.jobs.jobs_testlib import BASE, DROP, payload

KEY = b"SHP-00000000A001"


def _nested(depth: int) -> bytes:
    event = json.dumps(BASE)[:-1]
    return (event + ', "extra": ' + "[" * depth + "]" * depth + "}").encode()


def _with(text: str) -> bytes:
    """The base event with `text` spliced in as raw JSON members (for what json.dumps cannot write)."""
    return (json.dumps(BASE)[:-1] + ", " + text + "}").encode()


TEN_MB = 10 * 1024 * 1024

# (kind of input (the list), case name, key, value, code or None, text in the reason)
CASES: list[tuple[str, str, bytes | None, bytes | None, str | None, str]] = [
    ("not JSON", "plain-text", KEY, b"shipment late, call dispatch", "malformed_json", "not valid JSON"),
    ("not JSON", "truncated", KEY, payload()[:40], "malformed_json", "not valid JSON"),
    ("not JSON", "single-quotes", KEY, b"{'event_id': 'x'}", "malformed_json", "not valid JSON"),
    ("not JSON", "two-objects", KEY, payload() + payload(), "malformed_json", "text after the JSON object"),
    ("not JSON", "trailing-text", KEY, payload() + b" and more", "malformed_json", "text after the JSON object"),
    ("JSON array/string/number/null", "array", KEY, b"[1, 2, 3]", "malformed_json", "a JSON array, not an object"),
    ("JSON array/string/number/null", "string", KEY, b'"hello"', "malformed_json", "a JSON string, not an object"),
    ("JSON array/string/number/null", "number", KEY, b"42", "malformed_json", "a JSON number, not an object"),
    ("JSON array/string/number/null", "null", KEY, b"null", "malformed_json", "a JSON null, not an object"),
    ("empty payload", "empty", KEY, b"", "malformed_json", "empty payload"),
    ("empty payload", "tombstone", KEY, None, "malformed_json", "empty payload"),
    ("invalid UTF-8", "bad-bytes", KEY, b'{"event_id": "\xff\xfe"}', "malformed_json", "not valid UTF-8"),
    (
        "invalid UTF-8",
        "bad-bytes-in-event",
        KEY,
        payload(shipment_id="S").replace(b'"S"', b'"\xc3\x28"'),
        "malformed_json",
        "not valid UTF-8",
    ),
    ("UTF-8 BOM", "bom", KEY, b"\xef\xbb\xbf" + payload(), None, ""),
    (
        "10 MB payload",
        "ten-mb",
        KEY,
        payload(note="x" * TEN_MB),
        "oversize",
        f"over the {MAX_PAYLOAD_BYTES}-byte limit",
    ),
    ("10 MB payload", "just-over-limit", KEY, payload(note="x" * MAX_PAYLOAD_BYTES), "oversize", "-byte limit"),
    (
        "missing required key",
        "missing-event-id",
        KEY,
        payload(event_id=DROP),
        "missing_field",
        "missing required field event_id",
    ),
    (
        "missing required key",
        "missing-delay",
        KEY,
        payload(delay_probability=DROP),
        "missing_field",
        "missing required field delay_probability",
    ),
    (
        "null values",
        "null-number",
        KEY,
        payload(delay_probability=None),
        "missing_field",
        "missing required field delay_probability",
    ),
    ("null values", "null-id", KEY, payload(shipment_id=None), "missing_field", "missing required field shipment_id"),
    ("null values", "empty-id", KEY, payload(event_id=""), "missing_field", "missing required field event_id"),
    (
        "wrong types",
        "quoted-number",
        KEY,
        payload(delay_probability="0.25"),
        "wrong_type",
        "delay_probability has the wrong type: JSON STRING, expected a number",
    ),
    (
        "wrong types",
        "object-for-number",
        KEY,
        payload(iot_temperature={"c": 4}),
        "wrong_type",
        "iot_temperature has the wrong type: JSON OBJECT",
    ),
    ("wrong types", "bool-for-number", KEY, payload(iot_temperature=True), "wrong_type", "JSON BOOLEAN"),
    (
        "wrong types",
        "number-for-id",
        KEY,
        payload(shipment_id=12345),
        "wrong_type",
        "shipment_id has the wrong type: JSON BIGINT, expected a string",
    ),
    ("wrong types", "object-for-id", KEY, payload(shipment_id={"id": "x"}), "wrong_type", "JSON OBJECT"),
    ("wrong types", "array-for-risk", KEY, payload(risk_classification=["Low Risk"]), "wrong_type", "JSON ARRAY"),
    (
        "NaN/Infinity/1e400",
        "nan-token",
        KEY,
        _with('"x": 1').replace(b'"delay_probability": 0.25', b'"delay_probability": NaN'),
        "malformed_json",
        "not valid JSON",
    ),
    (
        "NaN/Infinity/1e400",
        "infinity-token",
        KEY,
        payload(lead_time_days=7).replace(b": 7,", b": -Infinity,"),
        "malformed_json",
        "not valid JSON",
    ),
    ("NaN/Infinity/1e400", "nan-string", KEY, payload(delay_probability="NaN"), "wrong_type", "JSON STRING"),
    (
        "NaN/Infinity/1e400",
        "1e400",
        KEY,
        payload(lead_time_days=7).replace(b": 7,", b": 1e400,"),
        "out_of_range",
        "lead_time_days = Infinity",
    ),
    (
        "NaN/Infinity/1e400",
        "huge-integer",
        KEY,
        payload(lead_time_days=10**30),
        "out_of_range",
        "lead_time_days = 1.0E30",
    ),
    (
        "duplicate keys",
        "duplicate-event-id",
        KEY,
        _with('"event_id": "other"'),
        "malformed_json",
        "duplicate key 'event_id'",
    ),
    (
        "duplicate keys",
        "duplicate-extra-key",
        KEY,
        _with('"note": 1, "note": 2'),
        "malformed_json",
        "duplicate key 'note'",
    ),
    # Escapes hide a colon from a plain count: the duplicate must still be found.
    (
        "duplicate keys",
        "duplicate-with-escapes",
        KEY,
        payload(event_id="a:b").replace(b'"a:b"', b'"a\\u003ab"')[:-1] + b', "event_id": "a\\u003ab"}',
        "malformed_json",
        "duplicate key 'event_id'",
    ),
    ("duplicate keys", "nested-duplicate-in-extra", KEY, _with('"extra": {"k": 1, "k": 2}'), None, ""),
    ("timestamps", "no-zone", KEY, payload(event_time="2026-03-01 11:59:58"), None, ""),
    ("timestamps", "offset-zone", KEY, payload(event_time="2026-03-01T13:59:58.250+02:00"), None, ""),
    (
        "timestamps",
        "far-future",
        KEY,
        payload(timestamp="2150-01-01 00:00:00"),
        "out_of_range",
        "timestamp = 2150-01-01",
    ),
    (
        "timestamps",
        "far-past",
        KEY,
        payload(event_time="1970-01-01T00:00:00Z"),
        "out_of_range",
        "event_time = 1970-01-01",
    ),
    (
        "timestamps",
        "epoch-number",
        KEY,
        payload(event_time=1764197401),
        "wrong_type",
        "event_time has the wrong type: JSON BIGINT, expected an ISO-8601 timestamp string",
    ),
    ("timestamps", "epoch-string", KEY, payload(event_time="1764197401"), "wrong_type", "is not an ISO-8601 date"),
    ("timestamps", "date-only", KEY, payload(event_time="2026-03-01"), "wrong_type", "is not an ISO-8601 date"),
    ("timestamps", "impossible-date", KEY, payload(event_time="2026-02-30T10:00:00Z"), "wrong_type", "not an ISO-8601"),
    ("timestamps", "word", KEY, payload(event_time="yesterday"), "wrong_type", "is not an ISO-8601 date"),
    (
        "100,000-character strings",
        "long-id-payload",
        KEY,
        payload(event_id="e" * 100_000),
        "oversize",
        "-byte limit",
    ),
    (
        "100,000-character strings",
        "long-id",
        KEY,
        payload(shipment_id="S" * 60_000),
        "oversize",
        "shipment_id is 60000 characters, over the limit of 64",
    ),
    (
        "100,000-character strings",
        "long-risk",
        KEY,
        payload(risk_classification="R" * 33),
        "oversize",
        "risk_classification is 33 characters",
    ),
    ("10,000-level nesting", "deep-10000", KEY, _nested(10_000), "malformed_json", "not valid JSON"),
    ("10,000-level nesting", "deep-50", KEY, _nested(50), None, ""),
    ("null and huge Kafka keys", "null-key", None, payload(), None, ""),
    (
        "null and huge Kafka keys",
        "huge-key",
        b"K" * (MAX_KEY_BYTES + 1),
        payload(),
        "oversize",
        f"Kafka key of {MAX_KEY_BYTES + 1} bytes is over the {MAX_KEY_BYTES}-byte limit",
    ),
    ("null and huge Kafka keys", "non-utf8-key", b"\xff\xfeSHP", payload(), None, ""),
    (
        "out of range",
        "latitude",
        KEY,
        payload(vehicle_gps_latitude=123.4),
        "out_of_range",
        "vehicle_gps_latitude = 123.4 is out of range [-90.0, 90.0]",
    ),
    (
        "out of range",
        "risk-class",
        KEY,
        payload(risk_classification="Extreme Risk"),
        "out_of_range",
        "risk_classification = 'Extreme Risk' is not one of 'Low Risk', 'Moderate Risk', 'High Risk'",
    ),
    ("accepted", "base", KEY, payload(), None, ""),
    ("accepted", "extra-fields", KEY, payload(note="extra fields are ignored", n=3), None, ""),
    ("accepted", "pretty-printed", KEY, json.dumps(BASE, indent=2, separators=(" ,", " : ")).encode(), None, ""),
    ("accepted", "colon-in-id", KEY, payload(event_id="urn:event:1"), None, ""),
    ("accepted", "escaped-quote-in-id", KEY, payload(shipment_id='SHP "7"'), None, ""),
    ("accepted", "integer-number", KEY, payload(lead_time_days=5), None, ""),
]
KINDS = sorted({c[0] for c in CASES} - {"accepted", "out of range"})
