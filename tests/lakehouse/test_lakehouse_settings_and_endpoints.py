"""Settings derived values and the endpoints the stack exports (same keys as the test bed's file)."""

from __future__ import annotations

from lakehouse import endpoints
from lakehouse.settings import Settings, memory_mib


def test_memory_notation() -> None:
    assert memory_mib("512m") == 512
    assert memory_mib("2g") == 2048
    assert memory_mib("1048576k") == 1024


def test_replication_follows_brokers() -> None:
    one, five = Settings(kafka_brokers=1, kafka_controllers=1), Settings(kafka_brokers=5)
    assert (one.kafka_replication_factor, one.kafka_min_insync_replicas) == (1, 1)
    assert (five.kafka_replication_factor, five.kafka_min_insync_replicas) == (3, 2)


def test_public_endpoints_for_the_default_settings() -> None:
    e = endpoints.public_endpoints(Settings())
    assert set(e) == set(endpoints.PUBLIC_KEYS)
    assert e["kafka_bootstrap_servers"] == "localhost:19092,localhost:19093,localhost:19094"
    assert e["s3_endpoint"] == "http://localhost:9000"
    # Not published by default: the address inside the Docker network (components/spark.py's master_url()).
    from components.spark import master_url

    assert e["spark_master_url"] == endpoints.IN_NETWORK_SPARK_MASTER_URL == master_url()
    published = endpoints.public_endpoints(Settings(publish_spark_master_rpc=True))
    assert published["spark_master_url"] == "spark://localhost:7077"
    assert e["delta_table_uri"] == "s3a://lake/logistics_events"
    assert not set(endpoints.PUBLIC_KEYS) & set(endpoints.SECRET_KEYS)
    assert set(endpoints.SECRET_KEYS) == {"s3_access_key", "s3_secret_key", "superset_admin_password", "orion_token"}
