"""The jobs API: submit (shipped name or uploaded .py), list, inspect, logs, stop, restart, delete."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Response, UploadFile, status

from orion.deps import ManagerDep, SettingsDep, require_token
from orion.manager import JobConflict, JobNotFound
from orion.models import JobCreated, JobOut, LogOut
from orion.validation import (
    ConfLimits,
    InvalidRequest,
    check_upload,
    parse_args,
    parse_conf,
    shipped_job_path,
    upload_name,
)

router = APIRouter(prefix="/jobs", tags=["jobs"], dependencies=[Depends(require_token)])
_ERRORS = {404: {"description": "No such job"}, 409: {"description": "Not possible in the job's state"}}
_SUBMIT_ERRORS = {
    409: {"description": "An active job already writes the same checkpoint (the detail names it)"},
    413: {"description": "Upload too large"},
    422: {"description": "Invalid input"},
}


def _http(exc: Exception) -> HTTPException:
    if isinstance(exc, InvalidRequest):
        return HTTPException(exc.status_code, exc.detail)
    if isinstance(exc, JobNotFound):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))


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
    try:
        if (job is None or job == "") == (file is None):
            raise InvalidRequest("send exactly one of 'job' (a shipped job's name) or 'file' (a .py upload)")
        parsed_args = parse_args(args)
        parsed_conf = parse_conf(conf, ConfLimits.from_settings(settings))
        if file is None:
            assert job is not None
            path, name, source = shipped_job_path(settings.jobs_dir, job), job, "shipped"
        else:
            filename = upload_name(file.filename)
            data = file.file.read(settings.upload_max_bytes + 1)
            check_upload(filename, data, settings.upload_max_bytes)
            path, name, source = _store_upload(settings.data_dir, filename, data), filename[:-3], "upload"
    except InvalidRequest as exc:
        raise _http(exc) from None
    try:
        code_hash = manager.code_hash_of(path)
        found = manager.find_checkpoint(path, parsed_args, parsed_conf)
        record = manager.submit(
            name=name, source=source, file_path=str(path), args=parsed_args, conf=parsed_conf, supervise=supervise,
            code_hash=code_hash, checkpoint=found.checkpoint, checkpoint_note=found.how,
        )  # fmt: skip
    except BaseException as exc:
        if source == "upload":
            shutil.rmtree(path.parent, ignore_errors=True)  # nothing refers to it
        if isinstance(exc, JobConflict):
            raise _http(exc) from None
        raise
    return JobCreated(id=record.id, state=record.state, job=manager.to_out(record))


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
    return [manager.to_out(j) for j in manager.list()]


@router.get("/{job_id}", response_model=JobOut, responses=_ERRORS)
def get_job(job_id: int, manager: ManagerDep) -> JobOut:
    try:
        return manager.to_out(manager.get(job_id), detail=True)
    except JobNotFound as exc:
        raise _http(exc) from None


@router.get("/{job_id}/logs", response_model=LogOut, responses=_ERRORS)
def job_logs(
    job_id: int,
    manager: ManagerDep,
    offset: Annotated[int, Query(ge=0, description="Byte offset to read from (next_offset of the last call).")] = 0,
    limit: Annotated[int, Query(ge=1, le=1024 * 1024, description="At most this many bytes.")] = 65536,
) -> LogOut:
    try:
        manager.get(job_id)
    except JobNotFound as exc:
        raise _http(exc) from None
    chunk = manager.log(job_id).read(offset, limit)
    return LogOut(
        offset=chunk.offset, next_offset=chunk.next_offset, size=chunk.size, truncated=chunk.truncated, text=chunk.text
    )


@router.post("/{job_id}/stop", response_model=JobOut, responses=_ERRORS)
def stop_job(job_id: int, manager: ManagerDep) -> JobOut:
    try:
        return manager.to_out(manager.stop(job_id))
    except (JobNotFound, JobConflict) as exc:
        raise _http(exc) from None


@router.post("/{job_id}/restart", response_model=JobOut, responses=_ERRORS)
def restart_job(job_id: int, manager: ManagerDep) -> JobOut:
    try:
        return manager.to_out(manager.restart(job_id))
    except (JobNotFound, JobConflict) as exc:
        raise _http(exc) from None


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ERRORS)
def delete_job(job_id: int, manager: ManagerDep) -> Response:
    try:
        manager.delete(job_id)
    except (JobNotFound, JobConflict) as exc:
        raise _http(exc) from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
