"""bench/breakdown.py on a synthetic event log: a batch's time split into Spark's steps, the steady median, the
cold start, and the table and plot (no test bed)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import breakdown, plots


def _log(batches: int) -> list[str]:
    ev = [{"Event": "SparkListenerApplicationStart", "Timestamp": 2_000}, {"Event": "SparkListenerExecutorAdded",
          "Timestamp": 5_000}, {"Event": "org.apache.spark.sql.streaming.StreamingQueryListener$QueryStartedEvent",
          "timestamp": "1970-01-01T00:00:08.000Z"}]  # fmt: skip
    job = 0
    for b in range(batches):
        t = 10_000 + 10_000 * b
        group = {"spark.jobGroup.id": f"logistics_stream-batch-{b}", "spark.job.description": "x"}
        # the read: Kafka stage 0.4 s (CPU 0.1), state stage 0.3 s (CPU 0.05), result
        ev += [
            {
                "Event": "SparkListenerJobStart",
                "Job ID": job,
                "Submission Time": t + 300,
                "Stage IDs": [3 * b, 3 * b + 1],
                "Properties": group,
            },
            {
                "Event": "SparkListenerStageCompleted",
                "Stage Info": {
                    "Stage ID": 3 * b,
                    "Number of Tasks": 6,
                    "Submission Time": t + 300,
                    "Completion Time": t + 700,
                },
            },
            {"Event": "SparkListenerTaskEnd", "Stage ID": 3 * b, "Task Metrics": {"Executor CPU Time": 100_000_000}},
            {
                "Event": "SparkListenerStageCompleted",
                "Stage Info": {
                    "Stage ID": 3 * b + 1,
                    "Number of Tasks": 1,
                    "Submission Time": t + 700,
                    "Completion Time": t + 1000,
                },
            },
            {"Event": "SparkListenerTaskEnd", "Stage ID": 3 * b + 1, "Task Metrics": {"Executor CPU Time": 50_000_000}},
            {"Event": "SparkListenerJobEnd", "Job ID": job, "Completion Time": t + 1000},
            # the events table's files: 0.2 s
            {
                "Event": "SparkListenerJobStart",
                "Job ID": job + 1,
                "Submission Time": t + 1100,
                "Stage IDs": [3 * b + 2],
                "Properties": group,
            },
            {"Event": "SparkListenerJobEnd", "Job ID": job + 1, "Completion Time": t + 1300},
        ]
        job += 2
        ev.append({"Event": "org.apache.spark.sql.streaming.StreamingQueryListener$QueryProgressEvent", "progress": {
            "batchId": b, "timestamp": f"1970-01-01T00:00:{10 + 10 * b:02d}.000Z", "batchDuration": 2000,
            "durationMs": {"latestOffset": 10, "walCommit": 90, "getBatch": 0, "queryPlanning": 100, "addBatch": 1700,
                           "commitOffsets": 80, "triggerExecution": 2000},
            "sources": [{"numInputRows": 1000}],
            "stateOperators": [{"allUpdatesTimeMs": 60, "allRemovalsTimeMs": 5, "commitTimeMs": 40,
                                "numRowsTotal": 1000 * (b + 1), "numStateStoreInstances": 1,
                                "customMetrics": {"rocksdbLoadLatencyMs": 7,
                                                  "rocksdbChangeLogWriterCommitLatencyMs": 30}}],
        }})  # fmt: skip
    return [json.dumps(e) for e in ev]


def _lines(batches: int) -> list[str]:
    return [f"2026-01-01 INFO logistics_stream: batch {b}: consumed 1000, valid 990, rejected 0, duplicates 10, 2.0 s "
            "(read 1.0 s, quarantine 0.0 s, events 0.6 s, commits 0.3 s)" for b in range(batches)]  # fmt: skip


def test_a_batch_splits_into_spark_steps_that_add_up_to_its_duration() -> None:
    log = breakdown.read_event_log(_log(3))
    b = breakdown.batch_breakdown(log, 1, {"read": 1.0, "quarantine": 0.0, "events": 0.6, "commits": 0.3})
    s = b["steps"]
    assert (s["latest offsets"], s["offset log write"], s["planning"]) == (0.01, 0.09, 0.1)
    assert (s["Kafka fetch + parse + screen"], s["dedup state + persisted batch"]) == (0.4, 0.3)
    assert s["read: count, driver"] == 0.3  # the read step beyond its stages
    assert (s["Delta: write files"], s["Delta: commit (log, checksum, snapshot)"]) == (0.2, 0.3)
    assert s["Delta: transaction, driver"] == 0.1 and s["foreachBatch: other"] == 0.1
    assert s["commit log write"] == 0.08
    assert abs(sum(s.values()) - b["seconds"]) < 0.02, s
    assert b["executor_cpu"] == {"Kafka stage": 0.1, "state stage": 0.05, "other tasks": 0.0}
    assert b["state"]["load"] == 0.007 and b["state"]["changelog upload"] == 0.03 and b["state"]["partitions"] == 1
    assert (b["spark_jobs"], b["tasks"]) == (2, 7)


def test_the_steady_figure_leaves_the_cold_batch_out_and_the_start_is_timed_from_submit(tmp_path: Path) -> None:
    evdir = tmp_path / "eventlog_v2_app-1"
    evdir.mkdir()
    (evdir / "events_1_app-1").write_text("\n".join(_log(4)) + "\n{truncated")
    out = breakdown.analyse(tmp_path, _lines(4), 1000, submitted_ms=1_000)
    assert [b["batch"] for b in out["batches"]] == [0, 1, 2, 3] and out["cold_batch"]["batch"] == 0
    assert out["steady"]["batches"] == 3 and out["steady"]["seconds"] == 2.0
    assert out["start"] == {"spark_context": 1.0, "executor": 4.0, "query_started": 7.0,
                            "first_batch_committed": 11.0, "first_batch_seconds": 2.0}  # fmt: skip
    assert "Kafka fetch + parse + screen" in breakdown.format_steps({"runs": [out]})
    png = plots.breakdown({"runs": [out]}, tmp_path / "plots")
    assert png is not None and png.stat().st_size > 1000
