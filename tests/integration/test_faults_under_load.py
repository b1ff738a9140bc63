"""Faults under load (issue 11): the pipeline loses nothing and duplicates nothing while its servers die.

While the producer sends a steady stream (waves of `python -m producer` at a fixed --rate, malformed records and
re-sends mixed in, plus a second producer re-sending a whole range), one process at a time is hit, each once the
pipeline flows again after the previous one:

  kafka_broker   kill -9 of the broker that is the active KRaft controller; restarted 20 s later on its log dirs
  spark_worker   kill -9 of the worker running the job's executor (its process group: the worker and its
                 executors, as a lost node); restarted at once on its work dir
  driver         kill -9 of the streaming driver's process group (spark-submit JVM + Python); Orion's
                 supervision submits it again
  orion          kill -9 of Orion; restarted at once on its data dir (it kills the old driver and resubmits)
  s3_pause       SIGSTOP of the S3 server for 20 s, then SIGCONT (a hung server: connections open, no answers)
  s3_crash       kill -9 of the S3 server; restarted 20 s later on its data dir (a crash: connections refused)

The streaming job runs as the stack runs it: submitted supervised through Orion by lakehouse.clients.streaming_job
(ensure_running) with lakehouse.postdeploy's inputs, on a topic, tables and checkpoint of its own. Every fault is
asserted (the broker rejoined with every replica in sync, the worker is ALIVE again and the job has an executor,
the driver came back as a new application, Orion answers and runs the job again, S3 answers) and timed from the
checkpoint: "flowing again" is the commit of the first micro-batch planned after the fault that reads beyond what
was planned at the fault; "in flight" is what the topic held beyond the committed offsets at the fault. When the
stream has ended and the job has caught up, delta-rs (not Spark) reads both tables: every valid event exactly
once, every malformed record in the quarantine exactly once with its reason, valid + rejected + recognised
duplicates = produced. The test bed is healthy afterwards (each killed process runs again, recorded in
state.json), whatever happened.

Size: LAKEHOUSE_FAULTS_SIZE=ci (default, for `make test`: at least 20,000 events at 200/s and the three faults no
other test of `make test` covers: kafka_broker, spark_worker, s3_crash; the driver and Orion kills are covered
without load by tests/integration/test_orion_cluster.py and the kill between two commits by
test_dataplane_pipeline.py) or full (`make faults`: at least 300,000 events at 250/s, all six faults);
LAKEHOUSE_FAULTS_EVENTS / LAKEHOUSE_FAULTS_RATE override either, LAKEHOUSE_FAULTS_ONLY=a,b the faults. The stream
goes on, wave after wave, until every fault is done and the target is sent, so every fault happens under load.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import deltalake
import pytest

from bench import sparkrun
from lakehouse import postdeploy
from lakehouse.clients import streaming_job
from lakehouse.clients.streaming_job import JobSpec, OrionClient
from lakehouse.generators.job import stream_job_env
from testbed import faults, paths
from testbed.plan import bed_settings, default_plan
from testbed.services import kafka, orion, s3, spark
from tests.integration.faults_load import Load, Reconciliation, Watch, Wave, expected, reconcile
from tests.integration.spark_apps import delta_storage_options

pytestmark = [pytest.mark.integration, pytest.mark.timeout(5400)]

FAULTS = ("kafka_broker", "spark_worker", "driver", "orion", "s3_pause", "s3_crash")
SIZES: dict[str, dict] = {
    "ci": {"events": 20_000, "rate": 200.0, "faults": ("kafka_broker", "spark_worker", "s3_crash")},
    "full": {"events": 300_000, "rate": 250.0, "faults": FAULTS},
}
DOWN_SECONDS = 20.0
"""How long a broker and the S3 server stay down (or paused)."""
RECOVERY_TIMEOUT = 900.0
"""Generous bound on "flowing again" after a fault (a loaded 2-core machine, JVM starts, Orion's backoff)."""
CATCH_UP_TIMEOUT = 1800.0


def selected() -> tuple[str, ...]:
    """The size's faults, in order; LAKEHOUSE_FAULTS_ONLY=driver,orion picks others (development)."""
    raw = os.environ.get("LAKEHOUSE_FAULTS_ONLY", "")
    chosen = tuple(f.strip() for f in raw.split(",") if f.strip()) or tuple(size()["faults"])
    unknown = sorted(set(chosen) - set(FAULTS))
    if unknown:
        raise ValueError(f"LAKEHOUSE_FAULTS_ONLY names unknown faults {unknown}; allowed: {', '.join(FAULTS)}")
    return tuple(f for f in FAULTS if f in chosen)


def size() -> dict:
    name = os.environ.get("LAKEHOUSE_FAULTS_SIZE", "ci")
    if name not in SIZES:
        raise ValueError(f"LAKEHOUSE_FAULTS_SIZE={name!r} is not allowed: one of {', '.join(SIZES)}")
    chosen = dict(SIZES[name])
    if os.environ.get("LAKEHOUSE_FAULTS_EVENTS"):
        chosen["events"] = int(os.environ["LAKEHOUSE_FAULTS_EVENTS"])
    if os.environ.get("LAKEHOUSE_FAULTS_RATE"):
        chosen["rate"] = float(os.environ["LAKEHOUSE_FAULTS_RATE"])
    chosen["name"] = name  # type: ignore[assignment]
    return chosen


@dataclass
class Run:
    endpoints: dict[str, str]
    topic: str
    table_uri: str
    rejected_uri: str
    checkpoint_uri: str = ""
    """As Orion reports it for the job (the job's own --describe): what the watch reads."""
    figures: dict = field(default_factory=dict)
    faults: dict[str, dict] = field(default_factory=dict)
    reconciliation: Reconciliation | None = None
    manifests: dict[str, list[dict]] = field(default_factory=dict)
    producer_errors: list[str] = field(default_factory=list)
    waves: list[dict] = field(default_factory=list)
    job_checkpoint: str | None = None
    final_job: dict = field(default_factory=dict)
    health_after: list[str] = field(default_factory=list)
    rejected_rows: list[dict] = field(default_factory=list)


def _load_avg() -> float:
    return round(os.getloadavg()[0], 2)


def _work_dir(run_id: str, keep: int = 3) -> Path:
    root = sparkrun.REPO / "artifacts" / "faults-it"
    root.mkdir(parents=True, exist_ok=True)
    for old in sorted(root.iterdir(), key=lambda d: d.stat().st_mtime)[: -keep + 1 or None]:
        shutil.rmtree(old, ignore_errors=True)
    work = root / run_id
    work.mkdir()
    return work


def _wait(check: Callable[[], object], timeout: float, what: str, interval: float = 1.0) -> object:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            got = check()
            if got:
                return got
        except Exception as exc:
            last = f" (last error: {type(exc).__name__}: {exc})"
        time.sleep(interval)
    raise TimeoutError(f"{what} did not happen within {timeout:.0f} s{last}")


def under_replicated(bootstrap: str, topic: str) -> list[int]:
    """Partitions of `topic` whose in-sync replicas are fewer than their replicas."""
    with kafka.admin(bootstrap, "testbed-faults") as admin:
        (desc,) = admin.describe_topics([topic])
    if desc.get("error_code"):
        raise faults.FaultError(f"describe topic {topic}: error code {desc['error_code']}")
    return sorted(p["partition_index"] for p in desc["partitions"] if len(p["isr_nodes"]) < len(p["replica_nodes"]))


def active_controller(bootstrap: str) -> int:
    """The node leading the KRaft metadata quorum (DescribeQuorum; DescribeCluster's controller id is any broker)."""
    with kafka.admin(bootstrap, "testbed-faults") as admin:
        quorum = admin.describe_metadata_quorum()
    (metadata,) = [t for t in quorum["topics"] if t["topic_name"] == "__cluster_metadata"]
    return int(metadata["partitions"][0]["leader_id"])


class Faults:
    """Injects the faults one by one and records what each did; restores whatever it left broken."""

    def __init__(self, run: Run, client: OrionClient, job_id: int, watch: Watch, load: Load) -> None:
        self.run, self.client, self.job_id, self.watch, self.load = run, client, job_id, watch, load
        self.endpoints = run.endpoints
        self.run_dir = Path(run.endpoints.get("testbed_dir") or paths.testbed_dir())
        self.killed: list[faults.Image] = []
        self.paused: list[faults.Image] = []

    # ----- helpers
    def job(self) -> dict:
        job = self.client.job(self.job_id)
        assert job is not None, f"Orion forgot job {self.job_id}"
        return job

    def _begin(self, name: str, target: str) -> dict:
        end = self.watch.sample_end()
        now = time.monotonic()
        with self.watch.lock:
            committed = self.watch.timeline.committed_total(now)
        rec = {
            "fault": name,
            "target": target,
            "at": now,
            "load": _load_avg(),
            "sending": self.load.sending(),
            "produced_at_fault": end,
            "committed_at_fault": committed,
            "in_flight": end - committed,
            "checks": {},
        }
        self.run.faults[name] = rec
        return rec

    def _wait_flowing(self, rec: dict) -> None:
        """Wait until a batch planned after the fault (and after its repair) has committed; record the figures."""
        tl = self.watch.timeline
        t0 = rec["at"]
        ref = rec.get("repaired_at", t0)

        def flowing() -> float | None:
            with self.watch.lock:
                return tl.first_flow_after(ref)

        _wait(flowing, RECOVERY_TIMEOUT, f"the pipeline flowing again after {rec['fault']}")
        with self.watch.lock:
            flow = tl.first_flow_after(t0)
            first = tl.first_commit_after(t0)
            after_repair = tl.first_flow_after(ref)
        rec["flowing_again_s"] = round(flow - t0, 1) if flow else None
        rec["first_commit_s"] = round(first - t0, 1) if first else None
        if "repaired_at" in rec:
            rec["down_s"] = round(rec["repaired_at"] - t0, 1)
            rec["flowing_after_repair_s"] = round(after_repair - ref, 1) if after_repair else None
        rec["load_after"] = _load_avg()

    def _running_again(self, before: dict, *, new_app: bool) -> dict | None:
        """The job's record once Orion runs it again (a later run; a new application if asked), else None."""
        job = self.job()
        if job["state"] != "running" or job["run"] <= before["run"] or not job.get("app_id"):
            return None
        if new_app and job["app_id"] == before["app_id"]:
            return None
        return job

    def settle(self, commits: int = 1, timeout: float = 300) -> None:
        """A couple of ordinary commits between two faults."""
        start = self.watch.commits()
        _wait(lambda: self.watch.commits() >= start + commits, timeout, f"{commits} commits between faults")

    def restore(self) -> None:
        """Put the test bed back whatever happened: resume what is paused, restart what is down."""
        for image in self.paused:
            faults.resume(image)
        self.paused.clear()
        for image in list(self.killed):
            # A restart that began but timed out has its process started and recorded: do not start a second.
            if faults.awaits_restart(image, self.run_dir):
                faults.restart(image, self.run_dir, endpoints=self.endpoints)
            self.killed.remove(image)

    # ----- the faults
    def kafka_broker(self) -> None:
        boot = self.endpoints["kafka_bootstrap_servers"]
        node = active_controller(boot)
        rec = self._begin("kafka_broker", f"kafka-{node} (the active controller)")
        image = faults.kill(f"kafka-{node}", self.run_dir)
        self.killed.append(image)
        rec["checks"]["broker_gone_from_metadata"] = bool(
            _wait(lambda: node not in kafka.describe_brokers(boot), 120, f"broker {node} fenced or gone")
        )
        time.sleep(max(0.0, rec["at"] + DOWN_SECONDS - time.monotonic()))  # the broker stays down for 20 s
        rec["restart_begun_s"] = round(time.monotonic() - rec["at"], 1)
        faults.restart(image, self.run_dir, endpoints=self.endpoints)
        self.killed.remove(image)
        rec["repaired_at"] = time.monotonic()
        rec["checks"]["broker_listed_unfenced"] = node in kafka.describe_brokers(boot)
        began = time.monotonic()
        _wait(lambda: under_replicated(boot, self.run.topic) == [], 300, "every replica in sync again")
        rec["isr_full_after_restart_s"] = round(time.monotonic() - began, 1)
        rec["checks"]["every_replica_in_sync"] = True
        self._wait_flowing(rec)

    def _executor_worker(self, app_id: str) -> str | None:
        """The test bed process name of the worker that runs an executor of `app_id`."""
        import requests

        for name in sorted(n for n in faults.processes(self.run_dir) if n.startswith("spark-worker-")):
            image = faults.capture(name, self.run_dir)
            ui = image.argv[image.argv.index("--webui-port") + 1]
            info = requests.get(f"http://127.0.0.1:{ui}/json/", timeout=5).json()
            if any((e.get("appid") or e.get("appId")) == app_id for e in info.get("executors", [])):
                return name
        return None

    def _app_cores(self, app_id: str) -> int:
        apps = spark.master_json(self.endpoints["spark_master_ui"]).get("activeapps", [])
        return sum(int(a.get("cores", 0)) for a in apps if a.get("id") == app_id)

    def spark_worker(self) -> None:
        app_id = self.job()["app_id"]
        name = _wait(lambda: self._executor_worker(app_id), 120, f"a worker running an executor of {app_id}")
        rec = self._begin("spark_worker", f"{name} (runs the job's executor)")
        image = faults.kill(str(name), self.run_dir)
        self.killed.append(image)
        faults.restart(image, self.run_dir, endpoints=self.endpoints)
        self.killed.remove(image)
        rec["repaired_at"] = time.monotonic()
        rec["checks"]["worker_alive_again"] = (
            faults.worker_state(self.endpoints["spark_master_ui"], int(image.argv[image.argv.index("--port") + 1]))
            == "ALIVE"
        )
        self._wait_flowing(rec)
        job = self.job()
        rec["checks"]["job_has_an_executor"] = bool(
            _wait(lambda: self._app_cores(self.job()["app_id"]) >= 1, 300, "the job's application holding a core")
        )
        rec["same_application"] = job["app_id"] == app_id

    def driver(self) -> None:
        before = self.job()
        assert before["state"] == "running" and before["pid"], before
        rec = self._begin("driver", f"Orion job {self.job_id}'s driver (process group {before['pid']})")
        os.killpg(int(before["pid"]), signal.SIGKILL)
        faults.wait_gone(int(before["pid"]))
        after = _wait(lambda: self._running_again(before, new_app=True), RECOVERY_TIMEOUT,
                      "Orion running the job again as a new application")  # fmt: skip
        rec["repaired_at"] = time.monotonic()
        rec["checks"]["orion_resubmitted_it"] = True
        rec["run_before_after"] = [before["run"], after["run"]]  # type: ignore[index]
        rec["app_before_after"] = [before["app_id"], after["app_id"]]  # type: ignore[index]
        self._wait_flowing(rec)

    def orion(self) -> None:
        before = self.job()
        rec = self._begin("orion", "Orion (python -m orion)")
        image = faults.kill("orion", self.run_dir)
        self.killed.append(image)
        faults.restart(image, self.run_dir, endpoints=self.endpoints)
        self.killed.remove(image)
        rec["checks"]["orion_answers"] = orion.health_ok(self.endpoints["orion_url"])
        after = _wait(lambda: self._running_again(before, new_app=False), RECOVERY_TIMEOUT,
                      "Orion running the job again after its own restart")  # fmt: skip
        rec["repaired_at"] = time.monotonic()
        rec["checks"]["job_running_again"] = True
        # The driver Orion lost track of was killed before the new one started: never two writers.
        rec["checks"]["old_driver_gone"] = before["app_id"] not in streaming_job.master_active_apps(
            self.endpoints["spark_master_ui"]
        )
        rec["run_before_after"] = [before["run"], after["run"]]  # type: ignore[index]
        rec["detail_after"] = after.get("detail", "")  # type: ignore[union-attr]
        self._wait_flowing(rec)

    def s3_pause(self) -> None:
        rec = self._begin("s3_pause", "the S3 server (SIGSTOP, 20 s, SIGCONT)")
        image = faults.pause("s3", self.run_dir)
        self.paused.append(image)
        # SIGSTOP takes effect once the process is scheduled: on a loaded machine not at once.
        try:
            rec["checks"]["server_stopped"] = bool(
                _wait(lambda: faults.is_stopped(image.pgid), 15, "the S3 server stopped (state T)", interval=0.05)
            )
        except TimeoutError:
            rec["checks"]["server_stopped"] = False
        time.sleep(max(0.0, rec["at"] + DOWN_SECONDS - time.monotonic()))
        faults.resume(image)
        self.paused.remove(image)
        rec["repaired_at"] = time.monotonic()
        rec["checks"]["buckets_answer"] = bool(
            _wait(lambda: s3.buckets_answer(self.endpoints, ["lake", "checkpoints"]), 120, "S3 answering")
        )
        self._wait_flowing(rec)

    def _versions(self) -> tuple[int, int]:
        return (_table(self.endpoints, self.run.table_uri).version(),
                _table(self.endpoints, self.run.rejected_uri).version())  # fmt: skip

    def s3_crash(self) -> None:
        before = self._versions()
        rec = self._begin("s3_crash", "the S3 server (kill -9, restarted 20 s later on its data)")
        image = faults.kill("s3", self.run_dir)
        self.killed.append(image)
        time.sleep(max(0.0, rec["at"] + DOWN_SECONDS - time.monotonic()))
        rec["restart_begun_s"] = round(time.monotonic() - rec["at"], 1)
        faults.restart(image, self.run_dir, endpoints=self.endpoints)
        self.killed.remove(image)
        rec["repaired_at"] = time.monotonic()
        rec["checks"]["buckets_answer"] = s3.buckets_answer(self.endpoints, ["lake", "checkpoints"])
        after = self._versions()
        # Every commit made before the crash is still there (delta-rs reads both tables at a version >= before).
        rec["checks"]["tables_kept_their_commits"] = after[0] >= before[0] and after[1] >= before[1]
        rec["table_versions_before_after"] = [list(before), list(after)]
        self._wait_flowing(rec)
        job = self.job()
        rec["job_run_after"] = job["run"]
        rec["job_detail_after"] = job.get("detail", "")


def _table(endpoints: dict[str, str], uri: str) -> deltalake.DeltaTable:
    return deltalake.DeltaTable(sparkrun.s3_uri(uri), storage_options=delta_storage_options(endpoints))


def _wave_figures(w: Wave) -> dict:
    return {"kind": w.kind, "count": w.count, "exit": w.exit_code, "seconds": round((w.ended or 0) - w.started, 1),
            "acked": w.summary.get("acked"), "failed": w.summary.get("failed")}  # fmt: skip


def _relative(rec: dict, t0: float) -> dict:
    out = dict(rec)
    for key in ("at", "repaired_at"):
        if key in out:
            out[key] = round(out[key] - t0, 1)
    return out


@pytest.fixture(scope="module")
def run(testbed: dict[str, str]) -> Iterator[Run]:
    if "testbed_spark_home" not in testbed:
        pytest.skip("the fault suite kills test bed processes (LAKEHOUSE_TARGET=testbed)")
    services = testbed.get("testbed_services", "").split(",")
    missing = [s for s in ("s3", "kafka", "spark", "orion") if s not in services]
    if missing:
        pytest.fail(f"the running test bed lacks {missing}: the fault suite needs s3, kafka, spark and orion")
    run_dir = Path(testbed.get("testbed_dir") or paths.testbed_dir())
    problems = faults.health_problems(run_dir, testbed)
    assert problems == [], f"the test bed is not healthy before the fault suite: {problems}"

    run_id = uuid.uuid4().hex[:10]
    name = f"faults_{run_id}"
    s = bed_settings(default_plan()).replace(kafka_topic=f"faults-{run_id}", delta_table=name)
    env = stream_job_env(s, bootstrap_servers=testbed["testbed_kafka_internal_bootstrap"])
    r = Run(
        endpoints=testbed,
        topic=s.kafka_topic,
        table_uri=env["LAKEHOUSE_TABLE_URI"],
        rejected_uri=env["LAKEHOUSE_REJECTED_TABLE_URI"],
    )
    work = _work_dir(run_id)
    sparkrun.create_topic(testbed, r.topic)
    try:
        _drive(r, env, run_dir, work)
        yield r
    finally:
        try:
            sparkrun.delete_topic(testbed, r.topic)
        finally:
            sparkrun.delete_prefix(testbed, testbed["lake_bucket"], name)
            sparkrun.delete_prefix(testbed, testbed["checkpoint_bucket"], name)


def _drive(r: Run, env: dict[str, str], run_dir: Path, work: Path) -> None:
    """The whole run: job, stream, faults, catch-up, stop, read-back; the test bed restored whatever happens."""
    testbed = r.endpoints
    chosen = size()
    spec = JobSpec(
        name=postdeploy.STREAM_JOB,
        args=postdeploy.stream_job_args(env),
        supervise=True,
        code_hash=postdeploy.stream_code_hash(),
    )
    client = OrionClient(testbed["orion_url"], testbed["orion_token"], timeout=30)
    # Waves of ~30 s: the stream ends soon after the last fault and the target (it stops between two waves).
    wave_events = int(min(chosen["events"], max(3_000, chosen["rate"] * 30)))
    load = Load(
        testbed, r.topic, work, rate=chosen["rate"], wave_events=wave_events, target=int(chosen["events"]),
        resend_events=max(500, wave_events // 6), resend_at_wave=1,
    )  # fmt: skip
    job_id: int | None = None
    watch: Watch | None = None
    injector: Faults | None = None
    began = time.monotonic()
    r.figures.update(size=chosen, load_before=_load_avg(), cpus=os.cpu_count(), wave_events=wave_events)
    try:
        job, _ = streaming_job.ensure_running(client, spec, start_timeout=900)
        job_id = int(job["id"])
        r.job_checkpoint = job.get("checkpoint")
        assert r.job_checkpoint and f"faults_{r.topic.removeprefix('faults-')}" in r.job_checkpoint, job
        r.checkpoint_uri = r.job_checkpoint
        _wait(lambda: _table(testbed, r.table_uri).version() >= 0 and _table(testbed, r.rejected_uri).version() >= 0,
              600, "both tables created by the job")  # fmt: skip
        r.figures["job_running_s"] = round(time.monotonic() - began, 1)
        watch = Watch(testbed, r.topic, r.checkpoint_uri, lambda: client.job(job_id))  # type: ignore[arg-type]
        watch.start()
        load.start()
        injector = Faults(r, client, job_id, watch, load)
        # Steady first: the stream flows (a commit with data, then an ordinary one) before anything is hit.
        _wait(lambda: watch.committed_total() > 0 and watch.commits() >= 2, 900, "the pipeline flowing")
        t_stream = time.monotonic()
        for fault in selected():
            if load.errors:
                break
            getattr(injector, fault)()
            injector.settle()
        r.figures["faults_s"] = round(time.monotonic() - t_stream, 1)
        load.finish()
        load.join(timeout=CATCH_UP_TIMEOUT)
        end_total = watch.sample_end()
        t_end = time.monotonic()
        _wait(lambda: watch.committed_total() >= end_total, CATCH_UP_TIMEOUT, "the job catching up with the topic")
        r.figures["catch_up_after_stream_s"] = round(time.monotonic() - t_end, 1)
        r.figures["stream_s"] = round(max(w.ended or 0 for w in load.waves) - min(w.started for w in load.waves), 1)
        time.sleep(5)  # a few more triggers: nothing may arrive late or twice
        # The job's bounded stop (its outcome on the record), then the stack's own stop-and-forget.
        r.final_job = client.stop(job_id, timeout=300) or {}
        streaming_job.stop_and_forget(client, job_id, master_ui=testbed["spark_master_ui"], stop_timeout=240)
        job_id = None
        topic_records, _ = watch.topic_end()
        watch.stop()
        r.manifests = load.manifests()
        r.producer_errors = list(load.errors)
        r.waves = [_wave_figures(w) for w in load.waves]
        events = _table(testbed, r.table_uri).to_pyarrow_table(columns=["event_id"]).column("event_id").to_pylist()
        rejected = (
            _table(testbed, r.rejected_uri)
            .to_pyarrow_table(columns=["kafka_partition", "kafka_offset", "reason_code", "reason"])
            .to_pylist()
        )
        r.rejected_rows = rejected
        r.reconciliation = reconcile(expected(r.manifests), topic_records, events, rejected)
        r.figures["events_produced"] = r.reconciliation.produced
    finally:
        load.abort()
        if watch is not None:
            watch.stop()
            r.figures["watch_errors"] = dict(watch.errors)
        try:
            if injector is not None:
                injector.restore()
        finally:
            if job_id is not None:
                try:
                    ui = testbed["spark_master_ui"]
                    streaming_job.stop_and_forget(client, job_id, master_ui=ui, stop_timeout=240)
                except Exception as exc:
                    print(f"could not stop Orion job {job_id}: {exc}")
            r.health_after = faults.health_problems(run_dir, testbed)
            if r.health_after:  # e.g. a broker still catching up: give it time once
                time.sleep(30)
                r.health_after = faults.health_problems(run_dir, testbed)
            t0 = min((f["at"] for f in r.faults.values()), default=began)
            r.figures["faults"] = {k: _relative(v, t0) for k, v in r.faults.items()}
            if r.reconciliation is not None:
                r.figures["reconciliation"] = r.reconciliation.as_dict()
            r.figures.update(waves=r.waves, stop_outcome=r.final_job.get("stop_outcome"), health_after=r.health_after,
                             test_s=round(time.monotonic() - began, 1), load_after=_load_avg())  # fmt: skip
            (work / "figures.json").write_text(json.dumps(r.figures, indent=2, default=str))
            print("FAULTS-FIGURES " + json.dumps(r.figures, default=str))


# ------------------------------------------------------------------------------------------ the tests


def test_every_fault_happened_under_load(run: Run) -> None:
    assert list(run.faults) == list(selected())
    assert all(f["sending"] for f in run.faults.values()), {k: f["sending"] for k, f in run.faults.items()}
    assert run.reconciliation is not None and run.reconciliation.produced >= size()["events"]


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_was_survived_and_the_pipeline_flowed_again(run: Run, fault: str) -> None:
    if fault not in selected():
        pytest.skip(f"{fault} is not in this run (size {size()['name']}; LAKEHOUSE_FAULTS_ONLY): `make faults` runs it")
    rec = run.faults[fault]
    assert rec["checks"] and all(rec["checks"].values()), rec["checks"]
    assert rec["flowing_again_s"] is not None and rec["flowing_again_s"] > 0


def test_the_producer_had_every_record_acknowledged(run: Run) -> None:
    assert run.producer_errors == []
    assert all(w["exit"] == 0 and w["failed"] == 0 for w in run.waves), run.waves
    exp = expected(run.manifests)
    assert exp.failed == 0
    assert run.reconciliation is not None
    assert run.reconciliation.topic_records == run.reconciliation.produced  # no record written twice by retries


def test_resend_wave_repeats_events_of_the_stream(run: Run) -> None:
    stream_ids = {
        line["event_id"] for name, lines in run.manifests.items() if name.startswith("stream")
        for line in lines if line["kind"] == "valid"
    }  # fmt: skip
    resent = [line["event_id"] for name, lines in run.manifests.items() if name.startswith("resend") for line in lines]
    assert resent and set(resent) <= stream_ids


def test_no_event_lost_or_duplicated(run: Run) -> None:
    rec = run.reconciliation
    assert rec is not None
    assert (rec.lost, rec.duplicated, rec.unexpected) == (0, 0, 0)
    assert rec.events_rows == rec.distinct_events == len(expected(run.manifests).valid)


def test_every_malformed_record_quarantined_once_with_its_reason(run: Run) -> None:
    rec = run.reconciliation
    exp = expected(run.manifests)
    assert rec is not None and len(exp.bad) > 0
    assert (rec.rejected_missing, rec.rejected_extra, rec.wrong_reason, rec.no_reason_text) == (0, 0, 0, 0)
    assert rec.rejected_rows == rec.rejected_distinct == len(exp.bad)


def test_valid_plus_rejected_plus_duplicates_equals_produced(run: Run) -> None:
    rec = run.reconciliation
    assert rec is not None and rec.resent > 0
    assert rec.recognised_duplicates == rec.resent
    assert rec.events_rows + rec.rejected_rows + rec.recognised_duplicates == rec.produced


def test_the_job_ran_on_a_checkpoint_of_its_own(run: Run) -> None:
    # Orion learned it from the job (--describe) and guards it; it lies under this run's own prefix.
    run_id = run.topic.removeprefix("faults-")
    assert run.job_checkpoint is not None and run.job_checkpoint.startswith("s3://")
    assert f"faults_{run_id}" in run.job_checkpoint


def test_the_test_bed_is_healthy_afterwards(run: Run) -> None:
    assert run.health_after == []
