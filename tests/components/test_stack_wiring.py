"""The whole program under Pulumi mocks: what it would create and how the containers are wired.

Two configurations: the defaults (KRaft, 3 brokers, 2 workers) and a variant (ZooKeeper mode,
5 brokers, 3 workers). Each check names the resource that breaks it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import urlparse

import pytest
from stack_harness import (
    CONTAINER,
    DYNAMIC_PREFIX,
    IMAGE,
    KAFKA_TOPIC,
    KRAFT_FIVE,
    MINIO_ATTACHMENT,
    MINIO_BUCKET,
    MINIO_POLICY,
    MINIO_PROVIDER,
    MINIO_USER,
    NETWORK,
    RANDOM_PASSWORD,
    REMOTE_IMAGE,
    VARIANT,
    VOLUME,
    Recording,
)

from components import sizing
from components.containers import go_duration
from lakehouse.generators.kafka import heap_opts
from lakehouse.generators.properties import parse_properties
from lakehouse.settings import Settings

DEFAULT = Settings()
VARIANT_SETTINGS = Settings.from_config(VARIANT)


def settings_of(stack: Recording) -> Settings:
    return VARIANT_SETTINGS if "zookeeper" in stack.containers() else DEFAULT


# ----- what the stack declares -----


def names_by_type(stack: Recording) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for r in stack.resources:
        found[r.typ].add(r.name)
    return found


def test_every_component_and_service_resource_is_declared(stack: Recording) -> None:
    found = names_by_type(stack)
    components = ("Network", "Secrets", "KafkaCluster", "Storage", "Spark", "Orion", "Trino", "Superset", "PostDeploy")
    for typ in components:  # each declared once, under its lower-case name (KafkaCluster as "kafka")
        assert found[f"lakehouse:index:{typ}"] == {"kafka" if typ == "KafkaCluster" else typ.lower()}, typ
    for typ, name in {
        "KafkaTopic": "kafka-topic", "BucketContents": "storage-bucket-contents",
        "StreamingJob": "postdeploy-streaming-job", "DeltaTables": "postdeploy-delta-tables",
        "SupersetDashboards": "postdeploy-dashboards",
    }.items():  # fmt: skip
        assert found[f"{DYNAMIC_PREFIX}lakehouse:{typ}"] == {name}, typ
    assert found[NETWORK] == {"network-bridge"}
    assert found[MINIO_PROVIDER] == {"storage-provider"}
    assert found[MINIO_BUCKET] == {"storage-bucket-lake", "storage-bucket-checkpoints", "storage-bucket-metastore"}
    # One identity per service that reads or writes S3: a user, its own policy, the attachment.
    assert found[MINIO_USER] == {"storage-spark-user", "storage-trino-user"}
    assert found[MINIO_POLICY] == {"storage-spark-policy", "storage-trino-policy"}
    assert found[MINIO_ATTACHMENT] == {"storage-spark-policy-attachment", "storage-trino-policy-attachment"}


def test_images_built_and_pulled(stack: Recording) -> None:
    found = names_by_type(stack)
    assert found[IMAGE] == {"spark-image", "superset-image"}  # built by the stack, never pushed
    zookeeper = {"kafka-zookeeper-image"} if settings_of(stack).kafka_mode == "zookeeper" else set()
    assert found[REMOTE_IMAGE] == {"kafka-image", "storage-image", "trino-image"} | zookeeper


def test_the_data_that_outlives_a_container_is_on_named_volumes(stack: Recording) -> None:
    s = settings_of(stack)
    zk = s.kafka_mode == "zookeeper"
    layout = "zookeeper" if zk else f"kraft-c{s.kafka_controllers}"
    brokers = {f"lakehouse-dev-kafka-{n}-{layout}-data" for n in range(1, s.kafka_brokers + 1)}
    others = {"lakehouse-dev-minio-data", "lakehouse-dev-orion-data", "lakehouse-dev-superset-home"}
    assert stack.docker_names(VOLUME) == brokers | others | ({"lakehouse-dev-zookeeper-data"} if zk else set())


def test_a_password_is_generated_for_each_secret_not_set(default_stack: Recording, variant_stack: Recording) -> None:
    generated = {f"secrets-{k}" for k in ("minio-root-password", "spark-s3-secret-key", "trino-s3-secret-key",
                                          "superset-secret-key", "superset-admin-password", "orion-token")}  # fmt: skip
    assert names_by_type(default_stack)[RANDOM_PASSWORD] == generated
    assert not variant_stack.of_type(RANDOM_PASSWORD)  # every secret set as secret config


def test_container_hostnames(default_stack: Recording, variant_stack: Recording) -> None:
    common = {"minio", "spark-master", "spark-orion", "trino", "superset"}
    assert set(default_stack.containers()) == common | {
        "kafka-1",
        "kafka-2",
        "kafka-3",
        "spark-worker-1",
        "spark-worker-2",
    }
    assert set(variant_stack.containers()) == common | {f"kafka-{n}" for n in range(1, 6)} | {
        "zookeeper",
        "spark-worker-1",
        "spark-worker-2",
        "spark-worker-3",
    }


# ----- network -----


def test_every_container_is_on_the_network_under_its_own_name(stack: Recording) -> None:
    s = settings_of(stack)
    (network,) = stack.of_type(NETWORK)
    docker_network = f"lakehouse-dev-{s.network_name}"
    assert network.inputs["name"] == docker_network
    assert network.inputs["driver"] == "bridge"
    for name, c in stack.containers().items():
        nets = c.get("networksAdvanced") or []
        assert [n["name"] for n in nets] == [docker_network], f"container {name} is not on {docker_network}"
        assert nets[0]["aliases"] == [name], f"container {name} is not reachable by its own name"
        assert c["name"] == f"lakehouse-dev-{name}", f"container {name} is named {c['name']} in Docker"


def _hosts_in(text: str) -> set[str]:
    """Host names in URLs and host:port lists (spark://h:p, http://h:p, h:p,h:p, 1@h:p)."""
    hosts = set()
    for part in re.split(r"[,\s]+", text.strip()):
        if "://" in part:
            host = urlparse(part).hostname
        else:
            part = part.split("@")[-1]
            host = part.rpartition(":")[0] if ":" in part else None
        if host:
            hosts.add(host)
    return hosts


def referenced_hosts(stack: Recording) -> dict[str, set[str]]:
    """Every host name a generated file or environment entry refers to, by where it was found."""
    found: dict[str, set[str]] = {}
    keys = (
        "controller.quorum.voters",
        "zookeeper.connect",
        "spark.master",
        "spark.hadoop.fs.s3a.endpoint",
        "s3.endpoint",
        "discovery.uri",
    )
    for name, _c in stack.containers().items():
        for path, content in stack.uploads(name).items():
            if path.endswith((".properties", ".conf")):
                props = parse_properties(content)
                for key in keys:
                    if key in props:
                        found[f"{name}:{path}:{key}"] = _hosts_in(props[key])
                if "advertised.listeners" in props:
                    internal = [x for x in props["advertised.listeners"].split(",") if x.startswith("INTERNAL://")]
                    found[f"{name}:{path}:advertised INTERNAL"] = _hosts_in(",".join(internal))
        env = stack.env(name)
        for key in ("ORION_SPARK_MASTER_URL", "ORION_SPARK_MASTER_UI", "LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS"):
            if key in env:
                found[f"{name}:env:{key}"] = _hosts_in(env[key])
        command = stack.containers()[name].get("command") or []
        for arg in command:
            if arg.startswith("spark://"):
                found[f"{name}:command"] = _hosts_in(arg)
    return found


def test_every_host_a_generated_config_refers_to_is_a_container_on_the_network(stack: Recording) -> None:
    on_network = {alias for c in stack.containers().values() for n in c["networksAdvanced"] for alias in n["aliases"]}
    refs = referenced_hosts(stack)
    # The check must see the references that matter, or it proves nothing.
    assert any("controller.quorum.voters" in k or "zookeeper.connect" in k for k in refs)
    assert any("spark.hadoop.fs.s3a.endpoint" in k for k in refs)
    assert any(k.endswith("s3.endpoint") for k in refs)
    assert any("LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS" in k for k in refs)
    # Trino's discovery.uri points at itself, which is what a single node does.
    allowed = on_network | {"localhost"}
    for where, hosts in refs.items():
        assert hosts, f"no host found in {where}"
        assert hosts <= allowed, f"{where} refers to {sorted(hosts - allowed)}, not containers on the network"
        if not where.endswith("discovery.uri"):
            assert "localhost" not in hosts, f"{where} refers to localhost instead of a container"


# ----- Kafka -----


def broker_properties(stack: Recording) -> dict[str, dict[str, str]]:
    return {
        name: parse_properties(stack.uploads(name)["/opt/lakehouse/kafka/server.properties"])
        for name in stack.containers()
        if name.startswith("kafka-")
    }


def test_advertised_host_ports_are_unique_and_published_on_the_same_port(stack: Recording) -> None:
    s = settings_of(stack)
    brokers = broker_properties(stack)
    assert len(brokers) == s.kafka_brokers
    advertised = {}
    for name, props in brokers.items():
        (host_listener,) = [x for x in props["advertised.listeners"].split(",") if x.startswith("HOST://")]
        host, _, port = host_listener.removeprefix("HOST://").rpartition(":")
        assert host == "localhost", f"{name} advertises {host} to the host"
        advertised[name] = int(port)
        published = [(int(p["internal"]), int(p["external"])) for p in stack.containers()[name]["ports"]]
        assert published == [(int(port), int(port))], f"{name} advertises {port} but publishes {published}"
        assert f"HOST://:{port}" in props["listeners"], f"{name} does not listen on {port}"
    assert sorted(advertised.values()) == s.kafka_host_ports()
    assert len(set(advertised.values())) == len(advertised)


def test_kraft_brokers_format_and_start_on_the_uploaded_file(default_stack: Recording) -> None:
    for n in range(1, 4):
        c = default_stack.containers()[f"kafka-{n}"]
        script = c["command"][-1]
        assert "kafka-storage.sh format --ignore-formatted --cluster-id" in script
        assert "--config /opt/lakehouse/kafka/server.properties" in script
        assert script.index("kafka-storage.sh") < script.index("exec /opt/kafka/bin/kafka-server-start.sh")
        assert script.endswith("kafka-server-start.sh /opt/lakehouse/kafka/server.properties")
        props = broker_properties(default_stack)[f"kafka-{n}"]
        assert props["process.roles"] == "broker,controller"
        assert props["node.id"] == str(n)
        assert props["controller.quorum.voters"] == "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
        assert props["auto.create.topics.enable"] == "false"
        assert default_stack.env(f"kafka-{n}")["KAFKA_HEAP_OPTS"] == heap_opts("256m")


def test_kraft_nodes_beyond_the_controllers_are_broker_only_with_the_same_voters() -> None:
    from stack_harness import run_stack

    five = run_stack(KRAFT_FIVE)
    props = broker_properties(five)
    voters = "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
    for n in range(1, 6):
        p = props[f"kafka-{n}"]
        assert p["controller.quorum.voters"] == voters, f"kafka-{n}"
        assert p["controller.listener.names"] == "CONTROLLER"
        if n <= 3:
            assert p["process.roles"] == "broker,controller"
            assert p["listeners"] == f"INTERNAL://:9092,HOST://:{19091 + n},CONTROLLER://:9093"
        else:
            assert p["process.roles"] == "broker", f"kafka-{n} should be broker-only"
            assert p["listeners"] == f"INTERNAL://:9092,HOST://:{19091 + n}"
        # Broker-only nodes are formatted too (kafka-storage.sh format needs the node's own file).
        assert "kafka-storage.sh format" in five.containers()[f"kafka-{n}"]["command"][-1]


def test_more_brokers_leave_the_existing_nodes_untouched(default_stack: Recording) -> None:
    """3 -> 5 brokers: kafka-1..3 are registered with exactly the inputs they had (so Pulumi replaces none of
    them and the static voter set is never rewritten); kafka-4 and -5 are added."""
    from stack_harness import run_stack

    five = run_stack(KRAFT_FIVE)
    before, after = default_stack.containers(), five.containers()
    for n in (1, 2, 3):
        assert after[f"kafka-{n}"] == before[f"kafka-{n}"], f"kafka-{n} would be replaced"
    assert {f"kafka-{n}" for n in (4, 5)} <= set(after) and not {"kafka-4", "kafka-5"} & set(before)
    vols = {v.name for v in default_stack.of_type(VOLUME)}
    assert {v.name for v in five.of_type(VOLUME)} - vols == {"kafka-kraft-c3-4-data", "kafka-kraft-c3-5-data"}


def test_each_kafka_layout_keeps_its_data_on_its_own_volumes(
    default_stack: Recording, variant_stack: Recording
) -> None:
    from stack_harness import run_stack

    kraft = default_stack.docker_names(VOLUME)
    zk = variant_stack.docker_names(VOLUME)
    one_controller = run_stack({"kafkaControllers": "1"}).docker_names(VOLUME)
    assert {"lakehouse-dev-kafka-1-kraft-c3-data", "lakehouse-dev-kafka-3-kraft-c3-data"} <= kraft
    assert {"lakehouse-dev-kafka-1-zookeeper-data", "lakehouse-dev-zookeeper-data"} <= zk
    assert "lakehouse-dev-kafka-1-kraft-c1-data" in one_controller
    kafka_volumes = [{v for v in names if "kafka-" in v} for names in (kraft, zk, one_controller)]
    for i, a in enumerate(kafka_volumes):
        for b in kafka_volumes[i + 1 :]:
            assert not a & b, f"two Kafka layouts share volumes {sorted(a & b)}"
    # Each broker mounts its own layout's volume at the log dir.
    for name, c in variant_stack.containers().items():
        if name.startswith("kafka-"):
            assert c["volumes"] == [
                {"volumeName": f"lakehouse-dev-{name}-zookeeper-data", "containerPath": "/var/lib/kafka/data"}
            ]


def test_topic_is_made_again_when_the_kafka_layout_changes(default_stack: Recording, variant_stack: Recording) -> None:
    # A new layout is a new, empty cluster: the topic's replacement trigger is the layout; deleted first so a
    # replacement under the same name never deletes the topic it has just made.
    kraft = default_stack.registration(KAFKA_TOPIC, "kafka-topic")
    zk = variant_stack.registration(KAFKA_TOPIC, "kafka-topic")
    assert (kraft.replacement_trigger, zk.replacement_trigger) == ("kraft-c3", "zookeeper")
    assert kraft.delete_before_replace and zk.delete_before_replace
    from stack_harness import run_stack

    five = run_stack(KRAFT_FIVE).registration(KAFKA_TOPIC, "kafka-topic")
    assert five.replacement_trigger == "kraft-c3", "a broker count change must not re-create the topic"


def test_kafka_probe_runs_no_jvm(stack: Recording) -> None:
    for name, c in stack.containers().items():
        if not name.startswith("kafka-"):
            continue
        tests = c["healthcheck"]["tests"]
        assert tests[:3] == ["CMD", "bash", "-c"], name
        script = tests[3]
        assert "exec 3<>/dev/tcp/127.0.0.1/9092" in script
        assert r"\x00\x12\x00\x00" in script, "the probe must send an ApiVersions (key 18) request"
        assert "kafka-broker-api-versions" not in script and "java" not in script and "KAFKA_HEAP_OPTS" not in script


def test_cluster_id_is_the_same_on_every_broker(default_stack: Recording) -> None:
    ids = {
        re.search(r"--cluster-id (\S+)", c["command"][-1]).group(1)
        for name, c in default_stack.containers().items()
        if name.startswith("kafka-")
    }
    assert len(ids) == 1
    assert len(ids.pop()) == 22


def test_zookeeper_mode_runs_zookeeper_and_brokers_of_the_zookeeper_line(variant_stack: Recording) -> None:
    from lakehouse.versions import load

    v = load()
    zk = variant_stack.containers()["zookeeper"]
    zoo_cfg = parse_properties(variant_stack.uploads("zookeeper")["/conf/zoo.cfg"])
    assert zoo_cfg["clientPort"] == "2181"
    assert zoo_cfg["dataDir"] == "/data"
    assert zk["command"] == ["zkServer.sh", "start-foreground"]
    assert variant_stack.env("zookeeper")["ZK_SERVER_HEAP"] == "256"
    images = {r.name: r.inputs["name"] for r in variant_stack.of_type(REMOTE_IMAGE)}
    assert images["kafka-image"] == v.kafka_zookeeper_line_image
    assert images["kafka-zookeeper-image"] == v.zookeeper_image
    zk_urn = variant_stack.urn(CONTAINER, "kafka-zookeeper")
    for name, props in broker_properties(variant_stack).items():
        assert props["zookeeper.connect"] == "zookeeper:2181"
        assert "process.roles" not in props
        script = variant_stack.containers()[name]["command"][-1]
        assert "kafka-storage.sh" not in script
        assert zk_urn in variant_stack.depends_on(CONTAINER, f"kafka-{name.split('-')[1]}"), name


def test_topic_is_created_after_every_broker_with_the_generated_spec(stack: Recording) -> None:
    s = settings_of(stack)
    (topic,) = stack.of_type(KAFKA_TOPIC)
    assert topic.inputs["name"] == s.kafka_topic
    assert int(topic.inputs["partitions"]) == s.kafka_partitions
    assert int(topic.inputs["replication_factor"]) == 3
    assert topic.inputs["configs"] == {"min.insync.replicas": "2"}
    assert topic.inputs["bootstrap_servers"] == ",".join(f"127.0.0.1:{p}" for p in s.kafka_host_ports())
    brokers = {stack.urn(CONTAINER, f"kafka-{n}") for n in range(1, s.kafka_brokers + 1)}
    assert brokers <= stack.depends_on(KAFKA_TOPIC, "kafka-topic")


def test_single_broker_topic_has_replication_one() -> None:
    from stack_harness import run_stack

    one = run_stack({"kafkaBrokers": "1", "kafkaControllers": "1"})
    (topic,) = one.of_type(KAFKA_TOPIC)
    assert int(topic.inputs["replication_factor"]) == 1
    assert topic.inputs["configs"] == {"min.insync.replicas": "1"}
    assert (
        parse_properties(one.uploads("kafka-1")["/opt/lakehouse/kafka/server.properties"])[
            "offsets.topic.replication.factor"
        ]
        == "1"
    )


# ----- readiness, restart, memory, ports -----


def test_every_container_has_healthcheck_restart_policy_memory_limit_and_waits_for_healthy(stack: Recording) -> None:
    for name, c in stack.containers().items():
        hc = c.get("healthcheck") or {}
        assert hc.get("tests") and hc["tests"][0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"
        assert hc.get("interval") and hc.get("timeout") and int(hc.get("retries", 0)) >= 3, f"{name} healthcheck"
        assert c.get("restart") == "unless-stopped", f"{name} has restart {c.get('restart')!r}"
        assert int(c.get("memory", 0)) >= 256, f"{name} has no memory limit"
        assert c.get("wait") is True and int(c.get("waitTimeout", 0)) >= 60, f"{name} does not wait for healthy"


def test_containers_declare_what_the_docker_provider_reads_back(stack: Recording) -> None:
    """A second `up` is "no changes" only if each input equals what pulumi-docker reads back from Docker:
    healthcheck durations in Go's notation (it stores "1m30s" for "90s") and an explicit memory_swap (left
    out, Docker stores twice `memory`, and the provider diffs that against the program's unset value)."""
    go = re.compile(r"^(\d+h)?(\d+m)?\d+s$")
    for name, c in stack.containers().items():
        hc = c["healthcheck"]
        for key in ("interval", "timeout", "startPeriod", "startInterval"):
            value = hc.get(key)
            assert isinstance(value, str) and go.match(value), f"{name} healthcheck {key} = {value!r}"
            seconds = sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in re.findall(r"(\d+)([hms])", value))
            assert go_duration(seconds) == value, (
                f"{name} healthcheck {key} = {value!r} is not Go's {go_duration(seconds)!r}"
            )
        assert int(c.get("memorySwap", 0)) == -1, f"{name} memory_swap = {c.get('memorySwap')!r}"


def test_jvm_containers_get_room_beyond_their_heap(default_stack: Recording) -> None:
    c = default_stack.containers()
    # The default heaps (256m brokers, 512m Trino, 128m daemons, 512m offered by each worker) plus headroom.
    assert int(c["kafka-1"]["memory"]) == 256 + sizing.JVM_OVERHEAD_MIB
    assert int(c["trino"]["memory"]) == 512 + sizing.TRINO_OVERHEAD_MIB
    assert int(c["spark-master"]["memory"]) == 128 + sizing.JVM_OVERHEAD_MIB
    assert int(c["spark-worker-1"]["memory"]) == (
        128 + sizing.WORKER_DAEMON_OVERHEAD_MIB + 512 + sizing.EXECUTOR_OVERHEAD_MIB
    )
    assert default_stack.env("spark-worker-1")["SPARK_DAEMON_MEMORY"] == "128m"
    assert default_stack.env("spark-master")["SPARK_DAEMON_MEMORY"] == "128m"


def test_spark_master_rpc_is_published_only_when_asked(default_stack: Recording) -> None:
    from stack_harness import run_stack

    published = [(int(p["internal"]), int(p["external"])) for p in default_stack.containers()["spark-master"]["ports"]]
    assert published == [(8080, 8080)], "spark:// must not be published by default"
    assert default_stack.outputs["spark_master_url"] == "spark://spark-master:7077"
    asked = run_stack({"publishSparkMasterRpc": "true"})
    published = sorted((int(p["internal"]), int(p["external"])) for p in asked.containers()["spark-master"]["ports"])
    assert published == [(7077, 7077), (8080, 8080)]
    assert asked.outputs["spark_master_url"] == "spark://localhost:7077"
    # Orion and the workers reach the master inside the network either way.
    assert asked.env("spark-orion")["ORION_SPARK_MASTER_URL"] == "spark://spark-master:7077"


def test_every_published_port_is_bound_to_the_bind_address(stack: Recording) -> None:
    for name, c in stack.containers().items():
        for port in c.get("ports") or []:
            assert port.get("ip") == "127.0.0.1", f"{name} publishes {port} beyond 127.0.0.1"


def test_published_ports_are_exactly_the_settings_ports(stack: Recording) -> None:
    s = settings_of(stack)
    published = [int(p["external"]) for c in stack.containers().values() for p in c.get("ports") or []]
    assert sorted(published) == sorted(s.published_ports().values())
    assert len(published) == len(set(published))


def test_bind_address_setting_moves_every_published_port(caplog: pytest.LogCaptureFixture) -> None:
    from stack_harness import run_stack

    every_interface = "0.0.0.0"  # noqa: S104 - a config value under test; nothing binds here
    with caplog.at_level("WARNING"):
        lan = run_stack({"bindAddress": every_interface, "allowNetworkExposure": "true"})
    ips = {p["ip"] for c in lan.containers().values() for p in c.get("ports") or []}
    assert ips == {every_interface}
    assert lan.outputs["kafka_bootstrap_servers"] == "localhost:19092,localhost:19093,localhost:19094"
    (warning,) = [r.getMessage() for r in caplog.records if "without authentication" in r.getMessage()]
    assert warning.startswith("lakehouse:bindAddress = 0.0.0.0: these services are reachable from other machines")
    for service in ("Kafka (ports 19092-19094", "Trino (port 8085", "the Spark master web UI (port 8080"):
        assert service in warning
    # Orion, Superset and S3 ask for credentials: not in the list; the RPC port is not published.
    for name in ("Orion", "Superset", "MinIO", "Spark master RPC"):
        assert name not in warning


def test_a_non_loopback_bind_address_needs_the_opt_in() -> None:
    from stack_harness import RecordingMocks, run_stack

    from lakehouse.settings import ConfigError

    mocks = RecordingMocks()
    with pytest.raises(ConfigError) as err:
        run_stack({"bindAddress": "192.168.1.20"}, mocks=mocks)
    message = str(err.value)
    assert message.startswith("lakehouse:bindAddress = '192.168.1.20' is not allowed: a loopback address")
    assert "unless lakehouse:allowNetworkExposure is true" in message
    assert "Kafka (ports 19092-19094" in message and "Trino (port 8085" in message
    assert mocks.resources == []


def test_loopback_binds_print_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    from stack_harness import run_stack

    with caplog.at_level("WARNING"):
        other_loopback = run_stack({"bindAddress": "127.0.0.2"})
    assert not [r for r in caplog.records if "without authentication" in r.getMessage()]
    # 127.0.0.2 is not where `localhost` resolves: clients get the address itself.
    assert other_loopback.outputs["kafka_bootstrap_servers"].startswith("127.0.0.2:19092,")


# ----- dependencies (readiness order) -----


def test_dependents_wait_for_the_services_they_need(default_stack: Recording) -> None:
    st = default_stack
    master = st.urn(CONTAINER, "spark-master")
    minio_server = st.urn(CONTAINER, "storage-server")
    for n in (1, 2):
        assert master in st.depends_on(CONTAINER, f"spark-worker-{n}")
    assert master in st.depends_on(CONTAINER, "orion-server")
    assert minio_server in st.depends_on(CONTAINER, "trino-server")
    for typ, name in [
        (MINIO_BUCKET, "storage-bucket-lake"),
        (MINIO_BUCKET, "storage-bucket-checkpoints"),
        (MINIO_BUCKET, "storage-bucket-metastore"),
        (MINIO_USER, "storage-spark-user"),
        (MINIO_USER, "storage-trino-user"),
        (MINIO_POLICY, "storage-spark-policy"),
        (MINIO_POLICY, "storage-trino-policy"),
        (MINIO_PROVIDER, "storage-provider"),
    ]:
        assert minio_server in st.depends_on(typ, name), f"{name} does not wait for the MinIO server"


# ----- storage -----


def test_buckets_users_and_least_privilege_policies(default_stack: Recording) -> None:
    import json

    st = default_stack
    assert sorted(b.inputs["bucket"] for b in st.of_type(MINIO_BUCKET)) == ["checkpoints", "lake", "trino-metastore"]
    policies = {p.inputs["name"]: json.loads(p.inputs["policy"]) for p in st.of_type(MINIO_POLICY)}
    list_actions = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
    rw_actions = [
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
        "s3:ListMultipartUploadParts",
    ]
    assert policies == {
        "lakehouse-spark": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ListTheLakehouseBuckets",
                    "Effect": "Allow",
                    "Action": list_actions,
                    "Resource": ["arn:aws:s3:::checkpoints", "arn:aws:s3:::lake"],
                },
                {
                    "Sid": "ReadWriteObjects",
                    "Effect": "Allow",
                    "Action": rw_actions,
                    "Resource": ["arn:aws:s3:::checkpoints/*", "arn:aws:s3:::lake/*"],
                },
            ],
        },
        "lakehouse-trino": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ListTheLakehouseBuckets",
                    "Effect": "Allow",
                    "Action": list_actions,
                    "Resource": ["arn:aws:s3:::lake", "arn:aws:s3:::trino-metastore"],
                },
                {
                    "Sid": "ReadObjects",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject"],
                    "Resource": ["arn:aws:s3:::lake/*"],
                },
                {
                    "Sid": "ReadWriteObjects",
                    "Effect": "Allow",
                    "Action": rw_actions,
                    "Resource": ["arn:aws:s3:::trino-metastore/*"],
                },
            ],
        },
    }
    # The attached text is the stable rendering (sorted keys, no spaces), so an unchanged policy never diffs.
    (spark_text,) = [p.inputs["policy"] for p in st.of_type(MINIO_POLICY) if p.inputs["name"] == "lakehouse-spark"]
    assert spark_text.startswith('{"Statement":[{"Action":["s3:ListBucket",')
    users = {u.inputs["name"] for u in st.of_type(MINIO_USER)}
    assert users == {"lakehouse-spark", "lakehouse-trino"}
    attachments = {(a.inputs["userName"], a.inputs["policyName"]) for a in st.of_type(MINIO_ATTACHMENT)}
    assert attachments == {("lakehouse-spark", "lakehouse-spark"), ("lakehouse-trino", "lakehouse-trino")}
    # No service runs as root: root's name appears only in MinIO's own env and the provider.
    for name in ("spark-master", "spark-worker-1", "spark-orion", "trino", "superset"):
        assert "lakehouse-root" not in str(st.containers()[name]), name
    assert st.env("spark-worker-1")["AWS_ACCESS_KEY_ID"] == "lakehouse-spark"
    assert st.env("spark-orion")["AWS_ACCESS_KEY_ID"] == "lakehouse-spark"
    assert st.env("trino")["TRINO_S3_ACCESS_KEY"] == "lakehouse-trino"


def test_minio_server_and_provider(default_stack: Recording) -> None:
    from lakehouse.versions import load

    st = default_stack
    minio_c = st.containers()["minio"]
    assert minio_c["command"][:2] == ["server", "/data"]
    assert minio_c["volumes"] == [{"volumeName": "lakehouse-dev-minio-data", "containerPath": "/data"}]
    assert {r.inputs["name"] for r in st.of_type(REMOTE_IMAGE)} >= {load().minio_image}
    (provider,) = st.of_type(MINIO_PROVIDER)
    assert provider.inputs["minioServer"] == "127.0.0.1:9000"
    assert provider.inputs["minioUser"] == "lakehouse-root"
    assert provider.inputs["minioSsl"] in (False, "false")


# ----- Spark, Orion, Trino, Superset -----


def test_one_spark_defaults_for_master_workers_and_orion(stack: Recording) -> None:
    s = settings_of(stack)
    path = "/opt/lakehouse/conf/spark-defaults.conf"
    names = ["spark-master", "spark-orion", *[f"spark-worker-{n}" for n in range(1, s.spark_workers + 1)]]
    files = {name: stack.uploads(name)[path] for name in names}
    assert len(set(files.values())) == 1, "spark-defaults differ between Spark containers"
    props = parse_properties(files["spark-master"])
    assert props["spark.master"] == "spark://spark-master:7077"
    assert props["spark.hadoop.fs.s3a.endpoint"] == "http://minio:9000"
    assert props["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert props["spark.driver.extraClassPath"] == "/opt/lakehouse/jars/*"
    assert "secret" not in files["spark-master"].lower().replace("secretkey", "")
    for name in names:
        assert stack.env(name)["SPARK_CONF_DIR"] == "/opt/lakehouse/conf", name


def test_workers_offer_the_configured_cores_and_memory(variant_stack: Recording) -> None:
    for n in (1, 2, 3):
        cmd = variant_stack.containers()[f"spark-worker-{n}"]["command"]
        assert cmd[cmd.index("--cores") + 1] == "1"
        assert cmd[cmd.index("--memory") + 1] == "512m"
        assert cmd[-1] == "spark://spark-master:7077"


def test_spark_containers_run_the_built_image(default_stack: Recording) -> None:
    from lakehouse.versions import load

    (spark_image,) = [i for i in default_stack.of_type(IMAGE) if i.name == "spark-image"]

    assert spark_image.inputs["build"]["args"] == load().spark_build_args()
    assert spark_image.inputs["build"]["dockerfile"] == "images/spark/Dockerfile"
    assert spark_image.inputs["build"]["context"] == "."
    assert spark_image.inputs["skipPush"] is True
    images = {default_stack.containers()[n]["image"] for n in ("spark-master", "spark-worker-1", "spark-orion")}
    assert len(images) == 1 and images.pop().startswith("sha256:")


def test_orion_env_contract(stack: Recording) -> None:
    from contract import names as job

    env = stack.env("spark-orion")
    assert env["ORION_SPARK_MASTER_URL"] == "spark://spark-master:7077"
    assert env["ORION_SPARK_MASTER_UI"] == "http://spark-master:8080"
    assert env["ORION_SPARK_HOME"] == "/opt/spark"
    assert env["ORION_DATA_DIR"] == "/var/lib/orion"
    assert env["ORION_JOBS_DIR"] == "/opt/lakehouse/jobs"
    assert env["ORION_CORES_MAX"] == "1"
    assert env["ORION_PORT"] == "8000"
    assert len(env["ORION_TOKEN"]) >= 16
    for name in (
        job.ENV_BOOTSTRAP,
        job.ENV_TOPIC,
        job.ENV_TABLE_URI,
        job.ENV_REJECTED_URI,
        job.ENV_CHECKPOINT_URI,
        job.ENV_TRIGGER,
        job.ENV_MAX_OFFSETS,
        job.ENV_DEDUP_WINDOW,
    ):
        assert env.get(name), f"Orion lacks {name}"
    assert env[job.ENV_TABLE_URI] == "s3a://lake/logistics_events"
    c = stack.containers()["spark-orion"]
    assert c["command"] == ["/opt/lakehouse/venv/bin/python3", "-m", "orion"]
    assert c["init"] is True, "spark-orion needs an init process to reap the drivers' orphans"
    assert c["volumes"] == [{"volumeName": "lakehouse-dev-orion-data", "containerPath": "/var/lib/orion"}]
    assert "health" in " ".join(c["healthcheck"]["tests"])


def test_trino_gets_the_generated_etc_files_and_a_query_healthcheck(default_stack: Recording) -> None:
    uploads = default_stack.uploads("trino")
    assert set(uploads) == {
        "/etc/trino/config.properties",
        "/etc/trino/jvm.config",
        "/etc/trino/node.properties",
        "/etc/trino/catalog/delta.properties",
    }
    header = "# Generated by lakehouse/generators/trino.py; do not edit.\n"
    for path in ("config.properties", "node.properties", "catalog/delta.properties"):
        assert uploads[f"/etc/trino/{path}"].startswith(header), path
    assert parse_properties(uploads["/etc/trino/config.properties"]) == {
        "coordinator": "true",
        "node-scheduler.include-coordinator": "true",
        "http-server.http.port": "8080",
        "discovery.uri": "http://localhost:8080",
        # Half the 512m heap: Trino needs query memory + 30 % heap headroom <= heap.
        "query.max-memory": "256MB",
        "query.max-memory-per-node": "256MB",
        "query.min-expire-age": "1m",
        "task.info.max-age": "1m",
    }
    assert parse_properties(uploads["/etc/trino/node.properties"]) == {
        "node.environment": "lakehouse",
        "node.id": "trino-1",
        "node.data-dir": "/data/trino",
    }
    assert parse_properties(uploads["/etc/trino/catalog/delta.properties"]) == {
        "connector.name": "delta_lake",
        "hive.metastore": "file",
        "hive.metastore.catalog.dir": "s3://trino-metastore/",
        "delta.register-table-procedure.enabled": "true",
        "fs.native-s3.enabled": "true",
        "s3.endpoint": "http://minio:9000",
        "s3.region": "us-east-1",
        "s3.path-style-access": "true",
        "s3.aws-access-key": "${ENV:TRINO_S3_ACCESS_KEY}",
        "s3.aws-secret-key": "${ENV:TRINO_S3_SECRET_KEY}",
    }
    jvm = uploads["/etc/trino/jvm.config"].splitlines()
    assert jvm[:2] == ["-server", "-Xmx512M"]
    assert {"-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError", "-XX:ReservedCodeCacheSize=150M"} <= set(jvm)
    # A small initial heap under the cap: the heap grows with the queries and is given back when idle.
    assert [line for line in jvm if line.startswith("-Xm")] == ["-Xmx512M", "-Xms128M"]
    tests = default_stack.containers()["trino"]["healthcheck"]["tests"]
    assert tests[:3] == ["CMD", "bash", "-c"]
    assert "host=127.0.0.1 port=8080 q='SELECT 1'" in tests[3] and "POST /v1/statement" in tests[3]
    assert "trino --server" not in tests[3] and "java" not in tests[3], "the probe must not start a JVM"
    env = default_stack.env("trino")
    assert set(env) == {"TRINO_S3_ACCESS_KEY", "TRINO_S3_SECRET_KEY"}


def test_trino_query_memory_follows_its_heap() -> None:
    from stack_harness import run_stack

    small = run_stack({"trinoHeap": "512m"})
    config = parse_properties(small.uploads("trino")["/etc/trino/config.properties"])
    assert (config["query.max-memory"], config["query.max-memory-per-node"]) == ("256MB", "256MB")
    assert "-Xmx512M" in small.uploads("trino")["/etc/trino/jvm.config"].splitlines()


def env_password(stack: Recording) -> str:
    return stack.env("superset")["SUPERSET_ADMIN_PASSWORD"]


def test_superset_bootstraps_then_serves(default_stack: Recording) -> None:
    from lakehouse.versions import load

    c = default_stack.containers()["superset"]
    script = c["command"][-1]
    # The admin step is the superset helper's (components/superset.py); here: the order and no credential.
    steps = ["superset db upgrade", "superset init", "exec gunicorn"]
    positions = [script.index(step) for step in steps]
    assert positions == sorted(positions)
    assert env_password(default_stack) not in script
    env = default_stack.env("superset")
    assert env["SUPERSET_CONFIG_PATH"] == "/app/lakehouse/superset_config.py"
    assert env["SUPERSET_ADMIN_USER"] == "admin"
    assert len(env["SUPERSET_SECRET_KEY"]) >= 32
    config = default_stack.uploads("superset")["/app/lakehouse/superset_config.py"]
    assert "sqlite:////app/superset_home/superset.db" in config
    assert c["volumes"] == [{"volumeName": "lakehouse-dev-superset-home", "containerPath": "/app/superset_home"}]
    (image,) = [i for i in default_stack.of_type(IMAGE) if i.name == "superset-image"]
    assert image.inputs["build"]["args"] == load().superset_build_args()
    assert "/health" in " ".join(c["healthcheck"]["tests"])


# ----- outputs -----


def test_outputs_are_every_endpoint_key_with_host_reachable_values(stack: Recording) -> None:
    from lakehouse import endpoints

    s = settings_of(stack)
    assert set(endpoints.ALL_KEYS) <= set(stack.outputs)
    assert stack.secret_outputs == set(endpoints.SECRET_KEYS)
    brokers = ",".join(f"localhost:{19092 + n}" for n in range(s.kafka_brokers))
    assert {k: stack.outputs[k] for k in endpoints.PUBLIC_KEYS} == {
        "kafka_bootstrap_servers": brokers,
        "kafka_topic": "logistics-events",
        "s3_endpoint": "http://localhost:9000",
        "lake_bucket": "lake",
        "checkpoint_bucket": "checkpoints",
        "delta_table_uri": "s3a://lake/logistics_events",
        # Not published by default: where Orion and the workers reach it, inside the network.
        "spark_master_url": "spark://spark-master:7077",
        "spark_master_ui": "http://localhost:8080",
        "orion_url": "http://localhost:8000",
        "trino_url": "http://localhost:8085",
        "superset_url": "http://localhost:8088",
        "superset_admin_user": "admin",
    }
    assert stack.outputs["s3_access_key"] == "lakehouse-spark"


@pytest.mark.parametrize("name", ["network", "secrets", "kafka", "storage", "spark", "orion", "trino", "superset"])
def test_each_component_is_registered_once_with_its_type_token(default_stack: Recording, name: str) -> None:
    matches = [r for r in default_stack.registrations if r.name == name]
    assert len(matches) == 1
    assert matches[0].type.startswith("lakehouse:index:")


def test_zookeeper_probe_is_bash_ruok(variant_stack: Recording) -> None:
    tests = variant_stack.containers()["zookeeper"]["healthcheck"]["tests"]
    assert tests[:3] == ["CMD", "bash", "-c"]
    assert "exec 3<>/dev/tcp/127.0.0.1/2181" in tests[3] and "printf ruok >&3" in tests[3]
    assert tests[3].rstrip().endswith('[ "$answer" = imok ]') and "nc " not in tests[3]
