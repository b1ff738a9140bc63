"""The Spark session of both jobs: Delta, UTC, the streaming query's SQL settings, task counts sized to the
cluster."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

from contract.names import ENV_SPARK_LOG_LEVEL

COMPACT_MIN_FILE_BYTES = 64 * 1024 * 1024
COMPACT_MAX_FILE_BYTES = 128 * 1024 * 1024
SESSION_CONF = {
    # Event dates and timestamps without an offset are UTC, whatever the machine's zone.
    "spark.sql.session.timeZone": "UTC",
    # On, Spark splits from_json into one parse per field read: the screen would parse every payload ~20 times.
    "spark.sql.optimizer.enableJsonExpressionOptimization": "false",
    # The quarantine's detailed parse accepts nested duplicate keys like the screen (top-level ones are
    # checked by name).
    "spark.sql.variant.allowDuplicateKeys": "true",
    # The dedup state: RocksDB (off-heap, bounded), its changes uploaded per batch (changelog), not snapshots.
    "spark.sql.streaming.stateStore.providerClass": (
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
    ),
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
    "spark.sql.streaming.stateStore.rocksdb.boundedMemoryUsage": "true",
    "spark.sql.streaming.stateStore.rocksdb.maxMemoryUsageMB": "64",
    # No batch without data: after a data batch the watermark moves, and Spark would run a whole batch (state
    # load and commit, offset and commit files, a foreachBatch with nothing to write) only to expire state,
    # which the next data batch does anyway. An idle stream then costs only its trigger's offset check.
    "spark.sql.streaming.noDataMicroBatches.enabled": "false",
}


def delta_session(app_name: str) -> SparkSession:
    builder = SparkSession.builder.appName(app_name)
    # Delta's extension is in spark-defaults on the cluster; set it here too so a bare local run works.
    builder = builder.config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension").config(
        "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    )
    spark = builder.getOrCreate()
    # Spark's and Delta's INFO lines (whole snapshots per commit) would drown the job's own log.
    spark.sparkContext.setLogLevel(os.environ.get(ENV_SPARK_LOG_LEVEL, "WARN"))
    return spark


def tune_session(spark: SparkSession) -> None:
    """Compaction sizes, and task counts sized to the cluster: VACUUM lists files with 10,000 tasks and Delta
    rebuilds table state with 50 by default, which costs minutes on a 2-core cluster for no gain."""
    spark.conf.set("spark.databricks.delta.optimize.minFileSize", str(COMPACT_MIN_FILE_BYTES))
    spark.conf.set("spark.databricks.delta.optimize.maxFileSize", str(COMPACT_MAX_FILE_BYTES))
    tasks = str(max(2, spark.sparkContext.defaultParallelism * 2))
    for key in (
        "spark.sql.sources.parallelPartitionDiscovery.parallelism",
        "spark.databricks.delta.snapshotPartitions",
    ):
        if spark.conf.get(key, None) in (None, "10000", "50"):
            spark.conf.set(key, tasks)


def state_partitions(spark: SparkSession) -> int:
    """Partitions of the dedup state, the query's one shuffle: one per core the application may use
    (spark.cores.max; the cluster's default parallelism without it).

    Each partition is a RocksDB instance that every batch loads, updates, commits and uploads a changelog of,
    one task each: partitions beyond the cores only add that fixed cost (the stack's job has one core, and
    spark-defaults' 4 shuffle partitions made 4 state tasks and 4 uploads per batch). The number is written
    into a new checkpoint and kept for its life: a running query keeps the partitions it started with."""
    conf = spark.sparkContext.getConf()
    cores = conf.get("spark.cores.max", None)
    return max(1, int(cores) if cores else spark.sparkContext.defaultParallelism)


def configure_session(spark: SparkSession) -> None:
    """What the streaming job sets on its session (its own, or a caller's)."""
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    spark.conf.set("spark.sql.shuffle.partitions", str(state_partitions(spark)))
    tune_session(spark)


def create_session(app_name: str = "logistics_stream") -> SparkSession:
    spark = delta_session(app_name)
    configure_session(spark)
    return spark
