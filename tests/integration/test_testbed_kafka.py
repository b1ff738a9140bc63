"""Kafka (KRaft, 3 combined nodes) of the test bed: produce and consume through all three brokers with
replication factor 3 and acks=all."""

from __future__ import annotations

import pytest

from testbed.kafka_check import round_trip
from testbed.services.kafka import describe_brokers

pytestmark = pytest.mark.integration


def test_metadata_lists_every_broker(testbed: dict[str, str], require_services) -> None:
    require_services("kafka")
    servers = testbed["kafka_bootstrap_servers"].split(",")
    assert len(servers) == 3
    # Each broker alone is enough to learn the whole cluster (its HOST listener advertises itself).
    for server in servers:
        assert describe_brokers(server) == [1, 2, 3]


def test_produce_consume_through_all_brokers_rf3_acks_all(testbed: dict[str, str], require_services) -> None:
    require_services("kafka")
    result = round_trip(testbed["kafka_bootstrap_servers"].split(","), partitions=6, per_broker=100)
    print(
        f"\n[kafka] {len(result.sent)} records: produce {result.produce_seconds:.2f} s (acks=all), "
        f"consume {result.consume_seconds:.2f} s"
    )
    assert result.leaders == {1, 2, 3}, "partition leaders should be spread over all three brokers"
    assert all(sorted(r) == [1, 2, 3] for r in result.replicas.values())
    assert all(sorted(r) == [1, 2, 3] for r in result.isr.values())
    assert len(result.acked_offsets) == len(result.sent) == 300
    assert {p for p, _ in result.acked_offsets} == set(range(6))
    assert sorted(result.received) == sorted(result.sent)


def test_internal_listener_serves_clients_too(testbed: dict[str, str], require_services) -> None:
    """Services (Orion's jobs) use the INTERNAL listener; it must serve the same cluster."""
    require_services("kafka")
    internal = testbed["testbed_kafka_internal_bootstrap"].split(",")
    assert describe_brokers(internal[0]) == [1, 2, 3]


def test_events_topic_exists_as_the_stack_creates_it(testbed: dict[str, str], require_services) -> None:
    """`up` creates the events topic with the stack's spec and the stack's provider code, before any job."""
    require_services("kafka")
    from lakehouse.kafka_topics import describe_topic

    topic = describe_topic(testbed["kafka_bootstrap_servers"], testbed["kafka_topic"])
    assert topic is not None, f"the test bed has no topic {testbed['kafka_topic']!r}"
    assert topic["partitions"] >= 6
    assert topic["replication_factor"] == 3
    assert topic["configs"]["min.insync.replicas"] == "2"
