"""The job's settings: what the stack passes, the stack's defaults, precedence, bad values.

The job runs alone inside Spark and reads the environment lakehouse/generators/job.py writes (both with the
contract's names): these tests check the stack passes every setting and the values mean the same on both sides."""

from __future__ import annotations

import dataclasses

import pytest

from jobs.logistics import settings as job
from lakehouse.generators import job as stack
from lakehouse.settings import Settings


def stack_env(**changes: object) -> dict[str, str]:
    return stack.stream_job_env(Settings().replace(**changes), bootstrap_servers=job.DEFAULT_BOOTSTRAP)


def test_the_stack_environment_sets_every_setting_of_the_job() -> None:
    assert set(stack_env()) == set(job.ENV_NAMES)
    assert set(job.FLAGS) == set(job.ENV_NAMES)


def test_defaults_equal_what_the_stack_passes_by_default() -> None:
    assert job.parse_stream_settings([], env={}) == job.parse_stream_settings([], env=stack_env())


def test_the_quarantine_and_checkpoint_follow_a_table_given_by_flag() -> None:
    """Orion gives every job the stack's environment: a run on another table must not write the stack's
    quarantine nor share its checkpoint."""
    cfg = job.parse_stream_settings(["--table-uri", "s3a://lake/x/events/"], env=stack_env())

    assert cfg.table_uri == "s3a://lake/x/events"
    assert cfg.rejected_table_uri == "s3a://lake/x/events_rejected"
    assert cfg.checkpoint_uri == "s3a://lake/x/events/_checkpoints/logistics_stream"
    assert cfg.sources["rejected_table_uri"] == job.DERIVED


def test_an_explicit_quarantine_flag_wins() -> None:
    cfg = job.parse_stream_settings(["--table-uri", "s3a://lake/a", "--rejected-table-uri", "s3a://lake/q"], env={})

    assert (cfg.rejected_table_uri, cfg.sources["rejected_table_uri"]) == ("s3a://lake/q", job.FLAG)


def test_the_environment_is_read() -> None:
    env = stack_env(kafka_topic="t2", delta_table="other", stream_trigger_interval="2 seconds",
                    stream_max_offsets_per_trigger=500, stream_dedup_window="30 minutes",
                    stream_maintenance_interval="off", stream_stop_timeout="45 seconds")  # fmt: skip

    cfg = job.parse_stream_settings([], env=env)

    assert (cfg.topic, cfg.table_uri, cfg.rejected_table_uri, cfg.checkpoint_uri) == (
        "t2", "s3a://lake/other", "s3a://lake/other_rejected", "s3a://checkpoints/other")  # fmt: skip
    assert (cfg.trigger_interval, cfg.max_offsets_per_trigger, cfg.dedup_window) == ("2 seconds", 500, "30 minutes")
    assert (cfg.dedup_window_seconds, cfg.maintenance_interval_seconds, cfg.stop_timeout_seconds) == (1800, None, 45)


def test_flags_win_over_the_environment() -> None:
    cfg = job.parse_stream_settings(
        ["--topic", "flag", "--max-offsets-per-trigger", "7", "--available-now"], env=stack_env()
    )

    assert (cfg.topic, cfg.max_offsets_per_trigger, cfg.available_now) == ("flag", 7, True)
    assert cfg.sources["topic"] == job.FLAG and cfg.sources["bootstrap_servers"] == job.ENVIRONMENT


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--trigger-interval", "10s"], "trigger interval = '10s' is not allowed: a duration such as"),
        (["--dedup-window", "forever"], "dedup window = 'forever' is not allowed"),
        (["--stop-timeout", "0 seconds"], "stop timeout = '0 seconds' is not allowed"),
        (["--maintenance-interval", "never"], "maintenance interval (or 'off') = 'never' is not allowed"),
        (["--max-offsets-per-trigger", "0"], "maxOffsetsPerTrigger = '0' is not allowed: an integer from 1 to"),
        (["--max-offsets-per-trigger", "lots"], "maxOffsetsPerTrigger = 'lots' is not allowed"),
        (["--table-uri", " "], "table_uri is empty"),
        (["--rejected-table-uri", "s3a://lake/logistics_events"], "must not be the events table itself"),
        (["--checkpoint-uri", "s3a://lake/logistics_events"], "must not be a table's location"),
    ],
)
def test_bad_values_are_refused_with_the_reason(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        job.parse_stream_settings(argv, env={})

    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_every_setting_is_resolved_and_its_source_recorded() -> None:
    cfg = job.parse_stream_settings([], env={})

    assert all(getattr(cfg, f.name) is not None for f in dataclasses.fields(cfg))
    assert set(cfg.sources) == {
        "bootstrap_servers", "topic", "table_uri", "rejected_table_uri", "checkpoint_uri", "trigger_interval",
        "max_offsets_per_trigger", "dedup_window", "maintenance_interval", "stop_timeout"}  # fmt: skip


def test_describe_prints_one_json_line_without_spark(capsys: pytest.CaptureFixture) -> None:
    from jobs import logistics_stream

    assert logistics_stream.main(["--describe", "--topic", "t"]) == 0

    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and '"topic": "t"' in out[0] and '"job": "logistics_stream"' in out[0]


def test_maintenance_refuses_an_unsafe_retention(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        job.parse_maintenance_settings(["--retain-hours", "1"], env={})

    assert "--retain-hours 1 is not allowed: at least 168 hours" in capsys.readouterr().err


def test_maintenance_follows_the_environment_and_a_flagged_table() -> None:
    cfg = job.parse_maintenance_settings([], env=stack_env(delta_table="t"))
    flagged = job.parse_maintenance_settings(["--table-uri", "s3a://lake/u"], env=stack_env(delta_table="t"))

    assert (cfg.table_uri, cfg.rejected_table_uri, cfg.retain_hours) == ("s3a://lake/t", "s3a://lake/t_rejected", 168)
    assert flagged.rejected_table_uri == "s3a://lake/u_rejected"
