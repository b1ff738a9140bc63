"""The event: its fields with their limits, the risk classes, and the quarantine's reason codes.

The job validates against these (jobs/logistics/schema.py derives its Spark schemas from FIELDS), the
producer generates within them. Dashboards read these columns: keep them. Adding a column means a schema
migration of existing tables (ensure_table refuses a table whose schema differs).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    """'string', 'double' or 'timestamp' (a JSON string in ISO-8601 or 'yyyy-MM-dd HH:mm:ss', read as UTC)."""
    low: float | None = None
    high: float | None = None
    """Physical or sane limits, wider than what the producer generates: a value outside them is an error."""
    produced: tuple[float, float] | None = None  # the range the producer generates (the dataset's)
    max_length: int | None = None
    allowed: tuple[str, ...] = ()


RISK_BANDS: tuple[tuple[float, str], ...] = ((0.7, "High Risk"), (0.4, "Moderate Risk"), (0.0, "Low Risk"))
"""(lower bound of delay_probability, risk class), highest first."""
RISK_CLASSES = tuple(name for _, name in reversed(RISK_BANDS))
FIELDS: tuple[Field, ...] = (
    Field("event_id", "string", max_length=64),
    Field("shipment_id", "string", max_length=64),
    Field("event_time", "timestamp"),
    Field("timestamp", "timestamp"),
    Field("vehicle_gps_latitude", "double", -90.0, 90.0, (24.0, 50.0)),
    Field("vehicle_gps_longitude", "double", -180.0, 180.0, (-125.0, -66.0)),
    Field("fuel_consumption_rate", "double", 0.0, 100.0, (5.0, 20.0)),
    Field("eta_variation_hours", "double", -72.0, 240.0, (-2.0, 5.0)),
    Field("traffic_congestion_level", "double", 0.0, 10.0, (0.0, 10.0)),
    Field("weather_condition_severity", "double", 0.0, 1.0, (0.0, 1.0)),
    Field("lead_time_days", "double", 0.0, 365.0, (1.0, 15.0)),
    Field("iot_temperature", "double", -60.0, 80.0, (-10.0, 40.0)),
    Field("cargo_condition_status", "double", 0.0, 1.0, (0.0, 1.0)),
    Field("route_risk_level", "double", 0.0, 10.0, (0.0, 10.0)),
    Field("customs_clearance_time", "double", 0.0, 720.0, (0.5, 5.0)),
    Field("driver_behavior_score", "double", 0.0, 1.0, (0.0, 1.0)),
    Field("fatigue_monitoring_score", "double", 0.0, 1.0, (0.0, 1.0)),
    Field("delay_probability", "double", 0.0, 1.0, (0.0, 1.0)),
    Field("risk_classification", "string", max_length=32, allowed=RISK_CLASSES),
    Field("delivery_time_deviation", "double", -240.0, 240.0, (-2.0, 10.0)),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)
DOUBLE_FIELDS = tuple(f for f in FIELDS if f.kind == "double")
TEXT_FIELDS = tuple(f for f in FIELDS if f.kind != "double")
"""Fields whose JSON value must be a string (ids, risk class, the two timestamps)."""

TIMESTAMP_RANGE = ("2000-01-01 00:00:00", "2100-01-01 00:00:00")
"""Accepted [from, to) of event_time and timestamp (UTC): outside it a clock or a unit is wrong. A fixed
range, not one relative to the clock: a batch replayed later must classify every record the same way."""
TIMESTAMP_SHAPE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
"""ISO-8601 date and time, optional seconds and fraction, optional zone (none = UTC): what the producer
and the dataset write. A date alone, an epoch in a string, a week date... are not timestamps here."""
MAX_PAYLOAD_BYTES = 64 * 1024
"""Payloads above this are quarantined unparsed (an event is under 1 KiB)."""
MAX_KEY_BYTES = 1024
"""A Kafka key longer than this is quarantined (the producer's keys are shipment ids)."""
REASON_CODES = ("malformed_json", "missing_field", "wrong_type", "out_of_range", "oversize")
"""The quarantine's `code` column: why a record is not an event."""
MALFORMED_JSON, MISSING_FIELD, WRONG_TYPE, OUT_OF_RANGE, OVERSIZE = REASON_CODES
