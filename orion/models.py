"""Job states, the stored job record and the API's response models."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class JobState(StrEnum):  # the transitions: orion/manager.py
    QUEUED = "queued"  # waits for a free slot (ORION_MAX_ACTIVE_JOBS) before spark-submit runs
    SUBMITTED = "submitted"  # spark-submit runs; the master does not (or no longer) list the app as RUNNING
    RUNNING = "running"  # the master's /json/ lists the job's application as RUNNING
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"
    RESTARTING = "restarting"  # waits (backoff) to be submitted again: supervised crash, restart of job or Orion


ACTIVE_STATES = frozenset({JobState.SUBMITTED, JobState.RUNNING})
FINISHED_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.STOPPED})


@dataclass
class JobRecord:
    """One row of the registry. Times are ISO 8601 UTC strings; None until they happen."""

    id: int
    name: str
    source: str  # "shipped" or "upload"
    file_path: str
    args: list[str]
    conf: dict[str, str]
    supervise: bool
    state: JobState
    created_at: str
    updated_at: str
    app_id: str | None = None
    pid: int | None = None
    run: int = 0
    started_at: str | None = None
    running_at: str | None = None
    ended_at: str | None = None
    exit_code: int | None = None
    restart_count: int = 0
    consecutive_failures: int = 0
    next_restart_at: float | None = None
    stop_requested: bool = False
    restart_requested: bool = False
    detail: str = ""
    command: list[str] = field(default_factory=list)
    code_hash: str | None = None
    checkpoint: str | None = None
    stop_outcome: str | None = None
    stop_batch_id: int | None = None


class SourceProgress(BaseModel):
    description: str
    start_offset: Any = None
    end_offset: Any = None
    latest_offset: Any = None
    input_rows_per_second: float | None = None
    processed_rows_per_second: float | None = None


class QueryProgress(BaseModel):
    """The latest micro-batch of one structured-streaming query, as its driver reported it."""

    id: str | None = None
    run_id: str | None = None
    name: str | None = None
    active: bool | None = Field(None, description="Whether the query still runs in the driver.")
    batch_id: int | None = None
    last_batch_at: str | None = Field(None, description="When the latest micro-batch started (driver clock).")
    num_input_rows: int | None = None
    input_rows_per_second: float | None = None
    processed_rows_per_second: float | None = None
    batch_duration_ms: int | None = None
    sources: list[SourceProgress] = []
    sink: str | None = None


class StreamingProgress(BaseModel):
    updated_at: str | None = Field(None, description="When the driver last wrote its progress.")
    queries: list[QueryProgress] = []


class JobOut(BaseModel):
    id: int
    name: str
    source: str = Field(description="'shipped' (from ORION_JOBS_DIR) or 'upload'.")
    state: JobState
    supervise: bool
    args: list[str]
    conf: dict[str, str] = Field(description="Spark conf overrides; secret-looking keys are masked.")
    app_id: str | None = Field(None, description="Spark application id, once the driver registered.")
    pid: int | None = Field(None, description="PID of spark-submit (the driver JVM) while it runs.")
    run: int = Field(description="How many times the job was submitted to Spark.")
    restart_count: int
    created_at: str
    started_at: str | None = None
    running_at: str | None = Field(None, description="When the master first listed the app as RUNNING.")
    ended_at: str | None = None
    exit_code: int | None = None
    detail: str = ""
    command: list[str] = Field([], description="The spark-submit command line (secrets masked).")
    code_hash: str | None = Field(
        None,
        description="sha256 hex of the code the job ships (its entry file plus the packages of ORION_JOBS_DIR, "
        "orion/codehash.py), as of its latest launch (at submission until it first launches).",
    )
    checkpoint: str | None = Field(
        None,
        description="The checkpoint the job writes, normalized (s3a:// and s3n:// as s3://, no trailing slash); "
        "null when unknown. A second active job on the same checkpoint is refused (409).",
    )
    stop_outcome: str | None = Field(
        None,
        description="How the latest run stopped: 'finished' or 'abandoned' (the batch in flight, as the job "
        "logged it), 'killed' (Orion had to SIGKILL it after ORION_STOP_TIMEOUT_SECONDS); null otherwise.",
    )
    stop_batch_id: int | None = Field(None, description="The micro-batch the stop outcome names, if any.")
    streaming: StreamingProgress | None = Field(None, description="Only in GET /jobs/{id}, for streaming jobs.")


class JobCreated(BaseModel):
    id: int
    state: JobState
    job: JobOut


class ShippedJob(BaseModel):
    name: str
    description: str = ""
    code_hash: str = Field(description="What a submission of this job would report as its code_hash now.")


class MasterHealth(BaseModel):
    url: str
    reachable: bool
    status: str | None = None
    alive_workers: int | None = None
    cores: int | None = None
    cores_used: int | None = None
    error: str | None = None


class Health(BaseModel):
    status: str
    spark_master: MasterHealth
