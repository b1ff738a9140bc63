"""Environment of the streaming job (jobs/logistics_stream.py reads these names).

Orion gets this environment (plus the Spark identity's S3 keys) in the stack and in the test bed, so
`POST /jobs job=logistics_stream` with no arguments starts the real pipeline in either place.
The job cannot import this package (it runs on its own inside Spark): a test keeps both sides in step.
"""

from __future__ import annotations

from lakehouse.generators.s3 import rejected_table_name, table_uri

ENV_BOOTSTRAP = "LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS"
ENV_TOPIC = "LAKEHOUSE_KAFKA_TOPIC"
ENV_TABLE_URI = "LAKEHOUSE_TABLE_URI"
ENV_REJECTED_URI = "LAKEHOUSE_REJECTED_TABLE_URI"
ENV_CHECKPOINT_URI = "LAKEHOUSE_CHECKPOINT_URI"
ENV_TRIGGER = "LAKEHOUSE_TRIGGER_INTERVAL"
ENV_MAX_OFFSETS = "LAKEHOUSE_MAX_OFFSETS_PER_TRIGGER"
ENV_DEDUP_WINDOW = "LAKEHOUSE_DEDUP_WINDOW"


def stream_job_env(
    *,
    bootstrap_servers: str,
    topic: str,
    lake_bucket: str,
    checkpoint_bucket: str,
    table: str,
    trigger_interval: str,
    max_offsets_per_trigger: int,
    dedup_window: str,
) -> dict[str, str]:
    return {
        ENV_BOOTSTRAP: bootstrap_servers,
        ENV_TOPIC: topic,
        ENV_TABLE_URI: table_uri(lake_bucket, table),
        ENV_REJECTED_URI: table_uri(lake_bucket, rejected_table_name(table)),
        ENV_CHECKPOINT_URI: table_uri(checkpoint_bucket, table),
        ENV_TRIGGER: trigger_interval,
        ENV_MAX_OFFSETS: str(max_offsets_per_trigger),
        ENV_DEDUP_WINDOW: dedup_window,
    }
