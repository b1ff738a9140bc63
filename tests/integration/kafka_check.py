"""A produce/consume round trip through every broker of a cluster (replication 3, acks=all), used by
the integration tests of both Kafka modes."""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

from testbed.services import kafka


@dataclass
class RoundTrip:
    topic: str
    sent: list[bytes]
    received: list[bytes]
    leaders: set[int]
    replicas: dict[int, list[int]]
    isr: dict[int, list[int]]
    acked_offsets: list[tuple[int, int]]
    produce_seconds: float
    consume_seconds: float


def round_trip(
    bootstrap_by_broker: list[str],
    *,
    partitions: int = 6,
    per_broker: int = 50,
    replication: int = 3,
    timeout: float = 60,
) -> RoundTrip:
    """Create a fresh topic (RF `replication`, min.insync 2), produce `per_broker` records bootstrapped
    through each broker in turn with acks=all, consume them all from the start, delete the topic."""
    from kafka.admin import NewTopic

    every = ",".join(bootstrap_by_broker)
    topic = f"testbed-roundtrip-{uuid.uuid4().hex[:10]}"
    with kafka.admin(every, "testbed-check", timeout_ms=15000) as admin:
        try:
            min_isr = {"min.insync.replicas": str(min(2, replication))}
            admin.create_topics([NewTopic(topic, partitions, replication, topic_configs=min_isr)])
            parts = _wait_replicated(admin, topic, partitions, replication, timeout)
            t0 = time.monotonic()
            sent, acked = _produce(bootstrap_by_broker, topic, per_broker, timeout)
            t1 = time.monotonic()
            received = _consume(every, topic, len(sent), timeout)
            return RoundTrip(
                topic=topic,
                sent=sent,
                received=received,
                leaders={p["leader_id"] for p in parts},
                replicas={p["partition_index"]: p["replica_nodes"] for p in parts},
                isr={p["partition_index"]: p["isr_nodes"] for p in parts},
                acked_offsets=acked,
                produce_seconds=t1 - t0,
                consume_seconds=time.monotonic() - t1,
            )
        finally:
            with contextlib.suppress(Exception):  # a topic that may not exist; the result already says what happened
                admin.delete_topics([topic])


def _wait_replicated(admin: Any, topic: str, partitions: int, replication: int, timeout: float) -> list[dict]:
    """Until every partition has a leader and `replication` in-sync replicas; returns the partitions."""
    deadline = time.monotonic() + timeout
    while True:
        parts = admin.describe_topics([topic])[0]["partitions"]
        if len(parts) == partitions and all(len(p["isr_nodes"]) == replication and p["leader_id"] >= 0 for p in parts):
            return parts
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {topic} not fully replicated in {timeout:.0f} s: {parts}")
        time.sleep(0.3)


def _produce(
    bootstrap_by_broker: list[str], topic: str, per_broker: int, timeout: float
) -> tuple[list[bytes], list[tuple[int, int]]]:
    """`per_broker` records through each broker in turn, acks=all: (values sent, (partition, offset) acked)."""
    from kafka import KafkaProducer

    sent: list[bytes] = []
    acked: list[tuple[int, int]] = []
    for i, boot in enumerate(bootstrap_by_broker):
        producer = KafkaProducer(
            bootstrap_servers=boot, acks="all", retries=5, linger_ms=5, client_id=f"testbed-check-{i}"
        )
        try:
            futures = []
            for n in range(per_broker):
                value = f"{topic}:{i}:{n}".encode()
                sent.append(value)
                futures.append(producer.send(topic, key=str(n).encode(), value=value))
            producer.flush(timeout)
            acked += [(md.partition, md.offset) for md in (f.get(timeout) for f in futures)]
        finally:
            producer.close(timeout=10)
    return sent, acked


def _consume(bootstrap: str, topic: str, count: int, timeout: float) -> list[bytes]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"{topic}-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    received: list[bytes] = []
    start = time.monotonic()
    try:
        while len(received) < count and time.monotonic() - start < timeout:
            for batch in consumer.poll(timeout_ms=1000).values():
                received += [r.value for r in batch]
    finally:
        consumer.close()
    return received
