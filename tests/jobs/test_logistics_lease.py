"""One writer per table: the lease, and the standalone maintenance refusing to run beside a live stream."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import pytest
from delta.tables import DeltaTable
from jobs_testlib import KAFKA_SOURCE_SCHEMA, kafka_rows, payload
from pyspark.sql import SparkSession

from jobs.logistics import lease, maintenance, settings, stream


def lease_of(table: Path) -> dict:
    return json.loads((table / "_writer" / "lease.json").read_text())


def overwrite(path: Path, content: dict) -> None:
    """Another driver's write, as far as this one can tell (Hadoop's local checksum file goes with it)."""
    path.write_text(json.dumps(content))
    (path.parent / f".{path.name}.crc").unlink(missing_ok=True)


def test_a_second_holder_is_refused_naming_the_first(spark: SparkSession, tmp_path: Path) -> None:
    uris = [str(tmp_path / "a"), str(tmp_path / "b")]
    first = lease.WriterLease(spark, uris, "stream@cp1", {"app_id": "app-1"}, settle_s=0)
    first.acquire()

    second = lease.WriterLease(spark, uris, "delta_maintenance@x", settle_s=0)
    with pytest.raises(lease.LeaseHeld, match=r"a is being written by stream@cp1 \(app_id app-1, host .*one writer"):
        second.acquire()

    assert lease_of(tmp_path / "a")["holder"] == lease_of(tmp_path / "b")["holder"] == "stream@cp1"


def test_the_same_holder_takes_its_lease_over_at_once(spark: SparkSession, tmp_path: Path) -> None:
    uris = [str(tmp_path / "a")]
    lease.WriterLease(spark, uris, "stream@cp1", settle_s=0).acquire()  # a driver killed -9: never released

    restarted = lease.WriterLease(spark, uris, "stream@cp1", settle_s=0)
    restarted.acquire()

    assert lease_of(tmp_path / "a")["pid"] == os.getpid()


def test_a_stale_lease_is_taken_over_and_a_released_one_is_gone(spark: SparkSession, tmp_path: Path) -> None:
    uris = [str(tmp_path / "a")]
    lease.WriterLease(spark, uris, "stream@old", ttl_s=60, settle_s=0).acquire()
    path = tmp_path / "a" / "_writer" / "lease.json"
    old = lease_of(tmp_path / "a") | {"renewed_at": time.time() - 3600}
    overwrite(path, old)
    os.utime(path, (time.time() - 3600, time.time() - 3600))

    taker = lease.WriterLease(spark, uris, "delta_maintenance@x", settle_s=0)
    taker.acquire()
    assert lease_of(tmp_path / "a")["holder"] == "delta_maintenance@x"
    taker.release()

    assert not path.exists()


def test_a_holder_that_lost_its_lease_knows(spark: SparkSession, tmp_path: Path) -> None:
    uris = [str(tmp_path / "a")]
    mine = lease.WriterLease(spark, uris, "stream@cp1", settle_s=0)
    mine.acquire()
    path = tmp_path / "a" / "_writer" / "lease.json"
    overwrite(path, lease_of(tmp_path / "a") | {"holder": "someone-else"})

    mine.renew()
    mine.release()

    assert mine.lost == f"the lease on {uris[0]} is now held by someone-else"
    assert lease_of(tmp_path / "a")["holder"] == "someone-else"  # not ours: left alone


def test_maintenance_cannot_run_as_a_second_writer_beside_the_stream(
    spark: SparkSession, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    source = tmp_path / "source"
    records = [(b"k", payload(event_id=f"e{i}", event_time="2026-01-05T10:00:00Z")) for i in range(3)]
    for n in range(3):  # three small files in one past partition: something to compact
        kafka_rows(spark, records, first_offset=10 * n).coalesce(1).write.mode("append").parquet(str(source))
        records = [(b"k", payload(event_id=f"e{n}{i}", event_time="2026-01-05T10:00:00Z")) for i in range(3)]
    cfg = settings.parse_stream_settings(
        ["--table-uri", str(tmp_path / "events"), "--checkpoint-uri", str(tmp_path / "cp"),
         "--trigger-interval", "500 milliseconds", "--maintenance-interval", "off"], env={},
    )  # fmt: skip
    maint = settings.parse_maintenance_settings(["--table-uri", cfg.table_uri], env={})
    started: list[stream.Stopper] = []
    result: list[int] = []
    src = spark.readStream.schema(KAFKA_SOURCE_SCHEMA).option("maxFilesPerTrigger", 1).parquet(str(source))
    runner = threading.Thread(target=lambda: result.append(stream.run(cfg, spark, src, on_started=started.append)))
    runner.start()
    try:
        deadline = time.monotonic() + 300
        while not (started and (started[0].writer.last_finished or -1) >= 2) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert started and (started[0].writer.last_finished or -1) >= 2, "the stream did not write its three batches"

        refused = maintenance.run_standalone(maint, spark)

        assert refused == maintenance.EXIT_REFUSED
        assert (
            f"refusing to run: {cfg.table_uri} is being written by logistics_stream@{cfg.checkpoint_uri}" in caplog.text
        )
        history = DeltaTable.forPath(spark, cfg.table_uri).history().select("operation").collect()
        assert "OPTIMIZE" not in {r["operation"] for r in history}
    finally:
        if started:
            started[0].request()
        runner.join(timeout=300)
    assert result == [0]
    assert "stop-outcome=finished" in caplog.text

    # Once the stream is gone (its lease released), the maintenance runs.
    assert maintenance.run_standalone(maint, spark) == maintenance.EXIT_OK
    history = DeltaTable.forPath(spark, cfg.table_uri).history().select("operation").collect()
    assert "OPTIMIZE" in {r["operation"] for r in history}
    assert spark.read.format("delta").load(cfg.table_uri).count() == 9
    assert not (tmp_path / "events" / "_writer" / "lease.json").exists()
