"""Running the data plane against a test bed (its endpoints dict): the producer CLI, spark-submit of the jobs,
Kafka topics, S3 clean-up; for the bench and the data-plane integration tests (tests/integration/spark_apps.py).
Processes start in a process group of their own, so a kill reaches the JVM and its Python side together."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.machine import GroupCpu
from testbed import proc
from testbed.paths import endpoints_file

REPO = Path(__file__).resolve().parent.parent
JOBS = REPO / "jobs"


def load_endpoints() -> dict[str, str]:
    """The running test bed's endpoints (LAKEHOUSE_TESTBED_DIR or <repo>/.testbed)."""
    path = endpoints_file()
    if not path.is_file():
        raise RuntimeError(f"no test bed endpoints at {path}: start one with `python -m testbed up`")
    return json.loads(path.read_text())


def spark_env(endpoints: Mapping[str, str]) -> dict[str, str]:
    """Environment of a spark-submit client against the test bed, with the Spark identity's S3 keys."""
    return dict(
        os.environ,
        JAVA_HOME=endpoints["testbed_java_home"],
        SPARK_HOME=endpoints["testbed_spark_home"],
        SPARK_CONF_DIR=endpoints["testbed_spark_conf_dir"],
        SPARK_LOCAL_IP="127.0.0.1",
        AWS_ACCESS_KEY_ID=endpoints["testbed_s3_spark_access_key"],
        AWS_SECRET_ACCESS_KEY=endpoints["testbed_s3_spark_secret_key"],
        AWS_REGION=endpoints.get("testbed_s3_region", "us-east-1"),
        # The Spark image's Python (testbed.artifacts.spark_python), which the test bed's drivers run.
        PYSPARK_PYTHON=endpoints["testbed_spark_python"],
        PYSPARK_DRIVER_PYTHON=endpoints["testbed_spark_python"],
    )


def spark_submit_argv(endpoints: Mapping[str, str], script: Path, args: Sequence[str], master: str | None = None,
                      conf: Mapping[str, str] | None = None) -> list[str]:  # fmt: skip
    argv = [str(Path(endpoints["testbed_spark_home"]) / "bin" / "spark-submit")]
    if master:
        argv += ["--master", master]
    for key, value in (conf or {}).items():
        argv += ["--conf", f"{key}={value}"]
    return [*argv, str(script), *args]


class SparkApp:
    """A spark-submit client process (client mode) whose output goes to a log file; with `driver_cpu`, the
    driver's CPU sampled until it ends (`driver_cpu.between`)."""

    def __init__(self, argv: list[str], env: Mapping[str, str], log_path: Path, driver_cpu: bool = False) -> None:
        self.log_path = log_path
        self.began, self.submitted_ms, self.seconds = time.monotonic(), int(time.time() * 1000), 0.0
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(argv, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=log_path.parent, start_new_session=True)  # fmt: skip
        self.driver_cpu = GroupCpu(self.proc.pid) if driver_cpu else None
        if self.driver_cpu is not None:
            self.driver_cpu.start()

    def _ended(self) -> None:
        if self.driver_cpu is not None:
            self.driver_cpu.stopping.set()
        self._log.close()

    def lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def kill(self) -> None:
        """SIGKILL to the whole group: the driver JVM and its Python process die at once, mid-whatever."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._ended()

    def python_driver_pid(self) -> int | None:
        """The PySpark driver: the JVM's Python child that runs a .py file (not any child: the JVM also starts
        short-lived ones, Hadoop's shell commands, and with pids that wrap around one can come first in /proc)."""
        for pid, st in proc.processes().items():
            argv = proc.argv(pid) if st.ppid == self.proc.pid else []
            if argv and "python" in Path(argv[0]).name and any(a.endswith(".py") for a in argv[1:]):
                return pid
        return None

    def stop(self, timeout_s: float = 120) -> int:
        """SIGTERM to the Python driver (the job stops its query, then Spark, and exits; the JVM follows);
        SIGKILL to the group if that does not end within the time."""
        driver = self.python_driver_pid()
        if self.proc.poll() is None and driver is not None:
            os.kill(driver, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._ended()
        return self.proc.returncode

    def wait(self, timeout_s: float) -> int:
        try:
            return self.proc.wait(timeout=timeout_s)
        finally:
            self.seconds = round(time.monotonic() - self.began, 1)
            self._ended()

    def ok_lines(self, what: str = "the job", prefix: str = "") -> list[str]:
        """Its log lines (those starting with `prefix`); raises with the log's tail if it exited with an error or
        has no such line."""
        lines = self.lines()
        found = [line for line in lines if line.startswith(prefix)]
        if self.proc.returncode != 0 or (prefix and not found):
            raise RuntimeError(f"{what} exited {self.proc.returncode}:\n" + "\n".join(lines[-40:]))
        return found

    def bench_line(self, what: str) -> dict:
        """The `BENCH {json}` line a bench Spark script prints last."""
        return json.loads(self.ok_lines(what, "BENCH ")[-1][len("BENCH ") :])


def job_conf(workdir: Path, name: str) -> dict[str, str]:
    """The app's name and jobs/'s packages as --py-files (orion.codehash: the zip Orion ships)."""
    from orion.codehash import build_zip

    packages = build_zip(JOBS, workdir / "packages.zip")
    return {"spark.app.name": name} | ({"spark.submit.pyFiles": str(packages)} if packages is not None else {})


def submit(endpoints: Mapping[str, str], script: Path, args: Sequence[str], workdir: Path, name: str, *,
           timeout_s: float, conf: Mapping[str, str] | None = None, driver_cpu: bool = False) -> SparkApp:  # fmt: skip
    """spark-submit `script` with jobs/'s packages and wait for its end; the whole group is killed if the wait
    fails (time out, ^C)."""
    argv = spark_submit_argv(endpoints, script, list(args), conf=job_conf(workdir, name) | dict(conf or {}))
    app = SparkApp(argv, spark_env(endpoints), workdir / f"{name}.log", driver_cpu)
    try:
        app.wait(timeout_s)
    except BaseException:
        with contextlib.suppress(Exception):
            app.kill()
        raise
    return app


def producer_argv(endpoints: Mapping[str, str], topic: str, summary: Path, args: Sequence[str]) -> list[str]:
    """`python -m producer` as a user runs it, writing its --summary-json to `summary` (run it in REPO)."""
    return [sys.executable, "-m", "producer", "--bootstrap-servers", endpoints["kafka_bootstrap_servers"],
            "--topic", topic, "--no-progress", "--summary-json", str(summary), *args]  # fmt: skip


def run_producer(endpoints: Mapping[str, str], topic: str, args: Sequence[str], cwd: Path,
                 timeout_s: float = 600) -> tuple[int, dict]:  # fmt: skip
    """The producer run to its end; returns (exit code, its --summary-json)."""
    summary = cwd / f"producer-summary-{time.monotonic_ns()}.json"
    argv = producer_argv(endpoints, topic, summary, args)
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=timeout_s, check=False)
    if not summary.exists():
        raise RuntimeError(f"the producer wrote no summary (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return done.returncode, json.loads(summary.read_text())


def produce(endpoints: Mapping[str, str], topic: str, count: int, workdir: Path, *, seed: int, malformed: int = 0,
            resent: int = 0, processes: int = 1) -> dict:  # fmt: skip
    """`count` records as fast as the producer goes (`malformed` of them malformed, `resent` re-sent copies)."""
    args = ["--count", str(count), "--rate", "0", "--seed", str(seed), "--processes", str(processes)]
    args += ["--inject-malformed", str(malformed)] if malformed else []
    args += ["--duplicates", str(resent)] if resent else []
    code, summary = run_producer(endpoints, topic, args, workdir, timeout_s=max(600, count / 200))
    if code != 0:
        raise RuntimeError(f"the producer exited {code}: {summary}")
    return summary


def create_topic(endpoints: Mapping[str, str], topic: str, partitions: int = 6) -> None:
    """A topic shaped like the events topic (the stack's spec), created by the stack's own admin code."""
    from lakehouse.clients.kafka_topic import create_topic as create
    from lakehouse.generators.kafka import topic_spec

    spec = topic_spec(name=topic, partitions=partitions, brokers=int(endpoints.get("testbed_kafka_brokers", "3")))
    create(endpoints["kafka_bootstrap_servers"], spec.name, partitions=spec.partitions,
           replication_factor=spec.replication_factor, configs=spec.configs)  # fmt: skip


def delete_topic(endpoints: Mapping[str, str], topic: str) -> None:
    from lakehouse.clients.kafka_topic import delete_topic as delete

    delete(endpoints["kafka_bootstrap_servers"], topic)


def topic_record_count(endpoints: Mapping[str, str], topic: str) -> int:
    """Records in the topic: the sum over partitions of end offset minus beginning offset."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=endpoints["kafka_bootstrap_servers"].split(","))
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends, begins = consumer.end_offsets(parts), consumer.beginning_offsets(parts)
        return sum(ends[p] - begins[p] for p in parts)
    finally:
        consumer.close()


def s3_uri(uri: str) -> str:
    """s3a://bucket/path (Spark) -> s3://bucket/path (delta-rs, Trino)."""
    return "s3://" + uri.split("://", 1)[1] if uri.startswith("s3a://") else uri


def delete_prefix(endpoints: Mapping[str, str], bucket: str, prefix: str) -> int:
    """Remove every object under `prefix` (test data) with the admin identity; returns how many."""
    import boto3

    keys = {"aws_access_key_id": endpoints["s3_access_key"], "aws_secret_access_key": endpoints["s3_secret_key"]}
    region = endpoints.get("testbed_s3_region")
    s3 = boto3.client("s3", endpoint_url=endpoints["s3_endpoint"], region_name=region, **keys)
    removed = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
            removed += len(keys)
    return removed


def clean_up(endpoints: Mapping[str, str], topics: Sequence[str], prefix: str) -> None:
    """Delete a run's topics and everything under its prefix in the lake and checkpoint buckets; never raises."""
    for topic in topics:
        with contextlib.suppress(Exception):
            delete_topic(endpoints, topic)
    for bucket in (endpoints["lake_bucket"], endpoints["checkpoint_bucket"]):
        with contextlib.suppress(Exception):
            delete_prefix(endpoints, bucket, prefix + "/")
