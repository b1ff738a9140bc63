"""The API's view of a job: its record with secrets masked, plus what its driver agent reported (app id,
streaming progress)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from orion.models import JobOut, JobRecord, QueryProgress, SourceProgress, StreamingProgress
from orion.scrub import Scrubber

_N = TypeVar("_N", int, float)


def read_status(path: Path) -> dict[str, Any] | None:
    """The agent's last report, or None when there is none (yet) or it is unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _num(kind: type[_N], value: Any) -> _N | None:
    try:
        return None if value is None else kind(value)
    except (TypeError, ValueError):
        return None


def query_progress(entry: dict[str, Any], scrub: Scrubber) -> QueryProgress:
    p = entry.get("progress") or {}
    sources = [
        SourceProgress(
            description=scrub.text(str(s.get("description", ""))),
            start_offset=scrub.json(s.get("startOffset")),
            end_offset=scrub.json(s.get("endOffset")),
            latest_offset=scrub.json(s.get("latestOffset")),
            input_rows_per_second=_num(float, s.get("inputRowsPerSecond")),
            processed_rows_per_second=_num(float, s.get("processedRowsPerSecond")),
        )
        for s in p.get("sources") or []
        if isinstance(s, dict)
    ]
    sink = p.get("sink") or {}
    return QueryProgress(
        id=entry.get("id") or p.get("id"),
        run_id=entry.get("run_id") or p.get("runId"),
        name=entry.get("name") or p.get("name"),
        active=entry["active"] if isinstance(entry.get("active"), bool) else None,
        batch_id=_num(int, p.get("batchId")),
        last_batch_at=p.get("timestamp"),
        num_input_rows=_num(int, p.get("numInputRows")),
        input_rows_per_second=_num(float, p.get("inputRowsPerSecond")),
        processed_rows_per_second=_num(float, p.get("processedRowsPerSecond")),
        batch_duration_ms=_num(int, p.get("batchDuration", (p.get("durationMs") or {}).get("triggerExecution"))),
        sources=sources,
        sink=scrub.text(str(sink["description"])) if isinstance(sink, dict) and "description" in sink else None,
    )


def streaming_progress(status: dict[str, Any] | None, scrub: Scrubber) -> StreamingProgress | None:
    """None for a job that never ran a streaming query (a batch job)."""
    if not status or not status.get("queries"):
        return None
    updated = _num(float, status.get("updated_at"))
    return StreamingProgress(
        updated_at=datetime.fromtimestamp(updated, UTC).isoformat() if updated else None,
        queries=[query_progress(q, scrub) for q in status["queries"] if isinstance(q, dict)],
    )


def job_out(job: JobRecord, scrub: Scrubber, status_file: Path | None = None) -> JobOut:
    """The job as the API shows it; with `status_file` (GET /jobs/{id}) also its streaming progress."""
    shown = {
        "args": [scrub.text(a) for a in job.args],
        "conf": scrub.conf(job.conf),
        "detail": scrub.text(job.detail),
        "command": scrub.command(job.command),
        "checkpoint": scrub.text(job.checkpoint) if job.checkpoint else None,
        "streaming": streaming_progress(read_status(status_file), scrub) if status_file is not None else None,
    }
    return JobOut(**{name: getattr(job, name) for name in JobOut.model_fields if hasattr(job, name)} | shown)
