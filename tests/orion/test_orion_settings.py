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
