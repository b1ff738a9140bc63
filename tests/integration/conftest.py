"""Ordering of the integration session: the fault suite, then the log check for secrets, run after every other
test.

The fault suite kills and restarts the test bed's servers (it leaves them running again, but a test that
happened to run beside a restart would see a hiccup that is not its own).

tests/integration/test_testbed_logs_secrets.py greps every log of the test bed for this run's secrets; the
other tests (Orion's drivers, spark-submits, fault tests) keep writing logs until they end, so a check that
ran in file order would miss whatever came after it.
"""

from __future__ import annotations

import pytest

LAST_MODULES = ("test_faults_under_load.py", "test_testbed_logs_secrets.py")
"""Run last, in this order."""


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    last = sorted(
        (item for item in items if item.path.name in LAST_MODULES), key=lambda i: LAST_MODULES.index(i.path.name)
    )
    if last:
        items[:] = [item for item in items if item.path.name not in LAST_MODULES] + last
