"""Environment of the streaming job (jobs/logistics_stream.py reads these names).

Orion gets this environment (plus the Spark identity's S3 keys) in the stack and in the test bed, so
`POST /jobs job=logistics_stream` with no arguments starts the real pipeline in either place.
The job cannot import this package (it runs on its own inside Spark): a test keeps both sides in step.
"""

from __future__ import annotations

from lakehouse.generators.s3 import rejected_table_name, table_uri
from lakehouse.settings import Settings

ENV_BOOTSTRAP = "LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS"
ENV_TOPIC = "LAKEHOUSE_KAFKA_TOPIC"
ENV_TABLE_URI = "LAKEHOUSE_TABLE_URI"
ENV_REJECTED_URI = "LAKEHOUSE_REJECTED_TABLE_URI"
ENV_CHECKPOINT_URI = "LAKEHOUSE_CHECKPOINT_URI"
ENV_TRIGGER = "LAKEHOUSE_TRIGGER_INTERVAL"
ENV_MAX_OFFSETS = "LAKEHOUSE_MAX_OFFSETS_PER_TRIGGER"
ENV_DEDUP_WINDOW = "LAKEHOUSE_DEDUP_WINDOW"


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
    }
