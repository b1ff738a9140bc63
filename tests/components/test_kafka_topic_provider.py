"""The Kafka topic dynamic provider: its pure parts (validation, diff, state parsing, retry policy), the
numbers as the engine sends them (floats), and the stack's topic under mocks that run check() as the engine.

Its create/update/delete functions talk to a real Kafka; the test bed runs them there, and
tests/engine/test_engine_kafka_topic.py runs the whole provider through the real Pulumi engine.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from stack_harness import (
    KAFKA_TOPIC,
    DynamicCheckFailed,
    RecordingMocks,
    as_engine_sends,
    plain,
    run_program,
    run_stack,
)

from components.providers import kafka_topic as kt
from components.providers.inputs import integral, with_ints
from lakehouse.clients import kafka_topic

GOOD = {
    "bootstrap_servers": "127.0.0.1:19092,127.0.0.1:19093",
    "name": "logistics-events",
    "partitions": 6,
    "replication_factor": 3,
    "configs": {"min.insync.replicas": "2"},
    "timeout_seconds": 120,
    "provider_hash": "abc",
}
# GOOD as the engine hands it to the provider: 6 -> 6.0, 3 -> 3.0, 120 -> 120.0.
AS_SENT = as_engine_sends(GOOD)


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
        "topic_id": "34348ead-8da3-4d1e-a2e8-a61a167c108a",
        "partitions": [{"partition_index": i, "leader_id": 1, "replica_nodes": [1, 2, 3]} for i in range(6)],
    }
    state = kafka_topic.topic_state
    assert state(description) == {
        "name": "logistics-events",
        "partitions": 6,
        "replication_factor": 3,
        "topic_id": "34348ead-8da3-4d1e-a2e8-a61a167c108a",
    }
    assert state({"name": "t", "partitions": []}) == {
        "name": "t",
        "partitions": 0,
        "replication_factor": 0,
        "topic_id": None,
    }


def test_retriable_errors_are_the_ones_a_starting_cluster_gives() -> None:
    from kafka import errors

    assert kafka_topic.is_retriable(errors.KafkaConnectionError())
    assert kafka_topic.is_retriable(errors.InvalidReplicationFactorError())
    assert kafka_topic.is_retriable(errors.KafkaTimeoutError())
    assert not kafka_topic.is_retriable(errors.TopicAuthorizationFailedError())
    assert not kafka_topic.is_retriable(ValueError("bad request"))
    # A topic that exists is final, unless it is only waiting for its deletion to complete (ZooKeeper mode).
    assert not kafka_topic.is_retriable(errors.TopicAlreadyExistsError())
    assert kafka_topic.is_retriable(errors.TopicAlreadyExistsError("Topic 'x' is marked for deletion."))


def test_provider_hash_changes_when_any_file_of_the_provider_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = kt.provider_sources()
    assert {p.name for p in sources} == {"kafka_topic.py", "inputs.py", "names.py"}
    copies = []
    for src in sources:
        dest = tmp_path / src.parent.name / src.name
        dest.parent.mkdir(exist_ok=True)
        shutil.copyfile(src, dest)
        copies.append(dest)
    monkeypatch.setattr(kt, "provider_sources", lambda: tuple(copies))
    seen = {kt.provider_hash()}
    assert len(seen.pop()) == 64
    seen = {kt.provider_hash()}
    for copy in copies:
        copy.write_text(copy.read_text() + "\n# edited\n")
        seen.add(kt.provider_hash())
    assert len(seen) == 1 + len(copies), "each edit gives a new hash"
    assert kt.provider_hash() == kt.provider_hash(), "and the same code the same hash"


def test_provider_module_imports_kafka_only_inside_functions() -> None:
    # The provider is pickled into the state: no client or kafka import may live at module level.
    for module in (kt, kafka_topic):
        tree = ast.parse(Path(module.__file__).read_text())
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] == "kafka" for n in names), ast.unparse(node)


def test_service_functions_reach_the_brokers_of_the_bootstrap_string_they_are_given() -> None:
    # The test bed and the provider call them with a bootstrap string and a topic name, positionally.
    calls = {
        "create": lambda: kafka_topic.create_topic(
            "127.0.0.1:9", "t", partitions=1, replication_factor=1, timeout_seconds=0
        ),
        "describe": lambda: kafka_topic.describe_topic("127.0.0.1:9", "t", timeout_seconds=0),
        "update": lambda: kafka_topic.update_topic("127.0.0.1:9", "t", partitions=1, timeout_seconds=0),
        "delete": lambda: kafka_topic.delete_topic("127.0.0.1:9", "t", timeout_seconds=0),
    }
    for what, call in calls.items():
        with pytest.raises(RuntimeError, match=rf"Kafka {what} of topic 't' at 127\.0\.0\.1:9 failed"):
            call()


def test_unreachable_kafka_fails_with_a_message_naming_what_and_where() -> None:
    # Port 9 on loopback is closed; no retry budget, so this fails after one short bootstrap attempt.
    with pytest.raises(RuntimeError) as err:
        kafka_topic.delete_topic("127.0.0.1:9", "logistics-events", timeout_seconds=0)
    message = str(err.value)
    assert "Kafka delete of topic 'logistics-events' at 127.0.0.1:9 failed" in message


# ----- numbers as the engine sends them (contract 1: with_ints on entry of every method) -----


def test_integral_turns_only_whole_floats_back() -> None:
    assert integral(3.0) == 3 and isinstance(integral(3.0), int)
    assert integral(3.5) == 3.5 and integral("3") == "3" and integral(None) is None and integral(True) is True
    assert with_ints({"a": 6.0, "b": 2.0, "c": "x"}, ["a", "c", "missing"]) == {"a": 6, "b": 2.0, "c": "x"}


def test_check_accepts_the_numbers_the_engine_sends_and_hands_back_ints() -> None:
    assert isinstance(AS_SENT["partitions"], float)
    result = kt.KafkaTopicProvider().check({}, AS_SENT)
    assert result.failures == []
    assert all(type(result.inputs[p]) is int for p in kt.INT_PROPS)
    # On an update check also gets the old inputs as floats: the decrease rule still works.
    refused = kt.KafkaTopicProvider().check(AS_SENT, {**AS_SENT, "partitions": 3.0})
    assert [f.property for f in refused.failures] == ["partitions"]
    # A fraction is not a whole number of partitions.
    assert [f.property for f in kt.KafkaTopicProvider().check({}, {**AS_SENT, "partitions": 6.5}).failures] == [
        "partitions"
    ]


def test_diff_between_state_and_program_ignores_float_versus_int() -> None:
    assert kt.diff(AS_SENT, GOOD) == (False, [])
    assert kt.KafkaTopicProvider().diff("t", AS_SENT, {**AS_SENT, "partitions": 8.0}).changes is True


def test_every_provider_method_coerces_the_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    """create/update/read/delete pass ints to the admin functions whatever the engine sent."""
    seen: list[tuple[str, dict]] = []

    def record(op: str, result: object = None):
        def fn(*args: object, **kwargs: object) -> object:
            seen.append((op, kwargs))
            return result

        return fn

    state = {"partitions": 6, "replication_factor": 3, "topic_id": "id-1", "configs": {}, "adopted": False}
    monkeypatch.setattr(kt, "create_topic", record("create", {**state, "created": True}))
    monkeypatch.setattr(kt, "update_topic", record("update", state))
    monkeypatch.setattr(kt, "describe_topic", record("describe", {**state, "configs": {"min.insync.replicas": "2"}}))
    monkeypatch.setattr(kt, "delete_topic", record("delete", True))
    provider = kt.KafkaTopicProvider()
    created = provider.create(AS_SENT)
    stored = as_engine_sends(created.outs)
    provider.update("logistics-events", stored, {**AS_SENT, "partitions": 8.0})
    read = provider.read("logistics-events", stored)
    provider.delete("logistics-events", stored)
    ints = [kw for op, kw in seen if op in ("create", "update")]
    assert [type(kw["partitions"]) for kw in ints] == [int, int]
    assert type(ints[0]["replication_factor"]) is int
    assert all(type(read.outs[p]) is int for p in ("partitions", "replication_factor", "timeout_seconds"))
    assert [op for op, _ in seen] == ["create", "update", "describe", "delete"]


def _topic_program(**kwargs: object):
    def program() -> dict:
        topic = kt.KafkaTopic(
            "t",
            bootstrap_servers="127.0.0.1:19092",
            topic=kwargs.get("topic", "logistics-events"),
            partitions=kwargs.get("partitions", 6),
            replication_factor=3,
        )
        return {"topic": topic.name}

    return program


def test_the_mocks_run_check_with_floats_like_the_engine() -> None:
    mocks = RecordingMocks()
    run_program(_topic_program(), mocks=mocks)
    (topic,) = [r for r in mocks.resources if r.typ == KAFKA_TOPIC]
    assert plain(topic.inputs)["partitions"] == 6
    with pytest.raises(DynamicCheckFailed, match="partitions = 0 must be an integer of at least 1"):
        run_program(_topic_program(partitions=0))
    with pytest.raises(DynamicCheckFailed, match="topic name 'no spaces allowed'"):
        run_program(_topic_program(topic="no spaces allowed"))


def test_the_whole_stack_passes_every_dynamic_check_as_the_engine_sends_it() -> None:
    """Without with_ints in check, the engine refused the stack's topic (partitions = 3.0); so do the mocks."""
    recording = run_stack()
    (topic,) = recording.of_type(KAFKA_TOPIC)
    inputs = plain(topic.inputs)
    assert (inputs["partitions"], inputs["replication_factor"]) == (6, 3)
    assert inputs["adopt_existing"] is False and inputs["owner_cluster_id"]


# ----- whose topic it is (create adopts only with the user's word; delete only what the stack made) -----


def test_adopted_topics_are_never_deleted_nor_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    deleted: list[str] = []
    monkeypatch.setattr(kt, "delete_topic", lambda *a, **kw: deleted.append(a[1]) or True)
    adopted = {**GOOD, "adopted": True, "created": False, "topic_id": "id-1"}
    kt.KafkaTopicProvider().delete("logistics-events", adopted)
    assert deleted == []
    kt.KafkaTopicProvider().delete("logistics-events", {**adopted, "adopted": False, "created": True})
    assert deleted == ["logistics-events"]
    with pytest.raises(ValueError, match=r"was adopted .* replication factor from 3 to 1"):
        kt.diff(adopted, {**GOOD, "replication_factor": 1})
    # A new name is a new topic: the adopted one is left alone, the new one created.
    assert kt.diff(adopted, {**GOOD, "name": "other"}) == (True, ["name"])


def test_a_state_from_before_created_existed_counts_as_created_unless_adopted() -> None:
    assert kt.stack_created({"adopted": False}) is True
    assert kt.stack_created({"adopted": True}) is False
    assert kt.stack_created({"adopted": True, "created": True}) is True


def test_adoption_inputs_are_validated_and_do_not_cause_updates() -> None:
    assert kt.validate({**GOOD, "adopt_existing": "yes"}) == [
        ("adopt_existing", "adopt_existing = 'yes' must be true or false")
    ]
    assert kt.validate({**GOOD, "owner_cluster_id": 5})[0][0] == "owner_cluster_id"
    assert kt.diff(GOOD, {**GOOD, "adopt_existing": True, "owner_cluster_id": "x"}) == (False, [])


def test_read_feeds_the_live_topic_into_the_next_diff(monkeypatch: pytest.MonkeyPatch) -> None:
    live = {"partitions": 10, "replication_factor": 3, "topic_id": "id-1", "configs": {"min.insync.replicas": "1"}}
    monkeypatch.setattr(kt, "describe_topic", lambda *a, **kw: {**live, "configs": {**live["configs"], "x": "y"}})
    stored = {**AS_SENT, "configs": {"min.insync.replicas": "2"}, "created": True, "topic_id": "id-1"}
    read = kt.KafkaTopicProvider().read("logistics-events", stored)
    assert read.outs["configs"] == {"min.insync.replicas": "1"}  # only the configs the program manages
    assert (read.inputs["partitions"], read.inputs["configs"]) == (10, {"min.insync.replicas": "1"})
    assert "created" not in read.inputs and "topic_id" not in read.inputs
    # A topic of that name with another id is not the stack's (deleted and re-created outside): gone.
    monkeypatch.setattr(kt, "describe_topic", lambda *a, **kw: {**live, "topic_id": "id-2"})
    assert kt.KafkaTopicProvider().read("logistics-events", stored).id is None


class FakeAdmin:
    """kafka-python's admin client, for create_topic's decisions (a real cluster runs in the integration tests)."""

    def __init__(self, cluster: dict, script: list) -> None:
        self.cluster, self.script = cluster, script

    def create_topics(self, topics: dict, **_kw: object) -> None:
        step = self.script.pop(0) if self.script else None
        ((name, spec),) = topics.items()
        if step == "exists" or (step is None and name in self.cluster["topics"]):
            from kafka.errors import TopicAlreadyExistsError

            raise TopicAlreadyExistsError(f"Topic '{name}' already exists.")
        self.cluster["topics"][name] = {"partitions": spec["num_partitions"], "rf": spec["replication_factor"]}
        if step == "timeout-after-create":
            from kafka.errors import KafkaTimeoutError

            raise KafkaTimeoutError("no answer")
        if step == "fail-after-create":
            self.cluster["fail_describe"] = True

    def describe_cluster(self) -> dict:
        return {"cluster_id": self.cluster["id"]}

    def describe_topics(self, names: list) -> list:
        if self.cluster.pop("fail_describe", False):
            raise PermissionError("something after the create went wrong")
        t = self.cluster["topics"].get(names[0])
        if t is None or self.cluster.get("stale_describes", 0) > 0:
            # A broker whose metadata cache lags the create (or has no such topic) knows no id or partition.
            self.cluster["stale_describes"] = max(self.cluster.get("stale_describes", 0) - 1, 0)
            return [{"name": names[0], "error_code": 3, "partitions": []}]
        parts = [{"replica_nodes": list(range(t["rf"]))} for _ in range(t["partitions"])]
        return [{"name": names[0], "error_code": 0, "topic_id": "id-" + names[0], "partitions": parts}]

    def create_partitions(self, counts: dict) -> None:
        for name, n in counts.items():
            self.cluster["topics"][name]["partitions"] = n

    def alter_configs(self, _resources: list) -> None:
        pass

    def list_topics(self) -> list:
        return list(self.cluster["topics"])

    def describe_log_dirs(self) -> list:
        return []

    def delete_topics(self, names: list, **_kw: object) -> None:
        self.cluster["topics"].pop(names[0], None)

    def close(self) -> None:
        pass


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch) -> dict:
    state: dict = {"id": "own-cluster", "topics": {}, "script": []}
    monkeypatch.setattr(kafka_topic, "_admin", lambda *_a: FakeAdmin(state, state["script"]))
    monkeypatch.setattr(kafka_topic.time, "sleep", lambda _s: None)
    return state


def _create(**kw: object) -> dict:
    args = {"partitions": 6, "replication_factor": 3, "timeout_seconds": 30, "adopt_existing": False, **kw}
    return kafka_topic.create_topic("k:9092", "t", **args)


def test_create_refuses_a_topic_it_did_not_make_unless_told_or_on_its_own_cluster(cluster: dict) -> None:
    cluster["topics"]["t"] = {"partitions": 3, "rf": 3}
    with pytest.raises(RuntimeError, match=r"TopicExistsError: topic 't' already exists .* did not create it"):
        _create()
    with pytest.raises(RuntimeError, match="did not create it"):
        _create(owner_cluster_id="another-cluster")
    adopted = _create(adopt_existing=True)
    assert (adopted["adopted"], adopted["created"], adopted["partitions"]) == (True, False, 6)
    own = _create(owner_cluster_id="own-cluster")
    assert (own["adopted"], own["created"]) == (False, True)


def test_create_retried_after_a_lost_answer_takes_its_own_topic(cluster: dict) -> None:
    cluster["script"].append("timeout-after-create")
    made = _create()
    assert (made["created"], made["adopted"]) == (True, False)


def test_create_returns_the_topic_id_once_a_lagging_broker_knows_the_topic(cluster: dict) -> None:
    cluster["stale_describes"] = 3  # CI saw a re-created topic described with no id right after its create
    made = _create()
    assert (made["topic_id"], made["partitions"], made["replication_factor"]) == ("id-t", 6, 3)


def test_create_that_fails_after_creating_removes_the_topic_again(cluster: dict) -> None:
    cluster["script"].append("fail-after-create")
    with pytest.raises(RuntimeError, match="something after the create went wrong"):
        _create()
    assert cluster["topics"] == {}  # a retry starts from a clean cluster


def test_create_waits_while_the_name_is_still_being_deleted(cluster: dict) -> None:
    from kafka.errors import TopicAlreadyExistsError

    calls = {"n": 0}
    real = FakeAdmin.create_topics

    def pending_then_free(self: FakeAdmin, topics: dict, **kw: object) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise TopicAlreadyExistsError("Topic 't' is marked for deletion.")
        real(self, topics, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(FakeAdmin, "create_topics", pending_then_free)
        made = _create()
    assert (calls["n"], made["created"]) == (2, True)
