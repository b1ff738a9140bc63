"""The names the parts share: the events topic and tables, the checkpoint, the environment, the outputs."""

from __future__ import annotations

import re

DEFAULT_TOPIC = "logistics-events"
TOPIC_RULE = "1-249 characters of A-Z, a-z, 0-9, '.', '_', '-', not '.' or '..'"
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")

DEFAULT_TABLE = "logistics_events"
DEFAULT_LAKE_BUCKET = "lake"
DEFAULT_CHECKPOINT_BUCKET = "checkpoints"
REJECTED_SUFFIX = "_rejected"
CHECKPOINT_SUFFIX = "/_checkpoints/logistics_stream"
"""A checkpoint derived from a table lives inside it: it is the table's, and goes with it (Delta, VACUUM,
Trino and delta-rs ignore names starting with '_')."""


def is_topic_name(name: object) -> bool:
    """Whether Kafka takes `name` as a topic name (TOPIC_RULE)."""
    return isinstance(name, str) and bool(_TOPIC.match(name)) and name not in (".", "..")


def rejected_table_name(table: str) -> str:
    """The quarantine beside a table: its name (or location) with REJECTED_SUFFIX appended."""
    return table.rstrip("/") + REJECTED_SUFFIX


def table_uri(bucket: str, path: str, scheme: str = "s3a") -> str:
    """Location of a table: s3a:// for Spark's Hadoop file system, s3:// for Trino and delta-rs."""
    return f"{scheme}://{bucket}/{path.strip('/')}"


def checkpoint_uri(bucket: str, table: str) -> str:
    """The stack's checkpoint of the stream into `table`: the directory named like it in the checkpoint bucket."""
    return table_uri(bucket, table)


def derived_checkpoint_uri(table_uri: str) -> str:
    """The checkpoint of a stream into a table given by location only: inside the table (CHECKPOINT_SUFFIX)."""
    return table_uri.rstrip("/") + CHECKPOINT_SUFFIX


# The streaming job's environment: the stack and the test bed set it (lakehouse/generators/job.py), the job and
# the producer read it.
ENV_BOOTSTRAP = "LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS"
ENV_TOPIC = "LAKEHOUSE_KAFKA_TOPIC"
ENV_TABLE_URI = "LAKEHOUSE_TABLE_URI"
ENV_REJECTED_URI = "LAKEHOUSE_REJECTED_TABLE_URI"
ENV_CHECKPOINT_URI = "LAKEHOUSE_CHECKPOINT_URI"
ENV_TRIGGER = "LAKEHOUSE_TRIGGER_INTERVAL"
ENV_MAX_OFFSETS = "LAKEHOUSE_MAX_OFFSETS_PER_TRIGGER"
ENV_DEDUP_WINDOW = "LAKEHOUSE_DEDUP_WINDOW"
ENV_MAINTENANCE_INTERVAL = "LAKEHOUSE_MAINTENANCE_INTERVAL"
ENV_STOP_TIMEOUT = "LAKEHOUSE_STOP_TIMEOUT"
ENV_SPARK_LOG_LEVEL = "LAKEHOUSE_SPARK_LOG_LEVEL"  # read by the job only (default WARN); the stack does not set it

# What `pulumi stack output` and the test bed's .testbed/endpoints.json carry (lakehouse/endpoints.py fills them).
OUTPUT_BOOTSTRAP = "kafka_bootstrap_servers"
OUTPUT_TOPIC = "kafka_topic"
PUBLIC_KEYS = (
    OUTPUT_BOOTSTRAP,
    OUTPUT_TOPIC,
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
SECRET_KEYS = ("s3_access_key", "s3_secret_key", "superset_admin_password", "orion_token")
ALL_KEYS = PUBLIC_KEYS + SECRET_KEYS
POSTDEPLOY_KEYS = ("streaming_job_id", "trino_tables", "superset_dashboard_urls")
"""Outputs of the post-deploy steps (the stack's; `make demo` prints the same on the test bed)."""
