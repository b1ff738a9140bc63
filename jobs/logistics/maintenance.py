"""Upkeep of the Delta tables: compaction, vacuum, log checkpoint. Run by the tables' one writer: the stream
between two batches (`Schedule`, on the partitions written since the last round), or jobs/delta_maintenance.py
on every partition while no stream holds the tables' lease.

Each round: OPTIMIZE (files at session.COMPACT_MIN_FILE_BYTES stay: data is rewritten a bounded number of
times); VACUUM keeping at least 168 hours (shorter can delete files a reader or a lagging stream needs), LITE in
the stream (from the log), FULL standalone (also the files of a write killed midway); a log checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from pyspark.sql import SparkSession

from .schema import PARTITION_COLUMNS
from .session import delta_session, tune_session
from .settings import MaintenanceSettings

log = logging.getLogger("logistics.maintenance")


def _quote(uri: str) -> str:
    return "delta.`" + uri.replace("`", "``") + "`"


def _detail(spark: SparkSession, uri: str) -> Any:
    from delta.tables import DeltaTable

    return DeltaTable.forPath(spark, uri).detail().first()


RETENTION_PROPERTY = "delta.deletedFileRetentionDuration"
DEFAULT_RETAIN_HOURS = 168
"""Delta's default of RETENTION_PROPERTY: 1 week."""


def _retention_hours(spark: SparkSession, uri: str, retain_hours: int) -> None:
    """Make the table's own retention `retain_hours`: Delta 4.4 ignores VACUUM's RETAIN clause (other than 0)."""
    current = (_detail(spark, uri)["properties"] or {}).get(RETENTION_PROPERTY)
    wanted = f"interval {int(retain_hours)} hours"
    if current == wanted or (current is None and retain_hours == DEFAULT_RETAIN_HOURS):
        return
    spark.sql(f"ALTER TABLE {_quote(uri)} SET TBLPROPERTIES ('{RETENTION_PROPERTY}' = '{wanted}')").collect()


def _vacuum(spark: SparkSession, uri: str, retain_hours: int, full: bool) -> str:
    _retention_hours(spark, uri, retain_hours)
    vacuum = f"VACUUM {_quote(uri)} RETAIN {int(retain_hours)} HOURS"
    if not full:
        try:
            spark.sql(vacuum + " LITE").collect()
            return "lite"
        except Exception as exc:
            # LITE needs the log back to the last VACUUM; the first time (or after log cleanup) it is FULL.
            log.info("VACUUM LITE of %s not possible (%s): a full VACUUM", uri, str(exc).splitlines()[0][:200])
    spark.sql(vacuum).collect()
    return "full"


def maintain_table(
    spark: SparkSession,
    uri: str,
    partition_column: str,
    *,
    retain_hours: int,
    skip_vacuum: bool = False,
    full_vacuum: bool = False,
    partitions: tuple[date, date] | None = None,
) -> dict[str, object]:
    """Compact (the partitions in [first, last] of `partitions`, or all), vacuum and checkpoint one table."""
    from delta.tables import DeltaTable

    started = time.monotonic()
    if not DeltaTable.isDeltaTable(spark, uri):
        return {"table": uri, "skipped": "not a Delta table (has the streaming job run yet?)"}
    files_before = int(_detail(spark, uri)["numFiles"])
    optimize = DeltaTable.forPath(spark, uri).optimize()
    if partitions is not None:
        lo, hi = partitions
        optimize = optimize.where(f"{partition_column} >= DATE'{lo}' AND {partition_column} <= DATE'{hi}'")
    metrics = optimize.executeCompaction().first()["metrics"]
    vacuum = None if skip_vacuum else _vacuum(spark, uri, retain_hours, full_vacuum)
    # Checkpoint the log at its newest version (Delta's JVM API; Python has no wrapper for it).
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, uri).checkpoint()
    version = int(DeltaTable.forPath(spark, uri).history(1).first()["version"])
    return {
        "table": uri,
        "partitions": None if partitions is None else [str(p) for p in partitions],
        "files_before": files_before,
        "files_after": int(_detail(spark, uri)["numFiles"]),
        "files_removed_by_optimize": int(metrics["numFilesRemoved"]),
        "files_added_by_optimize": int(metrics["numFilesAdded"]),
        "vacuum": vacuum,
        "vacuum_retain_hours": None if skip_vacuum else retain_hours,
        "checkpoint_version": version,
        "seconds": round(time.monotonic() - started, 1),
    }


@dataclass
class Schedule:
    """The stream's maintenance: every `interval_s` (None: never), on the partitions written since."""

    table_uri: str
    rejected_table_uri: str
    interval_s: float | None
    clock: Callable[[], float] = time.monotonic
    _last: float = field(default=-1.0)
    _events: tuple[date, date] | None = None
    _rejected: tuple[date, date] | None = None

    def __post_init__(self) -> None:
        self._last = self.clock()

    @staticmethod
    def _widen(span: tuple[date, date] | None, lo: date, hi: date) -> tuple[date, date]:
        return (lo, hi) if span is None else (min(span[0], lo), max(span[1], hi))

    def note(self, event_dates: tuple[str, str] | None, rejected: int) -> None:
        """Remember the partitions a batch wrote."""
        if event_dates is not None:
            self._events = self._widen(self._events, *(date.fromisoformat(d) for d in event_dates))
        if rejected:
            today = datetime.now(UTC).date()
            self._rejected = self._widen(self._rejected, today, today)

    def due(self) -> bool:
        return self.interval_s is not None and self.clock() - self._last >= self.interval_s

    def run_if_due(self, spark: SparkSession) -> list[dict[str, object]]:
        if not self.due():
            return []
        spans = (self._events, self._rejected)
        reports = [
            _maintain(spark, uri, column, retain_hours=DEFAULT_RETAIN_HOURS, partitions=span)
            for (uri, column), span in zip(_tables(self.table_uri, self.rejected_table_uri), spans, strict=True)
            if span is not None
        ]
        self._events = self._rejected = None
        self._last = self.clock()
        return reports


def _tables(table_uri: str, rejected_table_uri: str) -> list[tuple[str, str]]:
    """(uri, partition column) of the events table and its quarantine."""
    return [(table_uri, PARTITION_COLUMNS["events"]), (rejected_table_uri, PARTITION_COLUMNS["rejected"])]


def _maintain(spark: SparkSession, uri: str, column: str, **options: Any) -> dict[str, object]:
    report = maintain_table(spark, uri, column, **options)
    log.info("maintenance of %s: %s", uri, json.dumps(report))
    return report


EXIT_OK, EXIT_REFUSED = 0, 3


def run_standalone(cfg: MaintenanceSettings, spark: SparkSession | None = None) -> int:
    """`delta_maintenance`: the upkeep of every partition as the tables' one writer; exit 3 while a stream is."""
    from .lease import LeaseHeld, WriterLease

    own = spark is None
    spark = delta_session("delta_maintenance") if spark is None else spark
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    tune_session(spark)
    lease = WriterLease(
        spark,
        [cfg.table_uri, cfg.rejected_table_uri],
        holder=f"delta_maintenance@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
        details={"app_id": spark.sparkContext.applicationId},
    )
    try:
        try:
            lease.acquire()
        except LeaseHeld as exc:
            log.error(
                "refusing to run: %s. The stream compacts, vacuums and checkpoints its tables itself, between "
                "batches (every LAKEHOUSE_MAINTENANCE_INTERVAL); stop it first to run this by hand.",
                exc,
            )
            return EXIT_REFUSED
        lease.start()
        try:
            for uri, column in _tables(cfg.table_uri, cfg.rejected_table_uri):
                _maintain(
                    spark, uri, column, retain_hours=cfg.retain_hours, skip_vacuum=cfg.skip_vacuum, full_vacuum=True
                )
        finally:
            lease.release()
    finally:
        if own:
            spark.stop()
    return EXIT_OK


def main(cfg: MaintenanceSettings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    return run_standalone(cfg)
