"""Streaming test job: the rate source into the no-op sink, one micro-batch per second, until stopped.

Like the lakehouse's streaming job it answers `--describe` (one JSON object, no Spark started), so Orion
knows its checkpoint; on SIGTERM it stops its query and logs a stop outcome line (contract 4).
"""

import argparse
import json
import signal
import sys
import threading


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows-per-second", type=int, default=20)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--describe", action="store_true", help="print the settings as JSON and exit")
    opts = parser.parse_args()
    if opts.describe:
        print(json.dumps({"checkpoint_uri": opts.checkpoint, "table_uri": None, "rejected_table_uri": None}))
        return
    from pyspark.sql import SparkSession

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
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    while not stopping.wait(0.5):
        if not query.isActive:
            query.awaitTermination()  # raises the query's error
            return
    progress = query.lastProgress
    batch = progress["batchId"] if isinstance(progress, dict) else getattr(progress, "batchId", None)
    query.stop()
    print(f"rate_stream: stop-outcome=finished batch={batch}" if batch is not None else "stop-outcome=finished")
    sys.stdout.flush()
    spark.stop()


if __name__ == "__main__":
    main()
