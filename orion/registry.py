"""The persisted job registry: one SQLite table in ORION_DATA_DIR, so history survives restarts.

Every state change is written through at once (WAL mode); the monitor thread and the request
threads share one connection behind a lock, which is plenty for a handful of jobs.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

from orion.models import JobRecord, JobState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    file_path TEXT NOT NULL,
    args TEXT NOT NULL,
    conf TEXT NOT NULL,
    supervise INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    app_id TEXT,
    pid INTEGER,
    run INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    running_at TEXT,
    ended_at TEXT,
    exit_code INTEGER,
    restart_count INTEGER NOT NULL DEFAULT 0,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_restart_at REAL,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    restart_requested INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '',
    command TEXT NOT NULL DEFAULT '[]',
    code_hash TEXT,
    checkpoint TEXT,
    stop_outcome TEXT,
    stop_batch_id INTEGER
)
"""
# Columns added after the first release: a user's Orion volume has a registry without them.
_MIGRATIONS = {"code_hash": "TEXT", "checkpoint": "TEXT", "stop_outcome": "TEXT", "stop_batch_id": "INTEGER"}
_JSON_FIELDS = {"args", "conf", "command"}
_BOOL_FIELDS = {"supervise", "stop_requested", "restart_requested"}
_COLUMNS = [f.name for f in dataclasses.fields(JobRecord)]


def _to_row(job: JobRecord) -> dict[str, Any]:
    row = dataclasses.asdict(job) | {"state": str(job.state)}
    return row | {k: json.dumps(row[k]) for k in _JSON_FIELDS} | {k: int(row[k]) for k in _BOOL_FIELDS}


def _from_row(row: sqlite3.Row) -> JobRecord:
    values = {k: row[k] for k in _COLUMNS} | {k: json.loads(row[k]) for k in _JSON_FIELDS}
    return JobRecord(**values | {k: bool(row[k]) for k in _BOOL_FIELDS} | {"state": JobState(row["state"])})


class Registry:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")  # no other thread has the registry yet: no lock
        self._db.execute(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """ALTER TABLE ADD COLUMN for each column an older registry lacks (old rows read them as NULL)."""
        present = {row["name"] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for column, kind in _MIGRATIONS.items():
            if column not in present:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {kind}")  # fixed names, no input

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create(self, job: JobRecord) -> JobRecord:
        row = _to_row(job)
        row.pop("id")
        cols = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        with self._lock:
            cur = self._db.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", row)  # noqa: S608 (fixed columns)
        return dataclasses.replace(job, id=int(cur.lastrowid or 0))

    def save(self, job: JobRecord) -> None:
        row = _to_row(job)
        sets = ", ".join(f"{k} = :{k}" for k in row if k != "id")
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {sets} WHERE id = :id", row)  # noqa: S608 (fixed columns)

    def get(self, job_id: int) -> JobRecord | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _from_row(row) if row else None

    def list(self, states: Collection[JobState] | None = None) -> list[JobRecord]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY id DESC").fetchall()
        return [j for j in map(_from_row, rows) if states is None or j.state in states]

    def delete(self, job_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
