"""The Kafka topic dynamic provider: its pure parts (validation, diff, state parsing, retry policy).

Its create/update/delete functions talk to a real Kafka; the test bed runs them there.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import pytest

from components.providers import kafka_topic as kt
from lakehouse import kafka_topics

GOOD = {
    "bootstrap_servers": "127.0.0.1:19092,127.0.0.1:19093",
    "name": "logistics-events",
    "partitions": 6,
    "replication_factor": 3,
    "configs": {"min.insync.replicas": "2"},
    "timeout_seconds": 120,
    "provider_hash": "abc",
}


def test_valid_inputs_pass() -> None:
    assert kt.validate(GOOD) == []


@pytest.mark.parametrize(
    ("change", "prop", "text"),
    [
        ({"name": "bad name!"}, "name", "1-249 characters"),
        ({"name": ""}, "name", "1-249 characters"),
        ({"partitions": 0}, "partitions", "at least 1"),
        ({"partitions": True}, "partitions", "at least 1"),
        ({"replication_factor": -1}, "replication_factor", "at least 1"),
        ({"bootstrap_servers": "localhost"}, "bootstrap_servers", "host:port"),
        ({"bootstrap_servers": "h:99999"}, "bootstrap_servers", "host:port"),
        ({"configs": {"retention.ms": 5}}, "configs", "string values"),
    ],
)
def test_invalid_inputs_name_the_property(change: dict, prop: str, text: str) -> None:
    failures = kt.validate({**GOOD, **change})
    assert [p for p, _ in failures] == [prop]
    assert text in failures[0][1]


def test_fewer_partitions_than_before_is_refused() -> None:
    failures = kt.validate({**GOOD, "partitions": 3}, olds=GOOD)
    assert failures == [("partitions", failures[0][1])]
    assert "cannot reduce the partitions of topic 'logistics-events' from 6 to 3" in failures[0][1]
    assert kt.validate({**GOOD, "partitions": 12}, olds=GOOD) == []
    # A renamed topic is a new topic: its partition count starts over.
    assert kt.validate({**GOOD, "name": "other", "partitions": 1}, olds=GOOD) == []


def test_check_returns_failures_for_pulumi() -> None:
    result = kt.KafkaTopicProvider().check({}, {**GOOD, "partitions": 0})
    assert [f.property for f in result.failures] == ["partitions"]


def test_diff_updates_in_place_and_replaces_only_for_name_or_replication() -> None:
    assert kt.diff(GOOD, dict(GOOD)) == (False, [])
    assert kt.diff(GOOD, {**GOOD, "partitions": 12}) == (True, [])
    assert kt.diff(GOOD, {**GOOD, "configs": {"min.insync.replicas": "1"}}) == (True, [])
    assert kt.diff(GOOD, {**GOOD, "provider_hash": "new"}) == (True, [])
    assert kt.diff(GOOD, {**GOOD, "name": "other"}) == (True, ["name"])
    assert kt.diff(GOOD, {**GOOD, "replication_factor": 1}) == (True, ["replication_factor"])
    # Outputs the provider adds are not inputs: no perpetual diff.
    assert kt.diff({**GOOD, "adopted": True, "__provider": "x"}, {**GOOD, "adopted": None}) == (False, [])


def test_provider_diff_deletes_before_replacing() -> None:
    result = kt.KafkaTopicProvider().diff("logistics-events", GOOD, {**GOOD, "replication_factor": 1})
    assert result.changes is True
    assert result.replaces == ["replication_factor"]
    assert result.delete_before_replace is True
    assert kt.KafkaTopicProvider().diff("t", GOOD, dict(GOOD)).changes is False


def test_topic_state_from_a_describe_answer() -> None:
    description = {
        "name": "logistics-events",
        "error_code": 0,
        "partitions": [{"partition_index": i, "leader_id": 1, "replica_nodes": [1, 2, 3]} for i in range(6)],
    }
    state = kafka_topics.topic_state
    assert state(description) == {"name": "logistics-events", "partitions": 6, "replication_factor": 3}
    assert state({"name": "t", "partitions": []}) == {"name": "t", "partitions": 0, "replication_factor": 0}


def test_retriable_errors_are_the_ones_a_starting_cluster_gives() -> None:
    from kafka import errors

    assert kafka_topics.is_retriable(errors.KafkaConnectionError())
    assert kafka_topics.is_retriable(errors.InvalidReplicationFactorError())
    assert kafka_topics.is_retriable(errors.KafkaTimeoutError())
    assert not kafka_topics.is_retriable(errors.TopicAuthorizationFailedError())
    assert not kafka_topics.is_retriable(ValueError("bad request"))


def test_provider_hash_covers_the_provider_and_the_admin_functions_it_calls() -> None:
    source = Path(kt.__file__).read_bytes() + Path(kafka_topics.__file__).read_bytes()
    assert kt.provider_hash() == hashlib.sha256(source).hexdigest()


def test_provider_module_imports_kafka_only_inside_functions() -> None:
    # The provider is pickled into the state: no client or kafka import may live at module level.
    for module in (kt, kafka_topics):
        tree = ast.parse(Path(module.__file__).read_text())
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] == "kafka" for n in names), ast.unparse(node)


def test_service_functions_take_a_bootstrap_string() -> None:
    import inspect

    for fn in (
        kafka_topics.create_topic,
        kafka_topics.describe_topic,
        kafka_topics.update_topic,
        kafka_topics.delete_topic,
    ):
        params = list(inspect.signature(fn).parameters)
        assert params[:2] == ["bootstrap", "name"], fn.__name__


def test_unreachable_kafka_fails_with_a_message_naming_what_and_where() -> None:
    # Port 9 on loopback is closed; no retry budget, so this fails after one short bootstrap attempt.
    with pytest.raises(RuntimeError) as err:
        kafka_topics.delete_topic("127.0.0.1:9", "logistics-events", timeout_seconds=0)
    message = str(err.value)
    assert "Kafka delete of topic 'logistics-events' at 127.0.0.1:9 failed" in message
