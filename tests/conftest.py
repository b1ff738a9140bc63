"""Session fixtures shared by the whole suite.

`testbed` returns the endpoints dict of the lakehouse under test (the stack outputs' keys; see
lakehouse/endpoints.py):
  - by default the real-service test bed: a running one is reused (and left running), otherwise
    the fixture starts one with the same code as `python -m testbed up` and stops it at session end;
  - with LAKEHOUSE_TARGET=stack, a deployed stack's `pulumi stack output --json --show-secrets`.
In CI (CI=true) a test bed that cannot start fails the run; elsewhere, a missing prerequisite
(Java, Maven) skips the integration tests with a message that says what to install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

TARGET_ENV = "LAKEHOUSE_TARGET"


def _stack_outputs() -> dict[str, str]:
    from lakehouse.endpoints import ALL_KEYS

    try:
        done = subprocess.run(
            ["pulumi", "stack", "output", "--json", "--show-secrets"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except FileNotFoundError:
        pytest.fail(f"{TARGET_ENV}=stack needs the pulumi CLI on PATH (and a selected stack)")
    if done.returncode != 0:
        pytest.fail(
            f"`pulumi stack output --json --show-secrets` failed ({done.returncode}): {done.stderr[-2000:]}\n"
            'In the clone, `eval "$(make -s env)"` gives this shell the stack\'s backend and passphrase.'
        )
    outputs = {k: v if isinstance(v, str) else json.dumps(v) for k, v in json.loads(done.stdout).items()}
    missing = [k for k in ALL_KEYS if k not in outputs]
    if missing:
        pytest.fail(f"the stack's outputs lack {missing}: is the stack deployed (`pulumi up`)?")
    return outputs


def _echo(line: str) -> None:
    print(f"[testbed] {line}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def testbed() -> Iterator[dict[str, str]]:
    target = os.environ.get(TARGET_ENV, "testbed")
    if target == "stack":
        yield _stack_outputs()
        return
    if target != "testbed":
        pytest.fail(f"{TARGET_ENV}={target!r} is not allowed: use 'testbed' (default) or 'stack'")

    from testbed import bed, prereqs, session

    try:
        got = session.acquire(echo=_echo)
    except prereqs.PrerequisiteError as exc:
        verdict, msg = session.prerequisite_verdict(prereqs.check(), ci=session.in_ci()) or ("fail", str(exc))
        if verdict == "skip":
            pytest.skip(msg)
        pytest.fail(msg)
    except session.Unusable as exc:
        pytest.fail(str(exc))
    try:
        yield got.endpoints
    finally:
        if got.started_here:
            bed.down(echo=_echo)


@pytest.fixture
def require_services(testbed: dict[str, str]):
    """`require_services("trino", "spark")` fails (never skips) when a reused test bed, started with
    `--only`, lacks a service the test needs."""

    def check(*services: str) -> None:
        running = testbed.get("testbed_services")
        if running is None:
            return  # a deployed stack runs everything
        missing = [s for s in services if s not in running.split(",")]
        if missing:
            pytest.fail(
                f"the running test bed has no {missing} (it runs {running}): restart it with "
                "`python -m testbed down && python -m testbed up`"
            )

    return check
