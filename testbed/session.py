"""How a test session gets a test bed (tests/conftest.py's `testbed` fixture): reuse a running one (and leave it
running), wait for one another process is starting, or start one that the session stops at its end."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from testbed import bed, prereqs


def in_ci(env: dict[str, str] | None = None) -> bool:
    return (env if env is not None else os.environ).get("CI", "").lower() in ("1", "true", "yes")


def prerequisite_verdict(problems: list[str], *, ci: bool) -> tuple[str, str] | None:
    """None when nothing is missing, else ("fail" in CI / "skip" elsewhere, the message naming what and how)."""
    if not problems:
        return None
    return ("fail" if ci else "skip"), prereqs.missing(problems)


@dataclass
class Acquired:
    endpoints: dict[str, str]
    started_here: bool
    """True when this session started the test bed (and must stop it)."""


class Unusable(RuntimeError):
    """The test bed is there but cannot be used (degraded, or its start failed)."""


def acquire(echo: Callable[[str], None]) -> Acquired:
    """A usable test bed's endpoints. Raises Unusable, or prereqs.PrerequisiteError before starting one."""
    if bed.running_state() is not None:
        return Acquired(_reuse(), started_here=False)
    prereqs.require()
    try:
        result = bed.up(echo=echo)
    except bed.AlreadyRunning:
        return Acquired(_reuse(), started_here=False)  # another session started one at the same moment
    except Exception as exc:
        raise Unusable(f"the test bed did not start: {exc}") from exc
    echo(f"up in {result.seconds:.1f} s: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.ready.items()))
    return Acquired(result.endpoints, started_here=True)


def _reuse() -> dict[str, str]:
    try:
        endpoints = bed.wait_until_up()
    except (RuntimeError, TimeoutError) as exc:
        raise Unusable(str(exc)) from exc
    broken = [f"{r.service} ({r.state})" for r in bed.status_rows() if r.state != "ready"]
    if broken:
        raise Unusable(
            f"the running test bed is degraded: {', '.join(broken)}; see {endpoints['testbed_logs_dir']} "
            "and restart it: `python -m testbed down && python -m testbed up`"
        )
    return endpoints
