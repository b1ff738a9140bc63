"""Fixtures of Orion's unit tests: settings on a temp dir, and fakes of Orion's OWN collaborators.

The fakes stand in for the launcher (spark-submit) and the master's /json/ reader so the state
machine can be driven tick by tick; the real spark-submit and master are exercised by the
integration tests (tests/integration/test_orion_*.py) on the test bed.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from orion_fakes import FakeLauncher, FakeMaster

from orion.main import create_app
from orion.manager import JobManager
from orion.settings import OrionSettings

TOKEN = "unit-test-token-0123456789"
JOBS_DIR = Path(__file__).resolve().parent / "jobs"


@pytest.fixture
def spark_home(tmp_path: Path) -> Path:
    """A directory with an executable bin/spark-submit (settings only check that it exists)."""
    home = tmp_path / "spark"
    (home / "bin").mkdir(parents=True)
    submit = home / "bin" / "spark-submit"
    submit.write_text("#!/bin/sh\nexit 0\n")
    submit.chmod(submit.stat().st_mode | stat.S_IEXEC)
    return home


@pytest.fixture
def make_settings(tmp_path: Path, spark_home: Path) -> Callable[..., OrionSettings]:
    def make(**overrides: Any) -> OrionSettings:
        values: dict[str, Any] = {
            "token": TOKEN,
            "spark_master_url": "spark://master.invalid:7077",
            "spark_master_ui": "http://master.invalid:8080",
            "spark_home": spark_home,
            "data_dir": tmp_path / "data",
            "jobs_dir": JOBS_DIR,
            "cores_max": 2,
            "restart_backoff_seconds": 0,
            "upload_max_bytes": 4096,
            "stop_timeout_seconds": 1,
        }
        values.update(overrides)
        return OrionSettings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., OrionSettings]) -> OrionSettings:
    return make_settings()


@pytest.fixture
def launcher() -> FakeLauncher:
    return FakeLauncher()


@pytest.fixture
def master() -> FakeMaster:
    return FakeMaster()


@pytest.fixture
def client(settings: OrionSettings, launcher: FakeLauncher, master: FakeMaster) -> Iterator[TestClient]:
    """The real app with fake launcher/master and no monitor thread: tests call `manager.tick()`."""
    app = create_app(settings, launcher=launcher, master=master, monitor=False)
    with TestClient(app) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        yield c


@pytest.fixture
def manager(client: TestClient) -> JobManager:
    return client.app.state.manager  # type: ignore[attr-defined]
