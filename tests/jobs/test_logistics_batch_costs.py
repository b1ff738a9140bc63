"""What keeps a micro-batch's fixed cost down, each checked so that undoing it fails a test: the idempotent
append that rebuilds no table state, the state partitions, no batches without data, the batch's time as a column
(one compiled write per JVM), the screen's code apart from the batch's literal, the listener's one JSON call."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from jobs_testlib import KAFKA_SOURCE_SCHEMA, kafka_rows, payload
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.logistics import rules, session, settings, stream, tables


def _events(n: int, first: int = 0) -> list[tuple[bytes, bytes]]:
    return [(b"SHP-1", payload(event_id=f"cost-{first + i:05d}")) for i in range(n)]


def _frame(spark: SparkSession, n: int, first: int = 0):  # type: ignore[no-untyped-def]
    batch = rules.explain(
        rules.screen(kafka_rows(spark, _events(n, first), first_offset=first)), only_where=~F.col("_ok")
    )
    return tables.valid_events(batch.select(*stream.BATCH_COLUMNS), F.current_timestamp())


def _marks_from_log(uri: str) -> dict[str, int]:
    """The latest SetTransaction mark per app id in the table's JSON commits."""
    marks: dict[str, int] = {}
    for f in sorted(Path(uri, "_delta_log").glob("*.json")):
        for line in f.read_text().splitlines():
            txn = json.loads(line).get("txn")
            if txn:
                marks[txn["appId"]] = max(marks.get(txn["appId"], -1), int(txn["version"]))
    return marks


def test_appends_carry_the_mark_and_look_it_up_only_when_the_table_moved(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "events")
    tables.ensure_tables(spark, uri, uri + "_rejected")
    appender = tables.IdempotentAppender()

    # A new table: its first commit is read directly, and the appender's own commits need no lookup.
    assert [appender.append(_frame(spark, 2, 10 * b), uri, "app", b, "{}") for b in range(4)] == [True] * 4
    assert appender.lookups == 0
    assert _marks_from_log(uri) == {"app": 3}
    # A replayed batch id is skipped without a lookup: nothing else wrote the table.
    assert appender.append(_frame(spark, 2, 90), uri, "app", 3, "{}") is False
    assert appender.lookups == 0

    # Another commit (another writer, maintenance): the mark is looked up in the table again, once.
    _frame(spark, 1, 200).write.format("delta").mode("append").save(uri)
    assert appender.append(_frame(spark, 2, 90), uri, "app", 2, "{}") is False
    assert appender.lookups == 1
    assert appender.append(_frame(spark, 2, 40), uri, "app", 4, "{}") is True
    assert appender.lookups == 1

    # A new driver (a restart) checks the table: a replay of the last batch is skipped, the next one written.
    restarted = tables.IdempotentAppender()
    assert restarted.append(_frame(spark, 2, 40), uri, "app", 4, "{}") is False
    assert restarted.lookups == 1
    assert restarted.append(_frame(spark, 2, 50), uri, "app", 5, "{}") is True
    ids = [r["event_id"] for r in spark.read.format("delta").load(uri).collect()]
    assert len(ids) == len(set(ids)) == 2 * 6 + 1
    assert _marks_from_log(uri) == {"app": 5}


def test_an_append_refuses_a_frame_with_other_columns(spark: SparkSession, tmp_path: Path) -> None:
    uri = str(tmp_path / "events")
    tables.ensure_tables(spark, uri, uri + "_rejected")
    wrong = _frame(spark, 1).withColumnRenamed("shipment_id", "shipment")
    with pytest.raises(RuntimeError, match="do not match the Delta table"):
        tables.IdempotentAppender().append(wrong, uri, "app", 0, "{}")


def test_state_partitions_follow_the_cores_the_application_may_use() -> None:
    def fake(cores_max: str | None, parallelism: int) -> SimpleNamespace:
        conf = SimpleNamespace(get=lambda key, default=None: cores_max if key == "spark.cores.max" else default)
        return SimpleNamespace(sparkContext=SimpleNamespace(getConf=lambda: conf, defaultParallelism=parallelism))

    assert session.state_partitions(fake("1", 4)) == 1  # the stack's job: one core, one RocksDB instance
    assert session.state_partitions(fake("3", 4)) == 3
    assert session.state_partitions(fake(None, 2)) == 2
    assert session.state_partitions(fake(None, 0)) == 1


def test_the_job_session_runs_no_batch_without_data(spark: SparkSession, tmp_path: Path) -> None:
    cfg = settings.parse_stream_settings(
        ["--table-uri", str(tmp_path / "events"), "--checkpoint-uri", str(tmp_path / "cp"), "--available-now",
         "--maintenance-interval", "off"],
        env={},
    )  # fmt: skip
    source = tmp_path / "source"
    for i in range(2):
        kafka_rows(spark, _events(3, 10 * i), first_offset=10 * i).coalesce(1).write.mode("append").parquet(str(source))
    frame = spark.readStream.schema(KAFKA_SOURCE_SCHEMA).option("maxFilesPerTrigger", 1).parquet(str(source))
    query, writer = stream.build_query(spark, cfg, source=frame)
    try:
        query.awaitTermination(300)
    finally:
        writer.listener.remove_from(spark)
    # Two files, two batches: the watermark moved after each, and no batch ran only to expire state.
    assert sorted(writer.results) == [0, 1]
    assert spark.conf.get("spark.sql.streaming.noDataMicroBatches.enabled") == "false"


def test_the_batch_time_is_the_ingestion_time_of_both_tables(spark: SparkSession, tmp_path: Path) -> None:
    screened = rules.screen(kafka_rows(spark, [*_events(2), (b"k", b"{oops")]))
    batch = rules.explain(screened, only_where=~F.col("_ok")).select(
        *stream.BATCH_COLUMNS, F.to_timestamp(F.lit("2026-03-01 12:30:00")).alias(tables.BATCH_TIME)
    )
    uri = str(tmp_path / "events")
    tables.ensure_tables(spark, uri, uri + "_rejected")

    result = tables.write_batch(batch, 0, uri, uri + "_rejected", "app-t")

    assert (result.valid, result.rejected) == (2, 1)
    for table in (uri, uri + "_rejected"):
        times = {str(r["ingestion_time"]) for r in spark.read.format("delta").load(table).collect()}
        assert times == {"2026-03-01 12:30:00"}, table
    assert result.steps["commits"] > 0


def test_the_screen_is_compiled_apart_from_the_batch_time(spark: SparkSession, tmp_path: Path) -> None:
    source = spark.readStream.schema(KAFKA_SOURCE_SCHEMA).parquet(str(tmp_path))
    plan = stream.deduplicated(rules.screen(source), "1 hour")
    spark.conf.set("spark.sql.debug.maxToStringFields", "1000")  # every column of the plan's projections
    try:
        text = plan._jdf.queryExecution().analyzed().toString()
    finally:
        spark.conf.unset("spark.sql.debug.maxToStringFields")
    # The coalesce sits between the screen and the projection that reads the batch's time: whole-stage code ends
    # there, so the screen's code does not carry the batch's literal.
    assert f"Repartition {stream.CODEGEN_BOUNDARY}, false" in text
    above, _, below = text.partition(f"Repartition {stream.CODEGEN_BOUNDARY}, false")
    assert "_dedup_time" in above and "current_timestamp" in above and tables.BATCH_TIME in above
    assert "from_json" in below and "current_timestamp" not in below


def test_the_progress_line_comes_from_one_json_string(caplog: pytest.LogCaptureFixture) -> None:
    writer = SimpleNamespace(
        app_id="logistics_stream-q1",
        results={7: tables.BatchResult(7, 9, 1, (True, True), 1.0, {"read": 0.5, "events": 0.4})},
        maintenance_seconds={},
    )
    listener = stream.ProgressLog(writer)  # type: ignore[arg-type]

    class Progress:
        def json(self) -> str:
            return json.dumps({"id": "q1", "batchId": 7, "numInputRows": 12, "batchDuration": 2500})

    calls = []

    class Event:
        def progress(self) -> Progress:
            calls.append("progress")
            return Progress()

    with caplog.at_level("INFO", logger="logistics_stream"):
        listener.onQueryProgress(Event())
    assert calls == ["progress"]
    assert "batch 7: consumed 12, valid 9, rejected 1, duplicates 2, 2.5 s (read 0.5 s, events 0.4 s)" in caplog.text
