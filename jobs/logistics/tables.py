"""The two Delta tables: created before the first event, written by blind idempotent appends.

`write_batch` appends a micro-batch's quarantined records, then its events, each commit marked (app id = the
query's id, stable across restarts from the same checkpoint; version = the batch id): a batch replayed after a
kill is skipped where it had committed and written where it had not.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from contract.events import MALFORMED_JSON

from .lease import HadoopFiles
from .rules import explain
from .schema import EVENTS_SCHEMA, FIELDS, KAFKA_COLUMNS, PARTITION_COLUMNS, REJECTED_SCHEMA, TABLE_PROPERTIES

log = logging.getLogger("logistics_stream")

MAX_STORED_RAW_BYTES = 1024 * 1024
"""A quarantined payload is kept up to this size (its reason gives the full size)."""
MAX_STORED_TEXT_CHARS = 64 * 1024
BATCH_TIME = "_batch_time"
"""The batch's time, a column the stream adds (a batch without it uses the clock)."""
ROWS_PER_FILE = 500_000
"""Events per written file and batch: small batches make one file, not one per shuffle partition."""


def ensure_table(spark: SparkSession, uri: str, schema: T.StructType, partition_column: str) -> None:
    """Create the table at `uri` with its schema if there is none; refuse one with a different schema."""
    from delta.tables import DeltaTable

    builder = DeltaTable.createIfNotExists(spark).location(uri).addColumns(schema).partitionedBy(partition_column)
    for key, value in TABLE_PROPERTIES.items():
        builder = builder.property(key, value)
    builder.execute()
    actual = {f.name: f.dataType for f in DeltaTable.forPath(spark, uri).toDF().schema.fields}
    expected = {f.name: f.dataType for f in schema.fields}
    if actual != expected:
        diff = sorted(
            f"{n}: table has {actual.get(n, 'nothing')}, job writes {expected.get(n, 'nothing')}"
            for n in set(actual) | set(expected)
            if actual.get(n) != expected.get(n)
        )
        raise RuntimeError(
            f"the Delta table at {uri} has another schema ({'; '.join(diff)}): "
            "point the job at another location or migrate the table"
        )


def ensure_tables(spark: SparkSession, table_uri: str, rejected_table_uri: str) -> None:
    ensure_table(spark, table_uri, EVENTS_SCHEMA, PARTITION_COLUMNS["events"])
    ensure_table(spark, rejected_table_uri, REJECTED_SCHEMA, PARTITION_COLUMNS["rejected"])


_COLUMNS: dict[tuple[int, str], list[Column]] = {}


def _columns(frame: DataFrame, name: str, build: Callable[[], list[Column]]) -> list[Column]:
    """The column expressions `build` makes, made once per Spark context: each `F.*` call is a py4j round trip
    that resolves Spark's `functions` class through every jar on the class path (some 60 per batch)."""
    key = (id(frame.sparkSession.sparkContext._jsc), name)
    if key not in _COLUMNS:
        _COLUMNS[key] = build()
    return _COLUMNS[key]


def valid_events(screened: DataFrame, ingestion_time: Column | None = None) -> DataFrame:
    """The screened rows that are events, typed, in the table's column order (EVENTS_SCHEMA)."""
    now = ingestion_time if ingestion_time is not None else F.current_timestamp()
    ok, *fields, event_date = _columns(
        screened,
        "events",
        lambda: [
            F.col("_ok"),
            *[F.col(f.name) for f in FIELDS],
            *[F.col(c.name).cast(c.dataType) for c in KAFKA_COLUMNS.fields],
            F.to_date(F.col("event_time")).alias("event_date"),
        ],
    )
    return screened.where(ok).select(*fields, now.alias("ingestion_time"), event_date)


def _rejected_columns() -> list[Column]:
    # Should the detailed rules find nothing, the screen's failed check is the reason: never lose a record.
    fallback = F.array(
        F.struct(
            F.lit(MALFORMED_JSON).alias("code"),
            F.format_string("rejected by the check '%s'", F.coalesce(F.col("_why"), F.lit("unknown"))).alias("message"),
        )
    )
    problems = F.when(F.size("problems") > 0, F.col("problems")).otherwise(fallback)
    raw = F.col("raw_value")
    return [
        ~F.col("_ok"),
        *[F.col(c.name).cast(c.dataType) for c in KAFKA_COLUMNS.fields],
        F.when(F.octet_length(raw) > MAX_STORED_RAW_BYTES, F.substring(raw, 1, MAX_STORED_RAW_BYTES))
        .otherwise(raw)
        .alias("raw_value"),
        F.substring(F.make_valid_utf8(raw.cast("string")), 1, MAX_STORED_TEXT_CHARS).alias("raw_text"),
        problems[0]["code"].alias("reason_code"),
        F.array_join(F.transform(problems, lambda p: p["message"]), "; ").alias("reason"),
        F.substring("_event_id_text", 1, 200).alias("event_id"),
    ]


def rejected_records(screened: DataFrame, ingestion_time: Column | None = None) -> DataFrame:
    """The screened rows that are not events, explained (unless they carry `problems`), as REJECTED_SCHEMA."""
    now = ingestion_time if ingestion_time is not None else F.current_timestamp()
    explained = screened if "problems" in screened.columns else explain(screened, only_where=~F.col("_ok"))
    rejected, *columns = _columns(screened, "rejected", _rejected_columns)
    return explained.where(rejected).select(
        *columns, now.alias("ingestion_time"), F.to_date(now).alias("ingestion_date")
    )


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    valid: int
    rejected: int
    committed: tuple[bool, bool]
    """(quarantine, events) newly committed; False for a replayed batch or nothing to write."""
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)
    event_dates: tuple[str, str] | None = None
    """(first, last) event_date written, for the maintenance of the partitions touched."""

    @property
    def replayed(self) -> bool:
        return (self.valid or self.rejected) > 0 and not any(self.committed)


class IdempotentAppender:
    """Blind appends that carry Delta's idempotent-write mark (a SetTransaction: app id, batch id): Delta's own
    transaction, WriteIntoDelta minus its lookup of the mark on every append (a Spark job rebuilding the table's
    state, the biggest part of a batch's fixed cost). The mark is looked up only when the table's version is not
    the one this appender last saw: a driver's first append (a replay after a restart) or another commit."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], tuple[int, int]] = {}
        """(table uri, app id) -> (table version, the app's latest batch id in the table at that version)."""
        self._schemas: dict[str, str] = {}
        self._jvm: tuple[Any, dict[str, Any]] | None = None
        self.commit_seconds = 0.0
        """Time spent in Delta's commits, summed: the batch log line reports it."""
        self.lookups = 0
        """How many times the mark was looked up in the table (a state rebuild each)."""

    def append(self, frame: DataFrame, uri: str, app_id: str, batch_id: int, meta: str) -> bool:
        """Append `frame` unless batch `batch_id` of `app_id` is in the table; True if it committed."""
        spark = frame.sparkSession
        j = self._classes(spark)
        txn = j["DeltaLog"].forTable(spark._jsparkSession, uri).startTransaction()
        read_version = int(txn.readVersion())
        seen = self._seen.get((uri, app_id))
        if seen is not None and seen[0] == read_version:
            latest = seen[1]
        elif read_version == 0:
            latest = _mark_in_first_commit(spark, uri, app_id)  # a new table: its one commit, no Spark job
        else:
            latest = int(txn.txnVersion(app_id))
            self.lookups += 1
        if batch_id <= latest:
            self._seen[(uri, app_id)] = (read_version, latest)
            return False
        self._check_schema(frame, uri, txn)
        files = txn.writeFiles(frame._jdf)
        scala, option = j["CollectionConverters"], j["Option"]
        actions = j["ArrayList"](scala.asJava(files))
        actions.add(j["SetTransaction"](app_id, batch_id, option.apply(int(time.time() * 1000))))
        # Write(mode, partitionBy: an empty list as WriteIntoDelta records it, predicate, userMetadata, 5 more)
        no_partitions = option.apply(scala.asScala(j["ArrayList"]()).toSeq())
        none = option.empty()
        operation = j["Write"](j["Append"], no_partitions, none, option.apply(meta), *[none] * 5)
        began = time.monotonic()
        version = int(txn.commit(scala.asScala(actions).toSeq(), operation))
        self.commit_seconds += time.monotonic() - began
        self._seen[(uri, app_id)] = (version, batch_id)
        return True

    def _classes(self, spark: SparkSession) -> dict[str, Any]:
        """The JVM classes it uses, looked up once per driver (each dotted name costs lookups in every jar)."""
        jvm = spark.sparkContext._jvm
        assert jvm is not None
        if self._jvm is None or self._jvm[0] is not jvm:
            delta = jvm.org.apache.spark.sql.delta
            self._jvm = (
                jvm,
                {
                    "DeltaLog": delta.DeltaLog,
                    "SetTransaction": delta.actions.SetTransaction,
                    "Write": getattr(delta, "DeltaOperations$Write"),
                    "Append": jvm.org.apache.spark.sql.SaveMode.Append,
                    "CollectionConverters": jvm.scala.jdk.javaapi.CollectionConverters,
                    "ArrayList": jvm.java.util.ArrayList,
                    "Option": jvm.scala.Option,
                },
            )
        return self._jvm[1]

    def _check_schema(self, frame: DataFrame, uri: str, txn: Any) -> None:
        """The frame must have the table's columns and types (WriteIntoDelta's check, which writeFiles skips)."""
        table = self._schemas.get(uri)
        if table is None:
            table = self._schemas[uri] = json.dumps(json.loads(txn.metadata().schema().json())["fields"])
        ours = json.dumps(json.loads(frame.schema.json())["fields"])
        if _names_and_types(ours) != _names_and_types(table):
            raise RuntimeError(f"the batch's columns do not match the Delta table at {uri}: {ours} vs {table}")


def _mark_in_first_commit(spark: SparkSession, uri: str, app_id: str) -> int:
    """`app_id`'s latest batch id in a table at version 0 (-1 if none), from its one commit file: no Spark job."""
    text = HadoopFiles(spark).text(uri.rstrip("/") + "/_delta_log/" + "0" * 20 + ".json")
    marks = [json.loads(line).get("txn") for line in text.splitlines() if line.strip()]
    return max((int(m["version"]) for m in marks if m and m.get("appId") == app_id), default=-1)


def _names_and_types(fields_json: str) -> list[tuple[str, str]]:
    return [(f["name"], json.dumps(f["type"])) for f in json.loads(fields_json)]


def _totals() -> list[Column]:
    """Rows, events, and the first and last event date of a batch."""
    event_date = F.when(F.col("_ok"), F.to_date("event_time"))
    return [
        F.count(F.lit(1)).alias("n"),
        F.count_if("_ok").alias("ok"),
        F.min(event_date).alias("lo"),
        F.max(event_date).alias("hi"),
    ]


APPENDER = IdempotentAppender()
"""The driver's appender: it remembers the marks this driver wrote."""


def write_batch(
    batch: DataFrame,
    batch_id: int,
    table_uri: str,
    rejected_table_uri: str,
    app_id: str,
) -> BatchResult:
    """Write one screened, deduplicated micro-batch to both tables, idempotently per (app_id, batch_id).
    Persisted: it comes from a stateful plan that two writes would otherwise run twice."""
    started = time.monotonic()
    steps: dict[str, float] = {}
    # One ingestion time for the batch, in both tables: its own time (in the checkpoint: a replay writes the
    # same), a column rather than a literal, so the write's generated code is compiled once.
    now = F.col(BATCH_TIME) if BATCH_TIME in batch.columns else F.lit(datetime.now(UTC))
    commits_before = APPENDER.commit_seconds
    cached = batch.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        totals = cached.agg(*_columns(cached, "totals", _totals)).first()
        assert totals is not None
        steps["read"] = time.monotonic() - started
        valid = int(totals["ok"] or 0)
        rejected = int(totals["n"]) - valid
        meta = json.dumps({"app_id": app_id, "batch_id": batch_id, "valid": valid, "rejected": rejected})
        quarantine_new = events_new = False
        if rejected:
            # A handful of rows per batch: one file.
            quarantine_new = APPENDER.append(
                rejected_records(cached, now).coalesce(1), rejected_table_uri, app_id, batch_id, meta
            )
        log.info("batch %d: quarantine written (%d records)", batch_id, rejected)
        steps["quarantine"] = time.monotonic() - started - sum(steps.values())
        if valid:
            events = valid_events(cached, now)
            events_new = APPENDER.append(events.coalesce(1 + valid // ROWS_PER_FILE), table_uri, app_id, batch_id, meta)
        steps["events"] = time.monotonic() - started - sum(steps.values())
        steps["commits"] = APPENDER.commit_seconds - commits_before
    finally:
        cached.unpersist()
    dates = (str(totals["lo"]), str(totals["hi"])) if valid else None
    return BatchResult(
        batch_id, valid, rejected, (quarantine_new, events_new), time.monotonic() - started, steps, dates
    )
