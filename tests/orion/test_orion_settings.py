"""Orion's settings: the ORION_* contract is validated and `python -m orion` refuses bad ones."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from orion.settings import OrionSettings, describe_errors

ROOT = Path(__file__).resolve().parents[2]


def _run_orion(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ORION_")}
    return subprocess.run(
        [sys.executable, "-m", "orion"], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def test_settings_from_environment_read_every_contract_variable(
    monkeypatch: pytest.MonkeyPatch, spark_home: Path, tmp_path: Path
) -> None:
    env = {
        "ORION_TOKEN": "env-token-0123456789abc",
        "ORION_SPARK_MASTER_URL": "spark://spark-master:7077",
        "ORION_SPARK_MASTER_UI": "http://spark-master:8080/",
        "ORION_SPARK_HOME": str(spark_home),
        "ORION_DATA_DIR": str(tmp_path / "data"),
        "ORION_JOBS_DIR": str(tmp_path),
        "ORION_CORES_MAX": "3",
        "ORION_HOST": "127.0.0.2",
        "ORION_PORT": "8123",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = OrionSettings()  # type: ignore[call-arg]
    assert s.token.get_secret_value() == env["ORION_TOKEN"]
    assert (s.spark_master_url, s.spark_master_ui) == ("spark://spark-master:7077", "http://spark-master:8080")
    assert (s.spark_home, s.data_dir, s.jobs_dir) == (spark_home, tmp_path / "data", tmp_path)
    assert (s.cores_max, s.host, s.port) == (3, "127.0.0.2", 8123)
    assert "env-token" not in repr(s)


@pytest.mark.parametrize(
    ("override", "field", "message"),
    [
        ({"token": "short-token"}, "token", "at least 16 characters"),
        ({"token": "a" * 20}, "token", "placeholder"),
        ({"spark_master_url": "http://master:7077"}, "spark_master_url", "spark://host:port"),
        ({"spark_master_ui": "master:8080"}, "spark_master_ui", "http://"),
        ({"cores_max": 0}, "cores_max", "greater than or equal to 1"),
    ],
)
def test_settings_with_bad_value_are_refused_naming_the_variable(
    make_settings: Callable[..., OrionSettings], override: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as err:
        make_settings(**override)
    text = describe_errors(err.value)
    assert f"ORION_{field.upper()}" in text
    assert message in text


def test_settings_without_spark_submit_are_refused(make_settings: Callable[..., OrionSettings], tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="has no bin/spark-submit"):
        make_settings(spark_home=tmp_path / "nowhere")


def test_settings_with_data_dir_in_code_tree_are_refused(make_settings: Callable[..., OrionSettings]) -> None:
    with pytest.raises(ValidationError, match="inside Orion's code tree"):
        make_settings(data_dir=ROOT / "orion" / "data")


def test_python_m_orion_without_token_exits_2_and_says_which_variable() -> None:
    result = _run_orion({"ORION_SPARK_MASTER_URL": "spark://m:7077", "ORION_SPARK_MASTER_UI": "http://m:8080"})
    assert result.returncode == 2
    assert "ORION_TOKEN: is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_m_orion_with_short_token_never_echoes_it(spark_home: Path, tmp_path: Path) -> None:
    result = _run_orion(
        {
            "ORION_TOKEN": "tiny-tok3n",
            "ORION_SPARK_MASTER_URL": "spark://m:7077",
            "ORION_SPARK_MASTER_UI": "http://m:8080",
            "ORION_SPARK_HOME": str(spark_home),
            "ORION_DATA_DIR": str(tmp_path),
        }
    )
    assert result.returncode == 2
    assert "ORION_TOKEN" in result.stderr and "at least 16 characters" in result.stderr
    assert "tiny-tok3n" not in result.stderr + result.stdout


def test_hardening_knobs_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, spark_home: Path) -> None:
    env = {
        "ORION_TOKEN": "env-token-0123456789abc", "ORION_SPARK_MASTER_URL": "spark://m:7077",
        "ORION_SPARK_MASTER_UI": "http://m:8080", "ORION_SPARK_HOME": str(spark_home),
        "ORION_MAX_DRIVER_MEMORY": "768m", "ORION_MAX_EXECUTOR_MEMORY": "3g", "ORION_MAX_MEMORY_OVERHEAD": "256m",
        "ORION_DESCRIBE_TIMEOUT_SECONDS": "7", "ORION_MAX_CONCURRENT_REQUESTS": "5",
        "ORION_AUTH_FAILURES_PER_MINUTE": "9", "ORION_BODY_TIMEOUT_SECONDS": "4", "ORION_MAX_CONNECTIONS": "50",
        "ORION_HEADER_TIMEOUT_SECONDS": "3", "ORION_STOP_TIMEOUT_SECONDS": "200",
    }  # fmt: skip
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    s = OrionSettings()  # type: ignore[call-arg]
    assert (s.max_driver_memory, s.max_executor_memory, s.max_memory_overhead) == ("768m", "3g", "256m")
    assert (s.describe_timeout_seconds, s.max_concurrent_requests, s.auth_failures_per_minute) == (7, 5, 9)
    assert (s.body_timeout_seconds, s.max_connections, s.header_timeout_seconds) == (4, 50, 3)
    assert s.stop_timeout_seconds == 200
    # The default driver heap never exceeds the cap: 512m by default, the cap when that is lower.
    assert s.driver_memory_when_unset == "512m"
    monkeypatch.setenv("ORION_MAX_DRIVER_MEMORY", "256m")
    assert OrionSettings().driver_memory_when_unset == "256m"  # type: ignore[call-arg]


def test_default_stop_timeout_leaves_room_for_the_jobs_own_bounded_stop(
    make_settings: Callable[..., OrionSettings],
) -> None:
    # The job finishes its batch within ~60 s or abandons it within ~30 s more, then closes its session.
    job_finish, job_abandon, session_close = 60, 30, 20
    assert OrionSettings.model_fields["stop_timeout_seconds"].default >= job_finish + job_abandon + session_close


@pytest.mark.parametrize("field", ["max_driver_memory", "max_executor_memory", "max_memory_overhead"])
@pytest.mark.parametrize("value", ["1.5g", "0g", "2", "lots"])
def test_memory_caps_must_be_spark_sizes(make_settings: Callable[..., OrionSettings], field: str, value: str) -> None:
    with pytest.raises(ValidationError) as err:
        make_settings(**{field: value})
    assert f"ORION_{field.upper()}" in describe_errors(err.value)
