"""Writing to Delta: tables created up front, both tables per batch, idempotent batches, dedup window,
and a streaming query that fails between its two commits and is restarted from its checkpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import deltalake
import pytest
from delta.tables import DeltaTable
from jobs_testlib import BASE, KAFKA_SOURCE_SCHEMA, kafka_rows, names_and_types, payload
from pyspark.sql import SparkSession

from jobs import logistics_stream as job


def settings(root: Path, **changes: object) -> job.JobSettings:
    cfg = job.JobSettings(
        bootstrap_servers="unused:9092",
        topic="logistics-events",
        table_uri=str(root / "events"),
        rejected_table_uri=str(root / "events_rejected"),
        checkpoint_uri=str(root / "checkpoint"),
        trigger_interval="1 second",
        max_offsets_per_trigger=1000,
        dedup_window="1 hour",
    )
    return job.JobSettings(**{**cfg.__dict__, **changes})


def event(n: int, **changes: object) -> tuple[bytes, bytes]:
    return b"SHP-1", payload(event_id=f"ev-{n:05d}", **changes)


BAD = [(b"SHP-1", b"{oops"), (b"SHP-1", payload(delay_probability=9.0))]


def ids(spark: SparkSession, uri: str) -> list[str]:
    return sorted(r["event_id"] for r in spark.read.format("delta").load(uri).select("event_id").collect())


def count(spark: SparkSession, uri: str) -> int:
    return spark.read.format("delta").load(uri).count()


def test_tables_exist_with_their_schema_before_any_event(spark: SparkSession, tmp_path: Path) -> None:
    cfg = settings(tmp_path)

    job.ensure_tables(spark, cfg)
    job.ensure_tables(spark, cfg)  # a restart finds them and leaves them alone

    for uri, schema, partition in (
        (cfg.table_uri, job.EVENTS_SCHEMA, "event_date"),
        (cfg.rejected_table_uri, job.REJECTED_SCHEMA, "ingestion_date"),
    ):
        detail = DeltaTable.forPath(spark, uri).detail().first()
        assert detail["partitionColumns"] == [partition]
        assert detail["properties"]["delta.enableDeletionVectors"] == "false"
        assert DeltaTable.forPath(spark, uri).history().count() == 1
        assert names_and_types(spark.read.format("delta").load(uri).schema) == names_and_types(schema)
        # An independent reader (delta-rs) sees the empty table too, as Trino's registration will.
        other = deltalake.DeltaTable(uri)
        assert [f.name for f in other.schema().fields] == schema.fieldNames()
        assert other.metadata().partition_columns == [partition]


def test_a_table_with_another_schema_is_refused(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "events")
    spark.range(1).write.format("delta").save(uri)

    expected = r"another schema \(.*event_date: table has nothing, job writes DateType\(\).*id: table has LongType"
    with pytest.raises(RuntimeError, match=expected):
        job.ensure_tables(spark, settings(tmp_path))


def test_a_batch_writes_valid_events_and_quarantine(spark: SparkSession, tmp_path: Path) -> None:
    cfg = settings(tmp_path)
    job.ensure_tables(spark, cfg)
    batch = kafka_rows(spark, [event(1), *BAD, event(2)])

    result = job.write_batch(batch, 0, cfg, "app-1")

    assert (result.consumed, result.valid, result.rejected, result.inserted, result.duplicates) == (4, 2, 2, 2, 0)
    assert ids(spark, cfg.table_uri) == ["ev-00001", "ev-00002"]
    rejected = spark.read.format("delta").load(cfg.rejected_table_uri).orderBy("kafka_offset").collect()
    assert [(r["kafka_offset"], r["reason_code"]) for r in rejected] == [(1, "malformed_json"), (2, "out_of_range")]
    meta = json.loads(DeltaTable.forPath(spark, cfg.table_uri).history(1).first()["userMetadata"])
    assert meta == {"app_id": "app-1", "batch_id": 0, "consumed": 4, "valid": 2, "rejected": 2}


def test_a_replayed_batch_id_is_not_written_again(spark: SparkSession, tmp_path: Path) -> None:
    cfg = settings(tmp_path)
    job.ensure_tables(spark, cfg)
    job.write_batch(kafka_rows(spark, [event(1), BAD[0]]), 7, cfg, "app-1")

    # Same (app id, batch id) with other content: Delta's txn marks make both writes no-ops.
    again = job.write_batch(kafka_rows(spark, [event(2), BAD[1]], first_offset=50), 7, cfg, "app-1")
    # The next batch id is written.
    after = job.write_batch(kafka_rows(spark, [event(3), BAD[1]], first_offset=60), 8, cfg, "app-1")

    assert again.inserted is None
    assert after.inserted == 1
    assert ids(spark, cfg.table_uri) == ["ev-00001", "ev-00003"]
    assert count(spark, cfg.rejected_table_uri) == 2


def test_resent_events_within_the_window_are_stored_once(spark: SparkSession, tmp_path: Path) -> None:
    cfg = settings(tmp_path)
    job.ensure_tables(spark, cfg)
    job.write_batch(kafka_rows(spark, [event(1), event(2)]), 0, cfg, "app-1")

    result = job.write_batch(
        kafka_rows(spark, [event(2), event(3), event(1), event(3)], first_offset=10), 1, cfg, "app-1"
    )

    assert (result.valid, result.inserted, result.duplicates) == (4, 1, 3)
    assert ids(spark, cfg.table_uri) == ["ev-00001", "ev-00002", "ev-00003"]
    stored = spark.read.format("delta").load(cfg.table_uri).where("event_id = 'ev-00003'").first()
    assert stored["kafka_offset"] == 11  # the first copy in Kafka order


def test_the_same_event_id_outside_the_window_is_a_new_event(spark: SparkSession, tmp_path: Path) -> None:
    cfg = settings(tmp_path, dedup_window="30 minutes")
    job.ensure_tables(spark, cfg)
    job.write_batch(kafka_rows(spark, [event(1, event_time="2026-03-01T08:00:00Z")]), 0, cfg, "app-1")

    late = job.write_batch(kafka_rows(spark, [event(1, event_time="2026-03-01T09:00:00Z")], first_offset=5), 1, cfg,
                           "app-1")  # fmt: skip
    near = job.write_batch(kafka_rows(spark, [event(1, event_time="2026-03-01T08:20:00Z")], first_offset=6), 2, cfg,
                           "app-1")  # fmt: skip

    assert (late.inserted, near.inserted) == (1, 0)
    assert ids(spark, cfg.table_uri) == ["ev-00001", "ev-00001"]


def _write_source_file(spark: SparkSession, directory: Path, records: list[tuple[bytes, bytes]], first: int) -> None:
    kafka_rows(spark, records, first_offset=first).coalesce(1).write.mode("append").parquet(str(directory))


def _run_available_now(spark: SparkSession, cfg: job.JobSettings, source_dir: Path) -> None:
    source = spark.readStream.schema(KAFKA_SOURCE_SCHEMA).option("maxFilesPerTrigger", 1).parquet(str(source_dir))
    query = job.build_query(spark, cfg, source=source)
    try:
        query.awaitTermination()
    finally:
        query.stop()


def test_a_stream_killed_between_its_commits_resumes_exactly(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = settings(tmp_path, available_now=True)
    source_dir = tmp_path / "source"
    _write_source_file(spark, source_dir, [event(n) for n in range(10)] + BAD, first=0)
    _run_available_now(spark, cfg, source_dir)
    assert (count(spark, cfg.table_uri), count(spark, cfg.rejected_table_uri)) == (10, 2)

    # Second file: 3 re-sent events, 5 new ones, 1 bad. The batch dies after its quarantine commit.
    _write_source_file(spark, source_dir, [event(n) for n in (7, 8, 9, 10, 11, 12, 13, 14)] + BAD[:1], first=12)
    real_retry: Callable = job._retry_conflicts

    def die_before_merge(action: Callable, what: str, attempts: int = 5) -> object:
        if "merge" in what:
            raise RuntimeError("driver killed")
        return real_retry(action, what, attempts)

    monkeypatch.setattr(job, "_retry_conflicts", die_before_merge)
    with pytest.raises(Exception, match="driver killed"):
        _run_available_now(spark, cfg, source_dir)
    assert (count(spark, cfg.table_uri), count(spark, cfg.rejected_table_uri)) == (10, 3)

    monkeypatch.setattr(job, "_retry_conflicts", real_retry)
    _run_available_now(spark, cfg, source_dir)

    assert ids(spark, cfg.table_uri) == [f"ev-{n:05d}" for n in range(15)]
    assert count(spark, cfg.rejected_table_uri) == 3
    rejected = spark.read.format("delta").load(cfg.rejected_table_uri).select("kafka_offset").collect()
    assert sorted(r["kafka_offset"] for r in rejected) == [10, 11, 20]
    assert BASE["event_id"] not in ids(spark, cfg.table_uri)
