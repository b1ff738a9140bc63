"""The job's settings: the names it shares with lakehouse/, stack defaults, precedence, bad values.

The job cannot import lakehouse/ (it runs alone inside Spark), so these tests keep both sides equal.
"""

from __future__ import annotations

import dataclasses

import pytest

from jobs import delta_maintenance, logistics_stream
from lakehouse.generators import job as contract
from lakehouse.generators.s3 import rejected_table_name, table_uri
from lakehouse.settings import Settings

ENV_NAMES = [name for name in dir(contract) if name.startswith("ENV_")]


def stack_env(**changes: object) -> dict[str, str]:
    s = Settings().replace(**changes)
    return contract.stream_job_env(s, bootstrap_servers=logistics_stream.DEFAULT_BOOTSTRAP)


def test_every_env_name_of_the_contract_is_the_jobs() -> None:
    assert len(ENV_NAMES) == 8
    for name in ENV_NAMES:
        assert getattr(logistics_stream, name) == getattr(contract, name), name


def test_maintenance_reads_the_same_table_variables() -> None:
    assert delta_maintenance.ENV_TABLE_URI == contract.ENV_TABLE_URI
    assert delta_maintenance.ENV_REJECTED_URI == contract.ENV_REJECTED_URI
    assert delta_maintenance.DEFAULT_TABLE_URI == logistics_stream.DEFAULT_TABLE_URI


def test_the_stack_environment_covers_every_setting() -> None:
    assert set(stack_env()) == {getattr(contract, n) for n in ENV_NAMES}


def test_defaults_equal_what_the_stack_passes_by_default() -> None:
    assert logistics_stream.parse_settings([], env={}) == logistics_stream.parse_settings([], env=stack_env())


def test_rejected_table_sits_beside_the_table() -> None:
    cfg = logistics_stream.parse_settings(["--table-uri", "s3a://lake/x/events/"], env={})

    assert cfg.table_uri == "s3a://lake/x/events"
    assert cfg.rejected_table_uri == table_uri("lake", "x/" + rejected_table_name("events"))


def test_environment_is_read() -> None:
    env = stack_env(kafka_topic="t2", delta_table="other", stream_trigger_interval="2 seconds",
                    stream_max_offsets_per_trigger=500, stream_dedup_window="30 minutes")  # fmt: skip

    cfg = logistics_stream.parse_settings([], env=env)

    assert (cfg.topic, cfg.table_uri, cfg.rejected_table_uri, cfg.checkpoint_uri) == (
        "t2", "s3a://lake/other", "s3a://lake/other_rejected", "s3a://checkpoints/other")  # fmt: skip
    assert (cfg.trigger_interval, cfg.max_offsets_per_trigger, cfg.dedup_window) == ("2 seconds", 500, "30 minutes")
    assert cfg.dedup_window_seconds == 1800


def test_flags_win_over_the_environment() -> None:
    cfg = logistics_stream.parse_settings(
        ["--topic", "flag", "--max-offsets-per-trigger", "7", "--available-now"], env=stack_env()
    )

    assert (cfg.topic, cfg.max_offsets_per_trigger, cfg.available_now) == ("flag", 7, True)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--trigger-interval", "10s"], "trigger interval = '10s' is not allowed: a duration such as"),
        (["--dedup-window", "forever"], "dedup window = 'forever' is not allowed"),
        (["--max-offsets-per-trigger", "0"], "maxOffsetsPerTrigger = '0' is not allowed: an integer of 1 or more"),
        (["--max-offsets-per-trigger", "lots"], "maxOffsetsPerTrigger = 'lots' is not allowed"),
        (["--table-uri", " "], "table_uri is empty"),
    ],
)
def test_bad_values_are_refused_with_the_reason(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        logistics_stream.parse_settings(argv, env={})

    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_settings_fields_are_all_parsed() -> None:
    cfg = logistics_stream.parse_settings([], env={})
    assert all(getattr(cfg, f.name) is not None for f in dataclasses.fields(cfg))


def test_maintenance_refuses_an_unsafe_retention(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        delta_maintenance.parse_settings(["--retain-hours", "1"], env={})

    assert "--retain-hours 1 is not allowed: at least 168 hours" in capsys.readouterr().err


def test_maintenance_defaults_follow_the_environment() -> None:
    cfg = delta_maintenance.parse_settings([], env={contract.ENV_TABLE_URI: "s3a://lake/t"})

    assert (cfg.table_uri, cfg.rejected_table_uri, cfg.retain_hours) == ("s3a://lake/t", "s3a://lake/t_rejected", 168)
