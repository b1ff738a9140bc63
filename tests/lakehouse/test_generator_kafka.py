"""Broker settings: three listeners (INTERNAL, HOST advertised as localhost:<own port>, CONTROLLER), the
KRaft quorum, ZooKeeper mode, replication and durability settings, and the topic spec."""

from __future__ import annotations

import pytest

from lakehouse.generators.kafka import (
    BrokerAddress,
    heap_opts,
    kraft_cluster_id,
    kraft_node_properties,
    topic_spec,
    zookeeper_broker_properties,
    zookeeper_properties,
)
from lakehouse.generators.properties import parse_properties, render_properties


def quorum(n: int = 3) -> list[BrokerAddress]:
    return [
        BrokerAddress(
            node_id=i, internal_host=f"kafka-{i}", internal_port=9092, controller_port=9093, host_port=19091 + i
        )
        for i in range(1, n + 1)
    ]


def test_kraft_broker_listeners_and_quorum() -> None:
    brokers = quorum()
    props = kraft_node_properties(
        brokers[1], brokers, brokers=len(brokers), log_dir="/var/lib/kafka/data", partitions=6
    )
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == 2
    assert props["controller.quorum.voters"] == "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
    assert props["listeners"] == "INTERNAL://:9092,HOST://:19093,CONTROLLER://:9093"
    assert props["advertised.listeners"] == "INTERNAL://kafka-2:9092,HOST://localhost:19093"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["inter.broker.listener.name"] == "INTERNAL"
    assert "CONTROLLER:PLAINTEXT" in props["listener.security.protocol.map"]


def test_durability_settings_follow_the_broker_count() -> None:
    three = kraft_node_properties(quorum()[0], quorum(), brokers=len(quorum()), log_dir="/d", partitions=6)
    assert three["auto.create.topics.enable"] == "false"
    assert three["default.replication.factor"] == 3
    assert three["min.insync.replicas"] == 2
    assert three["offsets.topic.replication.factor"] == 3
    assert three["unclean.leader.election.enable"] == "false"
    one = kraft_node_properties(quorum(1)[0], quorum(1), brokers=len(quorum(1)), log_dir="/d", partitions=6)
    assert one["default.replication.factor"] == 1
    assert one["min.insync.replicas"] == 1
    assert one["transaction.state.log.min.isr"] == 1
    five = kraft_node_properties(quorum(5)[0], quorum(5), brokers=len(quorum(5)), log_dir="/d", partitions=6)
    assert five["default.replication.factor"] == 3


def test_zookeeper_mode_broker() -> None:
    me = quorum()[0]
    props = zookeeper_broker_properties(me, brokers=3, zookeeper_connect="zookeeper:2181", log_dir="/d", partitions=6)
    assert props["broker.id"] == 1
    assert props["zookeeper.connect"] == "zookeeper:2181"
    assert "process.roles" not in props and "controller.quorum.voters" not in props
    assert props["listeners"] == "INTERNAL://:9092,HOST://:19092"
    assert props["advertised.listeners"] == "INTERNAL://kafka-1:9092,HOST://localhost:19092"


def test_zookeeper_node_properties() -> None:
    props = zookeeper_properties(data_dir="/data", client_port=2181)
    assert props["dataDir"] == "/data"
    assert props["clientPort"] == 2181
    assert props["admin.enableServer"] == "false"
    assert "ruok" in str(props["4lw.commands.whitelist"])
    assert "clientPortAddress" not in props
    assert zookeeper_properties(data_dir="/d", client_port=1, bind_host="127.0.0.1")["clientPortAddress"] == "127.0.0.1"


def test_bind_host_for_the_test_bed() -> None:
    me = BrokerAddress(
        node_id=1,
        internal_host="127.0.0.1",
        internal_port=20192,
        controller_port=20292,
        host_port=20092,
        bind_host="127.0.0.1",
    )
    props = kraft_node_properties(me, [me], brokers=1, log_dir="/d", partitions=1)
    assert props["listeners"] == "INTERNAL://127.0.0.1:20192,HOST://127.0.0.1:20092,CONTROLLER://127.0.0.1:20292"


def test_rendered_broker_file_round_trips() -> None:
    props = kraft_node_properties(quorum()[0], quorum(), brokers=len(quorum()), log_dir="/d", partitions=6)
    parsed = parse_properties(render_properties(props, "header"))
    assert parsed == {k: str(v) for k, v in props.items()}


def test_cluster_id_is_stable_22_characters_per_name() -> None:
    a = kraft_cluster_id("lakehouse-dev")
    assert a == kraft_cluster_id("lakehouse-dev")
    assert a != kraft_cluster_id("lakehouse-prod")
    assert len(a) == 22 and "=" not in a


def test_heap_opts_and_topic_spec() -> None:
    # A capped heap that starts small and is given back when idle (G1's periodic collection).
    opts = heap_opts("512m").split()
    assert "-Xmx512m" in opts and "-Xms32m" in opts
    assert "-XX:G1PeriodicGCInterval=60000" in opts and "-XX:MaxHeapFreeRatio=30" in opts
    spec = topic_spec(name="logistics-events", partitions=6, brokers=5)
    assert (spec.replication_factor, spec.configs) == (3, {"min.insync.replicas": "2"})
    spec = topic_spec(name="t", partitions=1, brokers=2)
    assert (spec.replication_factor, spec.configs) == (2, {"min.insync.replicas": "1"})


def test_cluster_id_never_starts_with_a_dash_and_keeps_every_other_id() -> None:
    import base64

    # Known ids stay what they were (kept volumes were formatted with them).
    assert kraft_cluster_id("lakehouse-dev") == "7_E6D1roUpabhZcjGX2dzQ"
    assert kraft_cluster_id("lakehouse-testbed") == kraft_cluster_id("lakehouse-testbed")
    # "lakehouse-s78" hashed to an id starting with '-' (kafka-storage.sh took it for a flag): it is re-hashed.
    assert kraft_cluster_id("lakehouse-s78") == "6ONcvO4vVrqtx1kZRePjBw"
    ids = [kraft_cluster_id(f"lakehouse-s{i}") for i in range(5000)]
    assert not [i for i in ids if i.startswith("-")]
    for cluster_id in ids[:200]:
        assert len(cluster_id) == 22
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16  # a UUID, as Kafka's Uuid.fromString wants


def test_broker_only_nodes_follow_the_controllers() -> None:
    from lakehouse.generators.kafka import kraft_node_properties

    nodes = quorum(5)
    controllers = nodes[:3]
    fourth = kraft_node_properties(nodes[3], controllers, brokers=5, log_dir="/d", partitions=6)
    assert fourth["process.roles"] == "broker"
    assert fourth["controller.quorum.voters"] == "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
    assert fourth["listeners"] == "INTERNAL://:9092,HOST://:19095"
    assert fourth["controller.listener.names"] == "CONTROLLER"
    first = kraft_node_properties(nodes[0], controllers, brokers=5, log_dir="/d", partitions=6)
    assert first["process.roles"] == "broker,controller"
    assert first["listeners"] == "INTERNAL://:9092,HOST://:19092,CONTROLLER://:9093"
    with pytest.raises(ValueError, match="cannot hold 3 controller"):
        kraft_node_properties(nodes[0], controllers, brokers=2, log_dir="/d", partitions=6)


@pytest.mark.parametrize("controllers", [1, 3])
def test_a_broker_count_change_rewrites_no_existing_node(controllers: int) -> None:
    """For every pair of broker counts (from 3, where the durability settings stop growing), each node present in
    both renders the same file: Pulumi replaces none of them and the voter set never changes."""
    from lakehouse.generators.kafka import kraft_node_properties

    def files(brokers: int) -> dict[int, str]:
        nodes = quorum(brokers)
        return {
            n.node_id: render_properties(
                kraft_node_properties(n, nodes[:controllers], brokers=brokers, log_dir="/d", partitions=6)
            )
            for n in nodes
        }

    rendered = {b: files(b) for b in range(max(3, controllers), 10)}
    for a, fa in rendered.items():
        for b, fb in rendered.items():
            for node in set(fa) & set(fb):
                assert fa[node] == fb[node], f"node {node} differs between {a} and {b} brokers"


def test_broker_probe_is_bash_sending_api_versions() -> None:
    from lakehouse.generators.kafka import broker_probe_script

    script = broker_probe_script(9092)
    assert script.splitlines()[1] == "exec 3<>/dev/tcp/127.0.0.1/9092 || exit 1"
    # size 15, ApiVersions (18) v0, correlation id "LHPB", client id "probe"
    assert r"printf '\x00\x00\x00\x0f\x00\x12\x00\x00\x4c\x48\x50\x42\x00\x05probe' >&3" in script
    assert script.rstrip().endswith('[ "${got:8:12}" = "4c4850420000" ]')
