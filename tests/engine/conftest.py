"""Fixtures of the engine tests: the Pulumi CLI (built once per version into the artifact cache) and an Engine.

`pulumi_cli` (session): the directory with `pulumi` and the dynamic-provider host, from
`tests/engine/pulumi_build.py` (a cached build is reused; a fresh machine builds it, ~7 CPU-minutes plus the
Go modules). In CI (CI=true) a failure to build fails the run; elsewhere it skips with the reason.
`engine` (function): an Engine of tests/engine/harness.py in the test's tmp dir; at teardown it destroys
what the test's stacks still hold, and fails the test if that fails (a leak on the shared test bed).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine.harness import Engine


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The first test that needs the CLI pays its build when the cache has none: give it the build's time
    on top of the suite's per-test timeout (pyproject.toml), so a fresh machine is not cut off mid-build."""
    from lakehouse import versions
    from tests.engine import pulumi_build

    needing = [item for item in items if "pulumi_cli" in getattr(item, "fixturenames", ())]
    if needing and not pulumi_build.pulumi_cli_cached(versions.load()):
        base = float(config.getini("timeout") or 900)
        needing[0].add_marker(pytest.mark.timeout(base + pulumi_build.PULUMI_BUILD_TIMEOUT))


def _echo(line: str) -> None:
    print(f"[engine] {line}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def pulumi_cli() -> Path:
    from lakehouse import versions
    from testbed import artifacts, session
    from tests.engine import pulumi_build

    try:
        return pulumi_build.pulumi_cli(versions.load(), echo=_echo)
    except (artifacts.ArtifactError, OSError) as exc:
        message = f"the Pulumi CLI for the engine tests could not be built or found (needs Go 1.26+): {exc}"
        if session.in_ci():
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def engine(pulumi_cli: Path, tmp_path: Path) -> Iterator[Engine]:
    eng = Engine(pulumi_cli, tmp_path / "engine")
    yield eng
    failures = eng.close()
    if failures:
        pytest.fail("the engine test left resources it could not destroy:\n" + "\n".join(failures))
