"""The stream's foreachBatch: each micro-batch written to both tables (tables.py), then the maintenance when it
is due; and what the bounded stop (stop.py) needs to know about the batch in flight."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from pyspark.sql import DataFrame

from .lease import WriterLease
from .maintenance import Schedule
from .settings import StreamSettings
from .tables import BatchResult, write_batch

log = logging.getLogger("logistics_stream")


class StopRequested(RuntimeError):
    """Raised into a batch that would start after a stop was requested: it is not run (replayed next start)."""


class BatchAbandoned(RuntimeError):
    """Raised out of a batch whose Spark jobs the stop cancelled (replayed next start)."""


def job_group(batch_id: int) -> str:
    return f"logistics_stream-batch-{batch_id}"


class BatchWriter:
    """The foreachBatch function; it waits for the query's id (its marks' app id), known once `start()` returned."""

    def __init__(self, cfg: StreamSettings, lease: WriterLease | None = None) -> None:
        self._cfg = cfg
        self._lease = lease
        self.app_id: str | None = None
        self._bound = threading.Event()
        self._lock = threading.Condition()
        self.current: int | None = None
        self.last_finished: int | None = None
        self.stopping = threading.Event()
        self.abandoning = threading.Event()
        self.results: dict[int, BatchResult] = {}
        self.schedule = Schedule(cfg.table_uri, cfg.rejected_table_uri, cfg.maintenance_interval_seconds)
        self.maintenance_seconds: dict[int, float] = {}
        self.listener: Any = None
        """The stream's progress listener, once registered."""

    def bind(self, query_id: str) -> None:
        self.app_id = f"logistics_stream-{query_id}"
        self._bound.set()

    def wait_idle(self, timeout_s: float) -> bool:
        """True once no batch is in flight (within the time)."""
        with self._lock:
            return self._lock.wait_for(lambda: self.current is None, timeout_s)

    def _begin(self, batch_id: int) -> None:
        if not self._bound.wait(timeout=300):
            raise RuntimeError("the streaming query id never became known; cannot write idempotently")
        if self._lease is not None and self._lease.lost:
            raise RuntimeError(f"stopping: {self._lease.lost} (one writer per table)")
        with self._lock:
            if self.stopping.is_set():
                raise StopRequested(f"batch {batch_id} not started: the job is stopping")
            self.current = batch_id

    def _end(self, batch_id: int) -> None:
        with self._lock:
            self.current = None
            self.last_finished = batch_id if not self.abandoning.is_set() else self.last_finished
            self._lock.notify_all()

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        self._begin(batch_id)
        spark = batch.sparkSession
        sc = spark.sparkContext
        sc.setJobGroup(job_group(batch_id), f"logistics_stream batch {batch_id}", interruptOnCancel=True)
        try:
            assert self.app_id is not None
            log.info("batch %d: started", batch_id)
            result = write_batch(batch, batch_id, self._cfg.table_uri, self._cfg.rejected_table_uri, self.app_id)
            self.results[batch_id] = result
            for old in [b for b in self.results if b < batch_id - 100]:
                del self.results[old]
            self.schedule.note(result.event_dates, result.rejected)
            if not self.stopping.is_set() and self.schedule.due():
                started = time.monotonic()
                self.schedule.run_if_due(spark)
                self.maintenance_seconds[batch_id] = time.monotonic() - started
        except Exception as exc:
            if self.abandoning.is_set():
                raise BatchAbandoned(f"batch {batch_id} abandoned by the stop") from exc
            raise
        finally:
            sc.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
            self._end(batch_id)
