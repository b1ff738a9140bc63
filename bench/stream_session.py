"""The streaming job running on the test bed as the stack runs it, on a topic, tables and checkpoint of its own.

`StreamSession` spark-submits jobs/logistics_stream.py with the flags the stack's StreamingJob gives it (only
topic, tables and checkpoint are this run's) and the jobs/ packages, registers both tables in Trino once the job
has created them, and on close stops the job and removes everything the run made.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench import sparkrun
from bench.breakdown import analyse, eventlog_conf
from bench.machine import GroupCpu
from contract import names
from contract.names import DEFAULT_TABLE, rejected_table_name
from lakehouse.clients import delta_tables
from lakehouse.clients.trino_sql import query
from lakehouse.generators import job as job_env
from lakehouse.generators.trino import CATALOG

EVENTS, REJECTED = DEFAULT_TABLE, rejected_table_name(DEFAULT_TABLE)
TRINO_USER = "bench"


def run_uris(endpoints: Mapping[str, str], prefix: str) -> tuple[str, str, str]:
    """A run's events table, quarantine and checkpoint under `prefix` (the stack's names)."""
    lake, ckpt = endpoints["lake_bucket"], endpoints["checkpoint_bucket"]
    return f"s3a://{lake}/{prefix}/{EVENTS}", f"s3a://{lake}/{prefix}/{REJECTED}", f"s3a://{ckpt}/{prefix}/{EVENTS}"


def stack_job_args(
    endpoints: Mapping[str, str], *, topic: str, table_uri: str, rejected_uri: str, checkpoint_uri: str
) -> list[str]:
    """The flags the stack submits the job with (its settings' defaults), with this run's topic, tables and
    checkpoint, and the test bed's brokers as services reach them."""
    from lakehouse.postdeploy import stream_job_args
    from testbed.plan import bed_settings

    env = job_env.stream_job_env(bed_settings(), bootstrap_servers=endpoints["testbed_kafka_internal_bootstrap"])
    env |= {
        names.ENV_TOPIC: topic,
        names.ENV_TABLE_URI: table_uri,
        names.ENV_REJECTED_URI: rejected_uri,
        names.ENV_CHECKPOINT_URI: checkpoint_uri,
    }
    return stream_job_args(env)


def send_marker(endpoints: Mapping[str, str], topic: str) -> str:
    """One valid event with a fresh event_id (the producer's own generator), acknowledged by all replicas;
    returns its event_id."""
    from kafka import KafkaProducer

    from producer.events import EventGenerator, encode

    event = EventGenerator().next_event()
    event["event_id"] = str(uuid.uuid4())
    key, value = encode(event)
    producer = KafkaProducer(bootstrap_servers=endpoints["kafka_bootstrap_servers"].split(","), acks="all")
    try:
        producer.send(topic, key=key, value=value).get(timeout=60)
    finally:
        producer.close(timeout=30)
    return str(event["event_id"])


def register(url: str, schema: str, name: str, uri: str, wait_seconds: float) -> None:
    """Register a Delta table of the run in Trino (lakehouse.clients.delta_tables, the stack's provider code)."""
    spec = delta_tables.TableSpec(name, sparkrun.s3_uri(uri))
    delta_tables.register(url, CATALOG, schema, spec, user=TRINO_USER, wait_seconds=wait_seconds)


def unregister(url: str, schema: str, names: list[str]) -> None:
    """Unregister the run's tables and drop its schema; never raises."""
    for name in names:
        with contextlib.suppress(Exception):
            delta_tables.unregister(url, CATALOG, schema, name, user=TRINO_USER)
    with contextlib.suppress(Exception):
        delta_tables.drop_schema_if_empty(url, CATALOG, schema, user=TRINO_USER)


@dataclass
class StreamSession:
    endpoints: Mapping[str, str]
    start_timeout_s: float = 600
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    app: sparkrun.SparkApp | None = None
    args: list[str] = field(default_factory=list)
    started_s: float | None = None
    """Seconds from spark-submit to both tables registered in Trino."""
    cold: dict[str, object] = field(default_factory=dict)
    """The cold start: a marker event is in the topic before spark-submit; seconds from spark-submit to the
    tables registered in Trino and to the marker visible through Trino (the first rows a user sees)."""

    def __post_init__(self) -> None:
        self.topic = f"bench-stream-{self.run_id}"
        self.prefix = f"bench/{self.run_id}"
        self.table_uri, self.rejected_uri, self.checkpoint_uri = run_uris(self.endpoints, self.prefix)
        self.schema = f"bench_{self.run_id}"
        self.trino_table = f"{CATALOG}.{self.schema}.{EVENTS}"
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-stream-")
        self.log_path = Path(self._tmp.name) / "stream.log"
        self.event_log_dir = Path(self._tmp.name) / "eventlog"
        self.submitted_ms: int | None = None
        self.driver_cpu = None
        self._registered: list[str] = []

    # ----- lifecycle -----

    def __enter__(self) -> StreamSession:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def start(self) -> None:
        ep = self.endpoints
        sparkrun.create_topic(ep, self.topic)
        self.args = stack_job_args(ep, topic=self.topic, table_uri=self.table_uri, rejected_uri=self.rejected_uri,
                                   checkpoint_uri=self.checkpoint_uri)  # fmt: skip
        # The driver's Spark event log: bench/breakdown.py reads where each batch's time goes.
        self.event_log_dir.mkdir(exist_ok=True)
        conf = sparkrun.job_conf(Path(self._tmp.name), f"bench-stream-{self.run_id}") | eventlog_conf(
            self.event_log_dir
        )
        argv = sparkrun.spark_submit_argv(ep, sparkrun.JOBS / "logistics_stream.py", self.args, conf=conf)
        marker = send_marker(ep, self.topic)
        self.app = sparkrun.SparkApp(argv, sparkrun.spark_env(ep), self.log_path)
        began, self.submitted_ms = self.app.began, self.app.submitted_ms
        self.driver_cpu = GroupCpu(self.app.proc.pid)
        self.driver_cpu.start()
        self.register(deadline=began + self.start_timeout_s)
        self.started_s = round(time.monotonic() - began, 1)
        self.cold = {"tables_registered_s": self.started_s}
        self.cold["first_rows_visible_s"] = self.wait_visible(marker, began, deadline=began + self.start_timeout_s)

    def register(self, *, deadline: float) -> None:
        """Register both tables in Trino once the job has created them (it does before its query starts)."""
        url = self.endpoints["trino_url"]
        delta_tables.ensure_schema(url, CATALOG, self.schema, user=TRINO_USER)
        for name, uri in ((EVENTS, self.table_uri), (REJECTED, self.rejected_uri)):
            while True:
                self._check_alive()
                try:
                    register(url, self.schema, name, uri, wait_seconds=5)
                    self._registered.append(name)
                    break
                except delta_tables.DeltaTablesError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(2)

    def wait_visible(self, event_id: str, began: float, *, deadline: float, poll_s: float = 0.25) -> float:
        """Seconds from `began` until Trino returns the row of `event_id` (the session's table)."""
        sql = f"SELECT count(*) FROM {self.trino_table} WHERE event_id = '{event_id}'"  # noqa: S608 - our own uuid
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(Exception):
                if int(query(self.endpoints["trino_url"], sql, user=TRINO_USER, timeout=30)[0][0]) > 0:
                    return round(time.monotonic() - began, 1)
            time.sleep(poll_s)
        raise TimeoutError(f"the marker {event_id} did not become visible through Trino in time")

    def breakdown(self, since_ms: int | None = None, until_ms: int | None = None) -> dict[str, object] | None:
        """Where the job's batches spent their time (bench/breakdown.py), those whose trigger started in the
        window; None before the start."""
        if self.submitted_ms is None:
            return None

        return analyse(self.event_log_dir, self.log_lines(), 1, self.submitted_ms, since_ms=since_ms, until_ms=until_ms,
                       driver_cpu=self.driver_cpu)  # fmt: skip

    def _check_alive(self) -> None:
        if self.app is not None and self.app.proc.poll() is not None:
            tail = "\n".join(self.app.lines()[-40:])
            raise RuntimeError(f"the streaming job exited ({self.app.proc.returncode}) early:\n{tail}")

    def driver_pids(self) -> list[int]:
        """The spark-submit JVM (its process group holds the Python driver too)."""
        return [self.app.proc.pid] if self.app is not None and self.app.proc.poll() is None else []

    def count(self) -> int:
        sql = f"SELECT count(*) FROM {self.trino_table}"  # noqa: S608 - our own table name
        rows = query(self.endpoints["trino_url"], sql, user=TRINO_USER)
        return int(rows[0][0])

    def log_lines(self) -> list[str]:
        return self.app.lines() if self.app is not None else []

    def close(self) -> None:
        if self.driver_cpu is not None:
            self.driver_cpu.stopping.set()
        self.stop_exit_code = None
        if self.app is not None:
            with contextlib.suppress(Exception):
                self.stop_exit_code = self.app.stop(timeout_s=180)
        unregister(self.endpoints["trino_url"], self.schema, self._registered)
        sparkrun.clean_up(self.endpoints, [self.topic], self.prefix)
        self._tmp.cleanup()
