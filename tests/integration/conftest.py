"""Ordering of the integration session: the log check for secrets runs after every other test.

tests/integration/test_testbed_logs_secrets.py greps every log of the test bed for this run's secrets; the
other tests (Orion's drivers, spark-submits, fault tests) keep writing logs until they end, so a check that
ran in file order would miss whatever came after it.
"""

from __future__ import annotations

import pytest

LAST_MODULES = ("test_testbed_logs_secrets.py",)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    last = [item for item in items if item.path.name in LAST_MODULES]
    if last:
        items[:] = [item for item in items if item.path.name not in LAST_MODULES] + last
