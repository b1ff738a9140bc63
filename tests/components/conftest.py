"""Fixtures of the stack's unit tests: each configuration is deployed once (under mocks) per module."""

from __future__ import annotations

import pytest
from stack_harness import Recording, run_default, run_variant


@pytest.fixture(scope="module")
def default_stack() -> Recording:
    """Default config; every secret generated (mocked pulumi-random)."""
    return run_default()


@pytest.fixture(scope="module")
def variant_stack() -> Recording:
    """5 brokers, 3 workers, ZooKeeper mode; every secret set as secret config."""
    return run_variant()


@pytest.fixture(scope="module", params=["default", "variant"])
def stack(request: pytest.FixtureRequest) -> Recording:
    """Both configurations, for the checks that must hold whatever the configuration."""
    return request.getfixturevalue(f"{request.param}_stack")
