"""Kafka (KRaft, 3 combined nodes) of the test bed: produce and consume through all three brokers with
replication factor 3 and acks=all."""

from __future__ import annotations

import subprocess

import pytest

from testbed.services.kafka import describe_brokers
from tests.integration.kafka_check import round_trip

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
    from lakehouse.clients.kafka_topic import describe_topic

    topic = describe_topic(testbed["kafka_bootstrap_servers"], testbed["kafka_topic"])
    assert topic is not None, f"the test bed has no topic {testbed['kafka_topic']!r}"
    assert topic["partitions"] >= 6
    assert topic["replication_factor"] == 3
    assert topic["configs"]["min.insync.replicas"] == "2"


# ----- the stack's day-2 Kafka layout on real brokers (a small cluster of its own, ports 20420-20427) -----


def _legacy_cluster_id(name: str) -> str:
    """The id kraft_cluster_id gave before it refused a leading '-'."""
    import base64
    import uuid

    from lakehouse.generators.kafka import KRAFT_CLUSTER_NAMESPACE

    return base64.urlsafe_b64encode(uuid.uuid5(KRAFT_CLUSTER_NAMESPACE, name).bytes).decode().rstrip("=")


def _spare_nodes() -> list:
    from lakehouse.generators.kafka import BrokerAddress
    from testbed.plan import HOST
    from tests.integration.spare_ports import SparePlan

    spare = SparePlan()
    return [
        BrokerAddress(
            node_id=n,
            internal_host=HOST,
            internal_port=spare.kafka_internal(n),
            controller_port=spare.kafka_controller,
            host_port=spare.kafka_host(n),
            advertised_host=HOST,
            bind_host=HOST,
        )
        for n in (1, 2)
    ]


def test_a_cluster_id_starting_with_a_dash_broke_the_format_step_and_no_longer_exists(
    testbed: dict[str, str], require_services, tmp_path
) -> None:
    """kafka-storage.sh format, with the stack's arguments, on the real Kafka: the old id of stack
    "lakehouse-s78" ('-...') is taken for an option and nothing is formatted; its id now formats."""
    require_services("kafka")
    from lakehouse import versions
    from lakehouse.generators.kafka import kraft_cluster_id, kraft_node_properties
    from lakehouse.generators.properties import render_properties
    from testbed import artifacts, prereqs
    from testbed.proc import ServiceError, run_logged
    from testbed.services.kafka import LOG4J2_PROPERTIES, format_argv

    lib, java = artifacts.kafka_lib(versions.load()), prereqs.spark_jdk()
    node = _spare_nodes()[0]
    props = tmp_path / "server.properties"
    props.write_text(
        render_properties(kraft_node_properties(node, [node], brokers=1, log_dir=str(tmp_path / "data"), partitions=1))
    )
    log_config = tmp_path / "log4j2.properties"
    log_config.write_text(LOG4J2_PROPERTIES)
    env = {"PATH": "/usr/bin:/bin", "JAVA_HOME": str(java.home)}
    legacy = _legacy_cluster_id("lakehouse-s78")
    assert legacy.startswith("-")
    with pytest.raises(ServiceError, match="exited with code"):
        run_logged("format-legacy", format_argv(java, lib, log_config, legacy, props), env=env, log=tmp_path / "a.log")
    assert "argument --cluster-id/-t: expected one argument" in (tmp_path / "a.log").read_text()
    assert not (tmp_path / "data" / "meta.properties").exists()
    fixed = kraft_cluster_id("lakehouse-s78")
    run_logged("format", format_argv(java, lib, log_config, fixed, props), env=env, log=tmp_path / "b.log")
    assert f"cluster.id={fixed}" in (tmp_path / "data" / "meta.properties").read_text()


def test_a_broker_only_node_joins_the_fixed_quorum_and_serves(
    testbed: dict[str, str], require_services, tmp_path
) -> None:
    """The stack's KRaft layout with kafkaControllers=1, kafkaBrokers=2: kafka-1 controller+broker, kafka-2
    broker-only (what a broker count increase adds), rendered by the stack's generator, on real brokers."""
    require_services("kafka")
    from lakehouse import versions
    from lakehouse.generators.kafka import kraft_cluster_id
    from lakehouse.generators.properties import parse_properties
    from testbed import artifacts, prereqs
    from testbed.services.kafka import start_kraft

    lib = artifacts.kafka_lib(versions.load())
    nodes = _spare_nodes()
    with start_kraft(
        tmp_path,
        lib=lib,
        java=prereqs.spark_jdk(),
        nodes=nodes,
        controllers=1,
        cluster_id=kraft_cluster_id("fixed-quorum"),
    ) as cluster:
        second = parse_properties(cluster.files[2])
        assert second["process.roles"] == "broker"
        assert second["controller.quorum.voters"] == parse_properties(cluster.files[1])["controller.quorum.voters"]
        result = round_trip(cluster.bootstrap_servers.split(","), partitions=2, per_broker=50, replication=2)
        assert all(sorted(r) == [1, 2] for r in result.replicas.values()), result.replicas
        assert 2 in result.leaders or all(2 in isr for isr in result.isr.values())
        assert sorted(result.received) == sorted(result.sent)
        from lakehouse.generators.kafka import broker_probe_script

        for b in nodes:  # the containers' healthcheck passes on both kinds of node
            done = subprocess.run(["bash", "-c", broker_probe_script(b.internal_port)], check=False)
            assert done.returncode == 0, f"node {b.node_id}"
