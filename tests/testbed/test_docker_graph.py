"""The Docker check's graph (testbed/docker/graph.py), no engine: the program recorded under EngineMocks, its
dependency order, the engine-like parallel run and its reverse, and the mocks' answers."""

from __future__ import annotations

import string
import threading
import time

import pytest

from testbed.docker.graph import EngineMocks, Graph, GraphError, Node, random_password, run_graph
from testbed.docker.recording import (
    CONTAINER,
    IMAGE,
    KAFKA_TOPIC,
    MINIO_BUCKET,
    MINIO_PROVIDER,
    RANDOM_PASSWORD,
    REMOTE_IMAGE,
    Recording,
    Registration,
    run_stack,
)

FAKE_IDS = {}


def fake_image_id(tag: str) -> str:
    return FAKE_IDS.setdefault(tag, "sha256:" + f"{len(FAKE_IDS):064x}")


@pytest.fixture(scope="module")
def recorded() -> tuple[Graph, dict[str, str]]:
    passwords: dict[str, str] = {}
    rec = run_stack(mocks=EngineMocks(fake_image_id, passwords), stack="dockercheck")
    return Graph.from_recording(rec), passwords


def by_name(graph: Graph) -> dict[str, Node]:
    return {n.name: n for n in graph.nodes.values()}


def test_random_password_follows_length_and_rules() -> None:
    for _ in range(50):
        value = random_password({"length": 24.0, "special": False, "minLower": 1, "minUpper": 1, "minNumeric": 1})
        assert len(value) == 24
        assert set(value) <= set(string.ascii_letters + string.digits)
        assert any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value)
    assert random_password({"length": 40}) != random_password({"length": 40})
    with pytest.raises(GraphError, match="below the sum"):
        random_password({"length": 2, "minLower": 2, "minUpper": 2})


def test_engine_mocks_answer_as_the_providers(recorded: tuple[Graph, dict[str, str]]) -> None:
    graph, passwords = recorded
    nodes = by_name(graph)
    # Every generated secret: fresh, of its length, and what the containers were given.
    assert len(passwords) == len(graph.of_type(RANDOM_PASSWORD)) > 0
    assert all(not v.startswith("RANDOM") for v in passwords.values())
    minio = nodes["storage-server"].values
    assert f"MINIO_ROOT_PASSWORD={passwords['secrets-minio-root-password']}" in minio["envs"]
    # Images: the local image's id, for a pulled tag and for a built one.
    assert minio["image"] == fake_image_id(nodes["storage-image"].values["name"])
    spark_tag = nodes["spark-image"].values["imageName"]
    assert nodes["spark-image"].type == IMAGE
    assert nodes["spark-master"].values["image"] == fake_image_id(spark_tag)


def test_passwords_of_an_earlier_run_are_kept() -> None:
    kept = {"secrets-orion-token": "K" * 40}
    rec = run_stack(mocks=EngineMocks(fake_image_id, kept), stack="dockercheck")
    orion = next(r for r in rec.resources if r.typ == CONTAINER and r.name == "orion-server")
    from testbed.docker.recording import plain

    assert "ORION_TOKEN=" + "K" * 40 in plain(orion.inputs)["envs"]


def levels(graph: Graph) -> list[list[Node]]:
    """The nodes in dependency order, grouped: every node of a level depends only on earlier levels."""
    done: set[str] = set()
    left = dict(graph.nodes)
    out: list[list[Node]] = []
    while left:
        ready = [n for n in left.values() if n.deps <= done]
        assert ready, f"dependency cycle among {sorted(n.label for n in left.values())}"
        out.append(ready)
        done |= {n.urn for n in ready}
        for n in ready:
            del left[n.urn]
    return out


def test_dependency_order_puts_each_resource_after_what_it_waits_for(recorded: tuple[Graph, dict[str, str]]) -> None:
    graph, _ = recorded
    levels_ = levels(graph)
    level_of = {n.urn: i for i, level in enumerate(levels_) for n in level}
    for node in graph.nodes.values():
        assert all(level_of[d] < level_of[node.urn] for d in node.deps), node.label
    nodes = by_name(graph)
    # The three KRaft brokers are in one level: started together, each waits for the quorum.
    assert len({level_of[nodes[f"kafka-{i}"].urn] for i in (1, 2, 3)}) == 1
    # MinIO resources wait for their provider (not a dependency in the program's own terms: the provider ref).
    assert nodes["storage-provider"].urn in nodes["storage-bucket-lake"].deps
    assert level_of[nodes["storage-server"].urn] < level_of[nodes["storage-provider"].urn]
    # The post-deploy chain.
    assert level_of[nodes["postdeploy-streaming-job"].urn] < level_of[nodes["postdeploy-delta-tables"].urn]
    assert level_of[nodes["postdeploy-delta-tables"].urn] < level_of[nodes["postdeploy-dashboards"].urn]
    kinds = {CONTAINER, MINIO_BUCKET, MINIO_PROVIDER, KAFKA_TOPIC, REMOTE_IMAGE}
    assert {n.type for n in graph.nodes.values()} >= kinds


def _graph(edges: dict[str, set[str]], types: dict[str, str] | None = None) -> Graph:
    return Graph({u: Node(u, (types or {}).get(u, "t:index/x:X"), u, {}, frozenset(d)) for u, d in edges.items()}, {})


def test_run_graph_runs_independent_nodes_at_once_and_waits_for_dependencies() -> None:
    graph = _graph({"net": set(), "k1": {"net"}, "k2": {"net"}, "k3": {"net"}, "topic": {"k1", "k2", "k3"}})
    active, peak, order = [0], [0], []
    lock = threading.Lock()

    def act(node: Node) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            order.append(node.urn)
        time.sleep(0.2)
        with lock:
            active[0] -= 1

    outcome = run_graph(graph, act)
    assert not outcome.failures
    assert peak[0] == 3  # the three brokers together
    assert order[0] == "net" and order[-1] == "topic"
    # Reverse: the topic first, the network last.
    order.clear()
    run_graph(graph, act, reverse=True)
    assert order[0] == "topic" and order[-1] == "net"


def test_run_graph_stops_starting_nodes_after_a_failure() -> None:
    graph = _graph({"a": set(), "b": {"a"}, "c": {"b"}})

    def act(node: Node) -> None:
        if node.urn == "b":
            raise RuntimeError("b broke")

    outcome = run_graph(graph, act)
    assert list(outcome.failures) == ["b"] and outcome.not_started == ["c"]


def test_an_input_from_a_dynamic_resources_output_is_refused() -> None:
    dyn = "urn:pulumi:s::p::pulumi-python:dynamic/lakehouse:Thing::t"
    user = "urn:pulumi:s::p::docker:index/container:Container::c"
    rec = Recording(
        resources=[],
        registrations=[
            Registration(dyn, "pulumi-python:dynamic/lakehouse:Thing", "t", "", frozenset()),
            Registration(user, CONTAINER, "c", "", frozenset({dyn}), property_dependencies={"envs": frozenset({dyn})}),
        ],
    )
    with pytest.raises(GraphError, match="input 'envs' is computed from the outputs of"):
        Graph.from_recording(rec)


def test_a_dependency_on_a_component_is_one_on_its_custom_children() -> None:
    comp = "urn:pulumi:s::p::lakehouse:index:Spark::spark"
    child = "urn:pulumi:s::p::lakehouse:index:Spark$docker:index/container:Container::spark-master"
    user = "urn:pulumi:s::p::docker:index/container:Container::orion"
    rec = Recording(
        resources=[],
        registrations=[
            Registration(comp, "lakehouse:index:Spark", "spark", "", frozenset(), custom=False),
            Registration(child, CONTAINER, "spark-master", comp, frozenset()),
            Registration(user, CONTAINER, "orion", "", frozenset({comp})),
        ],
    )
    graph = Graph.from_recording(rec)
    assert set(graph.nodes) == {child, user}
    assert graph.nodes[user].deps == {child}
