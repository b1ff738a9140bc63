"""Kafka broker and ZooKeeper configuration (server.properties as a dict) and the topic spec.

Each broker has up to three listeners: INTERNAL for other services, HOST advertised as
`<advertised_host>:<host_port>` (its own port, so a client on the host reaches every broker through the port
Docker publishes for it) and CONTROLLER (KRaft controllers only). In KRaft the first `controllers` nodes are
controller+broker and form a FIXED voter set, the others broker-only: a node's file depends only on itself, the
voter set and the durability settings, so adding or removing broker-only nodes changes no other node's file.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass

KRAFT_CLUSTER_NAMESPACE = uuid.UUID("6f1c7c2e-4d0b-4a43-9a55-2f2d8f7b1b10")


@dataclass(frozen=True)
class BrokerAddress:
    """Where one broker listens and how it is advertised."""

    node_id: int  # 1-based broker id (also the KRaft node id)
    internal_host: str  # what other services use: `kafka-1` in Docker, 127.0.0.1 in the test bed
    internal_port: int
    controller_port: int
    host_port: int  # equal to the port published on the host
    advertised_host: str = "localhost"  # what clients on the host use for the HOST listener
    bind_host: str = ""  # '' (every interface, inside a container) or 127.0.0.1 (test bed)

    @property
    def internal_address(self) -> str:
        return f"{self.internal_host}:{self.internal_port}"

    @property
    def host_address(self) -> str:
        return f"{self.advertised_host}:{self.host_port}"


def kraft_cluster_id(name: str) -> str:
    """A stable KRaft cluster id (22 characters of url-safe base64 of a UUID) derived from a name.

    Never starts with '-', which kafka-storage.sh reads as a flag (about 1 name in 64): such a name is re-hashed
    with a counter; every other name keeps the id it always had, so existing volumes stay valid."""
    salt = ""
    for attempt in range(64):
        raw = uuid.uuid5(KRAFT_CLUSTER_NAMESPACE, name + salt).bytes
        cluster_id = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
        salt = f"#{attempt + 1}"
    raise RuntimeError(f"no KRaft cluster id without a leading '-' for {name!r}")  # 2^-384: never


def storage_format_args(cluster_id: str, config: str) -> list[str]:
    """Arguments of `kafka-storage.sh format` (kafka.tools.StorageTool), as the stack's containers and the
    test bed both run it: a no-op on a log dir formatted already."""
    return ["format", "--ignore-formatted", "--cluster-id", cluster_id, "--config", config]


def durability(brokers: int) -> dict[str, int]:
    """Cluster-wide replication settings for `brokers` brokers (one definition: brokers and topic spec)."""
    rf = min(3, brokers)
    return {"replication_factor": rf, "min_insync_replicas": 2 if brokers >= 3 else 1}


def _common(*, log_dir: str, brokers: int, partitions: int) -> dict[str, object]:
    d = durability(brokers)
    rf = d["replication_factor"]
    return {
        "log.dirs": log_dir,
        "auto.create.topics.enable": "false",
        "num.partitions": partitions,
        "default.replication.factor": rf,
        "min.insync.replicas": d["min_insync_replicas"],
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": min(2, rf),
        "group.initial.rebalance.delay.ms": 0,
        # Unclean leader election would trade acknowledged writes for availability: never.
        "unclean.leader.election.enable": "false",
        "inter.broker.listener.name": "INTERNAL",
        # Sized for a laptop's 256 MiB heap: a 8 MiB dedupe buffer instead of 128 (only Kafka's internal topics
        # are compacted), two I/O and network threads, and an idle cluster wakes every 5 s instead of 0.5 s (the
        # controller's no-op record; a follower's fetch wait, which a produce ends at once: far below the 30 s
        # that shrinks the ISR).
        "log.cleaner.dedupe.buffer.size": 8 * 1024 * 1024,
        "num.io.threads": 2,
        "num.network.threads": 2,
        "background.threads": 4,
        "metadata.max.idle.interval.ms": 5000,
        "replica.fetch.wait.max.ms": 5000,
    }


def kraft_node_properties(
    me: BrokerAddress, controllers: list[BrokerAddress], *, brokers: int, log_dir: str, partitions: int
) -> dict[str, object]:
    """server.properties of a KRaft node: controller+broker if `me` is one of `controllers` (the fixed voter
    set), broker-only otherwise. `brokers` is the cluster's broker count (its durability settings)."""
    if not controllers:
        raise ValueError("a KRaft cluster needs at least one controller")
    if brokers < len(controllers):
        raise ValueError(f"{brokers} broker(s) cannot hold {len(controllers)} controller+broker nodes")
    b = me.bind_host
    is_controller = any(q.node_id == me.node_id for q in controllers)
    listeners = f"INTERNAL://{b}:{me.internal_port},HOST://{b}:{me.host_port}"
    listeners += f",CONTROLLER://{b}:{me.controller_port}" if is_controller else ""
    return {
        "process.roles": "broker,controller" if is_controller else "broker",
        "node.id": me.node_id,
        "controller.quorum.voters": ",".join(f"{q.node_id}@{q.internal_host}:{q.controller_port}" for q in controllers),
        # Brokers need the name too: it tells them how to reach the controllers (the protocol map).
        "controller.listener.names": "CONTROLLER",
        "listeners": listeners,
        "advertised.listeners": f"INTERNAL://{me.internal_address},HOST://{me.host_address}",
        "listener.security.protocol.map": "INTERNAL:PLAINTEXT,HOST:PLAINTEXT,CONTROLLER:PLAINTEXT",
        **_common(log_dir=log_dir, brokers=brokers, partitions=partitions),
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
        **_common(log_dir=log_dir, brokers=brokers, partitions=partitions),
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
    """KAFKA_HEAP_OPTS for a heap size ('256m'): capped, started small and given back when idle (G1's periodic
    collection every minute, shrunk while more than 30 % is free), so resident memory follows use, not peak."""
    return f"-Xms32m -Xmx{heap} -XX:G1PeriodicGCInterval=60000 -XX:MinHeapFreeRatio=10 -XX:MaxHeapFreeRatio=30"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]


def topic_spec(*, name: str, partitions: int, brokers: int) -> TopicSpec:
    """The events topic: replication min(3, brokers); min.insync.replicas 2 from 3 brokers on."""
    d = durability(brokers)
    return TopicSpec(name, partitions, d["replication_factor"], {"min.insync.replicas": str(d["min_insync_replicas"])})


# ApiVersions v0 request: size 15, api_key 18, api_version 0, correlation id "LHPB", client id "probe".
_API_VERSIONS_REQUEST = r"\x00\x00\x00\x0f\x00\x12\x00\x00\x4c\x48\x50\x42\x00\x05probe"
_EXPECTED_REPLY = "4c4850420000"  # bytes 5-10 of the answer: our correlation id, then error code 0


def broker_probe_script(port: int, host: str = "127.0.0.1") -> str:
    """A bash script that exits 0 when a Kafka broker on host:port answers an ApiVersions request (an open port
    alone does not mean it serves requests).

    bash alone (/dev/tcp, builtins): kafka-broker-api-versions.sh starts a JVM (~150 MB) inside the broker's
    memory limit every probe, which can get the broker OOM-killed. The test bed runs this very script."""
    return (
        "LC_ALL=C\n"
        f"exec 3<>/dev/tcp/{host}/{port} || exit 1\n"
        f"printf '{_API_VERSIONS_REQUEST}' >&3\n"
        "got=''\n"
        "for _ in 1 2 3 4 5 6 7 8 9 10; do\n"
        # -d '' -n 1: one byte; a NUL byte arrives as '' with status 0, end of stream as status 1.
        "  IFS= read -r -d '' -n 1 -t 10 c <&3 || exit 1\n"
        '  printf -v h \'%02x\' "\'$c"; got="$got${h: -2}"\n'
        "done\n"
        f'[ "${{got:8:12}}" = "{_EXPECTED_REPLY}" ]\n'
    )


def zookeeper_probe_script(port: int, host: str = "127.0.0.1") -> str:
    """A bash script that exits 0 when ZooKeeper on host:port answers 'ruok' with 'imok' (bash alone, no nc)."""
    return (
        f"exec 3<>/dev/tcp/{host}/{port} || exit 1\n"
        "printf ruok >&3\n"
        # 'imok' comes without a newline: read ends at the end of the stream with the word read.
        "IFS= read -r -t 5 answer <&3\n"
        '[ "$answer" = imok ]\n'
    )
