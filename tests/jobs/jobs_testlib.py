"""Helpers of the job tests: DataFrames shaped like what Spark's Kafka source yields."""

from __future__ import annotations

import json
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

KAFKA_TIME = datetime.fromisoformat("2026-03-01 12:00:00")
KAFKA_SOURCE_SCHEMA = T.StructType(
    [
        T.StructField("key", T.BinaryType()),
        T.StructField("value", T.BinaryType()),
        T.StructField("topic", T.StringType()),
        T.StructField("partition", T.IntegerType()),
        T.StructField("offset", T.LongType()),
        T.StructField("timestamp", T.TimestampType()),
        T.StructField("timestampType", T.IntegerType()),
    ]
)


def kafka_rows(
    spark: SparkSession,
    records: list[tuple[bytes | None, bytes | None]],
    partition: int = 0,
    first_offset: int = 0,
    kafka_time: datetime = KAFKA_TIME,
) -> DataFrame:
    """A DataFrame shaped like Spark's Kafka source: one row per (key, value) at consecutive offsets."""
    rows = [
        (key, value, "logistics-events", partition, first_offset + i, kafka_time, 0)
        for i, (key, value) in enumerate(records)
    ]
    return spark.createDataFrame(rows, KAFKA_SOURCE_SCHEMA)


def names_and_types(schema: T.StructType) -> list[tuple[str, str]]:
    """Column names and types in order (nullability aside: literals are non-nullable, table columns are not)."""
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


BASE: dict[str, object] = {
    "event_id": "0b6f3c52-8a8e-4c1e-9a43-5c0f2e7d9b11",
    "shipment_id": "SHP-00000000A001",
    "event_time": "2026-03-01T11:59:58.250Z",
    "timestamp": "2026-03-01 11:59:57",
    "vehicle_gps_latitude": 41.5,
    "vehicle_gps_longitude": -87.25,
    "fuel_consumption_rate": 9.5,
    "eta_variation_hours": 0.75,
    "traffic_congestion_level": 4.2,
    "weather_condition_severity": 0.3,
    "lead_time_days": 5,
    "iot_temperature": 4.1,
    "cargo_condition_status": 0.95,
    "route_risk_level": 3.3,
    "customs_clearance_time": 1.5,
    "driver_behavior_score": 0.8,
    "fatigue_monitoring_score": 0.2,
    "delay_probability": 0.25,
    "risk_classification": "Low Risk",
    "delivery_time_deviation": 0.4,
}


def payload(**changes: object) -> bytes:
    event = dict(BASE)
    for name, value in changes.items():
        if value is DROP:
            del event[name]
        else:
            event[name] = value
    return json.dumps(event).encode()


DROP = object()
