"""lakehouse.postdeploy: the post-deploy steps' inputs, built from the settings the stack has."""

from __future__ import annotations

from jobs.logistics.settings import ENV_NAMES, FLAGS, parse_stream_settings
from lakehouse import postdeploy
from lakehouse.generators.job import stream_job_env
from lakehouse.settings import Settings


def test_the_job_args_carry_every_setting_and_the_job_reads_them_back() -> None:
    s = Settings().replace(stream_trigger_interval="2 seconds", stream_max_offsets_per_trigger=5000)
    env = stream_job_env(s, bootstrap_servers="kafka-1:9092")
    args = postdeploy.stream_job_args(env)
    assert set(FLAGS) == set(ENV_NAMES)
    # Parsed with an empty environment: the flags alone give the job the stack's settings.
    cfg = parse_stream_settings(args, env={})
    assert cfg.bootstrap_servers == "kafka-1:9092"
    assert cfg.topic == "logistics-events"
    assert cfg.table_uri == "s3a://lake/logistics_events"
    assert cfg.rejected_table_uri == "s3a://lake/logistics_events_rejected"
    assert cfg.checkpoint_uri == "s3a://checkpoints/logistics_events"
    assert cfg.trigger_interval == "2 seconds"
    assert cfg.max_offsets_per_trigger == 5000
    assert cfg.dedup_window == s.stream_dedup_window


def test_the_tables_are_registered_where_spark_writes_them() -> None:
    s = Settings().replace(lake_bucket="data-lake", delta_table="events")
    assert postdeploy.delta_tables(s) == {
        "events": "s3://data-lake/events",
        "events_rejected": "s3://data-lake/events_rejected",
    }
    assert postdeploy.trino_table_names(s) == ["delta.lakehouse.events", "delta.lakehouse.events_rejected"]


def test_the_urls_are_the_published_ports_on_the_given_host() -> None:
    urls = postdeploy.service_urls(Settings(), "127.0.0.1")
    assert urls == {
        "orion_url": "http://127.0.0.1:8000",
        "spark_master_ui": "http://127.0.0.1:8080",
        "trino_url": "http://127.0.0.1:8085",
        "superset_url": "http://127.0.0.1:8088",
    }
