"""The names and values of what a running lakehouse exposes to its user.

`pulumi stack output` and the test bed's `.testbed/endpoints.json` carry exactly these keys, so one
end-to-end suite can target either. Values are computed here from settings and a host name.
"""

from __future__ import annotations

from lakehouse.generators.s3 import table_uri
from lakehouse.settings import Settings

PUBLIC_KEYS = (
    "kafka_bootstrap_servers",
    "kafka_topic",
    "s3_endpoint",
    "lake_bucket",
    "checkpoint_bucket",
    "delta_table_uri",
    "spark_master_url",
    "spark_master_ui",
    "orion_url",
    "trino_url",
    "superset_url",
    "superset_admin_user",
)
# Where the Spark master's RPC is when the stack does not publish it (lakehouse:publishSparkMasterRpc false):
# inside the Docker network only (components/spark.py's master_url(); a test keeps them equal).
IN_NETWORK_SPARK_MASTER_URL = "spark://spark-master:7077"
SECRET_KEYS = ("s3_access_key", "s3_secret_key", "superset_admin_password", "orion_token")
ALL_KEYS = PUBLIC_KEYS + SECRET_KEYS
POSTDEPLOY_KEYS = ("streaming_job_id", "trino_tables", "superset_dashboard_urls")
"""Outputs of the post-deploy steps (the stack's; `make demo` prints the same on the test bed)."""


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
