"""The streaming query: Kafka -> screen -> dedup in streaming state -> blind appends into both tables.

    Kafka (earliest on the first start, then the checkpoint; failOnDataLoss stays true; maxOffsetsPerTrigger)
      -> screen (rules.py): typed fields and `_ok`, one JSON parse per record
      -> dropDuplicatesWithinWatermark on (_ok, event_id) for events, (_ok, partition:offset) for the others,
         state in RocksDB with changelog checkpointing: the cost of a batch is the batch's, not the table's
      -> foreachBatch: quarantine append, events append (tables.py), each with txnAppId/txnVersion;
         then, on the schedule, compaction/vacuum/checkpoint of the partitions written (maintenance.py)
The watermark is on the Kafka timestamp held inside [batch time - window, batch time]: a record is never
late (nothing is dropped, whatever its event time or Kafka timestamp), and a re-send is recognised while its
first copy is in the state, at least `dedup_window` after it (Kafka time), longer during a catch-up.

A batch replayed after a restart recomputes the same output (its offsets, watermark and state version are
in the checkpoint) and Delta skips the commits it had made: exactly once across kills.

Stop (SIGTERM/SIGINT): no new batch starts; the batch in flight may finish within `stop_timeout`, else its
Spark jobs are cancelled and it is abandoned (replayed, exactly once, on the next start). One log line
says which: `stop-outcome=finished|abandoned [batch=<id>] seconds=<s>`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from contract.batchlog import batch_line
from contract.names import ENV_SPARK_LOG_LEVEL

from .lease import LeaseHeld, WriterLease
from .maintenance import Schedule, tune_session
from .rules import explain, screen
from .schema import FIELDS, KAFKA_NAMES
from .settings import StreamSettings
from .tables import BATCH_TIME, BatchResult, ensure_tables, write_batch

log = logging.getLogger("logistics_stream")

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 3
CANCEL_GRACE_S = 20.0
"""After cancelling an abandoned batch's Spark jobs, how long its writer may take to give up."""
QUERY_STOP_S = 20.0

SESSION_CONF = {
    # Event dates and timestamps without an offset are UTC, whatever the machine's zone.
    "spark.sql.session.timeZone": "UTC",
    # On, Spark splits from_json into one parse per field read: the screen would parse every payload ~20 times.
    "spark.sql.optimizer.enableJsonExpressionOptimization": "false",
    # The quarantine's detailed parse accepts nested duplicate keys like the screen (top-level ones are
    # checked by name).
    "spark.sql.variant.allowDuplicateKeys": "true",
    # The dedup state: RocksDB (off-heap, bounded), its changes uploaded per batch (changelog), not snapshots.
    "spark.sql.streaming.stateStore.providerClass": (
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
    ),
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
    "spark.sql.streaming.stateStore.rocksdb.boundedMemoryUsage": "true",
    "spark.sql.streaming.stateStore.rocksdb.maxMemoryUsageMB": "64",
    # No batch without data: after a data batch the watermark moves, and Spark would run a whole batch (state
    # load and commit, offset and commit files, a foreachBatch with nothing to write) only to expire state,
    # which the next data batch does anyway. An idle stream then costs only its trigger's offset check.
    "spark.sql.streaming.noDataMicroBatches.enabled": "false",
}


BATCH_COLUMNS = (*KAFKA_NAMES, *(f.name for f in FIELDS), "_ok", "_why", "raw_value", "problems", "_event_id_text")
"""What a micro-batch holds: the screened record, and for a quarantined one its explanation (and the stream adds
the batch's time, BATCH_TIME)."""


class StopRequested(RuntimeError):
    """Raised into a batch that would start after a stop was requested: it is not run (replayed next start)."""


class BatchAbandoned(RuntimeError):
    """Raised out of a batch whose Spark jobs the stop cancelled (replayed next start)."""


def create_session(app_name: str = "logistics_stream") -> SparkSession:
    builder = SparkSession.builder.appName(app_name)
    # Delta's extension is in spark-defaults on the cluster; set it here too so a bare local run works.
    builder = builder.config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension").config(
        "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    )
    spark = builder.getOrCreate()
    # Spark's and Delta's INFO lines (whole snapshots per commit) would drown the job's own log.
    spark.sparkContext.setLogLevel(os.environ.get(ENV_SPARK_LOG_LEVEL, "WARN"))
    configure_session(spark)
    return spark


def state_partitions(spark: SparkSession) -> int:
    """Partitions of the dedup state, the query's one shuffle: one per core the application may use
    (spark.cores.max; the cluster's default parallelism without it).

    Each partition is a RocksDB instance that every batch loads, updates, commits and uploads a changelog of,
    one task each: partitions beyond the cores only add that fixed cost (the stack's job has one core, and
    spark-defaults' 4 shuffle partitions made 4 state tasks and 4 uploads per batch). The number is written
    into a new checkpoint and kept for its life: a running query keeps the partitions it started with."""
    conf = spark.sparkContext.getConf()
    cores = conf.get("spark.cores.max", None)
    return max(1, int(cores) if cores else spark.sparkContext.defaultParallelism)


def configure_session(spark: SparkSession) -> None:
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    spark.conf.set("spark.sql.shuffle.partitions", str(state_partitions(spark)))
    tune_session(spark)


def read_kafka(spark: SparkSession, cfg: StreamSettings) -> DataFrame:
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", cfg.bootstrap_servers)
        .option("subscribe", cfg.topic)
        # Earliest on the very first start; afterwards the checkpoint decides where to resume.
        .option("startingOffsets", "earliest")
        # Offsets that vanished (retention, a recreated topic) stop the job instead of being skipped silently.
        .option("failOnDataLoss", "true")
        .option("maxOffsetsPerTrigger", str(cfg.max_offsets_per_trigger))
        # Bigger fetches for catch-up: the consumer's 1 MiB per partition and request means many round trips.
        .option("kafka.max.partition.fetch.bytes", str(8 * 1024 * 1024))
        .option("kafka.fetch.max.bytes", str(64 * 1024 * 1024))
        .option("kafka.receive.buffer.bytes", str(1024 * 1024))
        .load()
    )


CODEGEN_BOUNDARY = 1 << 16
"""More partitions than a topic has: the coalesce in `deduplicated` keeps them all."""


def deduplicated(screened: DataFrame, window: str, clock: Column | None = None) -> DataFrame:
    """Drop records whose key was seen within the window: (true, event_id) for events, (false,
    partition:offset) for the others (never equal: every record reaches the quarantine once).

    `clock` is the batch's timestamp (recorded in the checkpoint: the same on a replay); tests replace it."""
    now = F.current_timestamp() if clock is None else clock
    lower = now - F.expr(f"INTERVAL {window}")
    dedup_time = F.least(F.greatest(F.col("kafka_timestamp"), lower), now)
    key = F.when(F.col("_ok"), F.col("event_id")).otherwise(
        F.concat_ws(":", F.col("kafka_partition").cast("string"), F.col("kafka_offset").cast("string"))
    )
    # The batch's time is a literal in the generated code of the projection that uses it (Spark writes a timestamp
    # literal into the Java source), so that code is new and compiled again every batch, on the driver and on the
    # executor. A coalesce to more partitions than there are changes nothing but ends the whole-stage code there:
    # the screen's large projections keep the same code from batch to batch (compiled once per JVM), and only this
    # small projection is compiled per batch.
    return (
        screened.coalesce(CODEGEN_BOUNDARY)
        .select("*", key.alias("_dedup_key"), dedup_time.alias("_dedup_time"), now.alias(BATCH_TIME))
        .withWatermark("_dedup_time", window)
        .dropDuplicatesWithinWatermark(["_ok", "_dedup_key"])
    )


class BatchWriter:
    """The foreachBatch function, and what the stop needs to know about the batch in flight.

    It needs the query's id (the txnAppId, stable across restarts from the same checkpoint, new with a new
    checkpoint), which exists only once `start()` returned: it waits for it."""

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
        self.listener: ProgressLog | None = None

    def bind(self, query_id: str) -> None:
        self.app_id = f"logistics_stream-{query_id}"
        self._bound.set()

    @staticmethod
    def job_group(batch_id: int) -> str:
        return f"logistics_stream-batch-{batch_id}"

    def wait_idle(self, timeout_s: float) -> bool:
        """True once no batch is in flight (within the time)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self.current is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        if not self._bound.wait(timeout=300):
            raise RuntimeError("the streaming query id never became known; cannot write idempotently")
        if self._lease is not None and self._lease.lost:
            raise RuntimeError(f"stopping: {self._lease.lost} (one writer per table)")
        with self._lock:
            if self.stopping.is_set():
                raise StopRequested(f"batch {batch_id} not started: the job is stopping")
            self.current = batch_id
        spark = batch.sparkSession
        sc = spark.sparkContext
        sc.setJobGroup(self.job_group(batch_id), f"logistics_stream batch {batch_id}", interruptOnCancel=True)
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
            with self._lock:
                self.current = None
                self.last_finished = batch_id if not self.abandoning.is_set() else self.last_finished
                self._lock.notify_all()


class ProgressLog:
    """One line per batch with data: consumed, valid, rejected, recognised duplicates, seconds, steps.

    Spark's PythonStreamingQueryListener called back through py4j, each progress read as ONE JSON string. PySpark's
    own StreamingQueryListener turns every event into Python objects with some thirty calls into the JVM (and
    registers a wildcard import that every later py4j name lookup then also tries), a per-batch driver cost the
    job's profile showed; this class makes two calls per event."""

    def __init__(self, writer: BatchWriter) -> None:
        self._writer = writer
        self.handle: Any = None
        """The JVM-side wrapper, once registered (`add_to` / `remove_from`)."""

    def add_to(self, spark: SparkSession) -> None:
        from pyspark.java_gateway import ensure_callback_server_started

        ensure_callback_server_started(spark.sparkContext._gateway)
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        self.handle = jvm.org.apache.spark.sql.streaming.PythonStreamingQueryListenerWrapper(self)
        spark._jsparkSession.streams().addListener(self.handle)

    def remove_from(self, spark: SparkSession) -> None:
        if self.handle is not None:
            spark._jsparkSession.streams().removeListener(self.handle)
            self.handle = None

    def onQueryStarted(self, jevent: Any) -> None:
        pass

    def onQueryIdle(self, jevent: Any) -> None:
        pass

    def onQueryTerminated(self, jevent: Any) -> None:
        pass

    def onQueryProgress(self, jevent: Any) -> None:
        try:
            self.log(json.loads(jevent.progress().json()))
        except Exception as exc:  # a listener must never disturb the query
            log.warning("progress log failed: %s", exc)

    def log(self, p: dict[str, Any]) -> None:
        """The line of one progress (StreamingQueryProgress as JSON)."""
        if self._writer.app_id != f"logistics_stream-{p['id']}":
            return  # another query of this session
        batch_id = int(p["batchId"])
        result = self._writer.results.get(batch_id)
        consumed = int(p.get("numInputRows") or 0)
        if result is None or (consumed == 0 and not (result.valid or result.rejected)):
            return
        steps = dict(result.steps)
        if batch_id in self._writer.maintenance_seconds:
            steps["maintenance"] = self._writer.maintenance_seconds[batch_id]
        seconds = int(p.get("batchDuration") or 0) / 1000.0
        log.info("%s", batch_line(batch_id, consumed, result.valid, result.rejected, seconds, steps, result.replayed))

    class Java:
        implements = ["org.apache.spark.sql.streaming.PythonStreamingQueryListener"]


def _checkpoint_is_old_design(spark: SparkSession, checkpoint_uri: str) -> bool:
    """A checkpoint of the previous design (dedup by MERGE, no streaming state) cannot carry this query."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    root = jvm.org.apache.hadoop.fs.Path(checkpoint_uri)
    fs = root.getFileSystem(conf)
    commits = jvm.org.apache.hadoop.fs.Path(checkpoint_uri + "/commits")
    if not fs.exists(commits) or len(fs.listStatus(commits)) == 0:
        return False
    return not fs.exists(jvm.org.apache.hadoop.fs.Path(checkpoint_uri + "/state"))


def build_query(
    spark: SparkSession,
    cfg: StreamSettings,
    source: DataFrame | None = None,
    lease: WriterLease | None = None,
    tables_ready: bool = False,
) -> tuple[StreamingQuery, BatchWriter]:
    """Create both tables (unless `tables_ready`), then start the query (one checkpoint, one foreachBatch
    writing both tables).

    `source` replaces the Kafka stream (tests): any streaming DataFrame with the Kafka source's columns."""
    if not tables_ready:
        ensure_tables(spark, cfg.table_uri, cfg.rejected_table_uri)
    if _checkpoint_is_old_design(spark, cfg.checkpoint_uri):
        raise RuntimeError(
            f"the checkpoint {cfg.checkpoint_uri} was written by the previous design of this job (dedup by MERGE, "
            "no streaming state) and cannot resume this one: give a new --checkpoint-uri together with new tables, "
            "or delete the old checkpoint and tables together"
        )
    writer = BatchWriter(cfg, lease)
    stream = deduplicated(screen(source if source is not None else read_kafka(spark, cfg)), cfg.dedup_window)
    # The reasons of the quarantined records, built once here (not per batch: building this plan costs about
    # a CPU second), computed only for them.
    stream = explain(stream, only_where=~F.col("_ok")).select(*BATCH_COLUMNS, BATCH_TIME)
    w = stream.writeStream.queryName("logistics_stream").foreachBatch(writer)
    w = w.option("checkpointLocation", cfg.checkpoint_uri)
    w = w.trigger(availableNow=True) if cfg.available_now else w.trigger(processingTime=cfg.trigger_interval)
    writer.listener = ProgressLog(writer)
    writer.listener.add_to(spark)
    query = w.start()
    writer.bind(str(query.id))
    return query, writer


class Stopper:
    """The bounded stop: finish the batch in flight within `timeout_s` or abandon it; log the outcome once."""

    def __init__(self, spark: SparkSession, query: StreamingQuery, writer: BatchWriter, timeout_s: float) -> None:
        self._spark, self._query, self._writer, self._timeout_s = spark, query, writer, timeout_s
        self.writer = writer
        self.requested = threading.Event()
        self.requested_at: float | None = None
        self.outcome: str | None = None
        self.line: str | None = None
        self._stop_lock = threading.Lock()

    def request(self) -> None:
        if not self.requested.is_set():
            self.requested_at = time.monotonic()
            self._writer.stopping.set()
            self.requested.set()

    def _stop_query(self) -> bool:
        done = threading.Event()

        def stop() -> None:
            try:
                self._query.stop()
            except Exception as exc:
                log.warning("query.stop: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            finally:
                done.set()

        threading.Thread(target=stop, name="query-stop", daemon=True).start()
        return done.wait(QUERY_STOP_S)

    def stop(self) -> str:
        """Bring the query down; returns and logs the outcome line. Once: a second caller (the main thread
        after the signal watcher, or the other way round) waits for the first and gets the same line."""
        with self._stop_lock:
            if self.line is None:
                self.line = self._stop_once()
            return self.line

    def _stop_once(self) -> str:
        self.request()
        assert self.requested_at is not None
        batch = self._writer.current
        outcome = "finished"
        if batch is not None:
            log.info("stopping: batch %d in flight, waiting up to %.0f s for it to finish", batch, self._timeout_s)
            if not self._writer.wait_idle(self._timeout_s):
                outcome = "abandoned"
                self._writer.abandoning.set()
                log.info("stopping: cancelling batch %d (replayed on the next start)", batch)
                self._spark.sparkContext.cancelJobGroup(BatchWriter.job_group(batch))
                self._writer.wait_idle(CANCEL_GRACE_S)
        stopped = self._stop_query()
        seconds = time.monotonic() - self.requested_at
        self.outcome = f"stop-outcome={outcome}" + (f" batch={batch}" if batch is not None else "")
        line = f"{self.outcome} seconds={seconds:.1f}"
        if not stopped:
            line += " (the query did not end in time: exiting without waiting for it)"
        log.info("%s", line)
        for handler in logging.getLogger().handlers:
            handler.flush()
        if not stopped:
            os._exit(EXIT_OK)
        return line


def run(
    cfg: StreamSettings,
    spark: SparkSession | None = None,
    source: DataFrame | None = None,
    on_started: Callable[[Stopper], None] | None = None,
) -> int:
    """Run the job until the topic is drained (--available-now), the query fails, or a stop is requested."""
    own_session = spark is None
    spark = create_session() if spark is None else spark
    if not own_session:
        configure_session(spark)
    lease = WriterLease(
        spark,
        [cfg.table_uri, cfg.rejected_table_uri],
        holder=f"logistics_stream@{cfg.checkpoint_uri}",
        details={"app_id": spark.sparkContext.applicationId, "checkpoint": cfg.checkpoint_uri},
    )
    try:
        try:
            # The tables first (the lease lives inside them): creating them is idempotent.
            ensure_tables(spark, cfg.table_uri, cfg.rejected_table_uri)
            lease.acquire()
        except LeaseHeld as exc:
            log.error("refusing to start: %s", exc)
            return EXIT_REFUSED
        except Exception as exc:
            log.error("the job could not start: %s", _one_line(exc))
            return EXIT_FAILED
        lease.start()
        try:
            query, writer = build_query(spark, cfg, source, lease, tables_ready=True)
        except Exception as exc:
            log.error("the job could not start: %s", _one_line(exc))
            return EXIT_FAILED
        try:
            return _supervise(spark, cfg, query, writer, on_started)
        finally:
            if writer.listener is not None:
                writer.listener.remove_from(spark)
    finally:
        lease.release()
        if own_session:
            spark.stop()


def _one_line(exc: BaseException) -> str:
    """`ModuleNotFoundError: No module named 'delta'`: the exception's type and its first line, the line Orion
    and the stack's StreamingJob report when the job dies at start."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _supervise(
    spark: SparkSession,
    cfg: StreamSettings,
    query: StreamingQuery,
    writer: BatchWriter,
    on_started: Callable[[Stopper], None] | None,
) -> int:
    log.info("query %s started (run %s); tables ready", query.id, query.runId)
    stopper = Stopper(spark, query, writer, cfg.stop_timeout_seconds)
    if on_started is not None:
        on_started(stopper)
    uninstall = _install_signals(stopper)
    error: str | None = None
    try:
        try:
            while query.isActive and not stopper.requested.is_set():
                query.awaitTermination(1)
        except Exception as exc:
            if not stopper.requested.is_set():
                error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if stopper.requested.is_set():
            stopper.stop()
            return EXIT_OK
    finally:
        if uninstall is not None:
            uninstall()
    failure = query.exception()
    if error or failure is not None:
        log.error("the query failed: %s", error or failure)
        return EXIT_FAILED
    return EXIT_OK


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _install_signals(stopper: Stopper) -> Callable[[], None] | None:
    """SIGTERM/SIGINT stop the job, whatever the main thread is doing; returns the function that uninstalls.

    A Python signal handler runs only when the main thread gets back to Python code, and a driver's main thread
    can sit inside a call into the JVM. So the handler only marks the request, and the interpreter's wakeup fd
    (written by the C-level handler the moment the signal arrives, in whichever thread) wakes a watcher thread
    that runs the bounded stop itself. The main thread, when it notices, joins the same stop (Stopper.stop runs
    once)."""
    if threading.current_thread() is not threading.main_thread():  # a runner may start the job on a thread
        return None
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)

    def on_signal(signum: int, frame: object) -> None:
        stopper.request()  # no logging here: the main thread may hold the logging lock it was interrupted in

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

    def watch() -> None:
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum in STOP_SIGNALS:
                    log.info("signal %d: stopping", signum)
                    stopper.request()
                    stopper.stop()
                    return

    threading.Thread(target=watch, name="signal-watcher", daemon=True).start()

    def uninstall() -> None:
        signal.set_wakeup_fd(previous_fd)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(write_fd)  # the watcher's read returns b"": it ends
        os.close(read_fd)

    return uninstall


def main(cfg: StreamSettings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    log.info(
        "reading %s from %s into %s (quarantine %s), checkpoint %s, trigger %s, maxOffsetsPerTrigger %d, dedup %s, "
        "maintenance %s, stop timeout %s",
        cfg.topic,
        cfg.bootstrap_servers,
        cfg.table_uri,
        cfg.rejected_table_uri,
        cfg.checkpoint_uri,
        "availableNow" if cfg.available_now else cfg.trigger_interval,
        cfg.max_offsets_per_trigger,
        cfg.dedup_window,
        cfg.maintenance_interval,
        cfg.stop_timeout,
    )
    return run(cfg)
