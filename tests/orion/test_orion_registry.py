"""The SQLite registry keeps every field of a job across a reopen (an Orion restart)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from orion.models import JobRecord, JobState
from orion.registry import Registry


def test_job_round_trips_through_a_reopened_registry(tmp_path: Path) -> None:
    db = tmp_path / "orion.sqlite3"
    reg = Registry(db)
    job = reg.create(JobRecord(
        id=0, name="n", source="upload", file_path="/d/u.py", args=["--a", "é"], conf={"spark.x": "1"},
        supervise=True, state=JobState.QUEUED, created_at="2026-01-01T00:00:00+00:00", updated_at="u",
    ))  # fmt: skip
    assert job.id == 1
    changed = dataclasses.replace(
        job, state=JobState.RESTARTING, app_id="app-9", pid=123, run=3, restart_count=2, consecutive_failures=1,
        next_restart_at=12.5, stop_requested=True, detail="d", command=["spark-submit", "x"], exit_code=-9,
    )  # fmt: skip
    reg.save(changed)
    reg.close()
    reopened = Registry(db)
    assert reopened.get(1) == changed
    assert reopened.list({JobState.RESTARTING}) == [changed] and reopened.list({JobState.RUNNING}) == []
    reopened.delete(1)
    assert reopened.get(1) is None
    # AUTOINCREMENT: a deleted id is never handed out again.
    assert reopened.create(dataclasses.replace(job, id=0)).id == 2
    reopened.close()
