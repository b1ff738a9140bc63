"""Orion's driver agent: spark-submit runs this file, and it runs the job's file as `__main__`.

Usage (Orion builds it): spark-submit ... orion/agent/driver.py <job.py> [job args...]

Beside the job, a daemon thread writes what Orion cannot see from outside the driver (the application id and
UI address, the latest progress of every structured-streaming query) as JSON to $ORION_DRIVER_STATUS_FILE,
atomically, every couple of seconds. It finds the job's session through PySpark, so it works for any job.
Standard library and pyspark only: it runs in the driver's Python.
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys
import threading
import time
from typing import Any

STATUS_FILE_ENV = "ORION_DRIVER_STATUS_FILE"
INTERVAL_ENV = "ORION_DRIVER_STATUS_INTERVAL"
_KEEP_FINISHED = 10


def _session() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    # The session the job created, from whichever thread: the active session is thread-local.
    return SparkSession._instantiatedSession


def _last_progress(query: Any) -> dict[str, Any] | None:
    """The query's latest progress as the JVM's own JSON (ids, offsets and all), straight from the JVM:
    cheaper than PySpark's wrapper objects, which hold UUIDs. (Every classic PySpark query has `_jsq`.)"""
    jprogress = query._jsq.lastProgress()
    return json.loads(jprogress.json()) if jprogress is not None else None


class Reporter:
    def __init__(self, path: str, interval: float) -> None:
        self.path = path
        self.interval = interval
        self.stop = threading.Event()
        self.queries: dict[str, dict[str, Any]] = {}
        self._hooked = False
        self._thread = threading.Thread(target=self._loop, name="orion-driver-agent", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self.stop.wait(self.interval):
            self.report()

    def report(self) -> None:
        try:
            session = _session()
            if session is None:
                return
            if not self._hooked:
                # Registered after the SparkContext's own atexit hook, so it runs before the stop.
                atexit.register(self.close)
                self._hooked = True
            self._write(self._snapshot(session))
        except Exception as exc:  # the job must never die of its reporter
            print(f"[orion-agent] progress report failed: {exc!r}", file=sys.stderr)

    def _snapshot(self, session: Any) -> dict[str, Any]:
        sc = session.sparkContext
        active = set()
        for q in session.streams.active:
            qid = str(q.id)
            active.add(qid)
            self.queries[qid] = {
                "id": qid,
                "run_id": str(q.runId),
                "name": q.name,
                "active": True,
                "progress": _last_progress(q) or self.queries.get(qid, {}).get("progress"),
            }
        finished = [qid for qid in self.queries if qid not in active]
        for qid in finished:
            self.queries[qid]["active"] = False
        for qid in finished[:-_KEEP_FINISHED]:
            del self.queries[qid]
        return {
            "app_id": sc.applicationId,
            "ui_url": sc.uiWebUrl,
            "updated_at": time.time(),
            "queries": list(self.queries.values()),
        }

    def _write(self, data: dict[str, Any]) -> None:
        tmp = f"{self.path}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, self.path)

    def close(self) -> None:
        self.stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 5)
        self.report()


def main() -> None:
    if len(sys.argv) < 2:
        print("usage: driver.py <job.py> [args...]", file=sys.stderr)
        sys.exit(2)
    job = os.path.abspath(sys.argv[1])
    sys.argv = [job, *sys.argv[2:]]
    # Make the job see the sys.path it would see if run directly: its own dir first, not ours.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, os.path.dirname(job))
    status = os.environ.get(STATUS_FILE_ENV)
    if status:
        Reporter(status, float(os.environ.get(INTERVAL_ENV, "2"))).start()
    runpy.run_path(job, run_name="__main__")


if __name__ == "__main__":
    main()
