"""The streaming job running on the test bed as the stack runs it (its flags, the jobs/ packages), on a topic,
tables and checkpoint of its own, registered in Trino and removed afterwards; and each figure's scratch run."""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import sparkrun
from bench.breakdown import analyse, eventlog_conf
from contract import names
from contract.names import DEFAULT_TABLE, rejected_table_name
from lakehouse.clients import delta_tables
from lakehouse.clients.trino_sql import query
from lakehouse.generators import job as job_env
from lakehouse.generators.trino import CATALOG
from producer.events import EventGenerator, encode

EVENTS, REJECTED = DEFAULT_TABLE, rejected_table_name(DEFAULT_TABLE)
TRINO_USER = "bench"
STREAM_JOB = sparkrun.JOBS / "logistics_stream.py"


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
    run = {names.ENV_TOPIC: topic, names.ENV_TABLE_URI: table_uri, names.ENV_REJECTED_URI: rejected_uri}
    return stream_job_args(env | run | {names.ENV_CHECKPOINT_URI: checkpoint_uri})


@dataclass
class Scratch:
    """A figure's run: its id, work directory, topics and S3 prefix bench/<kind>-<id> (see `scratch`)."""

    endpoints: Mapping[str, str]
    kind: str
    work: Path
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    topics: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.prefix = f"bench/{self.kind}-{self.id}"

    def topic(self, suffix: str = "") -> str:
        """A new topic shaped like the events topic, deleted with the run."""
        self.topics.append(f"bench-{self.kind}-{self.id}{suffix}")
        sparkrun.create_topic(self.endpoints, self.topics[-1])
        return self.topics[-1]

    def uris(self, sub: str = "") -> tuple[str, str, str]:
        return run_uris(self.endpoints, self.prefix + sub)

    def job_args(self, topic: str, checkpoint_uri: str | None = None) -> list[str]:
        """The stack's job flags on `topic` and this run's tables and checkpoint."""
        table, rejected, checkpoint = self.uris()
        return stack_job_args(self.endpoints, topic=topic, table_uri=table, rejected_uri=rejected,
                              checkpoint_uri=checkpoint_uri or checkpoint)  # fmt: skip

    def submit(self, script: Path, args: Sequence[str], name: str, **kw: Any) -> sparkrun.SparkApp:
        return sparkrun.submit(self.endpoints, script, args, self.work, name, **kw)


@contextlib.contextmanager
def scratch(endpoints: Mapping[str, str], kind: str) -> Iterator[Scratch]:
    """A run of its own; its topics and everything under its prefix in both buckets go afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp:
        run = Scratch(endpoints, kind, Path(tmp))
        try:
            yield run
        finally:
            sparkrun.clean_up(endpoints, run.topics, run.prefix)


def marker_event(generator: EventGenerator | None = None) -> tuple[str, bytes, bytes]:
    """A valid event with a fresh event_id (the producer's own generator): (event_id, key, value)."""
    event = (generator or EventGenerator()).next_event()
    event["event_id"] = str(uuid.uuid4())
    return (str(event["event_id"]), *encode(event))


def send_marker(endpoints: Mapping[str, str], topic: str) -> str:
    """One marker event acknowledged by all replicas; returns its event_id."""
    from kafka import KafkaProducer

    event_id, key, value = marker_event()
    producer = KafkaProducer(bootstrap_servers=endpoints["kafka_bootstrap_servers"].split(","), acks="all")
    try:
        producer.send(topic, key=key, value=value).get(timeout=60)
    finally:
        producer.close(timeout=30)
    return event_id


def register(url: str, schema: str, tables: Mapping[str, str], registered: list[str], *, wait_seconds: float,
             deadline: float = 0, check: Callable[[], None] = lambda: None) -> None:  # fmt: skip
    """Register a run's tables (name -> uri) in Trino in a schema of their own with the stack's provider code
    (lakehouse.clients.delta_tables), each into `registered`; retried until `deadline` (the job creates them)."""
    delta_tables.ensure_schema(url, CATALOG, schema, user=TRINO_USER)
    for name, uri in tables.items():
        spec = delta_tables.TableSpec(name, sparkrun.s3_uri(uri))
        while True:
            check()
            try:
                delta_tables.register(url, CATALOG, schema, spec, user=TRINO_USER, wait_seconds=wait_seconds)
                break
            except delta_tables.DeltaTablesError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)
        registered.append(name)


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
    started_s: float | None = None  # seconds from spark-submit to both tables registered in Trino
    # The cold start: seconds from spark-submit to the tables registered and to a marker event sent before it
    # visible through Trino (the first rows a user sees).
    cold: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.topic = f"bench-stream-{self.run_id}"
        self.prefix = f"bench/{self.run_id}"
        self.table_uri, self.rejected_uri, self.checkpoint_uri = run_uris(self.endpoints, self.prefix)
        self.schema = f"bench_{self.run_id}"
        self.trino_table = f"{CATALOG}.{self.schema}.{EVENTS}"
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-stream-")
        self.event_log_dir = Path(self._tmp.name) / "eventlog"
        self._registered: list[str] = []

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
        conf = sparkrun.job_conf(Path(self._tmp.name), f"bench-stream-{self.run_id}")
        argv = sparkrun.spark_submit_argv(ep, STREAM_JOB, self.args, conf=conf | eventlog_conf(self.event_log_dir))
        marker = send_marker(ep, self.topic)
        self.app = sparkrun.SparkApp(argv, sparkrun.spark_env(ep), Path(self._tmp.name) / "stream.log", True)
        began = self.app.began
        tables = {EVENTS: self.table_uri, REJECTED: self.rejected_uri}
        register(ep["trino_url"], self.schema, tables, self._registered, wait_seconds=5,
                 deadline=began + self.start_timeout_s, check=self._check_alive)  # fmt: skip
        self.started_s = round(time.monotonic() - began, 1)
        self.cold = {"tables_registered_s": self.started_s}
        self.cold["first_rows_visible_s"] = self.wait_visible(marker, began, deadline=began + self.start_timeout_s)

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
        """Where the job's batches whose trigger started in the window spent their time; None before the start."""
        if self.app is None:
            return None
        return analyse(self.event_log_dir, self.log_lines(), 1, self.app.submitted_ms, since_ms=since_ms,
                       until_ms=until_ms, driver_cpu=self.app.driver_cpu)  # fmt: skip

    def _check_alive(self) -> None:
        if self.app is not None and self.app.proc.poll() is not None:
            tail = "\n".join(self.app.lines()[-40:])
            raise RuntimeError(f"the streaming job exited ({self.app.proc.returncode}) early:\n{tail}")

    def driver_pids(self) -> list[int]:
        """The spark-submit JVM (its process group holds the Python driver too)."""
        return [self.app.proc.pid] if self.app is not None and self.app.proc.poll() is None else []

    def count(self) -> int:
        sql = f"SELECT count(*) FROM {self.trino_table}"  # noqa: S608 - our own table name
        return int(query(self.endpoints["trino_url"], sql, user=TRINO_USER)[0][0])

    def log_lines(self) -> list[str]:
        return self.app.lines() if self.app is not None else []

    def close(self) -> None:
        if self.app is not None:
            with contextlib.suppress(Exception):
                self.app.stop(timeout_s=180)
        unregister(self.endpoints["trino_url"], self.schema, self._registered)
        sparkrun.clean_up(self.endpoints, [self.topic], self.prefix)
        self._tmp.cleanup()
