"""The default stack's container memory limits add up to at most 8 GiB (issue 15), and
components.sizing.stack_memory_limits_mib says what the stack declares, container by container."""

from __future__ import annotations

from components import sizing
from lakehouse.settings import Settings


def test_the_default_stack_fits_in_8_gib_and_sizing_knows_every_limit(default_stack) -> None:  # type: ignore[no-untyped-def]
    declared = {name: int(c["memory"]) for name, c in default_stack.containers().items()}
    expected = sizing.stack_memory_limits_mib(Settings())
    assert sum(declared.values()) == sum(expected.values()) <= sizing.STACK_BUDGET_MIB == 8 * 1024
    assert sorted(declared.values()) == sorted(expected.values())


def test_a_bigger_configuration_gets_bigger_limits() -> None:
    base = sizing.stack_memory_limits_mib(Settings())
    big = sizing.stack_memory_limits_mib(Settings().replace(trino_heap="2g", spark_workers=3))
    assert big["trino"] == base["trino"] + 1536
    assert big["spark-worker-3"] == base["spark-worker-1"]
    assert big["spark-orion"] > base["spark-orion"]  # three workers: three drivers can run at once
