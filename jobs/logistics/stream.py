"""The streaming query: Kafka -> screen (rules.py) -> dedup in streaming state -> foreachBatch (writer.py):
blind idempotent appends into both tables (tables.py), then maintenance when due; the bounded stop (stop.py).

The dedup state (RocksDB, changelog checkpoints) makes a batch cost the batch's, not the table's. A batch
replayed after a restart recomputes the same output (its offsets, watermark and state version are in the
checkpoint) and Delta skips the commits it had made: exactly once across kills.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from contract.batchlog import batch_line

from .lease import LeaseHeld, WriterLease
from .rules import explain, screen
from .schema import FIELDS, KAFKA_NAMES
from .session import configure_session, create_session
from .settings import StreamSettings
from .stop import Stopper, first_line, stop_on_signals
from .tables import BATCH_TIME, ensure_tables
from .writer import BatchWriter

log = logging.getLogger("logistics_stream")

EXIT_OK, EXIT_FAILED, EXIT_REFUSED = 0, 1, 3

BATCH_COLUMNS = (*KAFKA_NAMES, *(f.name for f in FIELDS), "_ok", "_why", "raw_value", "problems", "_event_id_text")
"""A micro-batch's columns besides BATCH_TIME: the screened record, a quarantined one's explanation."""


def read_kafka(spark: SparkSession, cfg: StreamSettings) -> DataFrame:
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", cfg.bootstrap_servers)
        .option("subscribe", cfg.topic)
        .option("startingOffsets", "earliest")  # the first start only; then the checkpoint decides
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
    partition:offset) for the others (every record reaches the quarantine once). The watermark is on the Kafka
    timestamp held inside [clock - window, clock]: a record is never late, and a re-send is recognised while
    its first copy is in the state. `clock`: the batch's time (in the checkpoint: the same on a replay)."""
    now = F.current_timestamp() if clock is None else clock
    lower = now - F.expr(f"INTERVAL {window}")
    dedup_time = F.least(F.greatest(F.col("kafka_timestamp"), lower), now)
    key = F.when(F.col("_ok"), F.col("event_id")).otherwise(
        F.concat_ws(":", F.col("kafka_partition").cast("string"), F.col("kafka_offset").cast("string"))
    )
    # The batch's time is a literal in the generated code of the projection that uses it, compiled again every
    # batch. A coalesce to more partitions than there are changes nothing but ends the whole-stage code there:
    # the screen's large projections are compiled once per JVM, only this small one per batch.
    return (
        screened.coalesce(CODEGEN_BOUNDARY)
        .select("*", key.alias("_dedup_key"), dedup_time.alias("_dedup_time"), now.alias(BATCH_TIME))
        .withWatermark("_dedup_time", window)
        .dropDuplicatesWithinWatermark(["_ok", "_dedup_key"])
    )


class ProgressLog:
    """One line per batch with data (contract.batchlog), from Spark's PythonStreamingQueryListener called back
    through py4j with each progress as ONE JSON string: PySpark's StreamingQueryListener makes some thirty JVM
    calls per event (and adds a wildcard import every later py4j lookup tries), this class two."""

    def __init__(self, writer: BatchWriter) -> None:
        self._writer = writer
        self.handle: Any = None
        """The JVM-side wrapper, once registered."""

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

    def _ignore(self, jevent: Any) -> None:
        pass

    onQueryStarted = onQueryIdle = onQueryTerminated = _ignore

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
    path = jvm.org.apache.hadoop.fs.Path
    fs = path(checkpoint_uri).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    commits = path(checkpoint_uri + "/commits")
    if not fs.exists(commits) or len(fs.listStatus(commits)) == 0:
        return False
    return not fs.exists(path(checkpoint_uri + "/state"))


def build_query(
    spark: SparkSession,
    cfg: StreamSettings,
    source: DataFrame | None = None,
    lease: WriterLease | None = None,
    tables_ready: bool = False,
) -> tuple[StreamingQuery, BatchWriter]:
    """Create both tables (unless `tables_ready`), then start the query. `source` replaces the Kafka stream
    (tests): any streaming DataFrame with the Kafka source's columns."""
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
    # The quarantined records' reasons: planned once here (about a CPU second), not per batch.
    stream = explain(stream, only_where=~F.col("_ok")).select(*BATCH_COLUMNS, BATCH_TIME)
    w = stream.writeStream.queryName("logistics_stream").foreachBatch(writer)
    w = w.option("checkpointLocation", cfg.checkpoint_uri)
    w = w.trigger(availableNow=True) if cfg.available_now else w.trigger(processingTime=cfg.trigger_interval)
    writer.listener = ProgressLog(writer)
    writer.listener.add_to(spark)
    query = w.start()
    writer.bind(str(query.id))
    return query, writer


def run(
    cfg: StreamSettings,
    spark: SparkSession | None = None,
    source: DataFrame | None = None,
    on_started: Callable[[Stopper], None] | None = None,
) -> int:
    """Run the job until the topic is drained (--available-now), the query fails, or a stop is requested."""
    own_session = spark is None
    if spark is None:
        spark = create_session()
    else:
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
            lease.start()
            query, writer = build_query(spark, cfg, source, lease, tables_ready=True)
        except LeaseHeld as exc:
            log.error("refusing to start: %s", exc)
            return EXIT_REFUSED
        except Exception as exc:
            log.error("the job could not start: %s", _one_line(exc))
            return EXIT_FAILED
        try:
            return _supervise(query, Stopper(spark, query, writer, cfg.stop_timeout_seconds), on_started)
        finally:
            writer.listener.remove_from(spark)
    finally:
        lease.release()
        if own_session:
            spark.stop()


def _one_line(exc: BaseException) -> str:
    """`ModuleNotFoundError: No module named 'delta'`: what Orion reports when the job dies at start."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _supervise(query: StreamingQuery, stopper: Stopper, on_started: Callable[[Stopper], None] | None) -> int:
    log.info("query %s started (run %s); tables ready", query.id, query.runId)
    if on_started is not None:
        on_started(stopper)
    error: str | None = None
    with stop_on_signals(stopper):
        try:
            while query.isActive and not stopper.requested.is_set():
                query.awaitTermination(1)
        except Exception as exc:
            if not stopper.requested.is_set():
                error = first_line(exc)
        if stopper.requested.is_set():
            stopper.stop()
            return EXIT_OK
    failure = query.exception()
    if error or failure is not None:
        log.error("the query failed: %s", error or failure)
        return EXIT_FAILED
    return EXIT_OK


def main(cfg: StreamSettings) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    trigger = "availableNow" if cfg.available_now else cfg.trigger_interval
    log.info(
        f"reading {cfg.topic} from {cfg.bootstrap_servers} into {cfg.table_uri} (quarantine {cfg.rejected_table_uri}), "
        f"checkpoint {cfg.checkpoint_uri}, trigger {trigger}, maxOffsetsPerTrigger {cfg.max_offsets_per_trigger}, "
        f"dedup {cfg.dedup_window}, maintenance {cfg.maintenance_interval}, stop timeout {cfg.stop_timeout}"
    )
    return run(cfg)
