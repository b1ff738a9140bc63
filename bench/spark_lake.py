"""The Spark side of figures 2, 3 and 5 (bench/drain.py and bench/dashboards.py submit it with the jobs/
packages as --py-files); each command prints one line `BENCH {json}`.

    spark-submit ... bench/spark_lake.py fill|maintain|files --table-uri U [--rejected-table-uri R] [--rows N ...]
    spark-submit ... bench/spark_lake.py lean --bootstrap-servers B --topic T --table-uri U
    spark-submit ... bench/spark_lake.py flatness --table-uri U --rejected-table-uri R --plan JSON --job-args JSON

`fill` writes the lake as many small micro-batches leave it; `lean` is figure 2's anchor, the least a Kafka ->
Delta pipeline can do (one batch, `from_json`, one commit); `flatness` grows the table in ONE driver and drains
each step's topic with the job's own code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from contract.batchlog import parse_batch_line
from contract.events import REASON_CODES as REASONS
from contract.events import RISK_BANDS
from contract.names import DEFAULT_TOPIC, rejected_table_name

GOLDEN = 0.6180339887498949


def risk_class(delay):  # type: ignore[no-untyped-def]
    """The risk class of a delay probability, as the producer derives it (contract.events.RISK_BANDS)."""
    (high, high_name), (moderate, moderate_name), (_, low_name) = RISK_BANDS
    return F.when(delay >= high, high_name).when(delay >= moderate, moderate_name).otherwise(low_name)


def spread(ids):  # type: ignore[no-untyped-def]
    """A fraction in [0, 1) per id that any contiguous block of ids covers evenly (id * golden ratio mod 1):
    every task of `spark.range(..., numPartitions=P)` then holds rows of every hour, so each task writes one
    file into every partition and there are P files per partition, with no shuffle."""
    x = ids * F.lit(GOLDEN)
    return x - F.floor(x)


def events_frame(spark: SparkSession, rows: int, hours: float, end_epoch: float, tasks: int, seed: int = 7):
    """`rows` events: 64 shipments, values within the job's rules, event times spread over `hours`."""
    from logistics.schema import EVENTS_SCHEMA

    span = hours * 3600.0
    r = lambda i: F.rand(seed + i)  # noqa: E731
    df = spark.range(0, rows, 1, max(1, tasks))
    ship = (F.col("id") % 64).cast("int")
    et = F.timestamp_seconds(F.lit(end_epoch) - F.lit(span) * spread(F.col("id")) - r(1) * 0.001)
    congestion = r(2) * 10
    delay = F.least(F.lit(0.99), F.greatest(F.lit(0.01), r(3) * 0.7 + congestion / 40))
    cols = {
        "event_id": F.expr("uuid()"),
        "shipment_id": F.format_string("SHP-%04d", ship),
        "event_time": et,
        "timestamp": et,
        "vehicle_gps_latitude": F.lit(30.0) + ship / 4 + r(4) - 0.5,
        "vehicle_gps_longitude": F.lit(-120.0) + ship + r(5) - 0.5,
        "fuel_consumption_rate": F.lit(5.0) + congestion * 1.2 + r(6) * 3,
        "eta_variation_hours": r(7) * 7 - 2,
        "traffic_congestion_level": congestion,
        "weather_condition_severity": r(8),
        "lead_time_days": F.lit(1.0) + r(9) * 9,
        "iot_temperature": r(10) * 35 - 5,
        "cargo_condition_status": r(11),
        "route_risk_level": r(12) * 10,
        "customs_clearance_time": r(13) * 5,
        "driver_behavior_score": r(14),
        "fatigue_monitoring_score": r(15),
        "delay_probability": delay,
        "risk_classification": risk_class(delay),
        "delivery_time_deviation": r(16) * 17 - 5 + delay * 10,
        "kafka_key": F.format_string("SHP-%04d", ship),
        "kafka_topic": F.lit(DEFAULT_TOPIC),
        "kafka_partition": (ship % 6).cast("int"),
        "kafka_offset": (F.col("id") / 6).cast("long"),
        "kafka_timestamp": et + F.expr("INTERVAL 200 MILLISECONDS"),
        "ingestion_time": F.timestamp_seconds(F.unix_micros(et) / 1e6 + 1 + r(17) * 3),
        "event_date": F.to_date(et),
    }
    return df.select(*[cols[f.name].cast(f.dataType).alias(f.name) for f in EVENTS_SCHEMA.fields])


def rejected_frame(spark: SparkSession, rows: int, hours: float, end_epoch: float, tasks: int):
    from logistics.schema import REJECTED_SCHEMA

    span = hours * 3600.0
    df = spark.range(0, rows, 1, max(1, tasks))
    it = F.timestamp_seconds(F.lit(end_epoch) - F.lit(span) * spread(F.col("id")))
    code = F.element_at(F.array(*[F.lit(c) for c in REASONS]), (F.col("id") % len(REASONS) + 1).cast("int"))
    cols = {
        "kafka_key": F.lit(None).cast("string"),
        "kafka_topic": F.lit(DEFAULT_TOPIC),
        "kafka_partition": (F.col("id") % 6).cast("int"),
        "kafka_offset": F.col("id"),
        "kafka_timestamp": it,
        "raw_value": F.encode(F.lit("{not json"), "UTF-8"),
        "raw_text": F.lit("{not json"),
        "reason_code": code,
        "reason": F.concat(F.lit("synthetic "), code),
        "event_id": F.lit(None).cast("string"),
        "ingestion_time": it,
        "ingestion_date": F.to_date(it),
    }
    return df.select(*[cols[f.name].cast(f.dataType).alias(f.name) for f in REJECTED_SCHEMA.fields])


def files_per_partition(spark: SparkSession, uri: str, column: str) -> dict[str, int]:
    """Live data files per partition value, from the Delta log (what a reader has to open)."""
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, uri)  # fails clearly when it is not a Delta table
    frame = (
        spark.read.format("delta")
        .load(uri)
        .select(F.col(column).cast("string").alias("p"), F.col("_metadata.file_path").alias("f"))
    )
    return {r["p"]: int(r["n"]) for r in frame.groupBy("p").agg(F.count_distinct("f").alias("n")).collect()}


def _ensure_tables(spark: SparkSession, a: argparse.Namespace) -> None:
    """Both tables as the job creates them (its schemas, partitioning and table properties)."""
    from logistics.schema import EVENTS_SCHEMA, PARTITION_COLUMNS, REJECTED_SCHEMA
    from logistics.tables import ensure_table

    ensure_table(spark, a.table_uri, EVENTS_SCHEMA, PARTITION_COLUMNS["events"])
    ensure_table(spark, a.rejected_table_uri, REJECTED_SCHEMA, PARTITION_COLUMNS["rejected"])


def cmd_fill(spark: SparkSession, a: argparse.Namespace) -> dict:
    started = time.monotonic()
    _ensure_tables(spark, a)
    events = events_frame(spark, a.rows, a.hours, a.end_epoch, a.files_per_partition)
    events.write.format("delta").mode("append").save(a.table_uri)
    rejected_rows = max(1, a.rows // 200)
    rejected = rejected_frame(spark, rejected_rows, a.hours, a.end_epoch, max(1, a.files_per_partition // 10))
    rejected.write.format("delta").mode("append").save(a.rejected_table_uri)
    return {
        "rows": a.rows,
        "rejected_rows": rejected_rows,
        "seconds": round(time.monotonic() - started, 1),
        "files_per_partition": files_per_partition(spark, a.table_uri, "event_date"),
    }


def cmd_maintain(spark: SparkSession, a: argparse.Namespace) -> dict:
    from logistics.maintenance import maintain_table, tune_session

    started = time.monotonic()
    tune_session(spark)
    tables = ((a.table_uri, "event_date"), (a.rejected_table_uri, "ingestion_date"))
    return {
        "how": "logistics.maintenance.maintain_table (the job's in-driver maintenance)",
        "reports": [maintain_table(spark, uri, column, retain_hours=168) for uri, column in tables],
        "seconds": round(time.monotonic() - started, 1),
        "files_per_partition": files_per_partition(spark, a.table_uri, "event_date"),
    }


def cmd_lean(spark: SparkSession, a: argparse.Namespace) -> dict:
    from delta.tables import DeltaTable
    from logistics.schema import EVENTS_SCHEMA, FIELDS

    payload = {f.name for f in FIELDS}
    json_schema = ", ".join(
        f"`{f.name}` {f.dataType.simpleString()}" for f in EVENTS_SCHEMA.fields if f.name in payload
    )
    started = time.monotonic()
    raw = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", a.bootstrap_servers)
        .option("subscribe", a.topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .option("kafka.max.partition.fetch.bytes", str(8 * 1024 * 1024))
        .option("kafka.fetch.max.bytes", str(64 * 1024 * 1024))
        .option("kafka.receive.buffer.bytes", str(1024 * 1024))
        .load()
    )
    kafka = {f"kafka_{n}": F.col(n) for n in ("topic", "partition", "offset", "timestamp")}
    event = F.from_json(F.col("value").cast("string"), json_schema).alias("e")
    key = F.col("key").cast("string").alias("kafka_key")
    parsed = raw.select(event, key, *[c.alias(k) for k, c in kafka.items()])
    cols = {f.name: F.col(f"e.{f.name}") for f in FIELDS} | {n: F.col(n) for n in ["kafka_key", *kafka]}
    cols |= {"ingestion_time": F.current_timestamp(), "event_date": F.to_date(F.col("e.event_time"))}
    frame = parsed.select(*[cols[f.name].cast(f.dataType).alias(f.name) for f in EVENTS_SCHEMA.fields])
    frame.write.format("delta").mode("append").partitionBy("event_date").save(a.table_uri)
    seconds = time.monotonic() - started
    last = DeltaTable.forPath(spark, a.table_uri).history(1).select("operationMetrics").first()
    metrics = dict(last["operationMetrics"] or {}) if last else {}
    rows = int(metrics.get("numOutputRows", 0))
    return {
        "rows": rows,
        "files": int(metrics.get("numFiles", 0)),
        "seconds": round(seconds, 2),
        "events_per_s": round(rows / seconds) if seconds > 0 else None,
    }


class _Lines(logging.Handler):
    """Keeps the job's log messages (its per-batch lines) while it runs in this driver."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a log handler must never raise
            self.messages.append(record.getMessage())


def _rows(spark: SparkSession, uri: str) -> int:
    return int(spark.read.format("delta").load(uri).count())


def cmd_flatness(spark: SparkSession, a: argparse.Namespace) -> dict:
    from logistics import settings, stream

    job_args = json.loads(a.job_args)
    lines = _Lines()
    logging.getLogger().addHandler(lines)
    _ensure_tables(spark, a)

    def drain(topic: str, table_uri: str, rejected_uri: str, checkpoint: str) -> tuple[float, list[dict]]:
        """The job itself over `topic` with --available-now: (seconds, its batches)."""
        cfg = settings.parse_stream_settings(
            [*job_args, "--topic", topic, "--table-uri", table_uri, "--rejected-table-uri", rejected_uri,
             "--checkpoint-uri", checkpoint, "--max-offsets-per-trigger", str(a.batch_events), "--available-now"]
        )  # fmt: skip
        mark = len(lines.messages)
        t = time.monotonic()
        code = stream.run(cfg, spark=spark)
        batches = [b for b in (parse_batch_line(m) for m in lines.messages[mark:]) if b is not None]
        if code != 0:
            raise RuntimeError(f"the job exited {code} on {topic}: " + " | ".join(lines.messages[mark:][-10:]))
        return time.monotonic() - t, batches

    warmup = None
    if a.warmup:
        # The first query of a driver pays for its JVM's warm-up (JIT, first S3A and Kafka connections, the
        # state store's first load): run it once on tables of its own so that size 0 is not also "cold".
        w = json.loads(a.warmup)
        run_s, batches = drain(w["topic"], w["table_uri"], w["rejected_uri"], w["checkpoint"])
        warmup = {"job_run_seconds": round(run_s, 1), "batches": batches}
        print(f"flatness warm-up: {len(batches)} batches {[b['seconds'] for b in batches]}", flush=True)
    points = []
    for step, item in enumerate(json.loads(a.plan)):
        have, t = _rows(spark, a.table_uri), time.monotonic()
        if item["rows"] > have:
            frame = events_frame(spark, item["rows"] - have, 24, time.time(), a.fill_tasks, seed=100 + step)
            frame.write.format("delta").mode("append").save(a.table_uri)
        fill_s = time.monotonic() - t if item["rows"] > have else 0.0
        before = _rows(spark, a.table_uri)
        run_s, batches = drain(item["topic"], a.table_uri, a.rejected_table_uri, item["checkpoint"])
        points.append({"table_rows": before, "target_rows": item["rows"], "fill_seconds": round(fill_s, 1),
                       "job_run_seconds": round(run_s, 1), "batches": batches})  # fmt: skip
        print(f"flatness step {step}: {before} rows, {len(batches)} batches {[b['seconds'] for b in batches]}",
              flush=True)  # fmt: skip
    return {"points": points, "warmup": warmup, "batch_events": a.batch_events, "fill_tasks": a.fill_tasks}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["fill", "maintain", "files", "lean", "flatness"])
    p.add_argument("--table-uri", required=True)
    p.add_argument("--rejected-table-uri")
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--files-per-partition", type=int, default=500)
    p.add_argument("--hours", type=float, default=24)
    p.add_argument("--end-epoch", type=float, default=None)
    p.add_argument("--bootstrap-servers")
    p.add_argument("--topic")
    p.add_argument("--plan", help="flatness: JSON list of {rows, topic, checkpoint}")
    p.add_argument("--job-args", default="[]", help="flatness: the stack's job flags, JSON list")
    p.add_argument("--batch-events", type=int, default=20_000)
    p.add_argument("--fill-tasks", type=int, default=4)
    p.add_argument("--warmup", help="flatness: JSON {topic, table_uri, rejected_uri, checkpoint} drained first")
    a = p.parse_args()
    a.end_epoch = a.end_epoch or time.time()
    a.rejected_table_uri = a.rejected_table_uri or rejected_table_name(a.table_uri)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    if a.command == "flatness":
        from logistics import stream

        spark = stream.create_session(f"bench-flatness-{a.topic or 'run'}")
    else:
        name = "bench-drain-lean" if a.command == "lean" else f"bench-lake-{a.command}"
        spark = SparkSession.builder.appName(name).getOrCreate()
        spark.sparkContext.setLogLevel("WARN")
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    commands = {"fill": cmd_fill, "maintain": cmd_maintain, "lean": cmd_lean, "flatness": cmd_flatness}
    try:
        if a.command == "files":
            out = {"files_per_partition": files_per_partition(spark, a.table_uri, "event_date")}
        else:
            out = commands[a.command](spark, a)
        print("BENCH " + json.dumps({"command": a.command, **out}, default=str), flush=True)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
