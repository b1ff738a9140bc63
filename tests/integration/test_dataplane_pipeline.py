"""The data plane end to end on the real-service test bed: producer CLI -> Kafka (3 brokers) -> the
streaming job on the Spark standalone cluster -> Delta on S3, read back with Spark and with delta-rs.

One pipeline run (module fixture), then one test per property:
  1. the producer sends 100 000 records: valid events, 500 malformed ones of five kinds, 300 re-sends;
  2. the job starts (tables created before the first event) and is killed (SIGKILL) right after a
     batch's quarantine commit, before that batch's events append commits;
  3. while it is down the producer re-sends 5 000 earlier events (same seed) and 20 000 new records
     (100 malformed, 50 re-sends);
  4. the job restarts from its checkpoint (its dedup state in the checkpoint), catches up and is stopped
     with SIGTERM (a bounded stop: one `stop-outcome=` line);
  5. delta_maintenance, once the stream has released the tables' writer lease, compacts, vacuums and
     checkpoints the tables.
Each run uses its own topic and table/checkpoint prefixes, removed at the end.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import deltalake
import pytest

from bench import sparkrun
from producer.malformed import KINDS
from tests.integration.spark_apps import READBACK, delta_storage_options, wait_for_line

pytestmark = [pytest.mark.integration, pytest.mark.timeout(2400)]

RUN1 = ["--count", "100000", "--rate", "0", "--seed", "101", "--start-time", "2026-03-01T08:00:00Z",
        "--inject-malformed", "500", "--duplicates", "300"]  # fmt: skip
RESEND = ["--count", "5000", "--rate", "0", "--seed", "101", "--start-time", "2026-03-01T08:00:00Z"]
RUN3 = ["--count", "20000", "--rate", "0", "--seed", "202", "--start-time", "2026-03-01T09:00:00Z",
        "--inject-malformed", "100", "--duplicates", "50"]  # fmt: skip
JOB_ARGS = ["--trigger-interval", "2 seconds", "--max-offsets-per-trigger", "20000", "--dedup-window", "1 hour"]
KILL_BATCH = 2


@dataclass
class Pipeline:
    endpoints: dict[str, str]
    topic: str
    table_uri: str
    rejected_uri: str
    manifests: dict[str, list[dict]] = field(default_factory=dict)
    producer: dict[str, dict] = field(default_factory=dict)
    figures: dict[str, object] = field(default_factory=dict)
    at_kill: dict[str, object] = field(default_factory=dict)
    readback: dict = field(default_factory=dict)
    maintenance_log: list[str] = field(default_factory=list)
    job_exit_code: int | None = None
    stop_lines: list[str] = field(default_factory=list)
    topic_records: int = -1

    def table(self, uri: str) -> deltalake.DeltaTable:
        return deltalake.DeltaTable(sparkrun.s3_uri(uri), storage_options=delta_storage_options(self.endpoints))


def _manifest(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _batch_lines(lines: list[str]) -> list[dict]:
    """The job's per-batch log lines: batch id, consumed, seconds."""
    out = []
    for line in lines:
        m = re.search(r"batch (\d+): consumed (\d+), valid (\d+) .*rejected (\d+), ([\d.]+) s", line)
        if m:
            out.append({"batch": int(m[1]), "consumed": int(m[2]), "seconds": float(m[5])})
    return out


def _last_batch_id(table: deltalake.DeltaTable) -> int | None:
    for commit in table.history(5):
        meta = commit.get("userMetadata")
        if meta:
            return int(json.loads(meta)["batch_id"])
    return None


def _wait_for_counts(p: Pipeline, events: int, rejected: int, app: sparkrun.SparkApp, timeout_s: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if app.proc.poll() is not None:
            raise RuntimeError(f"the job exited ({app.proc.returncode}):\n" + "\n".join(app.lines()[-40:]))
        n_events = len(p.table(p.table_uri).to_pyarrow_table(columns=["event_id"]))
        n_rejected = len(p.table(p.rejected_uri).to_pyarrow_table(columns=["kafka_offset"]))
        if n_events >= events and n_rejected >= rejected:
            return time.monotonic() - start
        time.sleep(3)
    raise TimeoutError(f"the tables did not reach {events} events / {rejected} rejected within {timeout_s:.0f} s")


def _work_dir(run_id: str, keep: int = 3) -> Path:
    """artifacts/dataplane-it/<run>: manifests, summaries and Spark logs of a run (pytest's own temp dirs are
    pruned by any other pytest session on the machine, which may run while this long test does)."""
    root = sparkrun.REPO / "artifacts" / "dataplane-it"
    root.mkdir(parents=True, exist_ok=True)
    for old in sorted(root.iterdir(), key=lambda d: d.stat().st_mtime)[: -keep + 1 or None]:
        shutil.rmtree(old, ignore_errors=True)
    work = root / run_id
    work.mkdir()
    return work


@pytest.fixture(scope="module")
def pipeline(testbed: dict[str, str]) -> Iterator[Pipeline]:
    if "testbed_spark_home" not in testbed:
        pytest.skip("the data-plane pipeline test drives spark-submit on the test bed (LAKEHOUSE_TARGET=testbed)")
    services = testbed.get("testbed_services", "")
    missing = [s for s in ("s3", "kafka", "spark") if s not in services.split(",")]
    if missing:
        pytest.fail(f"the running test bed lacks {missing}: restart it with all services")
    run_id = f"it-{uuid.uuid4().hex[:10]}"
    work = _work_dir(run_id)
    prefix = f"dataplane_it/{run_id}"
    p = Pipeline(
        endpoints=testbed,
        topic=f"dataplane-{run_id}",
        table_uri=f"s3a://{testbed['lake_bucket']}/{prefix}/logistics_events",
        rejected_uri=f"s3a://{testbed['lake_bucket']}/{prefix}/logistics_events_rejected",
    )
    checkpoint = f"s3a://{testbed['checkpoint_bucket']}/{prefix}/logistics_events"
    env = sparkrun.spark_env(testbed)
    job_argv = sparkrun.spark_submit_argv(
        testbed,
        sparkrun.JOBS / "logistics_stream.py",
        ["--bootstrap-servers", testbed["testbed_kafka_internal_bootstrap"], "--topic", p.topic,
         "--table-uri", p.table_uri, "--checkpoint-uri", checkpoint, *JOB_ARGS],
    )  # fmt: skip
    started = time.monotonic()
    apps: list[sparkrun.SparkApp] = []
    sparkrun.create_topic(testbed, p.topic)
    try:
        # 1. produce 100 000 records
        for name, args in (("run1", RUN1),):
            code, summary = sparkrun.run_producer(
                testbed, p.topic, [*args, "--manifest", str(work / f"{name}.jsonl")], work
            )
            assert code == 0, f"producer {name} exited {code}: {summary}"
            p.producer[name], p.manifests[name] = summary, _manifest(work / f"{name}.jsonl")

        # 2. start the job; kill it between the quarantine commit and the MERGE commit of batch KILL_BATCH
        job1 = sparkrun.SparkApp(job_argv, env, work / "job-run1.log")
        apps.append(job1)
        wait_for_line(job1, "tables ready", timeout_s=300)
        t_ready = time.monotonic()
        p.at_kill["tables_exist_before_first_batch"] = (
            p.table(p.table_uri).version() == 0 and p.table(p.rejected_uri).version() == 0
            and not any("batch 0: consumed" in line for line in job1.lines())
        )  # fmt: skip
        wait_for_line(job1, f"batch {KILL_BATCH}: quarantine written", timeout_s=900, poll_s=0.1)
        job1.kill()
        p.figures["job_run1_seconds_to_kill"] = round(time.monotonic() - t_ready, 1)
        p.figures["job_run1_batches"] = _batch_lines(job1.lines())
        p.at_kill["rejected_last_batch"] = _last_batch_id(p.table(p.rejected_uri))
        p.at_kill["events_last_batch"] = _last_batch_id(p.table(p.table_uri))

        # 3. while the job is down: re-send 5 000 earlier events, then 20 000 new records
        for name, args in (("resend", RESEND), ("run3", RUN3)):
            code, summary = sparkrun.run_producer(
                testbed, p.topic, [*args, "--manifest", str(work / f"{name}.jsonl")], work
            )
            assert code == 0, f"producer {name} exited {code}: {summary}"
            p.producer[name], p.manifests[name] = summary, _manifest(work / f"{name}.jsonl")

        # 4. restart from the checkpoint; wait until everything is in; stop it gracefully
        job2 = sparkrun.SparkApp(job_argv, env, work / "job-run2.log")
        apps.append(job2)
        wait_for_line(job2, "tables ready", timeout_s=300)
        valid, bad, _ = expected(p)
        p.figures["job_run2_catch_up_seconds"] = round(_wait_for_counts(p, len(valid), len(bad), job2, 1200), 1)
        time.sleep(8)  # a few more triggers: nothing may arrive late or twice
        p.job_exit_code = job2.stop()
        p.stop_lines = [x for x in job2.lines() if "stop-outcome=" in x]
        p.topic_records = sparkrun.topic_record_count(testbed, p.topic)
        p.figures["job_run2_batches"] = _batch_lines(job2.lines())

        # 5. read back with Spark; then maintenance
        read = sparkrun.SparkApp(
            sparkrun.spark_submit_argv(testbed, READBACK,
                                       ["--table-uri", p.table_uri], master="local[1]"),
            env, work / "readback.log",
        )  # fmt: skip
        apps.append(read)
        assert read.wait(600) == 0, "\n".join(read.lines()[-40:])
        line = next(x for x in read.lines() if x.startswith("READBACK "))
        p.readback = json.loads(line.removeprefix("READBACK "))
        maint = sparkrun.SparkApp(
            sparkrun.spark_submit_argv(testbed, sparkrun.JOBS / "delta_maintenance.py",
                                       ["--table-uri", p.table_uri], master="local[1]"),
            env, work / "maintenance.log",
        )  # fmt: skip
        apps.append(maint)
        assert maint.wait(600) == 0, "\n".join(maint.lines()[-40:])
        p.maintenance_log = [x for x in maint.lines() if "maintenance of" in x]
        p.figures["test_seconds"] = round(time.monotonic() - started, 1)
        p.figures["producer"] = {k: {"sent": v["sent"], "elapsed_s": round(v["elapsed_s"], 1),
                                     "mean_rate": round(v["mean_rate"])} for k, v in p.producer.items()}  # fmt: skip
        print("DATAPLANE-FIGURES " + json.dumps(p.figures))
        artifacts = sparkrun.REPO / "artifacts"
        artifacts.mkdir(exist_ok=True)
        (artifacts / "dataplane-integration.json").write_text(json.dumps(p.figures, indent=2))
        yield p
    finally:
        for app in apps:
            if app.proc.poll() is None:
                app.kill()
        try:
            sparkrun.delete_topic(testbed, p.topic)
        finally:
            sparkrun.delete_prefix(testbed, testbed["lake_bucket"], prefix + "/")
            sparkrun.delete_prefix(testbed, testbed["checkpoint_bucket"], prefix + "/")


def expected(p: Pipeline) -> tuple[set[str], dict[tuple[int, int], str], int]:
    """(valid event ids, bad records by (partition, offset) -> kind, re-sent copies) from the manifests."""
    valid: set[str] = set()
    bad: dict[tuple[int, int], str] = {}
    resent = 0
    for name, lines in p.manifests.items():
        for line in lines:
            if name == "resend" or line["kind"] == "duplicate":
                resent += 1
            elif line["kind"] == "valid":
                valid.add(line["event_id"])
            else:
                bad[(line["partition"], line["offset"])] = line["kind"]
    return valid, bad, resent


def test_producer_sent_and_acknowledged_everything(pipeline: Pipeline) -> None:
    run1 = pipeline.producer["run1"]
    assert (run1["sent"], run1["acked"], run1["failed"], run1["unacknowledged"]) == (100_000, 100_000, 0, 0)
    assert run1["kinds"] == {"valid": 99_200, "duplicate": 300, **{k: 100 for k in KINDS}}
    assert all(s["acked"] == s["sent"] for s in pipeline.producer.values())
    assert all("offset" in line for lines in pipeline.manifests.values() for line in lines)


def test_tables_existed_before_the_first_event(pipeline: Pipeline) -> None:
    assert pipeline.at_kill["tables_exist_before_first_batch"]


def test_the_kill_fell_between_the_two_commits_of_a_batch(pipeline: Pipeline) -> None:
    assert pipeline.at_kill["rejected_last_batch"] == KILL_BATCH
    assert pipeline.at_kill["events_last_batch"] == KILL_BATCH - 1


def test_the_resend_run_repeats_earlier_events(pipeline: Pipeline) -> None:
    first_ids = {line["event_id"] for line in pipeline.manifests["run1"] if line["kind"] == "valid"}
    assert {line["event_id"] for line in pipeline.manifests["resend"]} <= first_ids


def test_table_holds_exactly_the_valid_events_once(pipeline: Pipeline) -> None:
    valid, _, _ = expected(pipeline)

    rows = pipeline.table(pipeline.table_uri).to_pyarrow_table(columns=["event_id"]).column("event_id").to_pylist()

    assert len(rows) == len(valid) == 99_200 + 19_850
    assert set(rows) == valid
    assert [i for i, n in Counter(rows).items() if n > 1] == []


def test_quarantine_holds_exactly_the_bad_records_with_their_reason(pipeline: Pipeline) -> None:
    _, bad, _ = expected(pipeline)

    t = pipeline.table(pipeline.rejected_uri).to_pyarrow_table(
        columns=["kafka_partition", "kafka_offset", "reason_code", "reason", "raw_value", "kafka_topic"]
    )
    found = {(r["kafka_partition"], r["kafka_offset"]): r["reason_code"] for r in t.to_pylist()}

    assert t.num_rows == len(found) == len(bad) == 600
    assert found == bad
    assert all(r["reason"] and r["raw_value"] and r["kafka_topic"] == pipeline.topic for r in t.to_pylist())


def test_consumed_equals_valid_plus_rejected_plus_resent(pipeline: Pipeline) -> None:
    valid, bad, resent = expected(pipeline)

    sent = sum(s["sent"] for s in pipeline.producer.values())
    events = pipeline.table(pipeline.table_uri).to_pyarrow_table(columns=["event_id"]).num_rows
    rejected = pipeline.table(pipeline.rejected_uri).to_pyarrow_table(columns=["kafka_offset"]).num_rows

    assert pipeline.topic_records == sent == 125_000
    assert (events, rejected, resent) == (len(valid), len(bad), 300 + 5_000 + 50)
    assert events + rejected + resent == pipeline.topic_records


def test_spark_reads_back_the_same_tables_with_proper_types(pipeline: Pipeline) -> None:
    valid, bad, _ = expected(pipeline)
    r = pipeline.readback

    assert r["events"]["rows"] == r["events"]["distinct_event_ids"] == len(valid)
    assert r["events"]["wrong_event_date"] == 0 and r["events"]["null_risk"] == 0
    assert r["event_dates"] == ["2026-03-01"]
    assert r["event_types"]["event_time"] == r["event_types"]["timestamp"] == "timestamp"
    assert r["event_types"]["delay_probability"] == "double" and r["event_types"]["kafka_offset"] == "bigint"
    assert r["event_types"]["event_date"] == "date" and r["event_types"]["kafka_partition"] == "int"
    assert r["rejected_rows"] == len(bad)
    assert r["rejected_by_reason"] == dict(Counter(bad.values()))


def test_the_job_stops_cleanly_on_sigterm(pipeline: Pipeline) -> None:
    assert pipeline.job_exit_code == 0
    assert len(pipeline.stop_lines) == 1, pipeline.stop_lines
    assert re.search(r"stop-outcome=(finished|abandoned)( batch=\d+)? seconds=", pipeline.stop_lines[0])


def test_maintenance_compacts_and_keeps_the_table_exact(pipeline: Pipeline) -> None:
    valid, _, _ = expected(pipeline)
    reports = [json.loads(line[line.index("{") :]) for line in pipeline.maintenance_log]
    events_report = next(r for r in reports if r["table"] == pipeline.table_uri)

    assert events_report["files_after"] < events_report["files_before"]
    assert events_report["checkpoint_version"] >= 1
    table = pipeline.table(pipeline.table_uri)
    assert table.to_pyarrow_table(columns=["event_id"]).num_rows == len(valid)
    assert any(c.get("operation") == "OPTIMIZE" for c in table.history(10))
