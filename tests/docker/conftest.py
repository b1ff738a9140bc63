"""One Docker engine for the whole Docker check: the one that answers, or a dockerd started for this pytest
session and stopped at its end (`make test` leaves no engine running that it started; an engine you started
yourself is never touched)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest


def _echo(line: str) -> None:
    print(f"[docker {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Any]:
    from testbed.docker import engine
    from tests.docker.engine_session import session

    try:
        with session(_echo) as eng:
            _echo(f"Docker engine {eng.server_version}, API {eng.api_version}" + (" (started here)" * eng.started_here))
            yield eng
    except engine.EngineError as exc:
        pytest.fail(f"no Docker engine for the docker check: {exc}")
