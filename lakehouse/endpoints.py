"""The values of what a running lakehouse exposes to its user (the keys of contract/names.py), from settings
and a host name: `pulumi stack output` and the test bed's `.testbed/endpoints.json` carry the same.
"""

from __future__ import annotations

from contract.names import ALL_KEYS, POSTDEPLOY_KEYS, PUBLIC_KEYS, SECRET_KEYS, table_uri
from lakehouse.settings import Settings

__all__ = ["ALL_KEYS", "POSTDEPLOY_KEYS", "PUBLIC_KEYS", "SECRET_KEYS", "public_endpoints"]
# The Spark master inside the Docker network (components/spark.py names its container and listens there): the
# URL users get when the stack does not publish its RPC port (lakehouse:publishSparkMasterRpc false).
SPARK_MASTER_HOST, SPARK_MASTER_PORT = "spark-master", 7077
IN_NETWORK_SPARK_MASTER_URL = f"spark://{SPARK_MASTER_HOST}:{SPARK_MASTER_PORT}"


def public_endpoints(s: Settings, host: str = "localhost") -> dict[str, str]:
    """Host-reachable addresses of every service, from the published ports in `s`."""
    return {
        "kafka_bootstrap_servers": ",".join(f"{host}:{p}" for p in s.kafka_host_ports()),
        "kafka_topic": s.kafka_topic,
        "s3_endpoint": f"http://{host}:{s.minio_api_port}",
        "lake_bucket": s.lake_bucket,
        "checkpoint_bucket": s.checkpoint_bucket,
        "delta_table_uri": table_uri(s.lake_bucket, s.delta_table),
        "spark_master_url": (
            f"spark://{host}:{s.spark_master_port}" if s.publish_spark_master_rpc else IN_NETWORK_SPARK_MASTER_URL
        ),
        "spark_master_ui": f"http://{host}:{s.spark_master_ui_port}",
        "orion_url": f"http://{host}:{s.orion_port}",
        "trino_url": f"http://{host}:{s.trino_port}",
        "superset_url": f"http://{host}:{s.superset_port}",
        "superset_admin_user": s.superset_admin_user,
    }
