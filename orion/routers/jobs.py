"""The jobs API: submit (shipped name or uploaded .py), list, inspect, logs, stop, restart, delete."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse

from orion import checkpoint, codehash
from orion.deps import ManagerDep, SettingsDep, require_token
from orion.joblog import LogOut
from orion.launcher import STATUS_FILE, job_dir
from orion.manager import JobConflict, JobNotFound
from orion.models import JobCreated, JobOut
from orion.progress import job_out
from orion.validation import InvalidRequest, check_upload, parse_args, parse_conf, shipped_job_path, upload_name

router = APIRouter(prefix="/jobs", tags=["jobs"], dependencies=[Depends(require_token)])
_ERRORS = {404: {"description": "No such job"}, 409: {"description": "Not possible in the job's state"}}
_SUBMIT_ERRORS = {
    409: {"description": "An active job already writes the same checkpoint (the detail names it)"},
    413: {"description": "Upload too large"},
    422: {"description": "Invalid input"},
}


def _refusal(_request: Request, exc: Exception) -> Response:
    """The app's answer to the manager's and the validation's refusals: 404, 409, or the status they name."""
    if isinstance(exc, InvalidRequest):
        return JSONResponse({"detail": exc.detail}, exc.status_code)
    code = status.HTTP_404_NOT_FOUND if isinstance(exc, JobNotFound) else status.HTTP_409_CONFLICT
    return JSONResponse({"detail": str(exc)}, code)


ERROR_HANDLERS = dict.fromkeys((InvalidRequest, JobNotFound, JobConflict), _refusal)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=JobCreated, responses=_SUBMIT_ERRORS)
def submit_job(
    settings: SettingsDep,
    manager: ManagerDep,
    job: Annotated[str | None, Form(description="Name of a shipped job (its file name without .py).")] = None,
    file: Annotated[UploadFile | None, File(description="A .py file to run instead of a shipped job.")] = None,
    args: Annotated[str | None, Form(description='JSON array of strings, e.g. ["--rows", "10"].')] = None,
    conf: Annotated[
        str | None, Form(description='JSON object of Spark conf, e.g. {"spark.executor.memory": "512m"}.')
    ] = None,
    supervise: Annotated[bool, Form(description="Restart the driver when it fails (streaming jobs).")] = False,
) -> JobCreated:
    if (job is None or job == "") == (file is None):
        raise InvalidRequest("send exactly one of 'job' (a shipped job's name) or 'file' (a .py upload)")
    parsed_args = parse_args(args)
    parsed_conf = parse_conf(conf, settings)
    if file is None:  # then `job` is a name (checked above)
        path, name, source = shipped_job_path(settings.jobs_dir, job), job, "shipped"  # type: ignore[arg-type]
    else:
        filename = upload_name(file.filename)
        data = file.file.read(settings.upload_max_bytes + 1)
        check_upload(filename, data, settings.upload_max_bytes)
        path, name, source = _store_upload(settings.data_dir, filename, data), filename[:-3], "upload"
    try:
        code_hash = codehash.job_code_hash(settings.jobs_dir, path)
        found = checkpoint.for_submission(settings, path, parsed_args, parsed_conf, os.environ)
        record = manager.submit(
            name=name, source=source, file_path=str(path), args=parsed_args, conf=parsed_conf, supervise=supervise,
            code_hash=code_hash, checkpoint=found.checkpoint, checkpoint_note=found.how,
        )  # fmt: skip
    except BaseException:
        if source == "upload":
            shutil.rmtree(path.parent, ignore_errors=True)  # nothing refers to it
        raise
    return JobCreated(id=record.id, state=record.state, job=job_out(record, manager.scrub))


def _store_upload(data_dir: Path, filename: str, data: bytes) -> Path:
    """A fresh directory per upload, under the data dir (outside the code tree); never anywhere else."""
    uploads = (data_dir / "uploads").resolve()
    target = uploads / secrets.token_hex(8) / filename
    # upload_name() already keeps one safe path component; this is the backstop if that ever changes.
    if target.resolve().parent.parent != uploads or target.name != filename:
        raise InvalidRequest(f"file name {filename!r} would leave the upload directory")
    target.parent.mkdir(parents=True, exist_ok=False)
    target.write_bytes(data)
    return target


@router.get("", response_model=list[JobOut])
def list_jobs(manager: ManagerDep) -> list[JobOut]:
    return [job_out(j, manager.scrub) for j in manager.list()]


@router.get("/{job_id}", response_model=JobOut, responses=_ERRORS)
def get_job(job_id: int, manager: ManagerDep) -> JobOut:
    return job_out(manager.get(job_id), manager.scrub, job_dir(manager.settings.data_dir, job_id) / STATUS_FILE)


@router.get("/{job_id}/logs", response_model=LogOut, responses=_ERRORS)
def job_logs(
    job_id: int,
    manager: ManagerDep,
    offset: Annotated[int, Query(ge=0, description="Byte offset to read from (next_offset of the last call).")] = 0,
    limit: Annotated[int, Query(ge=1, le=1024 * 1024, description="At most this many bytes.")] = 65536,
) -> LogOut:
    manager.get(job_id)
    return manager.log(job_id).read(offset, limit)


@router.post("/{job_id}/stop", response_model=JobOut, responses=_ERRORS)
def stop_job(job_id: int, manager: ManagerDep) -> JobOut:
    return job_out(manager.stop(job_id), manager.scrub)


@router.post("/{job_id}/restart", response_model=JobOut, responses=_ERRORS)
def restart_job(job_id: int, manager: ManagerDep) -> JobOut:
    return job_out(manager.restart(job_id), manager.scrub)


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
def delete_job(job_id: int, manager: ManagerDep) -> Response:
    manager.delete(job_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
