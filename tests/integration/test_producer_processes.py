"""`python -m producer --processes 2` against the test bed's 3 brokers: every record lands exactly once (read
back from the topic and matched with the manifest), the injected kinds are as asked, and the brokers store
the lz4-compressed batches as they came (the log on disk is a fraction of the JSON sent)."""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import sparkrun
from producer.malformed import KINDS

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

COUNT, MALFORMED, DUPLICATES = 20_000, 100, 50


def read_topic(endpoints: dict[str, str], topic: str, expected: int, timeout_s: float = 300) -> list:
    """Every record of the topic (from the beginning), once the end offsets are reached."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=endpoints["kafka_bootstrap_servers"].split(","),
                             enable_auto_commit=False, consumer_timeout_ms=2000)  # fmt: skip
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        out: list = []
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(p) < ends[p] for p in parts):
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {len(out)} of {sum(ends.values())} records of {topic} in {timeout_s:.0f} s")
            for batch in consumer.poll(timeout_ms=1000, max_records=5000).values():
                out.extend(batch)
        assert sum(ends.values()) == expected, f"{topic} holds {sum(ends.values())} records, not {expected}"
        return out
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def sent(testbed: dict[str, str]) -> Iterator[dict]:
    topic = f"producer-it-{uuid.uuid4().hex[:8]}"
    sparkrun.create_topic(testbed, topic)
    try:
        with tempfile.TemporaryDirectory(prefix="producer-it-") as tmp:
            manifest = Path(tmp) / "sent.jsonl"
            code, summary = sparkrun.run_producer(testbed, topic, [
                "--count", str(COUNT), "--rate", "0", "--seed", "31", "--processes", "2",
                "--inject-malformed", str(MALFORMED), "--duplicates", str(DUPLICATES), "--manifest", str(manifest),
            ], Path(tmp))  # fmt: skip
            lines = [json.loads(line) for line in manifest.read_text().splitlines()]
        records = read_topic(testbed, topic, expected=COUNT)
        log_bytes = _log_bytes(testbed, topic)
        yield {"code": code, "summary": summary, "manifest": lines, "records": records, "log_bytes": log_bytes}
    finally:
        sparkrun.delete_topic(testbed, topic)


def _log_bytes(testbed: dict[str, str], topic: str) -> int | None:
    """Bytes of the topic's log segments on broker 1 (a replica of every partition), None off the test bed."""
    if "testbed_dir" not in testbed:
        return None
    data = Path(testbed["testbed_dir"]) / "kafka" / "node-1" / "data"
    return sum(f.stat().st_size for f in data.glob(f"{topic}-*/*.log"))


def test_two_processes_acknowledge_every_record(sent: dict) -> None:
    s = sent["summary"]
    assert sent["code"] == 0, s
    assert (s["sent"], s["acked"], s["failed"], s["unacknowledged"], s["processes"]) == (COUNT, COUNT, 0, 0, 2)
    assert s["kinds"] == {"valid": COUNT - MALFORMED - DUPLICATES, "duplicate": DUPLICATES,
                          **{k: MALFORMED // len(KINDS) for k in KINDS}}  # fmt: skip


def test_every_record_is_in_the_topic_exactly_once_where_the_manifest_says(sent: dict) -> None:
    in_topic = {(r.partition, r.offset): r for r in sent["records"]}
    in_manifest = {(m["partition"], m["offset"]): m for m in sent["manifest"]}

    assert len(sent["records"]) == len(in_topic) == COUNT
    assert in_topic.keys() == in_manifest.keys()
    for coords, m in in_manifest.items():
        if m["kind"] in ("valid", "duplicate"):
            assert json.loads(in_topic[coords].value)["event_id"] == m["event_id"]


def test_valid_events_are_unique_and_only_the_resends_repeat(sent: dict) -> None:
    kinds = {(m["partition"], m["offset"]): m["kind"] for m in sent["manifest"]}
    ids = Counter(json.loads(r.value)["event_id"] for r in sent["records"]
                  if kinds[(r.partition, r.offset)] in ("valid", "duplicate"))  # fmt: skip
    valid = COUNT - MALFORMED - DUPLICATES
    assert len(ids) == valid
    assert sum(n - 1 for n in ids.values()) == DUPLICATES
    # Keys: a shipment's events stay in one partition.
    partitions: dict[bytes, set[int]] = {}
    for r in sent["records"]:
        partitions.setdefault(r.key, set()).add(r.partition)
    assert all(len(p) == 1 for p in partitions.values())


def test_brokers_keep_the_batches_compressed(sent: dict) -> None:
    if sent["log_bytes"] is None:
        pytest.skip("the broker's log directory is only readable on the test bed")
    json_bytes = sent["summary"]["value_bytes"]
    # lz4 shrinks these JSON batches about 3x; uncompressed the log would be larger than the values.
    assert sent["log_bytes"] < json_bytes / 2, (sent["log_bytes"], json_bytes)
