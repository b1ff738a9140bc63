"""GET /catalog: the jobs shipped in ORION_JOBS_DIR, for `POST /jobs job=<name>` and the UI's picker."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from orion.deps import SettingsDep, require_token
from orion.models import ShippedJob
from orion.validation import describe, shipped_jobs

router = APIRouter(prefix="/catalog", tags=["jobs"], dependencies=[Depends(require_token)])


@router.get("", response_model=list[ShippedJob])
def catalog(settings: SettingsDep) -> list[ShippedJob]:
    return [ShippedJob(name=p.stem, description=describe(p)) for p in shipped_jobs(settings.jobs_dir)]
