"""GET /health: is the Spark master reachable? (No auth: for probes and the stack's readiness wait.)"""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from orion.deps import MasterDep
from orion.master import MasterUnreachable
from orion.models import Health, MasterHealth

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(master: MasterDep, response: Response) -> Health:
    try:
        view = master.view()
    except MasterUnreachable as exc:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return Health(status="degraded", spark_master=MasterHealth(url=master.url, reachable=False, error=str(exc)))
    return Health(
        status="ok",
        spark_master=MasterHealth(
            url=master.url,
            reachable=True,
            status=view.status,
            alive_workers=view.alive_workers,
            cores=view.cores,
            cores_used=view.cores_used,
        ),
    )
