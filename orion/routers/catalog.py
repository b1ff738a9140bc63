"""GET /catalog: the jobs shipped in ORION_JOBS_DIR, for `POST /jobs job=<name>` and the UI's picker, each
with the code hash a submission of it would report now (orion/codehash.py)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from orion import codehash
from orion.deps import SettingsDep, require_token
from orion.models import ShippedJob
from orion.validation import describe, shipped_jobs

router = APIRouter(prefix="/catalog", tags=["jobs"], dependencies=[Depends(require_token)])


@router.get("", response_model=list[ShippedJob])
def catalog(settings: SettingsDep) -> list[ShippedJob]:
    packages = codehash.snapshot(settings.jobs_dir)  # read once for every entry
    return [
        ShippedJob(name=p.stem, description=describe(p), code_hash=codehash.code_hash(p.read_bytes(), packages))
        for p in shipped_jobs(settings.jobs_dir)
    ]
