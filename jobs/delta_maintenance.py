"""On-demand upkeep of the lakehouse's Delta tables: compaction, vacuum, log checkpoint.

For the events table and its quarantine (`<table>_rejected`), in order:
  1. OPTIMIZE: rewrites the many small files frequent micro-batches leave into few large ones. By default
     only partitions before today (UTC), so it does not race the streaming job's MERGE on today's
     partition; --all-partitions compacts everything (a conflicting streaming batch retries anyway).
  2. VACUUM: deletes files no table version within the retention needs. The retention cannot go below
     Delta's safe default of 168 hours (7 days): a shorter one can delete files a running reader, a
     time-travel query or a lagging stream still needs.
  3. Checkpoint of the Delta log, so readers (Trino, delta-rs, the stream) start from one Parquet file
     instead of replaying many JSON commits; Delta then also drops log entries past their retention.
Settings: flags, then LAKEHOUSE_TABLE_URI / LAKEHOUSE_REJECTED_TABLE_URI (as the streaming job).
Imports only pyspark, delta and the standard library (Orion ships it by file name).
Run: spark-submit jobs/delta_maintenance.py [--help].
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession

log = logging.getLogger("delta_maintenance")

ENV_TABLE_URI = "LAKEHOUSE_TABLE_URI"
ENV_REJECTED_URI = "LAKEHOUSE_REJECTED_TABLE_URI"
DEFAULT_TABLE_URI = "s3a://lake/logistics_events"
REJECTED_SUFFIX = "_rejected"
MIN_RETAIN_HOURS = 168
PARTITION_COLUMNS = {"events": "event_date", "rejected": "ingestion_date"}


@dataclass(frozen=True)
class MaintenanceSettings:
    table_uri: str
    rejected_table_uri: str
    retain_hours: int
    all_partitions: bool
    skip_vacuum: bool


def parse_settings(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> MaintenanceSettings:
    env = os.environ if env is None else env
    p = argparse.ArgumentParser(prog="delta_maintenance.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--table-uri", default=env.get(ENV_TABLE_URI) or DEFAULT_TABLE_URI, help=f"${ENV_TABLE_URI}")
    p.add_argument(
        "--rejected-table-uri",
        default=env.get(ENV_REJECTED_URI),
        help=f"${ENV_REJECTED_URI}; default: the table's location + '{REJECTED_SUFFIX}'",
    )
    p.add_argument(
        "--retain-hours",
        type=int,
        default=MIN_RETAIN_HOURS,
        help=f"VACUUM retention in hours, at least {MIN_RETAIN_HOURS} (default)",
    )
    p.add_argument("--all-partitions", action="store_true", help="Compact today's partition too.")
    p.add_argument("--skip-vacuum", action="store_true", help="Only compact and checkpoint.")
    a = p.parse_args(argv)
    if a.retain_hours < MIN_RETAIN_HOURS:
        p.error(
            f"--retain-hours {a.retain_hours} is not allowed: at least {MIN_RETAIN_HOURS} hours, or VACUUM can delete "
            "files that running queries, time travel or a lagging stream still read"
        )
    table = a.table_uri.rstrip("/")
    return MaintenanceSettings(
        table_uri=table,
        rejected_table_uri=(a.rejected_table_uri or table + REJECTED_SUFFIX).rstrip("/"),
        retain_hours=a.retain_hours,
        all_partitions=a.all_partitions,
        skip_vacuum=a.skip_vacuum,
    )


def tune_for_small_tables(spark: SparkSession) -> None:
    """Task counts sized to the cluster, unless configured: VACUUM lists files with 10 000 tasks and
    Delta rebuilds table state with 50 by default, which costs minutes on a 2-core cluster for no gain."""
    tasks = str(max(2, spark.sparkContext.defaultParallelism * 2))
    for key in (
        "spark.sql.sources.parallelPartitionDiscovery.parallelism",
        "spark.databricks.delta.snapshotPartitions",
    ):
        if spark.conf.get(key, None) in (None, "10000", "50"):
            spark.conf.set(key, tasks)


def _file_count(spark: SparkSession, uri: str) -> int:
    from delta.tables import DeltaTable

    return int(DeltaTable.forPath(spark, uri).detail().first()["numFiles"])


def maintain_table(spark: SparkSession, uri: str, partition_column: str, cfg: MaintenanceSettings) -> dict:
    """Compact, vacuum and checkpoint one table; returns what was done (file counts, versions, seconds)."""
    from delta.tables import DeltaTable

    started = time.monotonic()
    if not DeltaTable.isDeltaTable(spark, uri):
        return {"table": uri, "skipped": "not a Delta table (has the streaming job run yet?)"}
    files_before = _file_count(spark, uri)
    for attempt in range(1, 4):
        optimize = DeltaTable.forPath(spark, uri).optimize()
        if not cfg.all_partitions:
            optimize = optimize.where(f"{partition_column} < current_date()")
        try:
            metrics = optimize.executeCompaction().first()["metrics"]
            break
        except Exception as exc:
            # The streaming job committed into a partition being compacted: Delta refuses; try again.
            if "Concurrent" not in type(exc).__name__ + str(exc)[:500] or attempt == 3:
                raise
            log.warning(
                "OPTIMIZE of %s conflicted with a concurrent commit, retrying: %s", uri, str(exc).splitlines()[0]
            )
            time.sleep(5.0 * attempt)
    if not cfg.skip_vacuum:
        DeltaTable.forPath(spark, uri).vacuum(float(cfg.retain_hours))
    # Checkpoint the log at its newest version (Delta's JVM API; Python has no wrapper for it).
    delta_log = spark._jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, uri)
    delta_log.checkpoint()
    version = int(DeltaTable.forPath(spark, uri).history(1).first()["version"])
    return {
        "table": uri,
        "files_before": files_before,
        "files_after": _file_count(spark, uri),
        "files_removed_by_optimize": int(metrics["numFilesRemoved"]),
        "files_added_by_optimize": int(metrics["numFilesAdded"]),
        "vacuum_retain_hours": None if cfg.skip_vacuum else cfg.retain_hours,
        "checkpoint_version": version,
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    cfg = parse_settings(argv)
    spark = (
        SparkSession.builder.appName("delta_maintenance")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .getOrCreate()
    )
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    tune_for_small_tables(spark)
    try:
        for uri, column in (
            (cfg.table_uri, PARTITION_COLUMNS["events"]),
            (cfg.rejected_table_uri, PARTITION_COLUMNS["rejected"]),
        ):
            log.info("maintenance of %s: %s", uri, json.dumps(maintain_table(spark, uri, column, cfg)))
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
