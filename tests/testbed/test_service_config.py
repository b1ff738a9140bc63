"""What each service is started with: generated files, argv, environment (no process is started here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lakehouse import versions
from lakehouse.endpoints import ALL_KEYS
from lakehouse.generators.properties import parse_properties
from testbed import bed
from testbed.context import Context
from testbed.creds import Credentials
from testbed.paths import write_private
from testbed.plan import PortPlan, bed_settings
from testbed.prereqs import Jdk
from testbed.services import kafka, orion, s3, spark, trino
from testbed.state import StateStore


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    plan = PortPlan()
    return Context(
        run_dir=tmp_path,
        plan=plan,
        settings=bed_settings(plan),
        versions=versions.load(),
        creds=Credentials.generate(),
        store=StateStore(tmp_path),
        java=Jdk(Path("/jdk17"), 17),
        trino_java=Jdk(Path("/jdk25"), 25),
    )


def test_kraft_nodes_listen_and_advertise_on_loopback_only(ctx: Context) -> None:
    from lakehouse.generators.kafka import kraft_node_properties

    quorum = kafka.kraft_quorum(ctx.plan)
    props = kraft_node_properties(quorum[1], quorum, brokers=len(quorum), log_dir="/d", partitions=6)
    assert props["listeners"] == "INTERNAL://127.0.0.1:20193,HOST://127.0.0.1:20093,CONTROLLER://127.0.0.1:20293"
    assert props["advertised.listeners"] == "INTERNAL://127.0.0.1:20193,HOST://127.0.0.1:20093"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:20292,2@127.0.0.1:20293,3@127.0.0.1:20294"
    assert kafka.host_bootstrap(quorum) == "127.0.0.1:20092,127.0.0.1:20093,127.0.0.1:20094"


def test_broker_jvm_is_capped_and_logs_through_the_generated_config(ctx: Context) -> None:
    argv = kafka.jvm_argv(
        ctx.java,
        Path("/lib"),
        "512m",
        Path("/c/log4j2.properties"),
        log4j2=True,
        main="kafka.Kafka",
        args=["/c/server-1.properties"],
    )
    assert argv[0] == "/jdk17/bin/java" and "-Xmx512m" in argv and "-Xms32m" in argv
    assert "-Dlog4j2.configurationFile=/c/log4j2.properties" in argv
    assert argv[-4:] == ["-cp", "/lib/*", "kafka.Kafka", "/c/server-1.properties"]


def test_weed_gets_every_port_flag_loopback_and_no_telemetry(ctx: Context) -> None:
    argv = s3.weed_argv(Path("/weed"), Path("/d"), Path("/c/s3.json"), ctx.plan, s3.buckets(ctx.settings))
    flags = dict(a.lstrip("-").split("=", 1) for a in argv[2:])
    for name, port in ctx.plan.seaweed().items():
        component, _, grpc = name.partition(".")
        assert flags[f"{component}.port.grpc" if grpc else f"{component}.port"] == str(port)
    assert flags["ip"] == flags["ip.bind"] == "127.0.0.1"
    assert flags["master.telemetry"] == "false" and flags["admin.ui"] == "false" and flags["webdav"] == "false"
    assert flags["s3.port.iceberg"] == flags["s3.port.lance"] == "0"
    assert flags["bucket"] == "lake,checkpoints,trino-metastore"


def test_s3_identities_grant_each_service_only_its_buckets(ctx: Context) -> None:
    ids = {i["name"]: i for i in s3.identities(ctx.creds, ctx.settings)["identities"]}
    assert "Admin" in ids["admin"]["actions"]
    assert set(ids["spark"]["actions"]) == {
        f"{a}:{b}" for a in ("Read", "Write", "List") for b in ("lake", "checkpoints")
    }
    assert set(ids["trino"]["actions"]) == {"Read:lake", "List:lake"} | {
        f"{a}:trino-metastore" for a in ("Read", "Write", "List")
    }
    assert ids["spark"]["credentials"] == [
        {"accessKey": ctx.creds.s3_spark_key, "secretKey": ctx.creds.s3_spark_secret}
    ]


def test_seaweed_actions_refuse_what_they_cannot_translate() -> None:
    with pytest.raises(ValueError, match="no SeaweedFS equivalent known for 's3:PutBucketPolicy'"):
        s3.seaweed_actions(
            {"Statement": [{"Effect": "Allow", "Action": ["s3:PutBucketPolicy"], "Resource": ["arn:aws:s3:::lake"]}]}
        )
    with pytest.raises(ValueError, match="only Allow"):
        s3.seaweed_actions({"Statement": [{"Effect": "Deny", "Action": ["s3:GetObject"], "Resource": []}]})


def test_spark_defaults_come_from_the_generator_plus_loopback_drivers(ctx: Context) -> None:
    props = spark.defaults(ctx, Path("/jars"))
    assert props["spark.master"] == "spark://127.0.0.1:20077"
    assert props["spark.driver.extraClassPath"] == props["spark.executor.extraClassPath"] == "/jars/*"
    assert props["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:20306"
    assert props["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert props["spark.driver.bindAddress"] == props["spark.driver.host"] == "127.0.0.1"
    assert props["spark.databricks.delta.snapshotPartitions"] == props["spark.sql.shuffle.partitions"] == "4"
    assert not any("secret" in k.lower() or "access.key" in k for k in props)
    conf = spark.write_conf(ctx, Path("/jars"))
    assert ctx.creds.s3_spark_secret not in (conf / "spark-defaults.conf").read_text()


def test_trino_runs_its_generated_etc_with_a_heap_cap_on_loopback(ctx: Context) -> None:
    etc = trino.write_etc(ctx)
    node = parse_properties((etc / "node.properties").read_text())
    assert node["node.bind-ip"] == node["node.internal-address"] == "127.0.0.1"
    config = parse_properties((etc / "config.properties").read_text())
    assert config["http-server.http.port"] == "20085" and config["discovery.uri"] == "http://127.0.0.1:20085"
    catalog = (etc / "catalog" / "delta.properties").read_text()
    assert "${ENV:TRINO_S3_ACCESS_KEY}" in catalog and ctx.creds.s3_trino_secret not in catalog
    argv = trino.argv("/jdk25/bin/java", Path("/trino"), etc)
    assert "-Xmx512M" in argv and "-Dnode.bind-ip=127.0.0.1" in argv
    assert argv[-3:] == ["-cp", "/trino/lib/*", "io.trino.server.TrinoServer"]
    assert "-Dplugin.dir=/trino/plugin" in argv


def test_orion_gets_the_whole_env_contract(ctx: Context) -> None:
    env = orion.env(ctx, Path("/spark"), Path("/conf"), "127.0.0.1:20192", Path("/spark-python/bin/python"))
    # Drivers and executors run the Spark image's Python, not the interpreter running the test bed.
    assert env["PYSPARK_PYTHON"] == env["PYSPARK_DRIVER_PYTHON"] == "/spark-python/bin/python"
    for key in (
        "ORION_TOKEN",
        "ORION_SPARK_MASTER_URL",
        "ORION_SPARK_MASTER_UI",
        "ORION_SPARK_HOME",
        "ORION_DATA_DIR",
        "ORION_JOBS_DIR",
        "ORION_CORES_MAX",
        "ORION_HOST",
        "ORION_PORT",
        "SPARK_CONF_DIR",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS",
    ):
        assert env[key], key
    assert env["ORION_HOST"] == "127.0.0.1" and env["ORION_PORT"] == "20000"
    assert env["LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:20192"
    assert env["AWS_ACCESS_KEY_ID"] == ctx.creds.s3_spark_key
    assert env["ORION_SPARK_MASTER_UI"] == "http://127.0.0.1:20080"


def test_endpoints_have_the_stack_keys_and_only_prefixed_extras(ctx: Context, tmp_path: Path) -> None:
    ep = bed.build_endpoints(
        ctx, ["s3", "kafka", "spark"], {"spark_home": Path("/s"), "jars": Path("/j"), "spark_python": Path("/p")}
    )
    assert set(ALL_KEYS) <= set(ep)
    assert all(k.startswith("testbed_") for k in set(ep) - set(ALL_KEYS))
    assert ep["s3_access_key"] == ctx.creds.s3_spark_key and ep["orion_token"] == ctx.creds.orion_token
    assert ep["testbed_s3_admin_access_key"] == ctx.creds.s3_admin_key
    path = tmp_path / "endpoints.json"
    write_private(path, json.dumps(ep))
    assert path.stat().st_mode & 0o777 == 0o600 and json.loads(path.read_text()) == ep


def test_status_table_has_a_total() -> None:
    rows = [
        bed.Row("kafka", "127.0.0.1:20092", "ready", 20.0, 900 * 2**20),
        bed.Row("s3", "http://127.0.0.1:20306", "ready", 1.5, 100 * 2**20),
    ]
    table = bed.format_table(rows).splitlines()
    assert table[0].split() == ["service", "address", "state", "ready", "s", "RSS", "MiB"]
    assert table[-1].split() == ["total", "1000"]


def test_services_start_in_the_stacks_order_and_need_only_services_before_them() -> None:
    from testbed.services import SERVICES

    names = [s.name for s in SERVICES]
    assert tuple(names) == bed.ALL_SERVICES == ("s3", "kafka", "spark", "trino", "superset", "orion")
    assert bed.STOP_ORDER == ("orion", "superset", "trino", "spark", "kafka", "s3")
    for i, svc in enumerate(SERVICES):
        assert set(svc.needs) | set(svc.ready_needs) <= set(names[:i]), svc.name
