"""The stack's Kafka topic provider functions (components/providers/kafka_topic.py) against the test bed's
real KRaft cluster: create, adopt, grow, reconfigure, delete, delete again."""

from __future__ import annotations

import uuid

import pytest

from lakehouse.generators.kafka import topic_spec

pytestmark = pytest.mark.integration


def _config(bootstrap: str, topic: str, key: str) -> str | None:
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    try:
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])["topic"][topic]
        return configs[key]["value"] if key in configs else None
    finally:
        admin.close()


def test_topic_life_cycle_on_the_real_cluster(testbed: dict[str, str], require_services) -> None:
    require_services("kafka")
    from lakehouse.kafka_topics import create_topic, delete_topic, describe_topic, update_topic

    boot = testbed["kafka_bootstrap_servers"]
    spec = topic_spec(name=f"testbed-provider-{uuid.uuid4().hex[:8]}", partitions=6, brokers=3)
    name = spec.name
    try:
        created = create_topic(
            boot, name, partitions=spec.partitions, replication_factor=spec.replication_factor, configs=spec.configs
        )
        assert (created["adopted"], created["partitions"], created["replication_factor"]) == (False, 6, 3)
        assert describe_topic(boot, name)["partitions"] == 6
        assert _config(boot, name, "min.insync.replicas") == "2"

        again = create_topic(boot, name, partitions=8, replication_factor=3, configs=spec.configs)
        assert (again["adopted"], again["partitions"]) == (True, 8)
        with pytest.raises(RuntimeError, match="replication factor 3, not 2"):
            create_topic(boot, name, partitions=8, replication_factor=2)

        updated = update_topic(boot, name, partitions=10, configs={**spec.configs, "retention.ms": "3600000"})
        assert updated["partitions"] == 10
        assert _config(boot, name, "retention.ms") == "3600000"
        assert update_topic(boot, name, partitions=4)["partitions"] == 10  # never lowered
    finally:
        assert delete_topic(boot, name) in (True, False)
    assert delete_topic(boot, name) is False
    assert describe_topic(boot, name) is None
