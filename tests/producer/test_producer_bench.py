"""bench/producer.py's own logic without Kafka: the kafka-tools artifact, the anchor's payloads, parsing of
ProducerPerformance's total line, and how the figure puts medians and ratios together."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bench import producer as bench
from lakehouse import versions
from testbed import artifacts


def test_kafka_tools_come_from_their_pom_at_the_kafka_version(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, Path, dict[str, str]]] = []
    monkeypatch.setattr(artifacts, "ensure", lambda name, build, in_place=False: build(Path("/tmp/x")) or Path(name))
    monkeypatch.setattr(
        artifacts, "mvn_copy_dependencies", lambda what, pom, out, props: calls.append((what, pom, props))
    )
    v = versions.load()

    lib = artifacts.kafka_tools_lib(v)
    other = artifacts.kafka_tools_lib(dataclasses.replace(v, kafka="9.9.9"))

    assert str(lib).startswith(f"kafka-tools-{v.kafka}-") and str(other).startswith("kafka-tools-9.9.9-")
    assert calls[0][1].name == "kafka-tools.xml" and calls[0][2] == {"kafka.version": v.kafka}
    pom = calls[0][1].read_text()
    assert "<artifactId>kafka-tools</artifactId>" in pom and "${kafka.version}" in pom


def test_payload_file_holds_generated_events_one_per_line(tmp_path: Path) -> None:
    path = tmp_path / "payloads.txt"

    mean = bench.write_payloads(path, n=300)

    lines = path.read_bytes().splitlines()
    assert len(lines) == 300 and len({json.loads(x)["event_id"] for x in lines}) == 300
    assert mean == pytest.approx(sum(len(x) for x in lines) / 300)


def test_total_line_of_producer_performance_parses() -> None:
    line = ("200000 records sent, 98328.416912 records/sec (61.15 MB/sec), 70.64 ms avg latency, "
            "457.00 ms max latency, 65 ms 50th, 130 ms 95th, 163 ms 99th, 175 ms 99.9th.")  # fmt: skip

    m = bench._JAVA_TOTAL.match(line)

    assert m is not None and (m[1], m[2], m[3], m[4]) == ("200000", "98328.416912", "61.15", "70.64")


def test_figure_divides_the_medians_of_the_same_invocation(monkeypatch: pytest.MonkeyPatch) -> None:
    def ours(endpoints, *, events, runs, processes):
        return {"processes": processes, "events_per_s": {"median": 1000.0 * processes}}

    def java(endpoints, *, records, runs, heap):
        assert (records, runs, heap) == (500, 2, "128m")
        return {"events_per_s": {"median": 4000.0}}

    monkeypatch.setattr(bench, "ours", ours)
    monkeypatch.setattr(bench, "producer_performance", java)

    fig = bench.figure({"testbed_kafka_brokers": "3"}, events=500, runs=2, heap="128m")

    assert fig["ratio_to_producer_performance"] == {"1_process": 0.25, "2_processes": 0.5}
    assert set(fig) >= {"ours", "producer_performance", "machine_before", "machine_after", "target_ratio"}
