"""Streaming test job: the rate source into the no-op sink, one micro-batch per second, until stopped."""

import argparse

from pyspark.sql import SparkSession


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows-per-second", type=int, default=20)
    parser.add_argument("--checkpoint", required=True)
    opts = parser.parse_args()
    spark = SparkSession.builder.appName("rate_stream").getOrCreate()
    query = (
        spark.readStream.format("rate")
        .option("rowsPerSecond", opts.rows_per_second)
        .load()
        .writeStream.format("noop")
        .queryName("rate_to_noop")
        .option("checkpointLocation", opts.checkpoint)
        .trigger(processingTime="1 second")
        .start()
    )
    print(f"rate_stream: query {query.id} started", flush=True)
    query.awaitTermination()


if __name__ == "__main__":
    main()
