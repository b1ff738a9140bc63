"""The whole program under Pulumi mocks: what it would create and how the containers are wired.

Two configurations: the defaults (KRaft, 3 brokers, 2 workers) and a variant (ZooKeeper mode,
5 brokers, 3 workers). Each check names the resource that breaks it.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlparse

import pytest
from stack_harness import (
    CONTAINER,
    IMAGE,
    KAFKA_TOPIC,
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
    plain,
)

from lakehouse.generators.properties import parse_properties
from lakehouse.settings import Settings

DEFAULT = Settings()
VARIANT_SETTINGS = Settings.from_config(VARIANT)


def settings_of(stack: Recording) -> Settings:
    return VARIANT_SETTINGS if "zookeeper" in stack.containers() else DEFAULT


# ----- resource counts -----


def expected_counts(s: Settings, *, generated_secrets: int) -> Counter:
    zk = s.kafka_mode == "zookeeper"
    return Counter(
        {
            "lakehouse:index:Network": 1,
            "lakehouse:index:Secrets": 1,
            "lakehouse:index:KafkaCluster": 1,
            "lakehouse:index:Storage": 1,
            "lakehouse:index:Spark": 1,
            "lakehouse:index:Orion": 1,
            "lakehouse:index:Trino": 1,
            "lakehouse:index:Superset": 1,
            NETWORK: 1,
            RANDOM_PASSWORD: generated_secrets,
            # brokers + zookeeper + minio + master + workers + orion + trino + superset
            CONTAINER: s.kafka_brokers + zk + 1 + 1 + s.spark_workers + 1 + 1 + 1,
            # broker data + zookeeper data + minio data + orion data + superset home
            VOLUME: s.kafka_brokers + zk + 3,
            # kafka (+ zookeeper) + minio + trino pulled; spark + superset built
            REMOTE_IMAGE: 3 + zk,
            IMAGE: 2,
            KAFKA_TOPIC: 1,
            MINIO_PROVIDER: 1,
            MINIO_BUCKET: 3,
            MINIO_USER: 2,
            MINIO_POLICY: 2,
            MINIO_ATTACHMENT: 2,
        }
    )


def test_default_stack_resource_counts(default_stack: Recording) -> None:
    counts = Counter(r.typ for r in default_stack.resources)
    assert counts == expected_counts(DEFAULT, generated_secrets=6)
    assert sum(counts.values()) == 47


def test_variant_stack_resource_counts(variant_stack: Recording) -> None:
    counts = Counter(r.typ for r in variant_stack.resources)
    # Every secret was set as secret config, so nothing is generated.
    assert counts == expected_counts(VARIANT_SETTINGS, generated_secrets=0)
    # 47, plus 2 brokers with their volumes, 1 worker, ZooKeeper's container, volume and image, minus 6 passwords
    assert sum(counts.values()) == 47 + 4 + 1 + 3 - 6


def test_container_names(default_stack: Recording, variant_stack: Recording) -> None:
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
    assert network.inputs["name"] == s.network_name
    assert network.inputs["driver"] == "bridge"
    for name, c in stack.containers().items():
        nets = c.get("networksAdvanced") or []
        assert [n["name"] for n in nets] == [s.network_name], f"container {name} is not on {s.network_name}"
        assert name in nets[0]["aliases"], f"container {name} is not reachable by its own name"
        assert c["hostname"] == name, f"container {name} has hostname {c['hostname']}"


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
        assert default_stack.env(f"kafka-{n}")["KAFKA_HEAP_OPTS"] == "-Xms512m -Xmx512m"


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
    assert variant_stack.env("zookeeper")["ZK_SERVER_HEAP"] == "512"
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

    one = run_stack({"kafkaBrokers": "1"})
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


def test_jvm_containers_get_room_beyond_their_heap(default_stack: Recording) -> None:
    c = default_stack.containers()
    assert int(c["kafka-1"]["memory"]) == 512 + 384
    assert int(c["trino"]["memory"]) == 1024 + 768
    assert int(c["spark-master"]["memory"]) == 256 + 384
    # daemon 256 + 384, executors 1024 + 768
    assert int(c["spark-worker-1"]["memory"]) == 256 + 384 + 1024 + 768
    assert default_stack.env("spark-worker-1")["SPARK_DAEMON_MEMORY"] == "256m"
    assert default_stack.env("spark-master")["SPARK_DAEMON_MEMORY"] == "256m"


def test_every_published_port_is_bound_to_the_bind_address(stack: Recording) -> None:
    for name, c in stack.containers().items():
        for port in c.get("ports") or []:
            assert port.get("ip") == "127.0.0.1", f"{name} publishes {port} beyond 127.0.0.1"


def test_published_ports_are_exactly_the_settings_ports(stack: Recording) -> None:
    s = settings_of(stack)
    published = [int(p["external"]) for c in stack.containers().values() for p in c.get("ports") or []]
    assert sorted(published) == sorted(s.published_ports().values())
    assert len(published) == len(set(published))


def test_bind_address_setting_moves_every_published_port() -> None:
    from stack_harness import run_stack

    every_interface = "0.0.0.0"  # noqa: S104 - a config value under test; nothing binds here
    lan = run_stack({"bindAddress": every_interface})
    ips = {p["ip"] for c in lan.containers().values() for p in c.get("ports") or []}
    assert ips == {every_interface}
    assert lan.outputs["kafka_bootstrap_servers"] == "localhost:19092,localhost:19093,localhost:19094"


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

    from lakehouse.generators.s3_policies import spark_policy, trino_policy

    st = default_stack
    assert sorted(b.inputs["bucket"] for b in st.of_type(MINIO_BUCKET)) == ["checkpoints", "lake", "trino-metastore"]
    policies = {p.inputs["name"]: json.loads(p.inputs["policy"]) for p in st.of_type(MINIO_POLICY)}
    assert policies == {
        "lakehouse-spark": spark_policy(lake_bucket="lake", checkpoint_bucket="checkpoints"),
        "lakehouse-trino": trino_policy(lake_bucket="lake", metastore_bucket="trino-metastore"),
    }
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
    assert minio_c["volumes"] == [{"volumeName": "lakehouse-minio-data", "containerPath": "/data"}]
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
        assert cmd[cmd.index("--memory") + 1] == "1g"
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
    from lakehouse.generators import job

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
    assert c["volumes"] == [{"volumeName": "lakehouse-orion-data", "containerPath": "/var/lib/orion"}]
    assert "health" in " ".join(c["healthcheck"]["tests"])


def test_trino_gets_the_generated_etc_files_and_a_query_healthcheck(default_stack: Recording) -> None:
    from lakehouse.generators.s3 import S3Endpoint
    from lakehouse.generators.trino import etc_files

    uploads = default_stack.uploads("trino")
    expected = etc_files(
        http_port=8080,
        heap="1g",
        node_id="trino-1",
        data_dir="/data/trino",
        s3=S3Endpoint("http://minio:9000"),
        metastore_bucket="trino-metastore",
    )
    assert uploads == {f"/etc/trino/{k}": v for k, v in expected.items()}
    catalog = parse_properties(uploads["/etc/trino/catalog/delta.properties"])
    assert catalog["s3.aws-access-key"] == "${ENV:TRINO_S3_ACCESS_KEY}"
    assert catalog["hive.metastore.catalog.dir"] == "s3://trino-metastore/"
    probe = " ".join(default_stack.containers()["trino"]["healthcheck"]["tests"])
    assert "trino --server http://localhost:8080" in probe and "--execute 'SELECT 1'" in probe
    env = default_stack.env("trino")
    assert set(env) == {"TRINO_S3_ACCESS_KEY", "TRINO_S3_SECRET_KEY"}


def test_superset_bootstraps_then_serves(default_stack: Recording) -> None:
    from lakehouse.versions import load

    c = default_stack.containers()["superset"]
    script = c["command"][-1]
    steps = ["superset db upgrade", "superset fab create-admin", "superset init", "exec gunicorn"]
    positions = [script.index(step) for step in steps]
    assert positions == sorted(positions)
    assert '--password "$SUPERSET_ADMIN_PASSWORD"' in script
    env = default_stack.env("superset")
    assert env["SUPERSET_CONFIG_PATH"] == "/app/lakehouse/superset_config.py"
    assert env["SUPERSET_ADMIN_USER"] == "admin"
    assert len(env["SUPERSET_SECRET_KEY"]) >= 32
    config = default_stack.uploads("superset")["/app/lakehouse/superset_config.py"]
    assert "sqlite:////app/superset_home/superset.db" in config
    assert c["volumes"] == [{"volumeName": "lakehouse-superset-home", "containerPath": "/app/superset_home"}]
    (image,) = [i for i in default_stack.of_type(IMAGE) if i.name == "superset-image"]
    assert image.inputs["build"]["args"] == load().superset_build_args()
    assert "/health" in " ".join(c["healthcheck"]["tests"])


# ----- outputs -----


def test_outputs_are_every_endpoint_key_with_host_reachable_values(stack: Recording) -> None:
    from lakehouse import endpoints

    s = settings_of(stack)
    assert set(stack.outputs) == set(endpoints.ALL_KEYS)
    assert stack.secret_outputs == set(endpoints.SECRET_KEYS)
    public = endpoints.public_endpoints(s, host="localhost")
    assert {k: stack.outputs[k] for k in endpoints.PUBLIC_KEYS} == public
    assert stack.outputs["s3_access_key"] == "lakehouse-spark"
    assert plain(stack.outputs["kafka_bootstrap_servers"]).count(",") == s.kafka_brokers - 1


@pytest.mark.parametrize("name", ["network", "secrets", "kafka", "storage", "spark", "orion", "trino", "superset"])
def test_each_component_is_registered_once_with_its_type_token(default_stack: Recording, name: str) -> None:
    matches = [r for r in default_stack.registrations if r.name == name]
    assert len(matches) == 1
    assert matches[0].type.startswith("lakehouse:index:")
