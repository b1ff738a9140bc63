"""Maintenance: compaction, a vacuum that keeps what the retention protects, a log checkpoint; and the
stream's schedule, which runs it between batches on the partitions written since the last round."""

from __future__ import annotations

import os
import time
from pathlib import Path

from delta.tables import DeltaTable
from jobs_testlib import kafka_rows, payload
from pyspark.sql import SparkSession

from jobs.logistics import maintenance, rules, tables
from jobs.logistics.schema import EVENTS_SCHEMA


def _append(spark: SparkSession, uri: str, event_ids: list[str], event_time: str) -> None:
    records = [(b"k", payload(event_id=e, event_time=event_time)) for e in event_ids]
    tables.valid_events(rules.screen(kafka_rows(spark, records))).coalesce(1).write.format("delta").mode("append").save(
        uri
    )


def test_maintenance_compacts_vacuums_safely_and_checkpoints(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "events")
    tables.ensure_table(spark, uri, EVENTS_SCHEMA, "event_date")
    for n in range(4):  # four small appends into one day
        _append(spark, uri, [f"old-{n}-{i}" for i in range(3)], "2026-01-05T10:00:00Z")
    _append(spark, uri, ["other-day"], "2026-01-07T10:00:00Z")
    stray = Path(uri) / "event_date=2026-01-05" / "part-stray-from-a-crashed-writer.parquet"
    stray.write_bytes(b"not referenced by the log")
    month_ago = time.time() - 30 * 24 * 3600
    os.utime(stray, (month_ago, month_ago))

    report = maintenance.maintain_table(spark, uri, "event_date", retain_hours=168, full_vacuum=True)

    assert report["vacuum"] == "full"
    assert report["files_before"] == 5
    assert (report["files_removed_by_optimize"], report["files_added_by_optimize"]) == (4, 1)
    assert report["files_after"] == 2  # one file per day (a lone file is left as it is)
    assert not stray.exists()  # untracked and older than the retention
    on_disk = list((Path(uri) / "event_date=2026-01-05").glob("*.parquet"))
    assert len(on_disk) == 5  # the 4 compacted-away files stay: removed less than 168 h ago
    version = report["checkpoint_version"]
    assert (Path(uri) / "_delta_log" / f"{version:020d}.checkpoint.parquet").exists()
    assert spark.read.format("delta").load(uri).count() == 13


def test_a_longer_retention_becomes_the_tables_own(spark: SparkSession, tmp_path: Path) -> None:
    """Delta ignores VACUUM's RETAIN clause in favour of the table's property: --retain-hours must set it."""
    uri = str(tmp_path / "events")
    tables.ensure_table(spark, uri, EVENTS_SCHEMA, "event_date")
    _append(spark, uri, ["r-1"], "2026-01-05T10:00:00Z")

    default = maintenance.maintain_table(spark, uri, "event_date", retain_hours=168)
    untouched = DeltaTable.forPath(spark, uri).detail().first()["properties"]
    maintenance.maintain_table(spark, uri, "event_date", retain_hours=200)

    assert default["vacuum"] in ("lite", "full")
    assert maintenance.RETENTION_PROPERTY not in untouched  # the default needs no commit
    props = DeltaTable.forPath(spark, uri).detail().first()["properties"]
    assert props[maintenance.RETENTION_PROPERTY] == "interval 200 hours"


def test_maintenance_of_a_partition_span_leaves_the_others(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "events")
    tables.ensure_table(spark, uri, EVENTS_SCHEMA, "event_date")
    for n in range(2):
        _append(spark, uri, [f"a-{n}"], "2026-01-05T10:00:00Z")
        _append(spark, uri, [f"b-{n}"], "2026-01-09T10:00:00Z")
    from datetime import date

    report = maintenance.maintain_table(
        spark, uri, "event_date", retain_hours=168, skip_vacuum=True, partitions=(date(2026, 1, 9), date(2026, 1, 9))
    )

    assert (report["files_before"], report["files_after"]) == (4, 3)
    assert report["vacuum"] is None


def test_maintenance_skips_a_location_without_a_table(spark: SparkSession, tmp_path: Path) -> None:
    report = maintenance.maintain_table(spark, str(tmp_path / "none"), "event_date", retain_hours=168)

    assert "not a Delta table" in str(report["skipped"])


def test_the_schedule_runs_on_its_interval_on_what_was_written(spark: SparkSession, tmp_path: Path) -> None:
    uri, rejected = str(tmp_path / "events"), str(tmp_path / "events_rejected")
    tables.ensure_tables(spark, uri, rejected)
    for n in range(3):
        _append(spark, uri, [f"s-{n}"], "2026-01-05T10:00:00Z")
    now = [0.0]
    schedule = maintenance.Schedule(uri, rejected, interval_s=60, clock=lambda: now[0])
    schedule.note(("2026-01-05", "2026-01-05"), rejected=0)

    assert schedule.run_if_due(spark) == []  # not yet due
    now[0] = 61.0
    reports = schedule.run_if_due(spark)

    assert [r["table"] for r in reports] == [uri]  # nothing was rejected: the quarantine is left alone
    assert reports[0]["partitions"] == ["2026-01-05", "2026-01-05"]
    assert reports[0]["vacuum"] == "lite"  # between batches: from the log, no listing of the table
    assert (reports[0]["files_before"], reports[0]["files_after"]) == (3, 1)
    assert DeltaTable.forPath(spark, uri).history().where("operation = 'OPTIMIZE'").count() == 1
    now[0] = 200.0
    assert schedule.run_if_due(spark) == []  # due, but nothing written since the last round


def test_maintenance_off_never_runs() -> None:
    schedule = maintenance.Schedule("a", "b", interval_s=None, clock=lambda: 1e9)
    schedule.note(("2026-01-05", "2026-01-05"), rejected=3)

    assert not schedule.due()
