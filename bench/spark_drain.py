"""The Spark side of figures 2 and 3 (bench/drain.py submits it with the jobs/ packages as --py-files).

    spark-submit --py-files <jobs zip> bench/spark_drain.py lean --bootstrap-servers B --topic T --table-uri U
    spark-submit --py-files <jobs zip> bench/spark_drain.py flatness --table-uri U --rejected-table-uri R \
        --plan '[{"rows": 0, "topic": "t0", "checkpoint": "s3a://..."}, ...]' --job-args '[...]'

`lean` is figure 2's anchor: the whole topic read as ONE Spark batch (earliest to latest offsets, the same Kafka
fetch sizes as the job), each value parsed with `from_json` into the events table's columns (no validation, no
quarantine, no dedup), the Kafka columns and an ingestion time added, and appended to a new Delta table
partitioned by event_date in one commit: the least work a Kafka -> Delta pipeline can do on this cluster. It
times the read+write itself (the app's start is not in it) and reads the row count from the commit.

`flatness` is figure 3: in ONE driver, for each step of the plan in order, the events table is first grown to
`rows` rows by a bare append of generated events (bench/spark_lake.py's generator: the job's schema, event
times over the last 24 hours, so yesterday's and today's partitions are the big ones), then the streaming job
itself (logistics.stream.run, the code jobs/logistics_stream.py runs, with the stack's flags) drains that
step's topic with --available-now at a fixed maxOffsetsPerTrigger on its own checkpoint, into the same tables.
Each batch's duration comes from the job's own per-batch log line. Before the first step the job drains a
warm-up topic into tables of their own, so the first size does not also carry the driver's cold start.
Each command prints one line `BENCH {json}`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from contract.batchlog import parse_batch_line


def _emit(what: dict) -> None:
    print("BENCH " + json.dumps(what, default=str), flush=True)


def _kafka_batch(spark: SparkSession, bootstrap: str, topic: str):  # type: ignore[no-untyped-def]
    return (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .option("kafka.max.partition.fetch.bytes", str(8 * 1024 * 1024))
        .option("kafka.fetch.max.bytes", str(64 * 1024 * 1024))
        .option("kafka.receive.buffer.bytes", str(1024 * 1024))
        .load()
    )


def cmd_lean(spark: SparkSession, a: argparse.Namespace) -> dict:
    from delta.tables import DeltaTable
    from logistics.schema import EVENTS_SCHEMA, FIELDS

    payload = {f.name for f in FIELDS}
    json_schema = ", ".join(
        f"`{f.name}` {f.dataType.simpleString()}" for f in EVENTS_SCHEMA.fields if f.name in payload
    )
    started = time.monotonic()
    raw = _kafka_batch(spark, a.bootstrap_servers, a.topic)
    parsed = raw.select(
        F.from_json(F.col("value").cast("string"), json_schema).alias("e"),
        F.col("key").cast("string").alias("kafka_key"),
        F.col("topic").alias("kafka_topic"),
        F.col("partition").alias("kafka_partition"),
        F.col("offset").alias("kafka_offset"),
        F.col("timestamp").alias("kafka_timestamp"),
    )
    cols = {f.name: F.col(f"e.{f.name}") for f in FIELDS}
    cols |= {n: F.col(n) for n in ("kafka_key", "kafka_topic", "kafka_partition", "kafka_offset", "kafka_timestamp")}
    cols["ingestion_time"] = F.current_timestamp()
    cols["event_date"] = F.to_date(F.col("e.event_time"))
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
        try:
            self.messages.append(record.getMessage())
        except Exception:  # noqa: S110 - a log handler must never raise
            pass


def _rows(spark: SparkSession, uri: str) -> int:
    return int(spark.read.format("delta").load(uri).count())


def cmd_flatness(spark: SparkSession, a: argparse.Namespace) -> dict:
    from logistics import settings, stream
    from logistics.schema import EVENTS_SCHEMA, PARTITION_COLUMNS, REJECTED_SCHEMA
    from logistics.tables import ensure_table
    from spark_lake import events_frame  # beside this file (sys.path[0] of the driver)

    plan = json.loads(a.plan)
    job_args = json.loads(a.job_args)
    lines = _Lines()
    logging.getLogger().addHandler(lines)
    ensure_table(spark, a.table_uri, EVENTS_SCHEMA, PARTITION_COLUMNS["events"])
    ensure_table(spark, a.rejected_table_uri, REJECTED_SCHEMA, PARTITION_COLUMNS["rejected"])

    def drain(topic: str, table_uri: str, rejected_uri: str, checkpoint: str) -> tuple[int, float, list[dict]]:
        """The job itself over `topic` with --available-now: (exit code, seconds, its batches)."""
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
        return code, time.monotonic() - t, batches

    warmup = None
    if a.warmup:
        # The first query of a driver pays for its JVM's warm-up (JIT, first S3A and Kafka connections, the
        # state store's first load): run it once on tables of its own so that size 0 is not also "cold".
        w = json.loads(a.warmup)
        _, run_s, batches = drain(w["topic"], w["table_uri"], w["rejected_uri"], w["checkpoint"])
        warmup = {"job_run_seconds": round(run_s, 1), "batches": batches}
        print(f"flatness warm-up: {len(batches)} batches {[b['seconds'] for b in batches]}", flush=True)
    points = []
    for step, item in enumerate(plan):
        have = _rows(spark, a.table_uri)
        fill_s = 0.0
        if item["rows"] > have:
            t = time.monotonic()
            add = item["rows"] - have
            frame = events_frame(spark, add, 24, time.time(), a.fill_tasks, seed=100 + step)
            frame.write.format("delta").mode("append").save(a.table_uri)
            fill_s = time.monotonic() - t
        before = _rows(spark, a.table_uri)
        _, run_s, batches = drain(item["topic"], a.table_uri, a.rejected_table_uri, item["checkpoint"])
        points.append({
            "table_rows": before,
            "target_rows": item["rows"],
            "fill_seconds": round(fill_s, 1),
            "job_run_seconds": round(run_s, 1),
            "batches": batches,
        })  # fmt: skip
        print(f"flatness step {step}: {before} rows, {len(batches)} batches {[b['seconds'] for b in batches]}",
              flush=True)  # fmt: skip
    return {"points": points, "warmup": warmup, "batch_events": a.batch_events, "fill_tasks": a.fill_tasks}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["lean", "flatness"])
    p.add_argument("--bootstrap-servers")
    p.add_argument("--topic")
    p.add_argument("--table-uri", required=True)
    p.add_argument("--rejected-table-uri")
    p.add_argument("--plan", help="flatness: JSON list of {rows, topic, checkpoint}")
    p.add_argument("--job-args", default="[]", help="flatness: the stack's job flags, JSON list")
    p.add_argument("--batch-events", type=int, default=20_000)
    p.add_argument("--fill-tasks", type=int, default=4)
    p.add_argument("--warmup", help="flatness: JSON {topic, table_uri, rejected_uri, checkpoint} drained first")
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    if a.command == "flatness":
        from logistics import stream

        spark = stream.create_session(f"bench-flatness-{a.topic or 'run'}")
    else:
        spark = SparkSession.builder.appName("bench-drain-lean").getOrCreate()
        spark.sparkContext.setLogLevel("WARN")
        spark.conf.set("spark.sql.session.timeZone", "UTC")
    try:
        out = cmd_lean(spark, a) if a.command == "lean" else cmd_flatness(spark, a)
        _emit({"command": a.command, **out})
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
