"""delta_maintenance: compaction of past partitions, a vacuum that keeps what the retention protects,
and a Delta log checkpoint."""

from __future__ import annotations

import os
import time
from pathlib import Path

from delta.tables import DeltaTable
from jobs_testlib import kafka_rows, payload
from pyspark.sql import SparkSession

from jobs import delta_maintenance, logistics_stream


def test_maintenance_compacts_past_partitions_vacuums_safely_and_checkpoints(
    spark: SparkSession, tmp_path: Path
) -> None:
    uri = str(tmp_path / "events")
    logistics_stream.ensure_table(spark, uri, logistics_stream.EVENTS_SCHEMA, "event_date")
    today = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for n in range(4):  # four small appends into a past day, one into today
        records = [(b"k", payload(event_id=f"old-{n}-{i}", event_time="2026-01-05T10:00:00Z")) for i in range(3)]
        events = logistics_stream.valid_events(logistics_stream.classify(kafka_rows(spark, records)))
        events.coalesce(1).write.format("delta").mode("append").save(uri)
    today_rows = logistics_stream.valid_events(
        logistics_stream.classify(kafka_rows(spark, [(b"k", payload(event_id="new", event_time=today))]))
    )
    today_rows.write.format("delta").mode("append").save(uri)
    stray = Path(uri) / "event_date=2026-01-05" / "part-stray-from-a-crashed-writer.parquet"
    stray.write_bytes(b"not referenced by the log")
    month_ago = time.time() - 30 * 24 * 3600
    os.utime(stray, (month_ago, month_ago))
    cfg = delta_maintenance.parse_settings(["--table-uri", uri], env={})

    report = delta_maintenance.maintain_table(spark, uri, "event_date", cfg)

    assert report["files_before"] == 5
    assert (report["files_removed_by_optimize"], report["files_added_by_optimize"]) == (4, 1)
    assert report["files_after"] == 2  # the past day compacted, today's file left to the stream
    assert not stray.exists()  # untracked and older than the retention
    parquet_on_disk = list((Path(uri) / "event_date=2026-01-05").glob("*.parquet"))
    assert len(parquet_on_disk) == 5  # the 4 compacted-away files stay: removed less than 168 h ago
    assert (Path(uri) / "_delta_log" / "_last_checkpoint").exists()
    version = report["checkpoint_version"]
    assert (Path(uri) / "_delta_log" / f"{version:020d}.checkpoint.parquet").exists()
    assert spark.read.format("delta").load(uri).count() == 13
    assert DeltaTable.forPath(spark, uri).history().where("operation = 'OPTIMIZE'").count() == 1


def test_maintenance_skips_a_location_without_a_table(spark: SparkSession, tmp_path: Path) -> None:
    cfg = delta_maintenance.parse_settings(["--table-uri", str(tmp_path / "none")], env={})

    report = delta_maintenance.maintain_table(spark, str(tmp_path / "none"), "event_date", cfg)

    assert "not a Delta table" in report["skipped"]
