"""A Spark job for the dashboard figure: builds the events table and its quarantine fast (Spark writing the
streaming job's own schemas directly, not through Kafka), compacts them, and counts files per partition.

    spark-submit --py-files <jobs packages zip> bench/spark_lake.py fill --table-uri s3a://... \
        --rejected-table-uri s3a://... --rows 10000000 --files-per-partition 500 --hours 24 --end-epoch <s>
    spark-submit ... bench/spark_lake.py maintain --table-uri ... --rejected-table-uri ...
    spark-submit ... bench/spark_lake.py files --table-uri ...

`fill` creates both tables as the job does (logistics.tables.ensure_table: its schemas, partitioning and table
properties) and appends `--rows` plausible events whose event times spread evenly over the `--hours` before
`--end-epoch`, in one commit of `--files-per-partition` files per event_date partition (what many small
micro-batches leave behind), plus 0.5 % as many quarantined records. `maintain` runs the job's own in-driver
maintenance (logistics.maintenance.maintain_table: OPTIMIZE, VACUUM, log checkpoint) on both tables; without
that package, Delta's OPTIMIZE. Each command prints one line `BENCH {json}`. Imports pyspark, delta and the
jobs/ packages only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from contract.events import REASON_CODES as REASONS
from contract.events import RISK_CLASSES as RISK
from contract.names import DEFAULT_TOPIC, rejected_table_name


def _emit(what: dict) -> None:
    print("BENCH " + json.dumps(what, default=str), flush=True)


GOLDEN = 0.6180339887498949


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
        "risk_classification": F.when(delay < 0.4, RISK[0]).when(delay < 0.7, RISK[1]).otherwise(RISK[2]),
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

    jvm = spark.sparkContext._jvm
    assert jvm is not None
    DeltaTable.forPath(spark, uri)  # fails clearly when it is not a Delta table
    frame = (
        spark.read.format("delta")
        .load(uri)
        .select(F.col(column).cast("string").alias("p"), F.col("_metadata.file_path").alias("f"))
    )
    return {r["p"]: int(r["n"]) for r in frame.groupBy("p").agg(F.count_distinct("f").alias("n")).collect()}


def cmd_fill(spark: SparkSession, a: argparse.Namespace) -> dict:
    from logistics.schema import EVENTS_SCHEMA, PARTITION_COLUMNS, REJECTED_SCHEMA
    from logistics.tables import ensure_table

    started = time.monotonic()
    ensure_table(spark, a.table_uri, EVENTS_SCHEMA, PARTITION_COLUMNS["events"])
    ensure_table(spark, a.rejected_table_uri, REJECTED_SCHEMA, PARTITION_COLUMNS["rejected"])
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
    started = time.monotonic()
    reports = []
    try:
        from logistics.maintenance import maintain_table, tune_session

        tune_session(spark)
        how = "logistics.maintenance.maintain_table (the job's in-driver maintenance)"
        for uri, column in ((a.table_uri, "event_date"), (a.rejected_table_uri, "ingestion_date")):
            reports.append(maintain_table(spark, uri, column, retain_hours=168))
    except ImportError:
        from delta.tables import DeltaTable

        how = "Delta OPTIMIZE (no logistics.maintenance in jobs/)"
        for uri in (a.table_uri, a.rejected_table_uri):
            metrics = DeltaTable.forPath(spark, uri).optimize().executeCompaction().first()["metrics"]
            reports.append({"table": uri, "files_removed": int(metrics["numFilesRemoved"]),
                            "files_added": int(metrics["numFilesAdded"])})  # fmt: skip
    return {
        "how": how,
        "reports": reports,
        "seconds": round(time.monotonic() - started, 1),
        "files_per_partition": files_per_partition(spark, a.table_uri, "event_date"),
    }


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["fill", "maintain", "files"])
    p.add_argument("--table-uri", required=True)
    p.add_argument("--rejected-table-uri")
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--files-per-partition", type=int, default=500)
    p.add_argument("--hours", type=float, default=24)
    p.add_argument("--end-epoch", type=float, default=None)
    a = p.parse_args()
    a.end_epoch = a.end_epoch or time.time()
    a.rejected_table_uri = a.rejected_table_uri or rejected_table_name(a.table_uri)
    spark = SparkSession.builder.appName(f"bench-lake-{a.command}").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    if a.command == "fill":
        out = cmd_fill(spark, a)
    elif a.command == "maintain":
        out = cmd_maintain(spark, a)
    else:
        out = {"files_per_partition": files_per_partition(spark, a.table_uri, "event_date")}
    _emit({"command": a.command, **out})
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
