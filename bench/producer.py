"""Figure 1, the producer: events/s with acks=all to the test bed's 3 brokers, ours against Kafka's own Java
`ProducerPerformance` (org.apache.kafka:kafka-tools at versions.toml [kafka]) on the same cluster.

    python -m bench.producer [--events 200000] [--runs 3] [--java-heap 256m]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import sparkrun
from bench.machine import noted, print_json
from producer.delivery import SinkOptions
from producer.events import EventGenerator

PAYLOAD_SAMPLE = 10_000  # distinct generated events in the anchor's payload file (one at random per record)
KEY_RANGE = 64  # keys of the anchor's records: as many as the shipments our generator keeps on the road
JAVA_CLASS = "org.apache.kafka.tools.ProducerPerformance"
_JAVA_TOTAL = re.compile(
    r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency"
)


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {k: round(f(values), 1) for k, f in (("median", statistics.median), ("min", min), ("max", max))}


@contextlib.contextmanager
def _fresh_topic(endpoints: Mapping[str, str], kind: str) -> Iterator[str]:
    topic = f"{kind}-{uuid.uuid4().hex[:8]}"
    sparkrun.create_topic(endpoints, topic)
    try:
        yield topic
    finally:
        sparkrun.delete_topic(endpoints, topic)


def ours(endpoints: Mapping[str, str], *, events: int, runs: int, processes: int) -> dict[str, object]:
    """`python -m producer --rate 0 --count events [--processes N]`, `runs` times, each into a fresh topic."""
    rates, seconds, sizes = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-producer-") as tmp:
        for i in range(runs):
            with _fresh_topic(endpoints, "bench-producer") as topic:
                args = ["--count", str(events), "--rate", "0", "--seed", str(i), "--processes", str(processes)]
                code, summary = sparkrun.run_producer(endpoints, topic, args, Path(tmp))
            if code != 0 or summary["acked"] != events:
                raise RuntimeError(f"producer run {i} ({processes} process(es)) exited {code}: {summary}")
            rates.append(summary["mean_rate"])
            seconds.append(summary["elapsed_s"])
            sizes.append(summary["mean_value_bytes"])
    return {
        "processes": processes,
        "events_per_run": events,
        "runs": runs,
        "events_per_s": _spread(rates),
        "seconds": _spread(seconds),
        "mean_event_bytes": round(statistics.mean(sizes), 1),
        "all_runs_events_per_s": [round(r) for r in rates],
    }


def write_payloads(path: Path, n: int = PAYLOAD_SAMPLE, seed: int = 1) -> float:
    """`n` generated events, one JSON per line (the anchor's --payload-file); returns their mean size in bytes."""
    generator = EventGenerator(seed=seed)
    values = [generator.next_encoded().value for _ in range(n)]
    path.write_bytes(b"".join(value + b"\n" for value in values))
    return sum(map(len, values)) / n


def java_binary(endpoints: Mapping[str, str]) -> str:
    home = endpoints.get("testbed_java_home") or os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise RuntimeError("no Java for ProducerPerformance: set JAVA_HOME (the test bed's endpoints name one)")
    return java


def producer_performance(endpoints: Mapping[str, str], *, records: int, runs: int, heap: str) -> dict[str, object]:
    """Kafka's ProducerPerformance with our settings, `runs` times, each into a fresh topic."""
    from lakehouse.versions import load
    from testbed.artifacts import kafka_tools_lib

    options = SinkOptions()
    # kafka-tools at versions.toml [kafka], fetched with mvn into the artifact cache once
    java, classpath = java_binary(endpoints), str(kafka_tools_lib(load()) / "*")
    props = {
        "acks": "all",
        "enable.idempotence": "true",
        "compression.type": options.compression,
        "batch.size": str(options.batch_size),
        "linger.ms": str(options.linger_ms),
        "max.request.size": str(options.producer_config()["max_request_size"]),
    }
    rates, mb, latency = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-producer-java-") as tmp:
        payloads = Path(tmp) / "payloads.txt"
        mean_bytes = write_payloads(payloads)
        for i in range(runs):
            with _fresh_topic(endpoints, "bench-producer-java") as topic:
                argv = [
                    java, f"-Xmx{heap}", "-cp", classpath, JAVA_CLASS,
                    "--bootstrap-server", endpoints["kafka_bootstrap_servers"], "--topic", topic,
                    "--num-records", str(records), "--throughput", "-1", "--payload-file", str(payloads),
                    "--key-distribution", "random", "--record-key-range", str(KEY_RANGE), "--random-seed", str(i + 1),
                    "--command-property", *(f"{k}={v}" for k, v in props.items()),
                ]  # fmt: skip
                done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
            total = next((m for line in done.stdout.splitlines() if (m := _JAVA_TOTAL.match(line))), None)
            if done.returncode != 0 or total is None or int(total[1]) != records:
                out = (done.stdout + done.stderr)[-3000:]
                raise RuntimeError(f"ProducerPerformance run {i} exited {done.returncode}:\n{out}")
            rates.append(float(total[2]))
            mb.append(float(total[3]))
            latency.append(float(total[4]))
    return {
        "tool": f"{JAVA_CLASS} (kafka-tools)",
        "records_per_run": records,
        "runs": runs,
        "events_per_s": _spread(rates),
        "mb_per_s": _spread(mb),
        "avg_latency_ms": _spread(latency),
        "mean_event_bytes": round(mean_bytes, 1),
        "jvm_heap": heap,
        "producer_props": props,
        "all_runs_events_per_s": [round(r) for r in rates],
    }


@noted
def figure(endpoints: Mapping[str, str] | None = None, *, events: int = 200_000, runs: int = 3, heap: str = "256m",
           processes: Sequence[int] = (1, 2)) -> dict[str, object]:  # fmt: skip
    """Figure 1 with its anchor, measured in one go: ours with each number of processes, the Java tool, ratios."""
    started = time.monotonic()
    mine = {f"{n}_process{'es' if n > 1 else ''}": ours(endpoints, events=events, runs=runs, processes=n)
            for n in processes}  # fmt: skip
    anchor: Any = producer_performance(endpoints, records=events, runs=runs, heap=heap)
    java_median = anchor["events_per_s"]["median"]
    return {
        "ours": mine,
        "producer_performance": anchor,
        "ratio_to_producer_performance": {
            name: round(fig["events_per_s"]["median"] / java_median, 3) if java_median else None  # type: ignore[index]
            for name, fig in mine.items()
        },
        "target_ratio": 0.3,
        "brokers": int(endpoints.get("testbed_kafka_brokers", "3")),
        "topic_partitions": 6,
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.producer", description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=200_000, help="events per run, ours and the anchor's")
    p.add_argument("--runs", type=int, default=3, help="runs of each (the median is the figure)")
    p.add_argument("--java-heap", default="256m", help="-Xmx of ProducerPerformance's JVM")
    p.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="our runs' --processes values")
    a = p.parse_args(argv)
    return print_json(figure(events=a.events, runs=a.runs, heap=a.java_heap, processes=a.processes))


if __name__ == "__main__":
    sys.exit(main())
