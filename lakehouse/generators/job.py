"""Environment of the streaming job, which Orion gets in the stack and in the test bed, so
`POST /jobs job=logistics_stream` with no arguments starts the real pipeline in either place.
"""

from __future__ import annotations

from contract import names
from contract.names import checkpoint_uri, rejected_table_name, table_uri
from lakehouse.settings import Settings


def stream_job_env(s: Settings, *, bootstrap_servers: str) -> dict[str, str]:
    """The job's settings from the lakehouse's; `bootstrap_servers` are the brokers as services reach them."""
    return {
        names.ENV_BOOTSTRAP: bootstrap_servers,
        names.ENV_TOPIC: s.kafka_topic,
        names.ENV_TABLE_URI: table_uri(s.lake_bucket, s.delta_table),
        names.ENV_REJECTED_URI: table_uri(s.lake_bucket, rejected_table_name(s.delta_table)),
        names.ENV_CHECKPOINT_URI: checkpoint_uri(s.checkpoint_bucket, s.delta_table),
        names.ENV_TRIGGER: s.stream_trigger_interval,
        names.ENV_MAX_OFFSETS: str(s.stream_max_offsets_per_trigger),
        names.ENV_DEDUP_WINDOW: s.stream_dedup_window,
        names.ENV_MAINTENANCE_INTERVAL: s.stream_maintenance_interval,
        names.ENV_STOP_TIMEOUT: s.stream_stop_timeout,
    }
