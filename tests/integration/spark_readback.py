"""A Spark job that reads the events table and its quarantine back and prints one JSON line of facts.

Used by the data-plane integration test (read-back with Spark, beside delta-rs): spark-submit
tests/integration/spark_readback.py --table-uri s3a://... [--rejected-table-uri s3a://...]. Imports only pyspark.
"""

from __future__ import annotations

import argparse
import json
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--table-uri", required=True)
    p.add_argument("--rejected-table-uri")
    a = p.parse_args()
    rejected_uri = a.rejected_table_uri or a.table_uri + "_rejected"
    spark = SparkSession.builder.appName("dataplane-readback").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    events = spark.read.format("delta").load(a.table_uri)
    rejected = spark.read.format("delta").load(rejected_uri)
    e = events.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count_distinct("event_id").alias("distinct_event_ids"),
        F.count_if(F.col("event_date") != F.to_date("event_time")).alias("wrong_event_date"),
        F.min("event_time").cast("string").alias("min_event_time"),
        F.max("event_time").cast("string").alias("max_event_time"),
        F.count_if(F.col("risk_classification").isNull()).alias("null_risk"),
    ).first()
    r = rejected.groupBy("reason_code").count().collect()
    facts = {
        "events": e.asDict(),
        "event_types": {f.name: f.dataType.simpleString() for f in events.schema.fields},
        "event_dates": sorted(str(row["event_date"]) for row in events.select("event_date").distinct().collect()),
        "rejected_rows": rejected.count(),
        "rejected_by_reason": {row["reason_code"]: row["count"] for row in r},
        "rejected_without_payload": rejected.where(
            F.col("raw_value").isNull() & (F.col("reason") != "empty payload")
        ).count(),
    }
    print("READBACK " + json.dumps(facts, default=str), flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
