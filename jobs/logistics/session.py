"""The Spark session of both jobs: Delta, UTC, the streaming query's SQL settings, task counts sized to the
cluster."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

from contract.names import ENV_SPARK_LOG_LEVEL

COMPACT_MIN_FILE_BYTES = 64 * 1024 * 1024
COMPACT_MAX_FILE_BYTES = 128 * 1024 * 1024
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",  # event dates and times without an offset
    # On, Spark splits from_json into one parse per field read: the screen would parse every payload ~20 times.
    "spark.sql.optimizer.enableJsonExpressionOptimization": "false",
    # The quarantine's parse accepts nested duplicate keys like the screen (top-level ones are checked by name).
    "spark.sql.variant.allowDuplicateKeys": "true",
    # The dedup state: RocksDB (off-heap, bounded), its changes uploaded per batch (changelog), not snapshots.
    "spark.sql.streaming.stateStore.providerClass": (
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
    ),
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
    "spark.sql.streaming.stateStore.rocksdb.boundedMemoryUsage": "true",
    "spark.sql.streaming.stateStore.rocksdb.maxMemoryUsageMB": "64",
    # No batch only to expire state after the watermark moved (the next data batch does it anyway): an idle
    # stream costs only its trigger's offset check.
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
    (spark.cores.max, else the default parallelism). Each is a RocksDB instance every batch loads, commits and
    uploads in a task of its own: more than the cores only add that fixed cost. A checkpoint keeps its number."""
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
