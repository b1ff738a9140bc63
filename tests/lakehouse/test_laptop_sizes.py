"""The laptop sizes: the default heaps, the JVM flags the generators give every Spark process and Trino, and the
Delta log checkpoint default (issue 15). Each fails if its setting is lost."""

from __future__ import annotations

from pathlib import Path

import yaml

from lakehouse.generators.s3 import S3Endpoint
from lakehouse.generators.spark import daemon_env, spark_defaults
from lakehouse.generators.trino import jvm_config
from lakehouse.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def _defaults() -> dict[str, str]:
    return spark_defaults(
        master_url="spark://m:7077",
        s3=S3Endpoint("http://minio:9000"),
        extra_jars_dir="/opt/jars",
        executor_memory="512m",
        driver_memory="512m",
        shuffle_partitions=4,
    )


def test_default_sizes_are_the_laptop_ones_in_settings_and_pulumi_yaml() -> None:
    s = Settings()
    sizes = {
        "kafkaHeap": (s.kafka_heap, "256m"),
        "sparkWorkerMemory": (s.spark_worker_memory, "512m"),
        "sparkExecutorMemory": (s.spark_executor_memory, "512m"),
        "sparkDriverMemory": (s.spark_driver_memory, "512m"),
        "sparkDaemonMemory": (s.spark_daemon_memory, "128m"),
        "trinoHeap": (s.trino_heap, "512m"),
    }
    declared = yaml.safe_load((REPO / "Pulumi.yaml").read_text())["config"]
    for key, (value, wanted) in sizes.items():
        assert value == wanted, key
        assert declared[key]["default"] == wanted, key


def test_drivers_and_executors_run_a_small_collected_heap_that_shrinks_back() -> None:
    props = _defaults()
    for role in ("driver", "executor"):
        opts = props[f"spark.{role}.defaultJavaOptions"].split()
        assert "-XX:+UseSerialGC" in opts and "-Xms64m" in opts, role
        assert "-XX:MaxHeapFreeRatio=30" in opts, role
        # defaultJavaOptions, not extraJavaOptions: an application's own options add to these.
        assert f"spark.{role}.extraJavaOptions" not in props, role
        assert not any(o.startswith("-Xmx") for o in opts), "Spark refuses -Xmx in java options"


def test_daemons_run_a_small_heap_and_the_c1_compiler_alone() -> None:
    opts = daemon_env(daemon_memory="128m", conf_dir="/c")["SPARK_DAEMON_JAVA_OPTS"].split()
    assert {"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=32m"} <= set(opts)


def test_new_delta_tables_checkpoint_their_log_every_100_commits() -> None:
    from jobs.logistics.schema import TABLE_PROPERTIES

    assert _defaults()["spark.databricks.delta.properties.defaults.checkpointInterval"] == "100"
    assert "spark.databricks.delta.checkpointInterval" not in _defaults(), "not a Delta setting"
    assert TABLE_PROPERTIES["delta.checkpointInterval"] == "100"


def test_trino_starts_small_gives_memory_back_and_sizes_g1_regions_to_its_heap() -> None:
    small = jvm_config(heap="512m").splitlines()
    assert "-Xmx512M" in small and "-Xms128M" in small
    assert "-XX:G1PeriodicGCInterval=60000" in small
    assert {"-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30"} <= set(small), "G1's 70 % keeps a grown heap"
    assert not any(line.startswith("-XX:G1HeapRegionSize") for line in small)
    assert not any(line.startswith("-XX:InitialRAMPercentage") for line in small), "a % of the host, not the heap"
    assert "-Xms128M" in jvm_config(heap="16g").splitlines()
    assert "-XX:G1HeapRegionSize=32M" in jvm_config(heap="16g").splitlines()
    assert "-Xms64M" in jvm_config(heap="64m").splitlines()


def test_brokers_keep_a_small_cleaner_buffer_few_threads_and_a_slow_idle_heartbeat() -> None:
    from lakehouse.generators.kafka import BrokerAddress, kraft_node_properties

    node = BrokerAddress(node_id=1, internal_host="kafka-1", internal_port=9092, controller_port=9093, host_port=19092)
    props = kraft_node_properties(node, [node], brokers=1, log_dir="/d", partitions=3)
    # A 256 MiB heap cannot hold the default 128 MiB dedupe buffer beside the broker's own needs.
    assert int(props["log.cleaner.dedupe.buffer.size"]) <= 16 * 1024 * 1024
    assert (props["num.io.threads"], props["num.network.threads"]) == (2, 2)
    assert int(props["metadata.max.idle.interval.ms"]) >= 5000
    # Followers ask their leaders every 5 s, not every 0.5 s, when there is nothing new; still well under the
    # 30 s (default replica.lag.time.max.ms) after which a silent follower leaves the ISR.
    assert 5000 <= int(props["replica.fetch.wait.max.ms"]) < 30_000
    assert "replica.lag.time.max.ms" not in props


def test_trino_forgets_finished_queries_and_tasks_after_a_minute() -> None:
    from lakehouse.generators.trino import config_properties

    config = config_properties(http_port=8080)
    # The 15-minute default keeps every query a refreshing dashboard ran on a small heap, walked every second.
    assert (config["query.min-expire-age"], config["task.info.max-age"]) == ("1m", "1m")
