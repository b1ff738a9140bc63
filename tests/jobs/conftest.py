"""A local SparkSession with Delta for the job tests (local[1], one shuffle partition, no UI), configured
as the job configures its own.

The Delta jars are the test bed's (images/spark/jars/pom.xml resolved with mvn into its cache, the
same jars the Spark image gets); LAKEHOUSE_SPARK_JARS_DIR points elsewhere if needed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession


def _jars_dir() -> Path:
    if os.environ.get("LAKEHOUSE_SPARK_JARS_DIR"):
        return Path(os.environ["LAKEHOUSE_SPARK_JARS_DIR"])
    from lakehouse.versions import load
    from testbed.artifacts import spark_extra_jars

    return spark_extra_jars(load())


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    jars = _jars_dir()
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[1]")
        .appName("dataplane-unit-tests")
        .config("spark.driver.extraClassPath", f"{jars}/*")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "768m")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.databricks.delta.snapshotPartitions", "1")
        .config("spark.sql.sources.parallelPartitionDiscovery.parallelism", "1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    from jobs.logistics.session import configure_session

    configure_session(session)  # what the job sets on its own session (JSON parsing, state store, compaction)
    yield session
    session.stop()
