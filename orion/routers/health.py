"""GET /health: is the Spark master reachable? (No auth: for probes and the stack's readiness wait.)

Anyone may call it, so concurrent calls share one reading of the master per second, whatever the rate.
"""

from __future__ import annotations

import dataclasses
import time

from fastapi import APIRouter, Request, Response, status

from orion.deps import MasterDep
from orion.master import Master, MasterUnreachable, MasterView
from orion.models import Health, MasterHealth

CACHE_SECONDS = 1.0

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(master: MasterDep, request: Request, response: Response) -> Health:
    try:
        view = _reading(master, request)
    except MasterUnreachable as exc:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="degraded", spark_master=MasterHealth(url=master.url, reachable=False, error=str(exc)))
    cluster = {k: v for k, v in dataclasses.asdict(view).items() if k != "apps"}
    return Health(status="ok", spark_master=MasterHealth(url=master.url, reachable=True, **cluster))


def _reading(master: Master, request: Request) -> MasterView:
    state = request.app.state
    with state.health_lock:
        if state.health_cache is None or time.monotonic() - state.health_cache[0] >= CACHE_SECONDS:
            try:
                state.health_cache = (time.monotonic(), master.view())
            except MasterUnreachable as exc:
                state.health_cache = (time.monotonic(), exc)
        result: MasterView | MasterUnreachable = state.health_cache[1]
    if isinstance(result, MasterUnreachable):
        raise result
    return result
