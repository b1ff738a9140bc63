"""The bounded stop: the batch in flight finishes within the stop timeout or is abandoned (its Spark jobs
cancelled) and replayed exactly once on the next start; one outcome line either way."""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from jobs_testlib import KAFKA_SOURCE_SCHEMA, kafka_rows, payload
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.logistics import settings, stop, stream, tables, writer

OUTCOME = re.compile(r"stop-outcome=(finished|abandoned)( batch=(\d+))? seconds=([\d.]+)")


def _source(spark: SparkSession, root: Path, n: int = 5) -> DataFrame:
    records = [(b"k", payload(event_id=f"ev-{i}")) for i in range(n)] + [(b"k", b"{bad")]
    kafka_rows(spark, records).coalesce(1).write.mode("append").parquet(str(root / "source"))
    return spark.readStream.schema(KAFKA_SOURCE_SCHEMA).option("maxFilesPerTrigger", 1).parquet(str(root / "source"))


def _cfg(root: Path, stop_timeout: str) -> settings.StreamSettings:
    return settings.parse_stream_settings(
        ["--table-uri", str(root / "events"), "--checkpoint-uri", str(root / "cp"), "--trigger-interval",
         "500 milliseconds", "--maintenance-interval", "off", "--stop-timeout", stop_timeout], env={},
    )  # fmt: skip


def _slow_batches(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Every batch first runs a Spark job of `seconds` (in the batch's job group, like its real work)."""
    real: Callable = tables.write_batch

    def slow(batch: DataFrame, *args: object) -> object:
        nap = F.udf(lambda x: time.sleep(seconds) or x, "long")
        batch.sparkSession.range(1).select(nap("id")).collect()
        return real(batch, *args)

    monkeypatch.setattr(writer, "write_batch", slow)


def _run_and_stop_during_batch(
    spark: SparkSession, cfg: settings.StreamSettings, source: DataFrame
) -> tuple[int, float]:
    """Run the job; request the stop as soon as batch 0 is in flight. (exit code, seconds the stop took)."""
    holder: list[stream.Stopper] = []
    result: list[int] = []

    def watch(stopper: stream.Stopper) -> None:
        holder.append(stopper)

        def when_in_flight() -> None:
            deadline = time.monotonic() + 300
            while stopper.writer.current is None and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # well inside the batch
            stopper.request()

        threading.Thread(target=when_in_flight, daemon=True).start()

    runner = threading.Thread(target=lambda: result.append(stream.run(cfg, spark, source, on_started=watch)))
    runner.start()
    runner.join(timeout=600)
    assert result, "the job did not stop"
    requested_at = holder[0].requested_at
    assert requested_at is not None
    return result[0], time.monotonic() - requested_at


def test_a_batch_over_the_stop_timeout_is_abandoned_and_replayed_once(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    cfg = _cfg(tmp_path, "2 seconds")
    source = _source(spark, tmp_path)
    _slow_batches(monkeypatch, 600)

    code, took = _run_and_stop_during_batch(spark, cfg, source)

    assert code == 0
    assert took < 120, "the stop was not bounded"
    outcomes = OUTCOME.findall(caplog.text)
    assert [(o[0], o[2]) for o in outcomes] == [("abandoned", "0")]
    assert spark.read.format("delta").load(cfg.table_uri).count() == 0

    # The next start replays the abandoned batch, exactly once.
    monkeypatch.undo()
    replay = settings.parse_stream_settings(
        ["--table-uri", cfg.table_uri, "--checkpoint-uri", cfg.checkpoint_uri, "--available-now"], env={}
    )
    assert stream.run(replay, spark, _source(spark, tmp_path, n=0)) == 0
    events = sorted(r["event_id"] for r in spark.read.format("delta").load(cfg.table_uri).collect())
    assert events == [f"ev-{i}" for i in range(5)]
    assert spark.read.format("delta").load(cfg.rejected_table_uri).count() == 2  # the second file's bad record too


def test_a_batch_within_the_stop_timeout_finishes(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    cfg = _cfg(tmp_path, "10 minutes")
    source = _source(spark, tmp_path)
    _slow_batches(monkeypatch, 3)

    code, _ = _run_and_stop_during_batch(spark, cfg, source)

    assert code == 0
    assert [(o[0], o[2]) for o in OUTCOME.findall(caplog.text)] == [("finished", "0")]
    assert spark.read.format("delta").load(cfg.table_uri).count() == 5


def test_an_idle_stream_stops_at_once(spark: SparkSession, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    cfg = _cfg(tmp_path, "30 seconds")
    (tmp_path / "source").mkdir()
    source = spark.readStream.schema(KAFKA_SOURCE_SCHEMA).parquet(str(tmp_path / "source"))

    def stop_soon(stopper: stream.Stopper) -> None:
        threading.Timer(2.0, stopper.request).start()

    assert stream.run(cfg, spark, source, on_started=stop_soon) == 0

    assert [(o[0], o[1]) for o in OUTCOME.findall(caplog.text)] == [("finished", "")]


class _FakeStopper:
    """Records how the signal path calls the stop (no Spark: the mechanism alone)."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.stopped = threading.Event()
        self.stopped_in: str | None = None

    def request(self) -> None:
        self.requested.set()

    def stop(self) -> str:
        self.stopped_in = threading.current_thread().name
        self.stopped.set()
        return "stop-outcome=finished seconds=0.0"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_runs_the_stop_without_waiting_for_the_main_thread(signum: int) -> None:
    """The driver's main thread may be inside a JVM call when SIGTERM comes: the stop must not wait for it."""
    fake = _FakeStopper()
    before = signal.getsignal(signum)  # whatever was there (PySpark installs its own SIGINT handler)
    with stop.stop_on_signals(fake):  # type: ignore[arg-type]
        assert signal.getsignal(signum) is not before, "pytest runs tests in the main thread: the handlers install"
        os.kill(os.getpid(), signum)
        assert fake.stopped.wait(30), "the signal did not start the stop"

    assert fake.requested.is_set()
    assert fake.stopped_in == "signal-watcher"
    assert signal.getsignal(signum) is before  # the previous handler is back
