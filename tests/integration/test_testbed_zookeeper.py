"""ZooKeeper mode (the stack's `kafkaMode: zookeeper`): ZooKeeper plus three brokers of the Kafka 3.9
line, configured by the same generators, form a cluster and serve produce/consume with RF 3, acks=all.

Runs on its own ports (20400-20413) and directory, next to the main test bed, and stops what it starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse import versions
from testbed import artifacts, prereqs
from testbed.plan import ZooKeeperPlan
from testbed.proc import group_listening, listening_ports
from testbed.services.kafka import Cluster, start_zookeeper_mode, zk_four_letter
from tests.integration.kafka_check import round_trip

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    problems = prereqs.check()
    if problems:
        msg = "ZooKeeper mode needs: " + "; ".join(problems)
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)
    v = versions.load()
    lib = artifacts.kafka_lib(v, zookeeper_line=True)
    run_dir = tmp_path_factory.mktemp("kafka-zookeeper-mode")
    with start_zookeeper_mode(run_dir, lib=lib, java=prereqs.spark_jdk(), plan=ZooKeeperPlan(), heap="384m") as zk:
        yield zk
    assert not set(ZooKeeperPlan().all_ports().values()) & listening_ports(), "ports left listening after stop"


def test_runs_the_kafka_39_line_with_zookeeper(cluster: Cluster) -> None:
    v = versions.load()
    lib = Path(artifacts.kafka_lib(v, zookeeper_line=True))
    assert (lib / f"kafka_2.13-{v.kafka_zookeeper_line}.jar").exists()
    assert (lib / f"zookeeper-{v.zookeeper}.jar").exists()
    assert zk_four_letter(cluster.plan.zookeeper, "ruok") == "imok"
    stats = dict(
        line.split("\t", 1) for line in zk_four_letter(cluster.plan.zookeeper, "mntr").splitlines() if "\t" in line
    )
    # Each broker holds an ephemeral registration znode (plus the controller's): the cluster is ZooKeeper-based.
    assert int(stats["zk_ephemerals_count"]) >= 3
    assert stats["zk_server_state"] == "standalone"


def test_produce_consume_rf3_acks_all(cluster: Cluster) -> None:
    result = round_trip(cluster.bootstrap_servers.split(","), partitions=3, per_broker=50)
    print(
        f"\n[kafka-zk] {len(result.sent)} records: produce {result.produce_seconds:.2f} s, "
        f"consume {result.consume_seconds:.2f} s"
    )
    assert result.leaders == {1, 2, 3}
    assert all(sorted(r) == [1, 2, 3] for r in result.isr.values())
    assert sorted(result.received) == sorted(result.sent)


def test_listens_on_loopback_only(cluster: Cluster) -> None:
    for proc in cluster.procs:
        for ip, port in group_listening(proc.pid):
            assert ip in ("127.0.0.1", "::ffff:127.0.0.1"), f"{proc.name} listens on {ip}:{port}"


def test_the_stacks_healthchecks_pass_on_zookeeper_and_the_kafka_39_line(cluster: Cluster) -> None:
    """The containers' healthchecks (bash: ZooKeeper's 'ruok', the brokers' ApiVersions v0) on the real servers."""
    import subprocess

    from lakehouse.generators.kafka import broker_probe_script, zookeeper_probe_script

    zk = subprocess.run(["bash", "-c", zookeeper_probe_script(cluster.plan.zookeeper)], check=False, timeout=60)
    assert zk.returncode == 0, "the ZooKeeper healthcheck failed"
    for b in cluster.brokers:
        done = subprocess.run(["bash", "-c", broker_probe_script(b.internal_port)], check=False, timeout=60)
        assert done.returncode == 0, f"broker {b.node_id} on {b.internal_address}"
