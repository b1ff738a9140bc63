"""Settings derived values and the endpoints the stack exports (same keys as the test bed's file)."""

from __future__ import annotations

from lakehouse import endpoints
from lakehouse.generators.kafka import durability
from lakehouse.settings import Settings, memory_mib


def test_memory_notation() -> None:
    assert memory_mib("512m") == 512
    assert memory_mib("2g") == 2048
    assert memory_mib("1048576k") == 1024


def test_replication_follows_brokers() -> None:
    assert durability(1) == {"replication_factor": 1, "min_insync_replicas": 1}
    assert durability(5) == {"replication_factor": 3, "min_insync_replicas": 2}


def test_public_endpoints_for_the_default_settings() -> None:
    e = endpoints.public_endpoints(Settings())
    assert set(e) == set(endpoints.PUBLIC_KEYS)
    assert e["kafka_bootstrap_servers"] == "localhost:19092,localhost:19093,localhost:19094"
    assert e["s3_endpoint"] == "http://localhost:9000"
    # Not published by default: the master's container inside the Docker network.
    assert e["spark_master_url"] == "spark://spark-master:7077"
    published = endpoints.public_endpoints(Settings(publish_spark_master_rpc=True))
    assert published["spark_master_url"] == "spark://localhost:7077"
    assert e["delta_table_uri"] == "s3a://lake/logistics_events"
    assert not set(endpoints.PUBLIC_KEYS) & set(endpoints.SECRET_KEYS)
    assert set(endpoints.SECRET_KEYS) == {"s3_access_key", "s3_secret_key", "superset_admin_password", "orion_token"}
