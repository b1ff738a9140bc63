"""Config fuzzing (hypothesis) over every key of Pulumi.yaml, through the whole program under mocks.

- every invalid value is refused before any resource is registered, the message naming the key, the value
  (secrets: never the value, only its length) and what is allowed;
- every valid value, alone or combined with others, builds the whole graph;
- any value at all either builds the graph or is refused that way: nothing in between (an error while
  resources are being registered, or a value that only fails in Args after some resources exist).

Reproducible and bounded: derandomized (the same examples on every run and in CI), no example database,
no deadline (the machine is shared), a fixed number of examples per property, no shrinking.
"""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from stack_harness import CONTAINER, RecordingMocks, run_stack

from components.config import SECRET_LENGTHS
from lakehouse.settings import MAX_MEMORY_MIB, NAMESPACE, SECRET_KEYS, ConfigError, Settings

ROOT = Path(__file__).resolve().parents[2]
DECLARED = set(yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"])


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        # No shrinking: each example runs the whole program, so shrinking a failure can take minutes; the
        # failing example is printed as found (and is the same on every run).
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def ints(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(str)


def memory(low_mib: int, high_mib: int = 8192) -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(low_mib, high_mib).map(lambda m: f"{m}m"),
        st.integers(max(1, -(-low_mib // 1024)), max(1, high_mib // 1024)).map(lambda g: f"{g}g"),
        st.integers(low_mib, high_mib).map(lambda m: f"{m * 1024}k"),
    )


def regex(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


EVERY_IP = "0.0.0.0"  # noqa: S104 - a config value under test; nothing binds here
BOOLS = st.sampled_from(["true", "false", "True", "FALSE"])
DURATIONS = st.builds(
    lambda n, unit: f"{n} {unit}",
    st.integers(1, 999_999),
    st.sampled_from(["millisecond", "milliseconds", "second", "seconds", "minute", "minutes", "hour", "hours"]),
)
BUCKET = regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]")
PORT = st.integers(1024, 65535)

# Valid values of each key on its own (with every other key at its default).
VALID: dict[str, st.SearchStrategy[str]] = {
    "networkName": regex(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,40}"),
    "bindAddress": st.sampled_from(["127.0.0.1", "127.0.0.2", "127.1.2.3"]),
    "allowNetworkExposure": BOOLS,
    "kafkaMode": st.sampled_from(["kraft", "zookeeper"]),
    "kafkaBrokers": ints(3, 9),
    "kafkaControllers": st.sampled_from(["1", "3"]),
    "kafkaTopic": regex(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,60}"),
    "kafkaPartitions": ints(1, 1000),
    "kafkaTopicAdoptExisting": BOOLS,
    "kafkaHostPortBase": ints(10000, 60000),
    "kafkaHeap": memory(64),
    "minioApiPort": ints(30000, 60000),
    "minioConsolePort": ints(30000, 60000),
    "s3Region": regex(r"[a-z0-9-]{1,20}"),
    "lakeBucket": BUCKET.filter(lambda b: b not in ("checkpoints", "trino-metastore")),
    "checkpointBucket": BUCKET.filter(lambda b: b not in ("lake", "trino-metastore")),
    "metastoreBucket": BUCKET.filter(lambda b: b not in ("lake", "checkpoints")),
    "deltaTable": regex(r"[a-z_][a-z0-9_]{0,40}"),
    "sparkWorkers": ints(1, 16),
    "sparkWorkerCores": ints(1, 64),
    "sparkWorkerMemory": memory(512, 65536),
    "sparkExecutorMemory": memory(512, 1024),  # the default worker offers 1g
    "sparkDriverMemory": memory(512),
    "sparkDaemonMemory": memory(64),
    "sparkMasterPort": ints(30000, 60000),
    "publishSparkMasterRpc": BOOLS,
    "sparkMasterUiPort": ints(30000, 60000),
    "orionPort": ints(30000, 60000),
    "orionCoresMax": ints(1, 1024),
    "trinoPort": ints(30000, 60000),
    "trinoHeap": memory(256),
    "supersetPort": ints(30000, 60000),
    "supersetAdminUser": regex(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,30}"),
    "streamTriggerInterval": DURATIONS,
    "streamMaxOffsetsPerTrigger": ints(1, 10_000_000),
    "streamDedupWindow": DURATIONS,
    "streamMaintenanceInterval": st.one_of(DURATIONS, st.just("off")),
    "streamStopTimeout": DURATIONS,
}
for _key, (_low, _high) in SECRET_LENGTHS.items():
    VALID[_key] = st.text(string.ascii_letters + string.digits, min_size=_low, max_size=min(_high, 64))

NOT_INT = st.sampled_from(["", "abc", "1.5", "0x10", "1e3", "--1", "٣", "1_000"])
NOT_BOOL = st.sampled_from(["", "yes", "no", "1", "0", "on", "truthy"])
BAD_MEMORY = st.one_of(
    st.sampled_from(["", "512", "-1g", "0m", "1t", "1.5g", "512 m", "m", "9999999g", "512M "]),
    st.integers(1, 63).map(lambda m: f"{m}m"),
)


def out_of(low: int, high: int) -> st.SearchStrategy[str]:
    return st.one_of(NOT_INT, st.integers(-(10**6), low - 1).map(str), st.integers(high + 1, 10**9).map(str))


BAD_PORT = out_of(1024, 65535)
BAD_BUCKET = st.one_of(
    st.sampled_from(["", "ab", "Lake", "lake_", "-lake", "lake-", "a..b", "a.-b", "a-.b", "192.168.1.1", "x" * 64]),
    st.text(string.punctuation + " ", min_size=3, max_size=8),
)
BAD_DURATION = st.sampled_from(
    ["", "10", "ten seconds", "0 seconds", "10 days", "10seconds", "1000000 seconds", "-1 hour"]
)

# Invalid values of each key on its own; the refusal must name this key.
INVALID: dict[str, st.SearchStrategy[str]] = {
    "networkName": st.sampled_from(["", "-net", "a net", "net/x", "n" * 64, "ünï"]),
    # 0.0.0.0 and 10.0.0.5: valid addresses, refused without lakehouse:allowNetworkExposure.
    "bindAddress": st.sampled_from(
        ["", "localhost", "::1", "fe80::1", "224.0.0.1", "255.255.255.255", "240.0.0.1", "1.2.3", EVERY_IP, "10.0.0.5"]
    ),
    "allowNetworkExposure": NOT_BOOL,
    "kafkaMode": st.sampled_from(["", "KRaft", "raft", "zk", "zookeeper "]),
    "kafkaBrokers": st.one_of(out_of(1, 9), st.sampled_from(["1", "2"])),  # 1, 2: below the 3 default controllers
    "kafkaControllers": st.one_of(NOT_INT, st.sampled_from(["0", "2", "4", "5", "-3"])),
    "kafkaTopic": st.sampled_from(["", ".", "..", "a b", "topic/x", "t" * 250, "tópico"]),
    "kafkaPartitions": out_of(1, 1000),
    "kafkaTopicAdoptExisting": NOT_BOOL,
    "kafkaHostPortBase": st.one_of(BAD_PORT, st.just("65534"), st.just("9000"), st.just("7998")),
    "kafkaHeap": BAD_MEMORY,
    "minioApiPort": st.one_of(BAD_PORT, st.just("8085")),
    "minioConsolePort": st.one_of(BAD_PORT, st.just("9000")),
    "s3Region": st.sampled_from(["", "US-EAST-1", "us east", "us_east_1"]),
    "lakeBucket": st.one_of(BAD_BUCKET, st.just("checkpoints")),
    "checkpointBucket": st.one_of(BAD_BUCKET, st.just("lake")),
    "metastoreBucket": st.one_of(BAD_BUCKET, st.just("lake")),
    "deltaTable": st.sampled_from(["", "1table", "Table", "my-table", "t" * 129]),
    "sparkWorkers": out_of(1, 16),
    "sparkWorkerCores": out_of(1, 64),
    "sparkWorkerMemory": st.one_of(BAD_MEMORY, st.sampled_from(["256m", "511m"])),
    "sparkExecutorMemory": st.one_of(BAD_MEMORY, st.sampled_from(["256m", "2g"])),  # 2g: more than a worker has
    "sparkDriverMemory": st.one_of(BAD_MEMORY, st.sampled_from(["256m", "450m"])),
    "sparkDaemonMemory": BAD_MEMORY,
    "sparkMasterPort": BAD_PORT,
    "publishSparkMasterRpc": NOT_BOOL,
    "sparkMasterUiPort": st.one_of(BAD_PORT, st.just("8000")),
    "orionPort": st.one_of(BAD_PORT, st.just("8088")),
    "orionCoresMax": out_of(1, 1024),
    "trinoPort": st.one_of(BAD_PORT, st.just("9001")),
    "trinoHeap": st.one_of(BAD_MEMORY, st.sampled_from(["128m", "255m"])),
    "supersetPort": st.one_of(BAD_PORT, st.just("19093")),
    "supersetAdminUser": st.sampled_from(["", "-admin", "ad min", "admin;rm", "a" * 64]),
    "streamTriggerInterval": BAD_DURATION,
    "streamMaxOffsetsPerTrigger": out_of(1, 10_000_000),
    "streamDedupWindow": BAD_DURATION,
    "streamMaintenanceInterval": BAD_DURATION,
    "streamStopTimeout": BAD_DURATION,
}
for _key, (_low, _high) in SECRET_LENGTHS.items():
    # "Qz" first: distinctive enough that finding the value in a message means it was echoed.
    INVALID[_key] = st.one_of(
        st.text(string.ascii_letters + string.digits, max_size=_low - 3).map(lambda v: "Qz" + v),
        st.text(string.ascii_letters + string.digits, min_size=_high - 1, max_size=_high + 40).map(lambda v: "Qz" + v),
    )


def test_every_declared_key_is_fuzzed() -> None:
    assert set(VALID) == DECLARED, (
        f"add valid-value strategies in {Path(__file__).name} for {sorted(DECLARED - set(VALID))}"
        f"{'; remove ' + str(sorted(set(VALID) - DECLARED)) if set(VALID) - DECLARED else ''}"
    )
    assert set(INVALID) == DECLARED, f"add invalid-value strategies for {sorted(DECLARED - set(INVALID))}"
    assert DECLARED == set(Settings.config_keys()) | set(SECRET_KEYS)


def refused(config: dict[str, str], secret_keys: list[str] | None = None) -> str:
    """Run the program; it must refuse the config before registering anything. Returns the message."""
    mocks = RecordingMocks()
    with pytest.raises(ConfigError) as err:
        run_stack(config, secret_keys=secret_keys, mocks=mocks)
    assert mocks.resources == [], f"{config}: refused only after registering {len(mocks.resources)} resource(s)"
    return str(err.value)


def builds(config: dict[str, str], secret_keys: list[str] | None = None) -> None:
    rec = run_stack(config, secret_keys=secret_keys)
    s = Settings.from_config({k: v for k, v in config.items() if k not in SECRET_KEYS})
    published = sorted(int(p["external"]) for c in rec.containers().values() for p in c.get("ports") or [])
    assert published == sorted(s.published_ports().values()), config
    zookeeper = s.kafka_mode == "zookeeper"
    # brokers (+ ZooKeeper), MinIO, the Spark master and workers, Orion, Trino, Superset
    assert len(rec.of_type(CONTAINER)) == s.kafka_brokers + zookeeper + 1 + 1 + s.spark_workers + 3, config


KEYS = sorted(DECLARED)


@fuzz(250)
@given(data=st.data())
def test_an_invalid_value_is_refused_naming_key_value_and_what_is_allowed(data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(KEYS), label="key")
    value = data.draw(INVALID[key], label="value")
    if key in SECRET_KEYS:
        message = refused({key: value}, secret_keys=[key])
        assert f"{NAMESPACE}:{key}" in message and "is not allowed" in message
        assert f"{len(value)} characters" in message
        assert len(value) < 4 or value not in message, "a refused secret must never be echoed"
        return
    message = refused({key: value})
    assert f"{NAMESPACE}:{key}" in message, message
    assert value.strip() in message or repr(value) in message, f"{value!r} not named in: {message}"
    assert "is not allowed" in message, message
    assert message.split("is not allowed", 1)[1].strip(" :,"), f"nothing says what is allowed: {message}"


@fuzz(24)
@given(data=st.data())
def test_a_valid_value_builds_the_graph(data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(KEYS), label="key")
    value = data.draw(VALID[key], label="value")
    if key in SECRET_KEYS:
        builds({key: value}, secret_keys=[key])
        return
    builds({key: value})


@st.composite
def valid_configs(draw: st.DrawFn) -> dict[str, str]:
    """Several keys at once, kept consistent with each other (distinct ports and buckets, enough brokers for
    the controllers, an executor that fits a worker, an exposed address only with the opt-in)."""
    config: dict[str, str] = {}
    mode = draw(st.sampled_from(["kraft", "zookeeper"]))
    controllers = draw(st.sampled_from([1, 3]))
    brokers = draw(st.integers(controllers if mode == "kraft" else 1, 9))
    config |= {"kafkaMode": mode, "kafkaControllers": str(controllers), "kafkaBrokers": str(brokers)}
    ports = draw(st.lists(st.integers(20, 599), min_size=8, max_size=8, unique=True))
    port_keys = ["minioApiPort", "minioConsolePort", "sparkMasterPort", "sparkMasterUiPort"]
    port_keys += ["orionPort", "trinoPort", "supersetPort"]
    config |= {k: str(40000 + p * 10) for k, p in zip(port_keys, ports, strict=False)}
    config["kafkaHostPortBase"] = str(40000 + ports[-1] * 10)  # ten ports of room: at most 9 brokers
    exposed = draw(st.booleans())
    config["bindAddress"] = draw(st.sampled_from(["0.0.0.0", "192.168.7.9"])) if exposed else "127.0.0.1"  # noqa: S104
    config["allowNetworkExposure"] = "true" if exposed else draw(BOOLS)
    buckets = draw(st.lists(BUCKET, min_size=3, max_size=3, unique=True))
    config |= dict(zip(["lakeBucket", "checkpointBucket", "metastoreBucket"], buckets, strict=True))
    worker = draw(st.integers(512, 8192))
    config |= {"sparkWorkerMemory": f"{worker}m", "sparkExecutorMemory": f"{draw(st.integers(512, worker))}m"}
    for key in (
        "networkName",
        "kafkaTopic",
        "kafkaPartitions",
        "kafkaHeap",
        "kafkaTopicAdoptExisting",
        "s3Region",
        "deltaTable",
        "sparkWorkers",
        "sparkDriverMemory",
        "publishSparkMasterRpc",
        "orionCoresMax",
        "trinoHeap",
        "supersetAdminUser",
        "streamTriggerInterval",
        "streamDedupWindow",
    ):
        if draw(st.booleans()):
            config[key] = draw(VALID[key])
    return config


@fuzz(12)
@given(config=valid_configs())
def test_valid_values_together_build_the_graph(config: dict[str, str]) -> None:
    builds(config)


@fuzz(100)
@given(data=st.data())
def test_any_value_is_refused_up_front_or_builds(data: st.DataObject) -> None:
    key = data.draw(st.sampled_from([k for k in KEYS if k not in SECRET_KEYS]), label="key")
    value = data.draw(
        st.one_of(st.text(max_size=12), INVALID[key], VALID[key], st.integers(-5, 70000).map(str)), label="value"
    )
    config = {key: value}
    mocks = RecordingMocks()
    try:
        run_stack(config, mocks=mocks)
    except ConfigError as exc:
        assert mocks.resources == [], f"{config}: refused after {len(mocks.resources)} resource(s) were registered"
        assert f"{NAMESPACE}:{key}" in str(exc), str(exc)


def test_fuzzing_knows_the_real_bounds() -> None:
    # The strategies above stay inside these; if a bound moves, the fuzzing must follow.
    assert MAX_MEMORY_MIB == 512 * 1024
