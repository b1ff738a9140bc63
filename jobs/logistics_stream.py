"""Kafka -> Delta streaming job for logistics events, exactly-once, with a quarantine for bad records.

Reads the topic (earliest offsets on the first start, then from its checkpoint; failOnDataLoss stays
true), checks every record against an explicit schema (FIELDS) and writes, per micro-batch:
  - valid events, typed, with their Kafka key/topic/partition/offset/timestamp and the ingestion time,
    into the Delta table (partitioned by event date), by an insert-only MERGE on event_id, so an event
    the producer re-sent within the dedup window is stored once;
  - every other record into the quarantine table (`<table>_rejected`, partitioned by ingestion date)
    with its raw payload, Kafka coordinates, a reason code and a readable reason.
Each record lands in exactly one of the two (or is a recognised duplicate): valid + rejected (+ duplicates)
= consumed. Both writes carry Delta's idempotent-write marks (txnAppId = the query's id, txnVersion =
the batch id): a batch replayed after a restart or a kill mid-batch is skipped where it was committed.
Both tables are created with their schema before the query starts, so Trino can register them at once.

Settings come from flags, then LAKEHOUSE_* environment variables (the names lakehouse/generators/job.py
defines; this file runs alone inside Spark and cannot import it, a test keeps them equal), then defaults
matching the stack. The file imports only pyspark, delta and the standard library, so Orion can ship it
by name. Run: spark-submit jobs/logistics_stream.py [--help].
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming import StreamingQuery

R = TypeVar("R")

log = logging.getLogger("logistics_stream")

# ----- settings: names shared with lakehouse/generators/job.py -----
ENV_BOOTSTRAP = "LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS"
ENV_TOPIC = "LAKEHOUSE_KAFKA_TOPIC"
ENV_TABLE_URI = "LAKEHOUSE_TABLE_URI"
ENV_REJECTED_URI = "LAKEHOUSE_REJECTED_TABLE_URI"
ENV_CHECKPOINT_URI = "LAKEHOUSE_CHECKPOINT_URI"
ENV_TRIGGER = "LAKEHOUSE_TRIGGER_INTERVAL"
ENV_MAX_OFFSETS = "LAKEHOUSE_MAX_OFFSETS_PER_TRIGGER"
ENV_DEDUP_WINDOW = "LAKEHOUSE_DEDUP_WINDOW"

# Defaults of the stack (lakehouse/settings.py); the stack and the test bed pass all of them explicitly.
DEFAULT_BOOTSTRAP = "kafka-1:9092,kafka-2:9092,kafka-3:9092"
DEFAULT_TOPIC = "logistics-events"
DEFAULT_TABLE_URI = "s3a://lake/logistics_events"
DEFAULT_CHECKPOINT_URI = "s3a://checkpoints/logistics_events"
DEFAULT_TRIGGER = "10 seconds"
DEFAULT_MAX_OFFSETS = 20000
DEFAULT_DEDUP_WINDOW = "1 hour"
REJECTED_SUFFIX = "_rejected"

_DURATION = re.compile(r"^([1-9][0-9]*) (milliseconds?|seconds?|minutes?|hours?)$")
_UNIT_SECONDS = {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600}


def duration_seconds(text: str, what: str) -> float:
    """'1 hour' -> 3600.0; raises ValueError naming `what`, the value and the allowed form."""
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(
            f"{what} = {text!r} is not allowed: a duration such as '10 seconds', '500 milliseconds', '1 hour'"
        )
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2).rstrip("s")]


@dataclass(frozen=True)
class JobSettings:
    bootstrap_servers: str
    topic: str
    table_uri: str
    rejected_table_uri: str
    checkpoint_uri: str
    trigger_interval: str
    max_offsets_per_trigger: int
    dedup_window: str
    available_now: bool = False
    """Process what the topic holds now, then stop (catch-up runs, benchmarks)."""

    @property
    def dedup_window_seconds(self) -> float:
        return duration_seconds(self.dedup_window, "dedup window")


def parse_settings(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> JobSettings:
    """Flags win over the environment, the environment over the defaults. Raises SystemExit(2) on bad values."""
    env = os.environ if env is None else env
    p = argparse.ArgumentParser(prog="logistics_stream.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap-servers", default=env.get(ENV_BOOTSTRAP) or DEFAULT_BOOTSTRAP, help=f"${ENV_BOOTSTRAP}")
    p.add_argument("--topic", default=env.get(ENV_TOPIC) or DEFAULT_TOPIC, help=f"${ENV_TOPIC}")
    p.add_argument("--table-uri", default=env.get(ENV_TABLE_URI) or DEFAULT_TABLE_URI, help=f"${ENV_TABLE_URI}")
    p.add_argument(
        "--rejected-table-uri",
        default=env.get(ENV_REJECTED_URI),
        help=f"${ENV_REJECTED_URI}; default: the table's location + '{REJECTED_SUFFIX}'",
    )
    p.add_argument(
        "--checkpoint-uri", default=env.get(ENV_CHECKPOINT_URI) or DEFAULT_CHECKPOINT_URI, help=f"${ENV_CHECKPOINT_URI}"
    )
    p.add_argument("--trigger-interval", default=env.get(ENV_TRIGGER) or DEFAULT_TRIGGER, help=f"${ENV_TRIGGER}")
    p.add_argument(
        "--max-offsets-per-trigger",
        default=env.get(ENV_MAX_OFFSETS) or str(DEFAULT_MAX_OFFSETS),
        help=f"${ENV_MAX_OFFSETS}",
    )
    p.add_argument(
        "--dedup-window", default=env.get(ENV_DEDUP_WINDOW) or DEFAULT_DEDUP_WINDOW, help=f"${ENV_DEDUP_WINDOW}"
    )
    p.add_argument("--available-now", action="store_true", help="Process what the topic holds now, then stop.")
    a = p.parse_args(argv)
    try:
        duration_seconds(a.trigger_interval, "trigger interval")
        duration_seconds(a.dedup_window, "dedup window")
        try:
            max_offsets = int(a.max_offsets_per_trigger)
        except ValueError:
            max_offsets = 0
        if max_offsets < 1:
            raise ValueError(
                f"maxOffsetsPerTrigger = {a.max_offsets_per_trigger!r} is not allowed: an integer of 1 or more"
            )
        for name in ("table_uri", "checkpoint_uri"):
            if not getattr(a, name).strip():
                raise ValueError(f"{name} is empty: give a location such as s3a://bucket/path")
        if not a.bootstrap_servers.strip() or not a.topic.strip():
            raise ValueError("bootstrap servers and topic must not be empty")
    except ValueError as exc:
        p.error(str(exc))
    table_uri = a.table_uri.rstrip("/")
    return JobSettings(
        bootstrap_servers=a.bootstrap_servers,
        topic=a.topic,
        table_uri=table_uri,
        rejected_table_uri=(a.rejected_table_uri or table_uri + REJECTED_SUFFIX).rstrip("/"),
        checkpoint_uri=a.checkpoint_uri.rstrip("/"),
        trigger_interval=a.trigger_interval,
        max_offsets_per_trigger=max_offsets,
        dedup_window=a.dedup_window,
        available_now=a.available_now,
    )


# ----- the event schema: one definition, used for validation, typing and the table -----
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
TIMESTAMP_RANGE = ("2000-01-01 00:00:00", "2100-01-01 00:00:00")
"""Accepted [from, to) of event_time and timestamp (UTC): outside it a clock or a unit is wrong."""
MAX_PAYLOAD_BYTES = 64 * 1024
"""Payloads above this are quarantined unparsed (an event is under 1 KiB)."""
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
TABLE_PROPERTIES = {
    # Deletion vectors off: every reader (Trino, delta-rs) sees plain files; MERGE here only inserts anyway.
    "delta.enableDeletionVectors": "false",
    "delta.checkpointInterval": "20",
}


# ----- pure transformations -----
# Each step below is its own projection over named columns, so Catalyst references values instead of
# inlining the (large) parse expressions into every check that uses them.
def _problem(code: str, message: Column) -> Column:
    return F.struct(F.lit(code).alias("code"), message.alias("message"))


def _typed(f: Field, parsed: Column) -> Column:
    path = f"$.{f.name}"
    if f.kind == "timestamp":
        return F.try_to_timestamp(F.try_variant_get(parsed, path, "string"))
    return F.try_variant_get(parsed, path, "string" if f.kind == "string" else "double")


def _field_problem(f: Field) -> Column:
    """The first problem of field `f` (or null) from its columns: JSON type `_t_<f>`, value `<f>` (and for
    timestamps their text `_s_<f>`)."""
    json_type, value, name = F.col(f"_t_{f.name}"), F.col(f.name), F.lit(f.name)
    missing = json_type.isNull() | (json_type == "VOID")
    too_long = F.lit(False)
    if f.kind == "double":
        type_ok = json_type.isin("BIGINT", "DOUBLE", "INT", "SMALLINT", "TINYINT", "FLOAT") | json_type.startswith(
            "DECIMAL"
        )
        expected = "a number"
        in_range = value.between(F.lit(f.low), F.lit(f.high)) & ~F.isnan(value)
        range_text = F.format_string(
            "%s = %s is out of range [%s, %s]", name, value.cast("string"), F.lit(str(f.low)), F.lit(str(f.high))
        )
    elif f.kind == "string":
        type_ok = json_type == "STRING"
        expected = "a string"
        missing = missing | (type_ok & (F.length(value) == 0))
        if f.max_length:
            too_long = F.length(value) > F.lit(f.max_length)
        in_range = value.isin(list(f.allowed)) if f.allowed else F.lit(True)
        allowed = ", ".join(f"'{a}'" for a in f.allowed)
        range_text = F.format_string("%s = '%s' is not one of %s", name, F.substring(value, 1, 40), F.lit(allowed))
    else:
        # A string that is not a timestamp is the wrong type of value here, like a word for a number.
        type_ok = (json_type == "STRING") & value.isNotNull()
        expected = "an ISO-8601 timestamp string"
        low, high = (F.lit(t).cast("timestamp") for t in TIMESTAMP_RANGE)
        in_range = (value >= low) & (value < high)
        text = F.col(f"_s_{f.name}")
        range_text = F.format_string(
            "%s = %s is outside [%s, %s)", name, F.substring(text, 1, 40), *(F.lit(t) for t in TIMESTAMP_RANGE)
        )
    wrong_type = F.format_string("%s has the wrong type: JSON %s, expected %s", name, json_type, F.lit(expected))
    oversize = F.format_string(
        "%s is %d characters, over the limit of %d", name, F.length(value), F.lit(f.max_length or 0)
    )
    return (
        F.when(missing, _problem("missing_field", F.format_string("missing required field %s", name)))
        .when(~type_ok, _problem("wrong_type", wrong_type))
        .when(too_long, _problem("oversize", oversize))
        .when(~in_range, _problem("out_of_range", range_text))
    )


KAFKA_NAMES = ("kafka_key", "kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp")


def classify(kafka_rows: DataFrame) -> DataFrame:
    """Kafka source rows -> one row per record: Kafka columns, raw payload, `problems` and typed fields.

    `problems` is an array of (code, message); empty means the record is a valid event. Envelope problems
    (empty, too large, not UTF-8, not a JSON object) stop further checks; field problems are all listed.
    """
    text = F.col("raw_value").cast("string")
    stage1 = kafka_rows.select(
        F.col("key").cast("string").alias("kafka_key"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
        F.col("value").alias("raw_value"),
    ).select(
        "*",
        F.coalesce(F.octet_length("raw_value"), F.lit(0)).alias("_size"),
        F.coalesce(F.is_valid_utf8(text), F.lit(True)).alias("_utf8"),
    )
    parseable = (F.col("_size") > 0) & (F.col("_size") <= MAX_PAYLOAD_BYTES) & F.col("_utf8")
    stage2 = stage1.select(
        "*",
        F.make_valid_utf8(text).alias("raw_text"),
        F.when(parseable, F.try_parse_json(text)).alias("_parsed"),
    )
    parsed = F.col("_parsed")
    stage3 = stage2.select(
        "*",
        F.schema_of_variant(parsed).alias("_top"),
        *[F.schema_of_variant(F.variant_get(parsed, f"$.{f.name}", "variant")).alias(f"_t_{f.name}") for f in FIELDS],
        # The JSON text of timestamps, for messages (string fields are their own text, numbers need none).
        *[
            F.try_variant_get(parsed, f"$.{f.name}", "string").alias(f"_s_{f.name}")
            for f in FIELDS
            if f.kind == "timestamp"
        ],
        *[_typed(f, parsed).alias(f.name) for f in FIELDS],
    )
    size, top = F.col("_size"), F.col("_top")
    envelope = (
        F.when(size == 0, _problem("malformed_json", F.lit("empty payload")))
        .when(
            size > MAX_PAYLOAD_BYTES,
            _problem(
                "oversize",
                F.format_string("payload of %d bytes is over the %d-byte limit", size, F.lit(MAX_PAYLOAD_BYTES)),
            ),
        )
        .when(~F.col("_utf8"), _problem("malformed_json", F.lit("payload is not valid UTF-8")))
        .when(parsed.isNull(), _problem("malformed_json", F.lit("not valid JSON (syntax error or duplicate key)")))
        .when(
            ~top.startswith("OBJECT"),
            _problem(
                "malformed_json",
                F.format_string("a JSON %s, not an object", F.lower(F.regexp_extract(top, "^([A-Z]+)", 1))),
            ),
        )
        .when(
            ~F.rtrim(F.col("raw_text")).endswith("}"), _problem("malformed_json", F.lit("text after the JSON object"))
        )
    )
    stage4 = stage3.select("*", envelope.alias("_envelope"), *[_field_problem(f).alias(f"_p_{f.name}") for f in FIELDS])
    field_problems = F.filter(F.array(*[F.col(f"_p_{f.name}") for f in FIELDS]), lambda p: p.isNotNull())
    problems = F.when(F.col("_envelope").isNotNull(), F.array(F.col("_envelope"))).otherwise(field_problems)
    return stage4.select(
        *KAFKA_NAMES,
        "raw_value",
        "raw_text",
        problems.alias("problems"),
        *[f.name for f in FIELDS],
        F.col("event_id").alias("_event_id_text"),
    )


def valid_events(classified: DataFrame, ingestion_time: Column | None = None) -> DataFrame:
    """The rows without problems, typed, in the table's column order (EVENTS_SCHEMA).

    Give it a persisted classification (write_batch does): on a plain one, Spark pushes the filter below
    the checks and evaluates them twice."""
    now = ingestion_time if ingestion_time is not None else F.current_timestamp()
    return classified.where(F.size("problems") == 0).select(
        *[F.col(f.name) for f in FIELDS],
        *[F.col(c.name).cast(c.dataType) for c in KAFKA_COLUMNS.fields],
        now.alias("ingestion_time"),
        F.to_date(F.col("event_time")).alias("event_date"),
    )


def rejected_records(classified: DataFrame, ingestion_time: Column | None = None) -> DataFrame:
    """The rows with problems: raw payload, Kafka coordinates, first problem's code, every problem's message."""
    now = ingestion_time if ingestion_time is not None else F.current_timestamp()
    return classified.where(F.size("problems") > 0).select(
        *[F.col(c.name).cast(c.dataType) for c in KAFKA_COLUMNS.fields],
        F.col("raw_value"),
        F.col("raw_text"),
        F.col("problems")[0]["code"].alias("reason_code"),
        F.array_join(F.transform("problems", lambda p: p["message"]), "; ").alias("reason"),
        F.substring("_event_id_text", 1, 200).alias("event_id"),
        now.alias("ingestion_time"),
        F.to_date(now).alias("ingestion_date"),
    )


def first_per_event_id(events: DataFrame) -> DataFrame:
    """One row per event_id: the earliest copy in Kafka order (partition, offset), so replays pick the same."""
    w = Window.partitionBy("event_id").orderBy("kafka_partition", "kafka_offset")
    return events.withColumn("_n", F.row_number().over(w)).where("_n = 1").drop("_n")


# ----- Delta tables -----
def ensure_table(spark: SparkSession, uri: str, schema: T.StructType, partition_column: str) -> None:
    """Create the table at `uri` with its schema if there is none; refuse one with a different schema."""
    from delta.tables import DeltaTable

    builder = DeltaTable.createIfNotExists(spark).location(uri).addColumns(schema).partitionedBy(partition_column)
    for key, value in TABLE_PROPERTIES.items():
        builder = builder.property(key, value)
    builder.execute()
    actual = {f.name: f.dataType for f in DeltaTable.forPath(spark, uri).toDF().schema.fields}
    expected = {f.name: f.dataType for f in schema.fields}
    if actual != expected:
        diff = sorted(
            f"{n}: table has {actual.get(n, 'nothing')}, job writes {expected.get(n, 'nothing')}"
            for n in set(actual) | set(expected)
            if actual.get(n) != expected.get(n)
        )
        raise RuntimeError(
            f"the Delta table at {uri} has another schema ({'; '.join(diff)}): "
            "point the job at another location or migrate the table"
        )


def ensure_tables(spark: SparkSession, cfg: JobSettings) -> None:
    ensure_table(spark, cfg.table_uri, EVENTS_SCHEMA, "event_date")
    ensure_table(spark, cfg.rejected_table_uri, REJECTED_SCHEMA, "ingestion_date")


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    consumed: int
    valid: int
    inserted: int | None
    """Rows the MERGE added (None if Delta skipped the batch as already committed)."""
    rejected: int
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)
    """Seconds per step: read+classify, quarantine, merge."""

    @property
    def duplicates(self) -> int | None:
        return None if self.inserted is None else self.valid - self.inserted


def _retry_conflicts(action: Callable[[], R], what: str, attempts: int = 5) -> R:
    """Run `action`, again after a concurrent Delta commit conflicts with it (e.g. OPTIMIZE). Safe: the
    writes are idempotent per (txnAppId, txnVersion)."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if "Concurrent" not in type(exc).__name__ + str(exc)[:500] or attempt == attempts:
                raise
            log.warning(
                "%s conflicted with a concurrent commit (attempt %d/%d): %s",
                what,
                attempt,
                attempts,
                str(exc).splitlines()[0],
            )
            time.sleep(min(2.0 * attempt, 10.0))
    raise AssertionError("unreachable")


def write_batch(batch: DataFrame, batch_id: int, cfg: JobSettings, app_id: str) -> BatchResult:
    """Write one micro-batch to both tables, idempotently: (app_id, batch_id) is committed at most once each."""
    from delta.tables import DeltaTable

    started = time.monotonic()
    spark = batch.sparkSession
    now = F.lit(datetime.now(UTC))  # one ingestion time for the whole batch, in both tables
    classified = classify(batch).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        ok = F.size("problems") == 0
        valid_date = F.when(ok, F.to_date("event_time"))
        # One pass over the batch for the counts and the event-date range the MERGE may touch.
        totals = classified.agg(
            F.count(F.lit(1)).alias("n"),
            F.count_if(ok).alias("ok"),
            F.min(valid_date).alias("lo"),
            F.max(valid_date).alias("hi"),
        ).first()
        steps = {"read+classify": time.monotonic() - started}
        consumed, valid = int(totals["n"]), int(totals["ok"] or 0)
        rejected = consumed - valid
        meta = json.dumps(
            {"app_id": app_id, "batch_id": batch_id, "consumed": consumed, "valid": valid, "rejected": rejected}
        )
        if rejected:
            _retry_conflicts(
                lambda: (
                    rejected_records(classified, now)
                    .coalesce(1)  # a handful of rows per batch: one file, not one per Kafka partition
                    .write.format("delta")
                    .mode("append")
                    .option("txnAppId", app_id)
                    .option("txnVersion", batch_id)
                    .option("userMetadata", meta)
                    .save(cfg.rejected_table_uri)
                ),
                f"batch {batch_id} quarantine append",
            )
            log.info("batch %d: quarantine written (%d records)", batch_id, rejected)
        steps["quarantine"] = time.monotonic() - started - sum(steps.values())
        inserted: int | None = 0
        if valid:
            source = first_per_event_id(valid_events(classified, now))
            window_s = cfg.dedup_window_seconds
            pad = timedelta(seconds=window_s)
            # The event_date bounds let Delta prune partitions; the event_time bound is the dedup window itself.
            condition = (
                "t.event_id = s.event_id"
                f" AND t.event_date BETWEEN DATE'{totals['lo'] - pad - timedelta(days=1)}'"
                f" AND DATE'{totals['hi'] + pad + timedelta(days=1)}'"
                f" AND t.event_time BETWEEN s.event_time - INTERVAL {window_s} SECONDS"
                f" AND s.event_time + INTERVAL {window_s} SECONDS"
            )

            def merge() -> int | None:
                # Delta honours these for DML (MERGE): the same (app id, version) commits once.
                # The source is a persisted, deterministic DataFrame: no need for MERGE to copy it again.
                spark.conf.set("spark.databricks.delta.merge.materializeSource", "none")
                spark.conf.set("spark.databricks.delta.write.txnAppId", app_id)
                spark.conf.set("spark.databricks.delta.write.txnVersion", str(batch_id))
                spark.conf.set("spark.databricks.delta.commitInfo.userMetadata", meta)
                try:
                    metrics = (
                        DeltaTable.forPath(spark, cfg.table_uri)
                        .alias("t")
                        .merge(source.alias("s"), condition)
                        .whenNotMatchedInsertAll()
                        .execute()
                        .collect()
                    )
                finally:
                    for key in ("txnAppId", "txnVersion"):
                        spark.conf.unset(f"spark.databricks.delta.write.{key}")
                    spark.conf.unset("spark.databricks.delta.commitInfo.userMetadata")
                # A MERGE Delta skipped as already committed returns no metrics row.
                return int(metrics[0]["num_inserted_rows"]) if metrics else None

            inserted = _retry_conflicts(merge, f"batch {batch_id} merge")
        steps["merge"] = time.monotonic() - started - sum(steps.values())
    finally:
        classified.unpersist()
    log.debug("batch %d steps: %s", batch_id, ", ".join(f"{k} {v:.1f} s" for k, v in steps.items()))
    return BatchResult(batch_id, consumed, valid, inserted, rejected, time.monotonic() - started, steps)


class BatchWriter:
    """The foreachBatch function. It needs the query's id (the txnAppId, stable across restarts from the
    same checkpoint, new with a new checkpoint) which exists only once `start()` returned: it waits for it."""

    def __init__(self, cfg: JobSettings) -> None:
        self._cfg = cfg
        self._app_id: str | None = None
        self._bound = threading.Event()
        self.results: list[BatchResult] = []

    def bind(self, query_id: str) -> None:
        self._app_id = f"logistics_stream-{query_id}"
        self._bound.set()

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        if not self._bound.wait(timeout=300):
            raise RuntimeError("the streaming query id never became known; cannot write idempotently")
        assert self._app_id is not None
        log.info("batch %d: started", batch_id)
        r = write_batch(batch, batch_id, self._cfg, self._app_id)
        self.results = [*self.results[-99:], r]
        log.info(
            "batch %d: consumed %d, valid %d (%s), rejected %d, %.1f s (%s)",
            r.batch_id,
            r.consumed,
            r.valid,
            "already committed before a restart"
            if r.inserted is None
            else f"inserted {r.inserted}, duplicates {r.duplicates}",
            r.rejected,
            r.seconds,
            ", ".join(f"{k} {v:.1f} s" for k, v in r.steps.items()),
        )


def read_kafka(spark: SparkSession, cfg: JobSettings) -> DataFrame:
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", cfg.bootstrap_servers)
        .option("subscribe", cfg.topic)
        # Earliest on the very first start; afterwards the checkpoint decides where to resume.
        .option("startingOffsets", "earliest")
        # Offsets that vanished (retention, a recreated topic) stop the job instead of being skipped silently.
        .option("failOnDataLoss", "true")
        .option("maxOffsetsPerTrigger", str(cfg.max_offsets_per_trigger))
        .load()
    )


def build_query(spark: SparkSession, cfg: JobSettings, source: DataFrame | None = None) -> StreamingQuery:
    """Create both tables, then start the query (one checkpoint, one foreachBatch writing both tables).

    `source` replaces the Kafka stream (tests): any streaming DataFrame with the Kafka source's columns.
    """
    ensure_tables(spark, cfg)
    writer = BatchWriter(cfg)
    stream = (source if source is not None else read_kafka(spark, cfg)).writeStream
    stream = stream.queryName("logistics_stream").foreachBatch(writer).option("checkpointLocation", cfg.checkpoint_uri)
    if cfg.available_now:
        stream = stream.trigger(availableNow=True)
    else:
        stream = stream.trigger(processingTime=cfg.trigger_interval)
    query = stream.start()
    writer.bind(str(query.id))
    return query


def create_session(app_name: str = "logistics_stream") -> SparkSession:
    builder = SparkSession.builder.appName(app_name)
    # Delta's extension is in spark-defaults on the cluster; set it here too so a bare local run works.
    builder = builder.config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension").config(
        "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    )
    spark = builder.getOrCreate()
    # Spark's and Delta's INFO lines (whole snapshots per commit) would drown the job's own log.
    spark.sparkContext.setLogLevel(os.environ.get("LAKEHOUSE_SPARK_LOG_LEVEL", "WARN"))
    # Event dates and timestamps without an offset are UTC, whatever the machine's zone.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    # Delta rebuilds table state with 50 tasks by default: on a small cluster that is pure overhead per batch.
    if spark.conf.get("spark.databricks.delta.snapshotPartitions", None) is None:
        spark.conf.set("spark.databricks.delta.snapshotPartitions", str(max(2, spark.sparkContext.defaultParallelism)))
    return spark


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    cfg = parse_settings(argv)
    log.info(
        "reading %s from %s into %s (quarantine %s), checkpoint %s, trigger %s, maxOffsetsPerTrigger %d, dedup %s",
        cfg.topic,
        cfg.bootstrap_servers,
        cfg.table_uri,
        cfg.rejected_table_uri,
        cfg.checkpoint_uri,
        "availableNow" if cfg.available_now else cfg.trigger_interval,
        cfg.max_offsets_per_trigger,
        cfg.dedup_window,
    )
    spark = create_session()
    query = build_query(spark, cfg)
    log.info("query %s started (run %s); tables ready", query.id, query.runId)
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("signal %d: stopping the query", signum)
        stopping.set()

    if threading.current_thread() is threading.main_thread():  # a runner may start main() on another thread
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    try:
        while query.isActive and not stopping.is_set():
            query.awaitTermination(1)
    except Exception as exc:
        log.error("the query failed: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        spark.stop()
        return 1
    if query.isActive:
        query.stop()  # a batch cut short here is replayed and deduplicated on the next start
    error = query.exception()
    spark.stop()
    if error is not None:
        log.error("the query failed: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
