"""Records that break the event schema on purpose, one builder per kind of bad input.

The kinds are the streaming job's quarantine reason codes, so a test can inject a known number of
each and find exactly those in `<table>_rejected`. Each builder starts from a valid event, so
everything but the one defect looks real (same key, plausible values).
"""

from __future__ import annotations

import json
import random

from contract.events import MALFORMED_JSON, MISSING_FIELD, OUT_OF_RANGE, OVERSIZE, REASON_CODES, WRONG_TYPE
from producer.events import NUMERIC_COLUMNS

KINDS: tuple[str, ...] = REASON_CODES

OVERSIZE_LENGTH = 4096
"""Length of an oversized string value: far beyond the job's limits (64 characters for ids)."""

_REQUIRED = ("event_id", "shipment_id", "event_time", "timestamp", "delay_probability", "vehicle_gps_latitude")
_OUT_OF_RANGE: tuple[tuple[str, object], ...] = (
    ("vehicle_gps_latitude", 123.456),
    ("delay_probability", 1.75),
    ("traffic_congestion_level", -3.0),
    ("weather_condition_severity", 7.5),
    ("risk_classification", "Extreme Risk"),
    ("event_time", "1970-01-01T00:00:00.000Z"),
)


def parse_kinds(text: str) -> tuple[str, ...]:
    """'wrong_type,oversize' -> ('wrong_type', 'oversize'); 'all' -> every kind."""
    if text.strip() == "all":
        return KINDS
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(f"unknown malformed kind(s) {unknown or [text]}: allowed are 'all' or {', '.join(KINDS)}")
    return kinds


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def build(kind: str, event: dict[str, object], rng: random.Random) -> tuple[bytes, bytes, str]:
    """(key, value, what is wrong) for one bad record of `kind`, made from the valid `event`."""
    key = str(event["shipment_id"]).encode()
    bad = dict(event)
    if kind == MALFORMED_JSON:
        variant = rng.randrange(3)
        if variant == 0:
            whole = _dumps(event)
            return key, whole[: len(whole) // 2], "truncated JSON"
        if variant == 1:
            return key, b"shipment " + key + b" status ??? <not json>", "not JSON at all"
        return key, _dumps([event["event_id"], event["shipment_id"]]), "a JSON array, not an object"
    if kind == MISSING_FIELD:
        field = rng.choice(_REQUIRED)
        del bad[field]
        note = f"{field} left out"
    elif kind == WRONG_TYPE:
        variant = rng.randrange(3)
        if variant == 0:
            field = rng.choice(NUMERIC_COLUMNS)
            bad[field], note = "n/a", f"{field} is a string"
        elif variant == 1:
            bad["event_time"], note = 1764197401, "event_time is a number"
        else:
            bad["shipment_id"], note = {"id": event["shipment_id"]}, "shipment_id is an object"
    elif kind == OUT_OF_RANGE:
        field, value = rng.choice(_OUT_OF_RANGE)
        bad[field], note = value, f"{field} = {value!r}"
    elif kind == OVERSIZE:
        field = rng.choice(("shipment_id", "event_id"))
        bad[field], note = "X" * OVERSIZE_LENGTH, f"{field} of {OVERSIZE_LENGTH} characters"
    else:
        raise ValueError(f"unknown malformed kind {kind!r}: allowed are {', '.join(KINDS)}")
    return key, _dumps(bad), note
