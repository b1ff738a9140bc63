"""The streaming job running on the test bed as the stack runs it, on a topic, tables and checkpoint of its own.

`StreamSession` (a context manager) creates a fresh topic shaped like the events topic, spark-submits
jobs/logistics_stream.py with the flags the stack's StreamingJob gives it (`lakehouse.postdeploy.stream_job_args`
of `stream_job_env(settings)`: the default trigger, maxOffsetsPerTrigger, dedup window...), only topic, tables
and checkpoint replaced by this run's, and the jobs/ packages as --py-files (as Orion ships them). Once the
job has created its tables, both are registered in Trino (schema `bench_<id>`) with lakehouse.clients.delta_tables,
the code the stack's DeltaTables provider runs. On exit the job is stopped (SIGTERM, its bounded stop), the
tables unregistered, the topic and every object under the run's prefixes deleted.
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
from contract import names
from contract.names import DEFAULT_TABLE, rejected_table_name
from lakehouse.clients import delta_tables
from lakehouse.clients.trino_sql import query
from lakehouse.generators import job as job_env
from lakehouse.generators.trino import CATALOG

EVENTS, REJECTED = DEFAULT_TABLE, rejected_table_name(DEFAULT_TABLE)
TRINO_USER = "bench"


def job_packages_zip(target: Path) -> Path | None:
    """jobs/'s packages as one zip (orion.codehash, the code Orion uses for --py-files); None if there are none."""
    from orion.codehash import build_zip

    return build_zip(sparkrun.JOBS, target)


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


def arg_value(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args[:-1] else None


@dataclass
class StreamSession:
    endpoints: Mapping[str, str]
    extra_args: list[str] = field(default_factory=list)
    """More flags after the stack's (a later flag wins in argparse), e.g. a trigger for a smoke run."""
    conf: dict[str, str] = field(default_factory=dict)
    """More Spark confs for the job's spark-submit (experiments)."""
    event_log: bool = True
    """Write the driver's Spark event log (bench/breakdown.py reads where each batch's time goes)."""
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
        ep = self.endpoints
        self.topic = f"bench-stream-{self.run_id}"
        self.prefix = f"bench/{self.run_id}"
        self.table_uri = f"s3a://{ep['lake_bucket']}/{self.prefix}/{EVENTS}"
        self.rejected_uri = f"s3a://{ep['lake_bucket']}/{self.prefix}/{REJECTED}"
        self.checkpoint_uri = f"s3a://{ep['checkpoint_bucket']}/{self.prefix}/{EVENTS}"
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
        self.args = stack_job_args(
            ep,
            topic=self.topic,
            table_uri=self.table_uri,
            rejected_uri=self.rejected_uri,
            checkpoint_uri=self.checkpoint_uri,
        ) + list(self.extra_args)
        conf: dict[str, str] = {"spark.app.name": f"bench-stream-{self.run_id}"}
        packages = job_packages_zip(Path(self._tmp.name) / "packages.zip")
        if packages is not None:
            conf["spark.submit.pyFiles"] = str(packages)
        if self.event_log:
            from bench.breakdown import eventlog_conf

            self.event_log_dir.mkdir(exist_ok=True)
            conf |= eventlog_conf(self.event_log_dir)
        conf |= self.conf
        argv = sparkrun.spark_submit_argv(ep, sparkrun.JOBS / "logistics_stream.py", self.args, conf=conf)
        marker = send_marker(ep, self.topic)
        began = time.monotonic()
        self.submitted_ms = int(time.time() * 1000)
        self.app = sparkrun.SparkApp(argv, sparkrun.spark_env(ep), self.log_path)
        from bench.breakdown import GroupCpu

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
            spec = delta_tables.TableSpec(name, sparkrun.s3_uri(uri))
            while True:
                self._check_alive()
                try:
                    delta_tables.register(url, CATALOG, self.schema, spec, user=TRINO_USER, wait_seconds=5)
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
        window; None without an event log."""
        if not self.event_log or not self.event_log_dir.exists() or self.submitted_ms is None:
            return None
        from bench.breakdown import analyse

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
        ep = self.endpoints
        stop_code = None
        if self.driver_cpu is not None:
            self.driver_cpu.stopping.set()
        if self.app is not None:
            with contextlib.suppress(Exception):
                stop_code = self.app.stop(timeout_s=180)
        self.stop_exit_code = stop_code
        url = ep["trino_url"]
        for name in self._registered:
            with contextlib.suppress(Exception):
                delta_tables.unregister(url, CATALOG, self.schema, name, user=TRINO_USER)
        with contextlib.suppress(Exception):
            delta_tables.drop_schema_if_empty(url, CATALOG, self.schema, user=TRINO_USER)
        with contextlib.suppress(Exception):
            sparkrun.delete_topic(ep, self.topic)
        for bucket in (ep["lake_bucket"], ep["checkpoint_bucket"]):
            with contextlib.suppress(Exception):
                sparkrun.delete_prefix(ep, bucket, self.prefix + "/")
        self._tmp.cleanup()
