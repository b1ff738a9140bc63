"""The event schema, defined once: validation rules, Spark types of both tables, reason codes.

Dashboards read these columns: keep them. Adding a column means a schema migration of existing tables
(ensure_table refuses a table whose schema differs).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    """'string', 'double' or 'timestamp' (a JSON string in ISO-8601 or 'yyyy-MM-dd HH:mm:ss', read as UTC)."""
    low: float | None = None
    high: float | None = None
    max_length: int | None = None
    allowed: tuple[str, ...] = ()


RISK_CLASSES = ("Low Risk", "Moderate Risk", "High Risk")
# Limits are physical/sane bounds, wider than what the producer generates: a value outside them is an error.
FIELDS: tuple[Field, ...] = (
    Field("event_id", "string", max_length=64),
    Field("shipment_id", "string", max_length=64),
    Field("event_time", "timestamp"),
    Field("timestamp", "timestamp"),
    Field("vehicle_gps_latitude", "double", -90.0, 90.0),
    Field("vehicle_gps_longitude", "double", -180.0, 180.0),
    Field("fuel_consumption_rate", "double", 0.0, 100.0),
    Field("eta_variation_hours", "double", -72.0, 240.0),
    Field("traffic_congestion_level", "double", 0.0, 10.0),
    Field("weather_condition_severity", "double", 0.0, 1.0),
    Field("lead_time_days", "double", 0.0, 365.0),
    Field("iot_temperature", "double", -60.0, 80.0),
    Field("cargo_condition_status", "double", 0.0, 1.0),
    Field("route_risk_level", "double", 0.0, 10.0),
    Field("customs_clearance_time", "double", 0.0, 720.0),
    Field("driver_behavior_score", "double", 0.0, 1.0),
    Field("fatigue_monitoring_score", "double", 0.0, 1.0),
    Field("delay_probability", "double", 0.0, 1.0),
    Field("risk_classification", "string", max_length=32, allowed=RISK_CLASSES),
    Field("delivery_time_deviation", "double", -240.0, 240.0),
)
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

_SPARK_TYPES = {"string": T.StringType(), "double": T.DoubleType(), "timestamp": T.TimestampType()}
KAFKA_COLUMNS = T.StructType(
    [
        T.StructField("kafka_key", T.StringType()),
        T.StructField("kafka_topic", T.StringType()),
        T.StructField("kafka_partition", T.IntegerType()),
        T.StructField("kafka_offset", T.LongType()),
        T.StructField("kafka_timestamp", T.TimestampType()),
    ]
)
KAFKA_NAMES = tuple(KAFKA_COLUMNS.fieldNames())
EVENTS_SCHEMA = T.StructType(
    [T.StructField(f.name, _SPARK_TYPES[f.kind]) for f in FIELDS]
    + list(KAFKA_COLUMNS.fields)
    + [T.StructField("ingestion_time", T.TimestampType()), T.StructField("event_date", T.DateType())]
)
REJECTED_SCHEMA = T.StructType(
    [
        *KAFKA_COLUMNS.fields,
        T.StructField("raw_value", T.BinaryType()),
        T.StructField("raw_text", T.StringType()),
        T.StructField("reason_code", T.StringType()),
        T.StructField("reason", T.StringType()),
        T.StructField("event_id", T.StringType()),
        T.StructField("ingestion_time", T.TimestampType()),
        T.StructField("ingestion_date", T.DateType()),
    ]
)
PARTITION_COLUMNS = {"events": "event_date", "rejected": "ingestion_date"}
TABLE_PROPERTIES = {
    # Deletion vectors off: every reader (Trino, delta-rs) sees plain files; the job only appends anyway.
    "delta.enableDeletionVectors": "false",
    # A log checkpoint every 100 commits of a table (one per batch at most). Delta writes it inside the commit
    # that reaches the interval, rebuilding the table's whole state: that batch takes several times a normal
    # one (measured: ~25x a commit), so at 20 it was the slowest 5 % of batches, i.e. the p95 of freshness.
    # Readers (Trino, delta-rs) replay at most 99 JSON commits on top of it, and the stream's maintenance round
    # writes a checkpoint too (every streamMaintenanceInterval). New tables get it; an existing table keeps its
    # own (ALTER TABLE ... SET TBLPROPERTIES ('delta.checkpointInterval' = '100') aligns it).
    "delta.checkpointInterval": "100",
}
