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


# The registry as the first release created it: a user's Orion volume still holds this table.
_FIRST_RELEASE_SCHEMA = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, source TEXT NOT NULL, file_path TEXT NOT NULL,
    args TEXT NOT NULL, conf TEXT NOT NULL, supervise INTEGER NOT NULL, state TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, app_id TEXT, pid INTEGER, run INTEGER NOT NULL DEFAULT 0,
    started_at TEXT, running_at TEXT, ended_at TEXT, exit_code INTEGER,
    restart_count INTEGER NOT NULL DEFAULT 0, consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_restart_at REAL, stop_requested INTEGER NOT NULL DEFAULT 0, restart_requested INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '', command TEXT NOT NULL DEFAULT '[]'
)
"""


def test_a_first_release_registry_is_migrated_in_place_and_keeps_its_jobs(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "orion.sqlite3"
    old = sqlite3.connect(db)
    old.execute(_FIRST_RELEASE_SCHEMA)
    old.execute(
        "INSERT INTO jobs (name, source, file_path, args, conf, supervise, state, created_at, updated_at, run) "
        "VALUES ('logistics_stream', 'shipped', '/opt/lakehouse/jobs/logistics_stream.py', '[]', '{}', 1, "
        "'running', 't0', 't1', 3)"
    )
    old.commit()
    old.close()

    reg = Registry(db)
    job = reg.get(1)
    assert job is not None and (job.name, job.state, job.run, job.supervise) == (
        "logistics_stream", JobState.RUNNING, 3, True,
    )  # fmt: skip
    assert (job.code_hash, job.checkpoint, job.stop_outcome, job.stop_batch_id) == (None, None, None, None)
    updated = dataclasses.replace(
        job, code_hash="c" * 64, checkpoint="s3://checkpoints/x", stop_outcome="abandoned", stop_batch_id=4
    )
    reg.save(updated)
    reg.close()
    again = Registry(db)  # a second open finds nothing left to migrate
    assert again.get(1) == updated
    columns = [r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(jobs)")]
    assert columns[-4:] == ["code_hash", "checkpoint", "stop_outcome", "stop_batch_id"]
    assert again.create(dataclasses.replace(job, id=0)).id == 2
    again.close()
