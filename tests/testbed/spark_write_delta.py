"""A PySpark job for the test bed's integration test: write N deterministic rows as a Delta table.

Run with spark-submit against the standalone master: `spark_write_delta.py <table uri> <rows>`.
The same rows are rebuilt by `expected_rows` in the test, which compares them with Trino's answer.
"""

from __future__ import annotations

import sys


def row(i: int) -> tuple[int, str, float, str]:
    """id, name, amount (exact in binary), day: the i-th row."""
    return i, f"item-{i:05d}", i * 1.5, f"2026-11-{1 + i % 3:02d}"


def main(uri: str, rows: int) -> None:
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = SparkSession.builder.getOrCreate()
    df = spark.createDataFrame([row(i) for i in range(rows)], "id long, name string, amount double, day string")
    df = df.withColumn("day", F.to_date("day"))
    df.write.format("delta").mode("overwrite").partitionBy("day").save(uri)
    back = spark.read.format("delta").load(uri).count()
    print(f"spark_write_delta: wrote {rows} rows to {uri}, read back {back}, app {spark.sparkContext.applicationId}")
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
