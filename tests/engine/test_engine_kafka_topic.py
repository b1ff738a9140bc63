"""The stack's Kafka topic provider through the real Pulumi engine, against the test bed's Kafka.

The program declares the topic as components/kafka.py does: settings from the `lakehouse:*` config
(`load_stack_config`), the spec from `topic_spec`, the `KafkaTopic` class; only the bootstrap addresses are
the test bed's. Every check on Kafka uses the admin client, not the provider.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pulumi
import pytest

from tests.engine import harness
from tests.engine.harness import EngineError

pytestmark = [pytest.mark.integration, pytest.mark.engine]

TOPIC_TYPE = "pulumi-python:dynamic/lakehouse:KafkaTopic"
RESOURCE = "kafka-topic"


def program() -> dict[str, Any]:
    """The topic as the stack declares it (runs in the clone, in the runner process)."""
    from components.config import load_stack_config
    from components.providers.kafka_topic import KafkaTopic
    from lakehouse.generators.kafka import topic_spec

    s = load_stack_config().settings
    p = harness.params()
    spec = topic_spec(name=s.kafka_topic, partitions=s.kafka_partitions, brokers=s.kafka_brokers)
    topic = KafkaTopic(
        RESOURCE,
        bootstrap_servers=p["bootstrap"],
        topic=spec.name,
        partitions=spec.partitions,
        replication_factor=spec.replication_factor,
        configs=spec.configs,
        adopt_existing=s.kafka_topic_adopt_existing,
        owner_cluster_id=p.get("owner_cluster_id"),
    )
    probe = harness.secret("probe")
    outputs = {"topic": topic.name, "created": topic.created, "adopted": topic.adopted, "probe": probe}
    if p.get("leak"):
        outputs["leaked"] = pulumi.Output.unsecret(probe)  # what a careless program would do
    return outputs


# ----- Kafka, seen with the admin client -----


def _admin(bootstrap: str) -> Any:
    from kafka import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=bootstrap.split(","), request_timeout_ms=30000)


def live(bootstrap: str, name: str) -> dict[str, Any] | None:
    """partitions, replication_factor, min.insync.replicas and topic_id of the topic; None if absent."""
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = _admin(bootstrap)
    try:
        if name not in admin.list_topics():
            return None
        (d,) = admin.describe_topics([name])
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])["topic"][name]
        return {
            "partitions": len(d["partitions"]),
            "replication_factor": max(len(p["replica_nodes"]) for p in d["partitions"]),
            "min.insync.replicas": configs.get("min.insync.replicas", {}).get("value"),  # None: not set on the topic
            "topic_id": str(d["topic_id"]),
        }
    finally:
        admin.close()


def out_of_band(bootstrap: str, name: str, *, partitions: int | None = None, configs: dict | None = None) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = _admin(bootstrap)
    try:
        if partitions is not None:
            admin.create_partitions({name: partitions})
        if configs:
            admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, configs)])
    finally:
        admin.close()


def _state_of_topic(stack: harness.EngineStack) -> dict[str, Any]:
    (resource,) = stack.resources(TOPIC_TYPE)
    return resource


@pytest.fixture
def topic_name(testbed: dict[str, str]) -> Any:
    from lakehouse.clients.kafka_topic import delete_topic

    name = f"engine-topic-{uuid.uuid4().hex[:8]}"
    yield name
    delete_topic(testbed["kafka_bootstrap_servers"], name)  # whatever a failed test left behind


def _two_brokers(stack: harness.EngineStack) -> None:
    """The config of a 2-broker stack (its topic spec: replication 2, min.insync.replicas 1)."""
    from lakehouse.settings import Settings

    stack.config["lakehouse:kafkaBrokers"] = "2"
    if "kafkaControllers" in Settings.config_keys():  # KRaft: controllers are brokers too
        stack.config["lakehouse:kafkaControllers"] = "1"


def _stack(engine: harness.Engine, testbed: dict[str, str], topic: str, **params: Any) -> harness.EngineStack:
    return engine.stack(
        program,
        params={"bootstrap": testbed["kafka_bootstrap_servers"], **params},
        secrets={"probe": secrets.token_urlsafe(24)},
        config={"lakehouse:kafkaTopic": topic, "lakehouse:kafkaPartitions": "6", "lakehouse:kafkaBrokers": "3"},
    )


def test_topic_lifecycle_through_the_real_engine(
    engine: harness.Engine, testbed: dict[str, str], require_services, topic_name: str
) -> None:
    require_services("kafka")
    boot = testbed["kafka_bootstrap_servers"]
    stack = _stack(engine, testbed, topic_name)

    # A fresh stack: preview plans the create, up creates it on Kafka with the stack's spec.
    assert stack.preview().changed() == {"create": 2}  # the stack resource and the topic
    created = stack.up()
    assert created.changed() == {"create": 2}
    first = live(boot, topic_name)
    assert first is not None
    assert (first["partitions"], first["replication_factor"], first["min.insync.replicas"]) == (6, 3, "2")
    assert (created.outputs["topic"], created.outputs["created"], created.outputs["adopted"]) == (
        topic_name,
        True,
        False,
    )
    assert created.secret_outputs == {"probe"}

    # Nothing changed: neither a second up nor a preview does anything.
    assert stack.up().changed() == {}
    assert stack.preview().changed() == {}

    # More partitions: an update in place, exactly the property that changed.
    stack.config["lakehouse:kafkaPartitions"] = "8"
    planned = stack.preview()
    assert planned.changed() == {"update": 1}
    assert planned.step(RESOURCE).changed_inputs == ["partitions"]
    assert stack.up().changed() == {"update": 1}
    assert live(boot, topic_name)["partitions"] == 8
    # Fewer partitions than Kafka has: refused at check, before anything runs.
    stack.config["lakehouse:kafkaPartitions"] = "4"
    with pytest.raises(EngineError, match=r"cannot reduce the partitions of topic .* from 8 to 4"):
        stack.preview()
    stack.config["lakehouse:kafkaPartitions"] = "8"

    # An edit of the provider's code in the clone shows up as an update of the topic (and only that).
    engine.edit("lakehouse/clients/kafka_topic.py", append="\n# an edit in the user's clone\n")
    edited = stack.preview()
    assert edited.changed() == {"update": 1}
    assert edited.step(RESOURCE).changed_inputs == ["provider_hash"]
    assert stack.up().changed() == {"update": 1}
    assert stack.preview().changed() == {}

    # Drift made outside the stack: refresh brings the live topic into the state ...
    out_of_band(boot, topic_name, configs={"min.insync.replicas": "1"})
    refreshed = stack.refresh()
    assert refreshed.changed() == {"update": 1}
    assert _state_of_topic(stack)["outputs"]["configs"] == {"min.insync.replicas": "1"}
    # ... and the next up sets back what the program declares.
    assert stack.preview().step(RESOURCE).changed_inputs == ["configs"]
    assert stack.up().changed() == {"update": 1}
    assert live(boot, topic_name)["min.insync.replicas"] == "2"
    # Partitions added outside: refreshed into the state; the program's smaller count is then refused.
    out_of_band(boot, topic_name, partitions=10)
    assert stack.refresh().changed() == {"update": 1}
    assert _state_of_topic(stack)["outputs"]["partitions"] == 10
    with pytest.raises(EngineError, match=r"cannot reduce the partitions of topic .* from 10 to 8"):
        stack.preview()
    stack.config["lakehouse:kafkaPartitions"] = "10"
    assert stack.preview().changed() == {}

    # Another replication factor (2 brokers' spec): a replacement, for exactly the reason diff gives;
    # the old topic is deleted first and really gone before the new one is created.
    before = live(boot, topic_name)["topic_id"]
    _two_brokers(stack)
    planned = stack.preview()
    assert planned.changed() == {"replace": 1}
    assert planned.step(RESOURCE).keys == ["replication_factor"]
    replaced = stack.up()
    assert replaced.changed() == {"replace": 1}
    now = live(boot, topic_name)
    assert (now["replication_factor"], now["partitions"], now["min.insync.replicas"]) == (2, 10, "1")
    assert now["topic_id"] != before
    assert _state_of_topic(stack)["outputs"]["topic_id"] == now["topic_id"]
    assert stack.preview().changed() == {}

    # The state: the numbers the engine stored, and none of the run's secrets in plain text.
    outputs = _state_of_topic(stack)["outputs"]
    assert (outputs["partitions"], outputs["replication_factor"], outputs["created"]) == (10, 2, True)
    stack.assert_no_plaintext([stack.secrets["probe"], engine.passphrase])
    assert stack.secrets["probe"] not in stack.state_text()

    # The grep can fail: a program that exports the secret unwrapped puts it into the state in plain text.
    stack.up(leak=True)
    assert stack.outputs()["leaked"] == stack.secrets["probe"]
    findings = stack.plaintext_findings([stack.secrets["probe"]])
    assert any(f.endswith(f"{stack.name}.json: value #0") for f in findings), findings

    # destroy removes what the stack created.
    assert stack.destroy().changed() == {"delete": 2}
    assert live(boot, topic_name) is None
    assert stack.resources() == []


def test_an_existing_topic_is_adopted_only_when_the_user_says_so_and_outlives_destroy(
    engine: harness.Engine, testbed: dict[str, str], require_services, topic_name: str
) -> None:
    require_services("kafka")
    from lakehouse.clients.kafka_topic import create_topic

    boot = testbed["kafka_bootstrap_servers"]
    create_topic(boot, topic_name, partitions=3, replication_factor=3)  # someone else's topic
    theirs = live(boot, topic_name)
    stack = _stack(engine, testbed, topic_name)

    with pytest.raises(EngineError, match=r"already exists .* this stack did not create it.*kafkaTopicAdoptExisting"):
        stack.up()
    assert live(boot, topic_name) == theirs  # untouched

    stack.config["lakehouse:kafkaTopicAdoptExisting"] = "true"
    adopted = stack.up()
    assert adopted.changed() == {"create": 1}
    assert (adopted.outputs["created"], adopted.outputs["adopted"]) == (False, True)
    now = live(boot, topic_name)
    assert (now["partitions"], now["min.insync.replicas"], now["topic_id"]) == (6, "2", theirs["topic_id"])

    # The stack does not delete what it did not create, so it cannot replace it either: diff says so.
    _two_brokers(stack)
    with pytest.raises(EngineError, match=r"was adopted .* cannot replace it to change its replication factor"):
        stack.preview()
    stack.config["lakehouse:kafkaBrokers"] = "3"
    stack.config.pop("lakehouse:kafkaControllers", None)

    assert stack.destroy().changed() == {"delete": 2}
    assert live(boot, topic_name)["topic_id"] == theirs["topic_id"]  # still there, the same topic


def test_a_lost_state_takes_back_the_stacks_own_topic_by_the_cluster_id(
    engine: harness.Engine, testbed: dict[str, str], require_services, topic_name: str
) -> None:
    """The stack formats its own KRaft cluster with its cluster id: on that cluster the topic is its own."""
    require_services("kafka")
    from lakehouse.clients.kafka_topic import cluster_id

    boot = testbed["kafka_bootstrap_servers"]
    own_cluster = cluster_id(boot)
    first = _stack(engine, testbed, topic_name, owner_cluster_id=own_cluster)
    first.up()
    made = live(boot, topic_name)

    # The state is lost (a new stack, the same program and cluster): a stranger's cluster id is refused ...
    stranger = _stack(engine, testbed, topic_name, owner_cluster_id="AAAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(EngineError, match="this stack did not create it"):
        stranger.up()
    # ... the stack's own cluster id takes the topic back as created by the stack, data and all.
    again = _stack(engine, testbed, topic_name, owner_cluster_id=own_cluster)
    taken = again.up()
    assert (taken.outputs["created"], taken.outputs["adopted"]) == (True, False)
    assert live(boot, topic_name)["topic_id"] == made["topic_id"]
    # Its destroy deletes it, as the lost stack's would have; the first stack's state no longer matches
    # the live topic id, so its destroy leaves alone whatever now carries the name.
    assert again.destroy().changed() == {"delete": 2}
    assert live(boot, topic_name) is None
    assert first.destroy().changed() == {"delete": 2}
