"""The lakehouse's settings: one validated, frozen object built from `lakehouse:*` config values.

`Settings.from_config(values)` takes the raw strings Pulumi config holds and returns a complete `Settings`
or raises `ConfigError` naming the key, the bad value and what is allowed. Secrets (passwords, keys, tokens)
are Pulumi secrets, not settings: generated, or set with `pulumi config set --secret` (SECRET_KEYS).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from contract.names import (
    DEFAULT_CHECKPOINT_BUCKET,
    DEFAULT_LAKE_BUCKET,
    DEFAULT_TABLE,
    DEFAULT_TOPIC,
    TOPIC_RULE,
    is_topic_name,
)
from contract.units import MEMORY_RULE, OFF, is_duration, memory_bytes, memory_mib
from jobs.logistics import settings as job

NAMESPACE = "lakehouse"

SECRET_KEYS: dict[str, str] = {
    "minioRootPassword": "Password of the MinIO root user (used only to create buckets, users and policies).",  # pragma: allowlist secret - a description
    "sparkS3SecretKey": "S3 secret key of the Spark identity (read/write on the lake and checkpoint buckets).",  # pragma: allowlist secret - a description
    "trinoS3SecretKey": "S3 secret key of the Trino identity (the lake and metastore buckets).",  # pragma: allowlist secret - a description
    "supersetSecretKey": "Superset's SECRET_KEY (signs sessions, encrypts stored database passwords).",
    "supersetAdminPassword": "Password of the Superset admin user.",  # pragma: allowlist secret - a description
    "orionToken": "Bearer token of the Spark Orion API.",
}

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
# The largest heap or memory size a key may name (Docker takes the limit in bytes as a signed 64-bit number).
MAX_MEMORY_MIB = 512 * 1024
# Trino 476 measured on the test bed's binary: -Xmx64m dies of OutOfMemoryError while starting, 128m starts and
# answers queries; 256m leaves room for real ones. (Its query memory is half the heap: see generators/trino.py.)
MIN_TRINO_HEAP_MIB = 256
# Spark refuses an executor or driver heap below 1.5 x its 300 MiB reserved memory (450 MiB; the driver's check
# is on Runtime.maxMemory(), which is below -Xmx under the serial collector): 512m is the smallest safe size.
MIN_SPARK_HEAP_MIB = 512
KRAFT_CONTROLLER_COUNTS = (1, 3)
# Who publishes a host port -> its setting (Kafka's brokers and the optional Spark master RPC aside).
_PUBLISHED = {
    "minio (S3 API)": "minio_api_port",
    "minio (console)": "minio_console_port",
    "spark-master (web UI)": "spark_master_ui_port",
    "orion": "orion_port",
    "trino": "trino_port",
    "superset": "superset_port",
}


class ConfigError(ValueError):
    """A config value is not allowed. The message names the key, the value and what is allowed."""


def _key_of(name: str) -> str:
    """A field's config key: its name in camelCase (kafka_host_port_base -> kafkaHostPortBase)."""
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _key(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


_TYPES = {"bool": (bool, "true or false"), "int": (int, "an integer"), "str": (str, "a string")}


@dataclass(frozen=True)
class Settings:
    """Every knob of the lakehouse; Pulumi.yaml's config block is generated from these fields (lakehouse/config_docs.py)."""

    network_name: str = _key("minio_lake_net", "Name of the Docker bridge network every container joins.")
    bind_address: str = _key(
        "127.0.0.1",
        "Host IPv4 address the published ports bind to (127.0.0.1 keeps them off the LAN; any other address "
        "needs allowNetworkExposure).",
    )
    allow_network_exposure: bool = _key(
        False,
        "Opt-in for a bindAddress that is not loopback: Kafka, Trino and the Spark master web UI have no "
        "authentication, so anyone who reaches that address can read and write the lake (the program warns, "
        "naming them).",
    )
    kafka_mode: str = _key("kraft", "Kafka metadata mode: 'kraft' (Kafka 4) or 'zookeeper' (Kafka 3.9 + ZooKeeper).")
    kafka_brokers: int = _key(
        3,
        "Number of Kafka brokers (KRaft: at least kafkaControllers; nodes beyond them are broker-only, so "
        "changing this key only adds or removes those nodes).",
    )
    kafka_controllers: int = _key(
        3,
        "KRaft only: how many of the brokers (kafka-1 upwards) are also controllers, the cluster's fixed "
        "voter set: 1 or 3. Changing it on a running stack starts a new, empty Kafka cluster on new volumes.",
    )
    kafka_topic: str = _key(DEFAULT_TOPIC, "Topic the producer writes and the streaming job reads.")
    kafka_partitions: int = _key(6, "Partitions of the topic.")
    kafka_topic_adopt_existing: bool = _key(
        False, "Adopt the topic if it exists already and the stack did not create it; destroy then leaves it on Kafka."
    )
    kafka_host_port_base: int = _key(19092, "Host port of broker 1's host listener; broker N gets base + N - 1.")
    kafka_heap: str = _key("256m", "JVM heap of each broker (and of ZooKeeper), e.g. 256m.")
    minio_api_port: int = _key(9000, "Host port of the S3 API.")
    minio_console_port: int = _key(9001, "Host port of the MinIO console.")
    s3_region: str = _key("us-east-1", "S3 region name every client uses.")
    lake_bucket: str = _key(DEFAULT_LAKE_BUCKET, "Bucket of the Delta tables.")
    checkpoint_bucket: str = _key(DEFAULT_CHECKPOINT_BUCKET, "Bucket of the streaming checkpoints.")
    metastore_bucket: str = _key("trino-metastore", "Bucket of Trino's file metastore.")
    delta_table: str = _key(DEFAULT_TABLE, "Name (and path in the lake bucket) of the events Delta table.")
    spark_workers: int = _key(2, "Number of Spark workers.")
    spark_worker_cores: int = _key(1, "Cores each Spark worker offers.")
    spark_worker_memory: str = _key(
        "512m",
        "Memory each Spark worker offers to executors, at least 512m and at least sparkExecutorMemory, e.g. 512m.",
    )
    spark_executor_memory: str = _key(
        "512m", "Heap of each executor, at least 512m (Spark refuses less than 450 MiB), e.g. 512m."
    )
    spark_driver_memory: str = _key(
        "512m", "Heap of each driver Orion starts, at least 512m (Spark refuses less than 450 MiB), e.g. 512m."
    )
    spark_daemon_memory: str = _key("128m", "Heap of the Spark master and worker daemons, e.g. 128m.")
    spark_master_port: int = _key(
        7077, "Host port of the Spark master's RPC (spark://), when publishSparkMasterRpc is true."
    )
    publish_spark_master_rpc: bool = _key(
        False,
        "Publish the Spark master's RPC port on the host. Off by default: submit through Orion. A driver on the "
        "host cannot work through it anyway: in client mode the executors, inside the Docker network, connect "
        "back to the driver's own address and ports, which a process on the host does not offer them.",
    )
    spark_master_ui_port: int = _key(8080, "Host port of the Spark master web UI.")
    orion_port: int = _key(8000, "Host port of Spark Orion (API and web UI).")
    orion_cores_max: int = _key(1, "spark.cores.max of each application Orion submits.")
    trino_port: int = _key(8085, "Host port of Trino.")
    trino_heap: str = _key("512m", "JVM heap of Trino, at least 256m (queries may use half of it), e.g. 512m.")
    superset_port: int = _key(8088, "Host port of Superset.")
    superset_admin_user: str = _key("admin", "User name of the Superset admin.")
    stream_trigger_interval: str = _key(job.DEFAULT_TRIGGER, "Micro-batch trigger interval, e.g. '1 second'.")
    stream_max_offsets_per_trigger: int = _key(
        job.DEFAULT_MAX_OFFSETS, "Upper bound of records read per micro-batch (bounds a catch-up batch)."
    )
    stream_dedup_window: str = _key(
        job.DEFAULT_DEDUP_WINDOW, "How long a re-sent event_id is still recognised as a duplicate, e.g. '1 hour'."
    )
    stream_maintenance_interval: str = _key(
        job.DEFAULT_MAINTENANCE_INTERVAL,
        "How often the streaming job compacts, vacuums and checkpoints its tables between batches, e.g. '15 minutes'; 'off' never.",
    )
    stream_stop_timeout: str = _key(
        job.DEFAULT_STOP_TIMEOUT,
        "On stop, how long the batch in flight may take to finish before it is abandoned (and replayed on the next start).",
    )

    def __post_init__(self) -> None:
        for step in (_types, _counts, _memory, _kraft, _executor_fits, _buckets, _names, _durations, _bind, _ports):
            step(self)

    def kafka_host_ports(self) -> list[int]:
        return [self.kafka_host_port_base + i for i in range(self.kafka_brokers)]

    def published_ports(self) -> dict[str, int]:
        """Every host port the stack publishes, by what publishes it."""
        ports = {f"kafka-{i + 1}": p for i, p in enumerate(self.kafka_host_ports())}
        ports |= {who: getattr(self, name) for who, name in _PUBLISHED.items()}
        if self.publish_spark_master_rpc:
            ports["spark-master"] = self.spark_master_port
        return ports

    @classmethod
    def config_keys(cls) -> dict[str, dataclasses.Field]:
        return {_key_of(f.name): f for f in dataclasses.fields(cls)}

    @classmethod
    def from_config(cls, values: Mapping[str, str]) -> Settings:
        """Build from raw config strings by key (no 'lakehouse:' prefix); keys not given take their default, an
        unknown key is an error (it is usually a typo)."""
        keys = cls.config_keys()
        unknown = sorted(set(values) - set(keys) - set(SECRET_KEYS))
        if unknown:
            raise ConfigError(
                f"unknown config key(s) {', '.join(f'{NAMESPACE}:{k}' for k in unknown)}; "
                f"allowed: {', '.join(sorted(keys) + sorted(SECRET_KEYS))}"
            )
        kwargs: dict[str, Any] = {}
        for key, f in keys.items():
            if key not in values:
                continue
            raw, text = values[key], str(values[key]).strip()
            # ASCII digits only: int() also takes '٣' or '1_000', which no config file means.
            if f.type == "int" and re.fullmatch(r"-?[0-9]+", text):
                kwargs[f.name] = int(text)
            elif f.type == "bool" and text.lower() in ("true", "false"):
                kwargs[f.name] = text.lower() == "true"
            elif f.type == "str":
                kwargs[f.name] = str(raw)
            else:
                raise ConfigError(f"{NAMESPACE}:{key} = {raw!r} is not allowed: it must be {_TYPES[f.type][1]}")
        return cls(**kwargs)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _fail(s: Settings, name: str, allowed: str) -> NoReturn:
    raise ConfigError(f"{NAMESPACE}:{_key_of(name)} = {getattr(s, name)!r} is not allowed: {allowed}")


def _types(s: Settings) -> None:
    for f in dataclasses.fields(s):
        want, what = _TYPES[f.type]
        value = getattr(s, f.name)
        if not isinstance(value, want) or (want is not bool and isinstance(value, bool)):
            _fail(s, f.name, f"it must be {what}")


def _counts(s: Settings) -> None:
    if s.kafka_mode not in ("kraft", "zookeeper"):
        _fail(s, "kafka_mode", "one of 'kraft', 'zookeeper'")
    for name, low, high in (
        ("kafka_brokers", 1, 9),
        ("kafka_partitions", 1, 1000),
        ("spark_workers", 1, 16),
        ("spark_worker_cores", 1, 64),
        ("orion_cores_max", 1, 1024),
        ("stream_max_offsets_per_trigger", 1, job.MAX_OFFSETS_LIMIT),
    ):
        if not low <= getattr(s, name) <= high:
            _fail(s, name, f"an integer from {low} to {high}")


def _memory(s: Settings) -> None:
    for name, low in (
        ("kafka_heap", 64),
        ("spark_worker_memory", MIN_SPARK_HEAP_MIB),
        ("spark_executor_memory", MIN_SPARK_HEAP_MIB),
        ("spark_driver_memory", MIN_SPARK_HEAP_MIB),
        ("spark_daemon_memory", 64),
        ("trino_heap", MIN_TRINO_HEAP_MIB),
    ):
        size = memory_bytes(getattr(s, name))
        if size is None or not low <= size >> 20 <= MAX_MEMORY_MIB:
            _fail(s, name, f"a memory size from {low}m to {MAX_MEMORY_MIB // 1024}g, {MEMORY_RULE}")


def _executor_fits(s: Settings) -> None:
    if memory_mib(s.spark_executor_memory) > memory_mib(s.spark_worker_memory):
        why = f"at most sparkWorkerMemory ({s.spark_worker_memory}), or no executor fits a worker"
        _fail(s, "spark_executor_memory", why)


def _kraft(s: Settings) -> None:
    if s.kafka_controllers not in KRAFT_CONTROLLER_COUNTS:
        why = (
            "a KRaft quorum of 3 survives one controller down" if s.kafka_mode == "kraft" else "used in KRaft mode only"
        )
        _fail(s, "kafka_controllers", f"1 or 3 ({why})")
    if s.kafka_mode == "kraft" and s.kafka_brokers < s.kafka_controllers:
        _fail(
            s,
            "kafka_brokers",
            f"at least lakehouse:kafkaControllers ({s.kafka_controllers}) in KRaft mode: the controllers are "
            "brokers too; set lakehouse:kafkaControllers to 1 for a smaller cluster",
        )


def _buckets(s: Settings) -> None:
    names = ("lake_bucket", "checkpoint_bucket", "metastore_bucket")
    for name in names:
        bucket = getattr(s, name)
        if not _BUCKET.match(bucket) or any(x in bucket for x in ("..", ".-", "-.")) or _ipv4(bucket) is not None:
            _fail(
                s,
                name,
                "an S3 bucket name: 3-63 characters of a-z, 0-9, '.', '-', starting and ending with a letter or "
                "digit, no '..', '.-' or '-.', not an IP address",
            )
    if len({getattr(s, name) for name in names}) != 3:
        given = ", ".join(f"{NAMESPACE}:{_key_of(name)} = {getattr(s, name)!r}" for name in names)
        raise ConfigError(f"{given} is not allowed: they must be three different buckets")


_NAMES = (
    ("kafka_topic", is_topic_name, f"a Kafka topic name: {TOPIC_RULE}"),
    (
        "network_name",
        _NAME.match,
        "a Docker network name: letters, digits, '_', '.', '-', starting with a letter or digit",
    ),
    ("delta_table", _IDENT.match, "a lower-case SQL identifier (a-z, 0-9, '_'), as Trino names tables"),
    ("superset_admin_user", _NAME.match, "a user name of letters, digits, '_', '.', '-'"),
    ("s3_region", re.compile(r"^[a-z0-9-]+$").match, "a region name such as us-east-1"),
)


def _names(s: Settings) -> None:
    for name, valid, rule in _NAMES:
        if not valid(getattr(s, name)):
            _fail(s, name, rule)


def _durations(s: Settings) -> None:
    for name in (
        "stream_trigger_interval",
        "stream_dedup_window",
        "stream_stop_timeout",
        "stream_maintenance_interval",
    ):
        value, may_be_off = getattr(s, name), name == "stream_maintenance_interval"
        if not is_duration(value) and not (may_be_off and value == OFF):
            off = f", or '{OFF}'" if may_be_off else ""
            _fail(s, name, f"a duration such as '10 seconds', '500 milliseconds', '1 hour'{off}")


def _bind(s: Settings) -> None:
    ip = _ipv4(s.bind_address)
    if ip is None or ip.is_multicast or ip.is_reserved:
        _fail(
            s,
            "bind_address",
            "an IPv4 address of this host: 127.0.0.1 (this machine only), another address of one of its "
            "interfaces, or 0.0.0.0 (every interface); the last two need lakehouse:allowNetworkExposure",
        )
    elif not ip.is_loopback and not s.allow_network_exposure:
        _fail(
            s,
            "bind_address",
            f"a loopback address (127.0.0.1) unless lakehouse:allowNetworkExposure is true: on {s.bind_address} "
            f"{', '.join(unauthenticated_services(s))} would be reachable without authentication",
        )


def _port_field(who: str) -> str:
    if who.startswith("kafka-"):
        return "kafka_host_port_base"
    return "spark_master_port" if who == "spark-master" else _PUBLISHED[who]


def _ports(s: Settings) -> None:
    for f in dataclasses.fields(s):
        if (f.name.endswith("_port") or f.name == "kafka_host_port_base") and not 1024 <= getattr(s, f.name) <= 65535:
            _fail(s, f.name, "a port from 1024 to 65535")
    if s.kafka_host_ports()[-1] > 65535:
        _fail(s, "kafka_host_port_base", f"a base that leaves room for {s.kafka_brokers} brokers below 65536")
    seen: dict[int, str] = {}
    for who, port in s.published_ports().items():
        if port in seen:
            names = dict.fromkeys([_port_field(seen[port]), _port_field(who)])
            change = " or ".join(f"{NAMESPACE}:{_key_of(n)} = {getattr(s, n)}" for n in names)
            raise ConfigError(
                f"host port {port} is given to both {seen[port]} and {who}: it is not allowed, every published "
                f"port must be unique (change {change})"
            )
        seen[port] = who


def _ipv4(text: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        return None


def unauthenticated_services(s: Settings) -> list[str]:
    """What anyone who reaches the bind address can use without a credential, with its host ports (Orion,
    Superset, the S3 API and the MinIO console ask for one)."""
    ports = s.kafka_host_ports()
    kafka = f"ports {ports[0]}-{ports[-1]}" if len(ports) > 1 else f"port {ports[0]}"
    services = [
        f"Kafka ({kafka}: PLAINTEXT, anyone can read and write every topic)",
        f"Trino (port {s.trino_port}: any user name is accepted; queries read the lake with Trino's S3 identity)",
        f"the Spark master web UI (port {s.spark_master_ui_port}: shows every application and can kill them)",
    ]
    if s.publish_spark_master_rpc:
        services.append(
            f"the Spark master RPC (port {s.spark_master_port}: anyone can run code on the workers, which hold "
            "the Spark S3 identity)"
        )
    return services


def exposure_warning(s: Settings) -> str | None:
    """The warning the program prints when the stack is reachable from other machines, else None."""
    if ipaddress.IPv4Address(s.bind_address).is_loopback:
        return None
    return (
        f"lakehouse:bindAddress = {s.bind_address}: these services are reachable from other machines without "
        f"authentication: {'; '.join(unauthenticated_services(s))}. Restrict access with a firewall, or set "
        "lakehouse:bindAddress back to 127.0.0.1."
    )
