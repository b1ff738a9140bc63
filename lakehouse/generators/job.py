"""Environment of the streaming job (the names, defaults and duration rule are the job's own:
jobs/logistics/settings.py, imported here rather than copied).

Orion gets this environment (plus the Spark identity's S3 keys) in the stack and in the test bed, so
`POST /jobs job=logistics_stream` with no arguments starts the real pipeline in either place.
"""

from __future__ import annotations

from jobs.logistics.settings import (
    ENV_BOOTSTRAP,
    ENV_CHECKPOINT_URI,
    ENV_DEDUP_WINDOW,
    ENV_MAINTENANCE_INTERVAL,
    ENV_MAX_OFFSETS,
    ENV_NAMES,
    ENV_REJECTED_URI,
    ENV_STOP_TIMEOUT,
    ENV_TABLE_URI,
    ENV_TOPIC,
    ENV_TRIGGER,
)
from lakehouse.generators.s3 import rejected_table_name, table_uri
from lakehouse.settings import Settings

__all__ = [
    "ENV_BOOTSTRAP",
    "ENV_CHECKPOINT_URI",
    "ENV_DEDUP_WINDOW",
    "ENV_MAINTENANCE_INTERVAL",
    "ENV_MAX_OFFSETS",
    "ENV_NAMES",
    "ENV_REJECTED_URI",
    "ENV_STOP_TIMEOUT",
    "ENV_TABLE_URI",
    "ENV_TOPIC",
    "ENV_TRIGGER",
    "stream_job_env",
]


def stream_job_env(s: Settings, *, bootstrap_servers: str) -> dict[str, str]:
    """The job's settings from the lakehouse's; `bootstrap_servers` are the brokers as services reach them."""
    return {
        ENV_BOOTSTRAP: bootstrap_servers,
        ENV_TOPIC: s.kafka_topic,
        ENV_TABLE_URI: table_uri(s.lake_bucket, s.delta_table),
        ENV_REJECTED_URI: table_uri(s.lake_bucket, rejected_table_name(s.delta_table)),
        ENV_CHECKPOINT_URI: table_uri(s.checkpoint_bucket, s.delta_table),
        ENV_TRIGGER: s.stream_trigger_interval,
        ENV_MAX_OFFSETS: str(s.stream_max_offsets_per_trigger),
        ENV_DEDUP_WINDOW: s.stream_dedup_window,
        ENV_MAINTENANCE_INTERVAL: s.stream_maintenance_interval,
        ENV_STOP_TIMEOUT: s.stream_stop_timeout,
    }
