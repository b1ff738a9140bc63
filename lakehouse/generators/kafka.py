"""Kafka broker and ZooKeeper configuration (server.properties as a dict) and the topic spec.

Each broker has three listeners:
  INTERNAL    for other services (containers on the Docker network, local processes in the test bed),
  HOST        advertised as `<advertised_host>:<host_port>`, its own port, so a client on the host
              reaches every broker through the port Docker publishes for it,
  CONTROLLER  (KRaft only) for the controller quorum.
The stack uploads the rendered file into the container and starts kafka-server-start.sh on it; the
test bed starts the same script on the same rendering, so what the test bed proves is the file.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

KRAFT_CLUSTER_NAMESPACE = uuid.UUID("6f1c7c2e-4d0b-4a43-9a55-2f2d8f7b1b10")


@dataclass(frozen=True)
class BrokerAddress:
    """Where one broker listens and how it is advertised."""

    node_id: int
    """1-based broker id (also the KRaft node id)."""
    internal_host: str
    """Name other services use: `kafka-1` in Docker, 127.0.0.1 in the test bed."""
    internal_port: int
    """Port of the INTERNAL listener."""
    controller_port: int
    """Port of the CONTROLLER listener (KRaft)."""
    host_port: int
    """Port of the HOST listener, equal to the port published on the host."""
    advertised_host: str = "localhost"
    """Host name clients on the host use for the HOST listener."""
    bind_host: str = ""
    """Interface the listeners bind to: '' (all, inside a container) or 127.0.0.1 (test bed)."""

    @property
    def internal_address(self) -> str:
        return f"{self.internal_host}:{self.internal_port}"

    @property
    def host_address(self) -> str:
        return f"{self.advertised_host}:{self.host_port}"


def kraft_cluster_id(name: str) -> str:
    """A stable KRaft cluster id (22 characters of url-safe base64 of a UUID) derived from a name."""
    raw = uuid.uuid5(KRAFT_CLUSTER_NAMESPACE, name).bytes
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _common(me: BrokerAddress, *, log_dir: str, brokers: int, partitions: int) -> dict[str, object]:
    rf = min(3, brokers)
    return {
        "log.dirs": log_dir,
        "auto.create.topics.enable": "false",
        "num.partitions": partitions,
        "default.replication.factor": rf,
        "min.insync.replicas": 2 if brokers >= 3 else 1,
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": min(2, rf),
        "group.initial.rebalance.delay.ms": 0,
        # Unclean leader election would trade acknowledged writes for availability: never.
        "unclean.leader.election.enable": "false",
        "inter.broker.listener.name": "INTERNAL",
    }


def kraft_broker_properties(
    me: BrokerAddress, quorum: list[BrokerAddress], *, log_dir: str, partitions: int
) -> dict[str, object]:
    """server.properties of a combined controller+broker node in a KRaft quorum of `quorum`."""
    b = me.bind_host
    return {
        "process.roles": "broker,controller",
        "node.id": me.node_id,
        "controller.quorum.voters": ",".join(f"{q.node_id}@{q.internal_host}:{q.controller_port}" for q in quorum),
        "controller.listener.names": "CONTROLLER",
        "listeners": f"INTERNAL://{b}:{me.internal_port},HOST://{b}:{me.host_port},CONTROLLER://{b}:{me.controller_port}",
        "advertised.listeners": f"INTERNAL://{me.internal_address},HOST://{me.host_address}",
        "listener.security.protocol.map": "INTERNAL:PLAINTEXT,HOST:PLAINTEXT,CONTROLLER:PLAINTEXT",
        **_common(me, log_dir=log_dir, brokers=len(quorum), partitions=partitions),
    }


def zookeeper_broker_properties(
    me: BrokerAddress, *, brokers: int, zookeeper_connect: str, log_dir: str, partitions: int
) -> dict[str, object]:
    """server.properties of a ZooKeeper-mode broker (Kafka 3.9 line)."""
    b = me.bind_host
    return {
        "broker.id": me.node_id,
        "zookeeper.connect": zookeeper_connect,
        "zookeeper.connection.timeout.ms": 18000,
        "listeners": f"INTERNAL://{b}:{me.internal_port},HOST://{b}:{me.host_port}",
        "advertised.listeners": f"INTERNAL://{me.internal_address},HOST://{me.host_address}",
        "listener.security.protocol.map": "INTERNAL:PLAINTEXT,HOST:PLAINTEXT",
        **_common(me, log_dir=log_dir, brokers=brokers, partitions=partitions),
    }


def zookeeper_properties(*, data_dir: str, client_port: int, bind_host: str = "") -> dict[str, object]:
    """zoo.cfg of a single ZooKeeper node (standalone; the admin server off, four-letter words for health)."""
    props: dict[str, object] = {
        "dataDir": data_dir,
        "clientPort": client_port,
        "tickTime": 2000,
        "initLimit": 10,
        "syncLimit": 5,
        "maxClientCnxns": 0,
        "admin.enableServer": "false",
        "4lw.commands.whitelist": "ruok,srvr,mntr",
        "autopurge.snapRetainCount": 3,
        "autopurge.purgeInterval": 24,
    }
    if bind_host:
        props["clientPortAddress"] = bind_host
    return props


def heap_opts(heap: str) -> str:
    """KAFKA_HEAP_OPTS for a heap size in JVM notation ('512m')."""
    return f"-Xms{heap} -Xmx{heap}"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]


def topic_spec(*, name: str, partitions: int, brokers: int) -> TopicSpec:
    """The events topic: replication min(3, brokers); min.insync.replicas 2 from 3 brokers on."""
    return TopicSpec(
        name=name,
        partitions=partitions,
        replication_factor=min(3, brokers),
        configs={"min.insync.replicas": str(2 if brokers >= 3 else 1)},
    )
