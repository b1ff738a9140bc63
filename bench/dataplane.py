"""Data-plane benchmarks against a running test bed; they print figures, they assert nothing.

    python -m bench.dataplane producer [--events 50000] [--runs 3]
        producer throughput: `python -m producer --rate 0` (acks=all, idempotent) into a fresh 6-partition
        topic, median and spread of the mean rate over the runs;
    python -m bench.dataplane job [--events 100000] [--max-offsets 20000]
        the streaming job's end-to-end throughput: the events are produced first, then the job runs on
        the Spark cluster with --available-now (read, validate, quarantine, MERGE into Delta on S3) until
        it has drained the topic; events/s over the time from the first batch's start to the last's end;
    python -m bench.dataplane all
Each run uses its own topic and table prefix and removes them afterwards. Machine notes (cores, load,
memory) are printed with the figures, since the test bed's other services share the same cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

from bench import sparkrun


def machine_notes() -> dict[str, object]:
    load = os.getloadavg()
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))  # fmt: skip
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "load_average_1_5_15": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "at": datetime.now().isoformat(timespec="seconds"),
    }


def bench_producer(endpoints: dict[str, str], events: int, runs: int) -> dict[str, object]:
    rates, elapsed = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            topic = f"bench-producer-{uuid.uuid4().hex[:8]}"
            sparkrun.create_topic(endpoints, topic)
            try:
                code, summary = sparkrun.run_producer(endpoints, topic, ["--count", str(events), "--rate", "0",
                                                                         "--seed", str(i)], Path(tmp))  # fmt: skip
            finally:
                sparkrun.delete_topic(endpoints, topic)
            if code != 0:
                raise RuntimeError(f"producer run {i} exited {code}: {summary}")
            rates.append(summary["mean_rate"])
            elapsed.append(summary["elapsed_s"])
            print(f"  producer run {i + 1}/{runs}: {events} events in {summary['elapsed_s']:.1f} s = "
                  f"{summary['mean_rate']:.0f} events/s (all acknowledged)", flush=True)  # fmt: skip
    return {
        "events_per_run": events,
        "runs": runs,
        "median_events_per_s": round(statistics.median(rates)),
        "min_events_per_s": round(min(rates)),
        "max_events_per_s": round(max(rates)),
        "median_seconds": round(statistics.median(elapsed), 1),
    }


def bench_job(endpoints: dict[str, str], events: int, max_offsets: int) -> dict[str, object]:
    run_id = f"bench-{uuid.uuid4().hex[:8]}"
    topic, prefix = f"bench-job-{run_id}", f"dataplane_bench/{run_id}"
    table = f"s3a://{endpoints['lake_bucket']}/{prefix}/logistics_events"
    checkpoint = f"s3a://{endpoints['checkpoint_bucket']}/{prefix}/logistics_events"
    sparkrun.create_topic(endpoints, topic)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            code, summary = sparkrun.run_producer(endpoints, topic, ["--count", str(events), "--rate", "0",
                                                                     "--seed", "7", "--inject-malformed",
                                                                     str(events // 200)], Path(tmp))  # fmt: skip
            if code != 0:
                raise RuntimeError(f"producer exited {code}: {summary}")
            argv = sparkrun.spark_submit_argv(endpoints, sparkrun.JOBS / "logistics_stream.py", [
                "--bootstrap-servers", endpoints["testbed_kafka_internal_bootstrap"], "--topic", topic,
                "--table-uri", table, "--checkpoint-uri", checkpoint,
                "--max-offsets-per-trigger", str(max_offsets), "--available-now"])  # fmt: skip
            submitted = time.monotonic()
            app = sparkrun.SparkApp(argv, sparkrun.spark_env(endpoints), Path(tmp) / "job.log")
            exit_code = app.wait(3600)
            wall = time.monotonic() - submitted
            lines = app.lines()
            if exit_code != 0:
                raise RuntimeError(f"the job exited {exit_code}:\n" + "\n".join(lines[-40:]))
    finally:
        sparkrun.delete_topic(endpoints, topic)
    batches, first_start, last_end = [], None, None
    for line in lines:
        stamp = line[:23]
        if re.search(r"batch \d+: started", line) and first_start is None:
            first_start = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
        m = re.search(r"batch (\d+): consumed (\d+), .* ([\d.]+) s \((.*)\)$", line)
        if m:
            last_end = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
            batches.append({"batch": int(m[1]), "consumed": int(m[2]), "seconds": float(m[3]), "steps": m[4]})
    sparkrun.delete_prefix(endpoints, endpoints["lake_bucket"], prefix + "/")
    sparkrun.delete_prefix(endpoints, endpoints["checkpoint_bucket"], prefix + "/")
    processing = (last_end - first_start).total_seconds() if first_start and last_end else float("nan")
    consumed = sum(b["consumed"] for b in batches)
    return {
        "events": events,
        "consumed": consumed,
        "max_offsets_per_trigger": max_offsets,
        "batches": len(batches),
        "processing_seconds": round(processing, 1),
        "end_to_end_events_per_s": round(consumed / processing) if processing == processing and processing else None,
        "wall_seconds_incl_startup": round(wall, 1),
        "median_batch_seconds": round(statistics.median(b["seconds"] for b in batches), 1) if batches else None,
        "batch_log": batches,
        "producer_events_per_s": round(summary["mean_rate"]),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.dataplane", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["producer", "job", "all"])
    p.add_argument("--events", type=int, help="events per run (default 50000 producer, 100000 job)")
    p.add_argument("--runs", type=int, default=3, help="producer runs (the median is reported)")
    p.add_argument("--max-offsets", type=int, default=20000, help="maxOffsetsPerTrigger of the job")
    a = p.parse_args(argv)
    endpoints = sparkrun.load_endpoints()
    report: dict[str, object] = {"machine_before": machine_notes()}
    if a.what in ("producer", "all"):
        report["producer"] = bench_producer(endpoints, a.events or 50_000, a.runs)
    if a.what in ("job", "all"):
        report["job"] = bench_job(endpoints, a.events or 100_000, a.max_offsets)
    report["machine_after"] = machine_notes()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
