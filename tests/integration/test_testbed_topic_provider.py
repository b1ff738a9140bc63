"""The stack's Kafka topic admin functions (lakehouse/clients/kafka_topic.py, run
by components/providers/kafka_topic.py)
against the test bed's real KRaft cluster: create, adopt or refuse, grow, reconfigure, delete until gone."""

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


def _name() -> str:
    return f"testbed-provider-{uuid.uuid4().hex[:8]}"


def test_topic_life_cycle_on_the_real_cluster(testbed: dict[str, str], require_services) -> None:
    require_services("kafka")
    from lakehouse.clients.kafka_topic import create_topic, delete_topic, describe_topic, update_topic

    boot = testbed["kafka_bootstrap_servers"]
    spec = topic_spec(name=_name(), partitions=6, brokers=3)
    name = spec.name
    deleted = None
    try:
        created = create_topic(
            boot, name, partitions=spec.partitions, replication_factor=spec.replication_factor, configs=spec.configs
        )
        assert (created["adopted"], created["created"], created["partitions"], created["replication_factor"]) == (
            False,
            True,
            6,
            3,
        )
        assert describe_topic(boot, name)["partitions"] == 6
        assert describe_topic(boot, name)["topic_id"] == created["topic_id"]
        assert _config(boot, name, "min.insync.replicas") == "2"

        again = create_topic(boot, name, partitions=8, replication_factor=3, configs=spec.configs)
        assert (again["adopted"], again["created"], again["partitions"]) == (True, False, 8)
        with pytest.raises(RuntimeError, match="replication factor 3, not 2"):
            create_topic(boot, name, partitions=8, replication_factor=2)

        updated = update_topic(boot, name, partitions=10, configs={**spec.configs, "retention.ms": "3600000"})
        assert updated["partitions"] == 10
        assert _config(boot, name, "retention.ms") == "3600000"
        assert update_topic(boot, name, partitions=4)["partitions"] == 10  # never lowered
    finally:
        deleted = delete_topic(boot, name)
    assert deleted is True
    # Really gone at once (delete waits): not listed, and the name can be created again right away.
    assert describe_topic(boot, name) is None
    assert delete_topic(boot, name) is False
    try:
        fresh = create_topic(boot, name, partitions=2, replication_factor=3, adopt_existing=False)
        assert (fresh["created"], fresh["partitions"]) == (True, 2)
    finally:
        delete_topic(boot, name)


def test_an_existing_topic_is_refused_unless_adopted_or_on_the_owners_cluster(
    testbed: dict[str, str], require_services
) -> None:
    require_services("kafka")
    from lakehouse.clients.kafka_topic import cluster_id, create_topic, delete_topic

    boot = testbed["kafka_bootstrap_servers"]
    name = _name()
    try:
        create_topic(boot, name, partitions=3, replication_factor=3)
        with pytest.raises(RuntimeError, match=r"TopicExistsError: topic .* already exists .* did not create it"):
            create_topic(boot, name, partitions=3, replication_factor=3, adopt_existing=False)
        with pytest.raises(RuntimeError, match="did not create it"):
            create_topic(
                boot, name, partitions=3, replication_factor=3, adopt_existing=False, owner_cluster_id="someone-else"
            )
        own = create_topic(
            boot, name, partitions=3, replication_factor=3, adopt_existing=False, owner_cluster_id=cluster_id(boot)
        )
        assert (own["created"], own["adopted"], own["cluster_id"]) == (True, False, cluster_id(boot))
    finally:
        delete_topic(boot, name)


def test_delete_with_a_topic_id_leaves_a_re_created_topic_alone(testbed: dict[str, str], require_services) -> None:
    require_services("kafka")
    from lakehouse.clients.kafka_topic import create_topic, delete_topic, describe_topic

    boot = testbed["kafka_bootstrap_servers"]
    name = _name()
    try:
        first = create_topic(boot, name, partitions=1, replication_factor=3)
        assert delete_topic(boot, name, topic_id=first["topic_id"]) is True
        second = create_topic(boot, name, partitions=1, replication_factor=3)
        assert second["topic_id"] != first["topic_id"]
        # The first topic's owner deletes "its" topic: the name now belongs to another one, which stays.
        assert delete_topic(boot, name, topic_id=first["topic_id"]) is False
        assert describe_topic(boot, name)["topic_id"] == second["topic_id"]
    finally:
        delete_topic(boot, name)
