"""Batch test job: counts a range of rows, optionally holding the app open so it can be seen RUNNING."""

import argparse
import time

from pyspark.sql import SparkSession


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--hold-seconds", type=float, default=0.0)
    parser.add_argument("--fail", action="store_true", help="exit with code 3 after counting")
    parser.add_argument("--note", default="", help="a text to print (the UI test passes markup here)")
    opts = parser.parse_args()
    spark = SparkSession.builder.appName("count_batch").getOrCreate()
    if opts.note:
        print(f"count_batch note: {opts.note}", flush=True)
    # An executor-side count, so the app needs cores from the cluster, not just the driver.
    print(f"count_batch: counted {spark.range(opts.rows).count()} rows", flush=True)
    time.sleep(opts.hold_seconds)
    spark.stop()
    if opts.fail:
        raise SystemExit(3)


if __name__ == "__main__":
    main()
