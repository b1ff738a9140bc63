"""Where a micro-batch's time goes, as Spark itself records it, at 1,000 and 20,000 records per batch.

python -m bench.breakdown [--sizes 1000,20000] [--batches 6] [--conf KEY=VALUE ...] [--job-arg ARG ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import machine, sparkrun
from bench.machine import noted
from contract.batchlog import parse_batch_line

SIZES = (1000, 20_000)
# The steps of one batch, in order; they add up to its duration.
STEPS = (
    "latest offsets", "offset log write", "planning", "Kafka fetch + parse + screen", "dedup state + persisted batch",
    "read: count, driver", "Delta: write files", "Delta: txn mark lookup (state rebuild)", "Delta: log checkpoint",
    "Delta: commit (log, checksum, snapshot)", "Delta: transaction, driver", "maintenance", "foreachBatch: other",
    "commit log write", "trigger: other",
)  # fmt: skip


def eventlog_conf(directory: Path) -> dict[str, str]:
    """Spark confs that write the driver's event log (uncompressed JSON lines) into `directory`."""
    uri = directory.resolve().as_uri()
    return {"spark.eventLog.enabled": "true", "spark.eventLog.dir": uri, "spark.eventLog.compress": "false"}


@dataclass
class EventLog:
    """What one application's event log says, indexed for the breakdown."""

    app_start_ms: int | None = None
    executor_added_ms: int | None = None
    query_started_ms: int | None = None
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    stages: dict[int, dict[str, Any]] = field(default_factory=dict)
    progress: dict[int, dict[str, Any]] = field(default_factory=dict)
    task_cpu: dict[int, float] = field(default_factory=dict)  # stage id -> its tasks' executor CPU seconds


def event_files(directory: Path) -> list[Path]:
    """The event log files under `directory` (Spark 4 writes `eventlog_v2_<app>/events_<n>_<app>`)."""
    files = [p for p in directory.rglob("*") if p.is_file() and p.name.startswith(("events_", "app-"))]
    return sorted(files, key=lambda p: (str(p.parent), int(p.name.split("_")[1]) if p.name[0] == "e" else 0))


def read_event_log(lines: Sequence[str] | Path) -> EventLog:
    """Parse an event log (a directory, or its lines). Unknown events are skipped."""
    if isinstance(lines, Path):
        lines = [line for f in event_files(lines) for line in f.read_text(errors="replace").splitlines()]
    log = EventLog()
    for line in lines:
        try:
            e = json.loads(line)
        except ValueError:
            continue  # a line cut by a kill
        kind = e.get("Event", "")
        if kind == "SparkListenerApplicationStart":
            log.app_start_ms = e.get("Timestamp")
        elif kind == "SparkListenerExecutorAdded" and log.executor_added_ms is None:
            log.executor_added_ms = e.get("Timestamp")
        elif kind == "SparkListenerJobStart":
            props = e.get("Properties") or {}
            log.jobs[e["Job ID"]] = {
                "start": e["Submission Time"],
                "end": None,
                "group": props.get("spark.jobGroup.id"),
                "description": props.get("spark.job.description") or "",
                "stages": list(e.get("Stage IDs") or []),
            }
        elif kind == "SparkListenerJobEnd" and e["Job ID"] in log.jobs:
            log.jobs[e["Job ID"]]["end"] = e["Completion Time"]
        elif kind == "SparkListenerTaskEnd":
            cpu_ns = (e.get("Task Metrics") or {}).get("Executor CPU Time") or 0
            log.task_cpu[e["Stage ID"]] = log.task_cpu.get(e["Stage ID"], 0.0) + cpu_ns / 1e9
        elif kind == "SparkListenerStageCompleted":
            info = e["Stage Info"]
            log.stages[info["Stage ID"]] = info
        elif kind.endswith("StreamingQueryListener$QueryStartedEvent"):
            log.query_started_ms = _epoch_ms(e.get("timestamp"))
        elif kind.endswith("StreamingQueryListener$QueryProgressEvent"):
            p = e["progress"]
            log.progress[int(p["batchId"])] = p
    return log


def _epoch_ms(stamp: str | None) -> int | None:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000) if stamp else None


def _started(log: EventLog, batch_id: int) -> int:
    """When a batch's trigger started (epoch ms)."""
    return _epoch_ms(log.progress[batch_id].get("timestamp")) or 0


def _wall(item: Mapping[str, Any], start: str, end: str) -> float:
    a, b = item.get(start), item.get(end)
    return (b - a) / 1000 if a is not None and b is not None else 0.0


_KINDS = {"rebuild": ("compute snapshot",), "checkpoint": ("checkpoint",), "maintenance": ("optimize", "vacuum")}


def _kind(job: Mapping[str, Any]) -> str:
    text = job["description"].lower()
    return next((kind for kind, words in _KINDS.items() if any(w in text for w in words)), "other")


def _stage_wall(stage: Mapping[str, Any]) -> float:
    return _wall(stage, "Submission Time", "Completion Time")


def _read_stages(log: EventLog, job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The completed stages of a batch's read job, in order: the Kafka scan (with parse and screen), the dedup."""
    done = [log.stages[s] for s in job["stages"] if "Completion Time" in log.stages.get(s, {})]
    return sorted(done, key=lambda s: s["Stage ID"])


def _state_metrics(p: Mapping[str, Any]) -> dict[str, Any]:
    """The dedup state's own metrics (stateOperators) in seconds."""
    so = (p.get("stateOperators") or [{}])[0]
    custom = so.get("customMetrics") or {}
    ms = lambda v: round((v or 0) / 1000, 3)  # noqa: E731
    return {
        "load": ms(custom.get("rocksdbLoadLatencyMs")),
        "updates": ms(so.get("allUpdatesTimeMs")),
        "removals": ms(so.get("allRemovalsTimeMs")),
        "commit": ms(so.get("commitTimeMs")),
        "changelog upload": ms(custom.get("rocksdbChangeLogWriterCommitLatencyMs")),
        "snapshot": ms(custom.get("rocksdbCommitCheckpointLatency")),
        "rows": so.get("numRowsTotal"),
        "partitions": so.get("numStateStoreInstances"),
    }


def batch_breakdown(log: EventLog, batch_id: int, steps: Mapping[str, float] | None = None) -> dict[str, Any]:
    """One batch's time by step (seconds; see STEPS), from its progress event, the Spark jobs of its job group
    and the job's own step times (`steps`: its log line)."""
    p = log.progress[batch_id]
    d = {k: v / 1000 for k, v in (p.get("durationMs") or {}).items()}
    steps = dict(steps or {})
    jobs = sorted((j for j in log.jobs.values() if j["group"] == f"logistics_stream-batch-{batch_id}"),
                  key=lambda j: j["start"])  # fmt: skip
    kinds = dict.fromkeys(("rebuild", "checkpoint", "maintenance", "other"), 0.0)
    all_cpu = sum(log.task_cpu.get(sid, 0.0) for job in jobs for sid in job["stages"])
    tasks = sum(int(log.stages.get(sid, {}).get("Number of Tasks") or 0) for job in jobs for sid in job["stages"])
    read_job = jobs[0] if jobs and _kind(jobs[0]) == "other" else None  # the read: count of the persisted batch
    ran = _read_stages(log, read_job) if read_job else []
    for job in jobs[1:] if read_job else jobs:
        kinds[_kind(job)] += _wall(job, "start", "end")
    kafka, state = (_stage_wall(ran[i]) if len(ran) > i else 0.0 for i in (0, 1))
    cpu_kafka, cpu_state = (log.task_cpu.get(ran[i]["Stage ID"], 0.0) if len(ran) > i else 0.0 for i in (0, 1))
    read = steps.get("read", _wall(read_job, "start", "end") if read_job else 0.0)
    writes = steps.get("quarantine", 0.0) + steps.get("events", 0.0)
    maintenance, commits = steps.get("maintenance", 0.0), steps.get("commits", 0.0)
    delta_jobs = kinds["other"] + kinds["rebuild"] + kinds["checkpoint"]
    parts = ("latestOffset", "walCommit", "getBatch", "queryPlanning", "addBatch", "commitOffsets")
    cpu = {"Kafka stage": cpu_kafka, "state stage": cpu_state, "other tasks": all_cpu - cpu_kafka - cpu_state}
    out = {
        "latest offsets": d.get("latestOffset", 0.0),
        "offset log write": d.get("walCommit", 0.0),
        "planning": d.get("queryPlanning", 0.0) + d.get("getBatch", 0.0),
        "Kafka fetch + parse + screen": kafka,
        "dedup state + persisted batch": state,
        "read: count, driver": max(0.0, read - kafka - state),
        "Delta: write files": kinds["other"],
        "Delta: txn mark lookup (state rebuild)": kinds["rebuild"],
        "Delta: log checkpoint": kinds["checkpoint"],
        # The job's "commits" step holds its Delta commits, log checkpoint jobs included.
        "Delta: commit (log, checksum, snapshot)": max(0.0, commits - kinds["checkpoint"]),
        "Delta: transaction, driver": max(0.0, writes - delta_jobs - commits + kinds["checkpoint"]),
        "maintenance": maintenance,
        "foreachBatch: other": max(0.0, d.get("addBatch", 0.0) - read - writes - maintenance),
        "commit log write": d.get("commitOffsets", 0.0),
        "trigger: other": max(0.0, d.get("triggerExecution", 0.0) - sum(d.get(k, 0.0) for k in parts)),
    }
    return {
        "batch": batch_id,
        "records": sum(int(s.get("numInputRows") or 0) for s in p.get("sources") or []),
        "seconds": round(p.get("batchDuration", 0) / 1000, 3),
        "steps": {k: round(v, 3) for k, v in out.items()},
        "job_steps": steps,
        "state": _state_metrics(p),
        "read_stages": [
            {"stage": st["Stage ID"], "tasks": st.get("Number of Tasks"), "seconds": round(_stage_wall(st), 3)}
            for st in ran
        ],
        "executor_cpu": {k: round(v, 3) for k, v in cpu.items()},
        "spark_jobs": len(jobs),
        "tasks": tasks,
    }


def summarise(batches: Sequence[Mapping[str, Any]], size: int) -> dict[str, Any]:
    """The steady batch: per step the median over the full batches after the first (the cold one)."""
    full = [b for b in batches if b["records"] >= size / 2]
    steady = full[1:] or full
    if not steady:
        return {}
    med = lambda xs: round(statistics.median(xs), 3)  # noqa: E731
    return {
        "batches": len(steady),
        "seconds": med([b["seconds"] for b in steady]),
        "steps": {k: med([b["steps"][k] for b in steady]) for k in STEPS},
        "state": {k: med([b["state"][k] or 0 for b in steady]) for k in steady[0]["state"]},
        "executor_cpu": {k: med([b["executor_cpu"][k] for b in steady]) for k in steady[0]["executor_cpu"]},
        "driver_cpu": med([b["driver_cpu"] for b in steady if b.get("driver_cpu") is not None] or [0.0]),
        "spark_jobs": med([b["spark_jobs"] for b in steady]),
        "tasks": med([b["tasks"] for b in steady]),
    }


def start_phases(log: EventLog, submitted_ms: int) -> dict[str, float | None]:
    """The cold start, cumulative seconds from spark-submit: SparkContext up, first executor, query started
    (the tables exist), the first batch committed."""
    first = log.progress.get(min(log.progress)) if log.progress else None
    first_end = _started(log, min(log.progress)) + int(first.get("batchDuration") or 0) if first else None
    since = lambda ms: None if ms is None else round((ms - submitted_ms) / 1000, 2)  # noqa: E731
    return {
        "spark_context": since(log.app_start_ms),
        "executor": since(log.executor_added_ms),
        "query_started": since(log.query_started_ms),
        "first_batch_committed": since(first_end),
        "first_batch_seconds": round((first.get("batchDuration") or 0) / 1000, 2) if first else None,
    }


def analyse(evdir: Path, lines: Sequence[str], size: int, submitted_ms: int, *, since_ms: int | None = None,
            until_ms: int | None = None, driver_cpu: machine.GroupCpu | None = None) -> dict[str, Any]:  # fmt: skip
    """The breakdown of a run: every batch with data (those whose trigger started in [since_ms, until_ms) when
    given), the steady median, the cold batch and the start phases."""
    log = read_event_log(evdir)
    job_steps = {b["batch"]: b["steps"] for b in (parse_batch_line(x) for x in lines) if b is not None}
    batches = [batch_breakdown(log, bid, job_steps.get(bid)) for bid in sorted(log.progress)]
    batches = [b for b in batches if b["records"] > 0]
    if driver_cpu is not None:
        for b in batches:
            start = _started(log, b["batch"])
            b["driver_cpu"] = driver_cpu.between(start, start + int(b["seconds"] * 1000))
    if since_ms is not None or until_ms is not None:
        lo, hi = since_ms or 0, until_ms or 2**62
        batches = [b for b in batches if lo <= _started(log, b["batch"]) < hi]
    return {
        "records_per_batch": size,
        "batches": batches,
        "steady": summarise(batches, size),
        "cold_batch": batches[0] if batches else None,
        "start": start_phases(log, submitted_ms),
    }


@noted
def run_size(endpoints: Mapping[str, str], size: int, batches: int, *, conf: Mapping[str, str] | None = None,
             job_args: Sequence[str] = ()) -> dict[str, Any]:  # fmt: skip
    """Drain `batches` x `size` records with the job (stack flags, --available-now, maxOffsetsPerTrigger=size),
    0.5 % of them malformed and 0.5 % re-sent, Spark's event log on."""
    from bench.stream_session import STREAM_JOB, scratch

    records, conf = size * batches, dict(conf or {})
    with scratch(endpoints, "steps") as run:
        topic = run.topic()
        sparkrun.produce(endpoints, topic, records, run.work, seed=31, malformed=records // 200, resent=records // 200)
        args = [*run.job_args(topic), "--available-now", "--max-offsets-per-trigger", str(size), *job_args]
        evdir = run.work / "eventlog"
        evdir.mkdir()
        app = run.submit(STREAM_JOB, args, f"bench-steps-{run.id}", timeout_s=3600,
                         conf=eventlog_conf(evdir) | conf, driver_cpu=True)  # fmt: skip
        out = analyse(evdir, app.ok_lines(), size, app.submitted_ms, driver_cpu=app.driver_cpu)
    return out | {"job_args": args, "conf": conf}


def figure(endpoints: Mapping[str, str] | None = None, *, sizes: Sequence[int] = SIZES, batches: int = 6,
           conf: Mapping[str, str] | None = None, job_args: Sequence[str] = ()) -> dict[str, Any]:  # fmt: skip
    endpoints = endpoints or sparkrun.load_endpoints()
    runs = [run_size(endpoints, size, batches, conf=conf, job_args=job_args) for size in sizes]
    return {"runs": runs, "steps": list(STEPS)}


def format_steps(fig: Mapping[str, Any]) -> str:
    """The steady batch per size, one column each, and the cold batch and start of the first size."""
    runs = [r for r in fig.get("runs", []) if r.get("steady")]
    if not runs:
        return "(no breakdown)"
    head = ["Step (median s per batch)", *[f"{r['records_per_batch']:,} rec" for r in runs]]
    rows = [[k, *[f"{r['steady']['steps'][k]:.2f}" for r in runs]] for k in STEPS]
    rows.append(["= batch", *[f"{r['steady']['seconds']:.2f}" for r in runs]])
    for key in ("load", "updates", "removals", "commit", "changelog upload"):
        rows.append([f"  state: {key}", *[f"{r['steady']['state'].get(key, 0):.2f}" for r in runs]])
    rows.append(["  driver CPU (JVM + Python)", *[f"{r['steady'].get('driver_cpu', 0):.2f}" for r in runs]])
    for key in ("Kafka stage", "state stage", "other tasks"):
        rows.append([f"  executor CPU: {key}", *[f"{r['steady']['executor_cpu'][key]:.2f}" for r in runs]])
    rows.append(
        ["  Spark jobs / tasks", *[f"{r['steady']['spark_jobs']:.0f} / {r['steady']['tasks']:.0f}" for r in runs]]
    )
    rows.append(["cold: first batch", *[f"{r['start']['first_batch_seconds']}" for r in runs]])
    rows.append(["cold: submit -> first commit", *[f"{r['start']['first_batch_committed']}" for r in runs]])
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(len(head))]
    fmt = lambda row: "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))  # noqa: E731
    return "\n".join([fmt(head), *map(fmt, rows)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.breakdown", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default=",".join(map(str, SIZES)), help="records per batch, comma list")
    p.add_argument("--batches", type=int, default=6)
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark conf (experiments)")
    p.add_argument("--job-arg", action="append", default=[], help="extra job flag (experiments), e.g. --job-arg=--x")
    p.add_argument("--json", type=Path, help="also write the result here")
    a = p.parse_args(argv)
    conf = dict(c.split("=", 1) for c in a.conf)
    out = figure(sizes=[int(s) for s in a.sizes.split(",")], batches=a.batches, conf=conf, job_args=a.job_arg)
    if a.json:
        a.json.write_text(json.dumps(out, indent=2, default=str))
    print(format_steps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
