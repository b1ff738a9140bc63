"""The Spark schemas of both tables, derived from the event's fields (contract/events.py), and their layout."""

from __future__ import annotations

from pyspark.sql import types as T

from contract.events import FIELDS

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
    # A log checkpoint every 100 commits: the commit that writes one takes ~25x a normal one, so at 20 it was
    # the p95 of freshness. The stream's maintenance checkpoints too. Existing tables keep their own interval.
    "delta.checkpointInterval": "100",
}
