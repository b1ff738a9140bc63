"""Writing to Delta: tables created up front, both tables per batch, idempotent batches, dedup in the
streaming state, and a streaming query that dies between its two commits and resumes exactly."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import deltalake
import pytest
from delta.tables import DeltaTable
from jobs_testlib import BASE, KAFKA_SOURCE_SCHEMA, kafka_rows, names_and_types, payload
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.logistics import rules, schema, settings, stream, tables


def cfg_for(root: Path, *args: str) -> settings.StreamSettings:
    return settings.parse_stream_settings(
        ["--table-uri", str(root / "events"), "--checkpoint-uri", str(root / "checkpoint"), "--available-now",
         "--maintenance-interval", "off", *args],
        env={},
    )  # fmt: skip


def event(n: int, **changes: object) -> tuple[bytes, bytes]:
    return b"SHP-1", payload(event_id=f"ev-{n:05d}", **changes)


BAD = [(b"SHP-1", b"{oops"), (b"SHP-1", payload(delay_probability=9.0))]


def ids(spark: SparkSession, uri: str) -> list[str]:
    return sorted(r["event_id"] for r in spark.read.format("delta").load(uri).select("event_id").collect())


def count(spark: SparkSession, uri: str) -> int:
    return spark.read.format("delta").load(uri).count()


def batch_of(frame: DataFrame) -> DataFrame:
    """A micro-batch as the stream hands it to the writer: screened and explained."""
    return rules.explain(rules.screen(frame), only_where=~F.col("_ok")).select(*stream.BATCH_COLUMNS)


def test_tables_exist_with_their_schema_before_any_event(spark: SparkSession, tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path)

    tables.ensure_tables(spark, cfg.table_uri, cfg.rejected_table_uri)
    tables.ensure_tables(spark, cfg.table_uri, cfg.rejected_table_uri)  # a restart finds them and leaves them alone

    for uri, table_schema, partition in (
        (cfg.table_uri, schema.EVENTS_SCHEMA, "event_date"),
        (cfg.rejected_table_uri, schema.REJECTED_SCHEMA, "ingestion_date"),
    ):
        detail = DeltaTable.forPath(spark, uri).detail().first()
        assert detail["partitionColumns"] == [partition]
        assert detail["properties"]["delta.enableDeletionVectors"] == "false"
        assert DeltaTable.forPath(spark, uri).history().count() == 1
        assert names_and_types(spark.read.format("delta").load(uri).schema) == names_and_types(table_schema)
        # An independent reader (delta-rs) sees the empty table too, as Trino's registration will.
        other = deltalake.DeltaTable(uri)
        assert [f.name for f in other.schema().fields] == table_schema.fieldNames()
        assert other.metadata().partition_columns == [partition]


def test_a_table_with_another_schema_is_refused(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "events")
    spark.range(1).write.format("delta").save(uri)

    expected = r"another schema \(.*event_date: table has nothing, job writes DateType\(\).*id: table has LongType"
    with pytest.raises(RuntimeError, match=expected):
        tables.ensure_tables(spark, uri, uri + "_rejected")


def test_a_batch_appends_events_and_quarantine(spark: SparkSession, tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path)
    tables.ensure_tables(spark, cfg.table_uri, cfg.rejected_table_uri)

    result = tables.write_batch(
        batch_of(kafka_rows(spark, [event(1), *BAD, event(2)])), 0, cfg.table_uri, cfg.rejected_table_uri, "app-1"
    )

    assert (result.valid, result.rejected, result.committed) == (2, 2, (True, True))
    assert ids(spark, cfg.table_uri) == ["ev-00001", "ev-00002"]
    rejected = spark.read.format("delta").load(cfg.rejected_table_uri).orderBy("kafka_offset").collect()
    assert [(r["kafka_offset"], r["reason_code"]) for r in rejected] == [(1, "malformed_json"), (2, "out_of_range")]
    history = DeltaTable.forPath(spark, cfg.table_uri).history(1).first()
    assert json.loads(history["userMetadata"]) == {"app_id": "app-1", "batch_id": 0, "valid": 2, "rejected": 2}
    assert history["operation"] == "WRITE"  # a blind append: it read nothing of the table


def test_a_replayed_batch_id_is_not_written_again(spark: SparkSession, tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path)
    tables.ensure_tables(spark, cfg.table_uri, cfg.rejected_table_uri)
    uris = (cfg.table_uri, cfg.rejected_table_uri)
    tables.write_batch(batch_of(kafka_rows(spark, [event(1), BAD[0]])), 7, *uris, "app-1")

    # Same (app id, batch id) with other content: Delta's txn marks make both writes no-ops.
    again = tables.write_batch(batch_of(kafka_rows(spark, [event(2), BAD[1]], first_offset=50)), 7, *uris, "app-1")
    after = tables.write_batch(batch_of(kafka_rows(spark, [event(3), BAD[1]], first_offset=60)), 8, *uris, "app-1")

    assert again.committed == (False, False) and again.replayed
    assert after.committed == (True, True)
    assert ids(spark, cfg.table_uri) == ["ev-00001", "ev-00003"]
    assert count(spark, cfg.rejected_table_uri) == 2


def _write_source_file(spark: SparkSession, directory: Path, records: list, first: int, **kw: object) -> None:
    kafka_rows(spark, records, first_offset=first, **kw).coalesce(1).write.mode("append").parquet(str(directory))


def _source(spark: SparkSession, directory: Path) -> DataFrame:
    return spark.readStream.schema(KAFKA_SOURCE_SCHEMA).option("maxFilesPerTrigger", 1).parquet(str(directory))


def test_resent_events_are_stored_once_across_batches(spark: SparkSession, tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path)
    source = tmp_path / "source"
    _write_source_file(spark, source, [event(1), event(2), BAD[0]], first=0)
    _write_source_file(spark, source, [event(2), event(3), event(1), event(3), BAD[0]], first=10)

    assert stream.run(cfg, spark=spark, source=_source(spark, source)) == 0

    assert ids(spark, cfg.table_uri) == ["ev-00001", "ev-00002", "ev-00003"]
    stored = spark.read.format("delta").load(cfg.table_uri).where("event_id = 'ev-00003'").first()
    assert stored["kafka_offset"] == 11  # the first copy in Kafka order
    # A bad record is never a duplicate, even when its payload is the same as an earlier one's.
    assert sorted(r["kafka_offset"] for r in spark.read.format("delta").load(cfg.rejected_table_uri).collect()) == [
        2,
        14,
    ]


def test_a_rejected_copy_does_not_hide_the_valid_event(spark: SparkSession, tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path)
    source = tmp_path / "source"
    _write_source_file(spark, source, [event(1, delay_probability=5.0), event(1)], first=0)

    assert stream.run(cfg, spark=spark, source=_source(spark, source)) == 0

    assert ids(spark, cfg.table_uri) == ["ev-00001"]
    assert count(spark, cfg.rejected_table_uri) == 1


def test_a_record_is_never_late_whatever_its_timestamps(spark: SparkSession, tmp_path: Path) -> None:
    # A live record moves the watermark to about now; records with Kafka timestamps and event times a day and a
    # year older must still land (the dedup time is held inside [batch time - window, batch time]).
    cfg = cfg_for(tmp_path, "--dedup-window", "1 minute")
    source = tmp_path / "source"
    now = datetime.now(UTC).replace(tzinfo=None)
    _write_source_file(spark, source, [event(1)], first=0, kafka_time=now)
    _write_source_file(spark, source, [event(2)], first=1, kafka_time=now - timedelta(days=1))
    _write_source_file(spark, source, [event(3, event_time="2025-01-01T00:00:00Z")], first=2,
                       kafka_time=now - timedelta(days=365))  # fmt: skip

    assert stream.run(cfg, spark=spark, source=_source(spark, source)) == 0

    assert ids(spark, cfg.table_uri) == ["ev-00001", "ev-00002", "ev-00003"]


def test_the_dedup_window_is_kafka_time_and_the_state_expires(spark: SparkSession, tmp_path: Path) -> None:
    # With the clock at the records' own Kafka time, a copy 40 minutes later is a duplicate, one that comes
    # after the state of the first has expired (the watermark passed its time + window, and one batch ran with
    # that watermark) is a new event.
    src = tmp_path / "source"
    t0 = datetime(2026, 3, 1, 8, 0)
    _write_source_file(spark, src, [event(1)], first=0, kafka_time=t0)
    _write_source_file(spark, src, [event(1)], first=1, kafka_time=t0 + timedelta(minutes=40))
    _write_source_file(spark, src, [event(9)], first=2, kafka_time=t0 + timedelta(hours=3))
    _write_source_file(spark, src, [event(10)], first=3, kafka_time=t0 + timedelta(hours=3, minutes=1))
    _write_source_file(spark, src, [event(1)], first=4, kafka_time=t0 + timedelta(hours=3, minutes=2))
    out = tmp_path / "out"

    deduped = stream.deduplicated(rules.screen(_source(spark, src)), "1 hour", clock=F.col("kafka_timestamp"))
    query = (
        deduped.writeStream.format("parquet")
        .option("path", str(out))
        .option("checkpointLocation", str(tmp_path / "cp"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()

    kept = sorted((r["event_id"], r["kafka_offset"]) for r in spark.read.parquet(str(out)).collect())
    assert kept == [("ev-00001", 0), ("ev-00001", 4), ("ev-00009", 2), ("ev-00010", 3)]


def test_a_stream_killed_between_its_commits_resumes_exactly(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = cfg_for(tmp_path)
    source_dir = tmp_path / "source"
    _write_source_file(spark, source_dir, [event(n) for n in range(10)] + BAD, first=0)
    assert stream.run(cfg, spark=spark, source=_source(spark, source_dir)) == 0
    assert (count(spark, cfg.table_uri), count(spark, cfg.rejected_table_uri)) == (10, 2)

    # Second file: 3 re-sent events, 5 new ones, 1 bad. The batch dies after its quarantine commit.
    _write_source_file(spark, source_dir, [event(n) for n in (7, 8, 9, 10, 11, 12, 13, 14)] + BAD[:1], first=12)
    real_append: Callable = tables.APPENDER.append

    def die_before_events(frame: DataFrame, uri: str, *args: object) -> bool:
        if uri == cfg.table_uri:
            raise RuntimeError("driver killed")
        return real_append(frame, uri, *args)

    monkeypatch.setattr(tables.APPENDER, "append", die_before_events)
    assert stream.run(cfg, spark=spark, source=_source(spark, source_dir)) == stream.EXIT_FAILED
    assert (count(spark, cfg.table_uri), count(spark, cfg.rejected_table_uri)) == (10, 3)

    monkeypatch.undo()
    assert stream.run(cfg, spark=spark, source=_source(spark, source_dir)) == 0

    assert ids(spark, cfg.table_uri) == [f"ev-{n:05d}" for n in range(15)]
    rejected = spark.read.format("delta").load(cfg.rejected_table_uri).select("kafka_offset").collect()
    assert sorted(r["kafka_offset"] for r in rejected) == [10, 11, 20]
    assert BASE["event_id"] not in ids(spark, cfg.table_uri)


def test_a_checkpoint_of_the_previous_design_is_refused(spark: SparkSession, tmp_path: Path) -> None:
    cfg = cfg_for(tmp_path)
    (tmp_path / "checkpoint" / "commits").mkdir(parents=True)
    (tmp_path / "checkpoint" / "commits" / "0").write_text("v1\n{}\n")
    (tmp_path / "nothing").mkdir()

    with pytest.raises(RuntimeError, match="written by the previous design"):
        stream.build_query(spark, cfg, source=_source(spark, tmp_path / "nothing"))
