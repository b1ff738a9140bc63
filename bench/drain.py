"""Figures 2 and 3: the streaming job's drain beside a lean bare append, and its per-batch cost vs table size.

    python -m bench.drain drain [--events 1000000] [--processes 2]
    python -m bench.drain flatness [--sizes 0,1000000,5000000,10000000] [--batch-events 20000] [--batches 3]

Figure 2: a fresh topic pre-loaded with `--events` records (0.5 % malformed, 0.5 % re-sent) is drained by the
job with the stack's flags and --available-now (events/s = records / the sum of its per-batch seconds), then by
bench/spark_lake.py `lean`, the anchor: one bare Spark batch into a new Delta table. The ratio is ours' seconds
over the anchor's. Figure 3: bench/spark_lake.py `flatness` grows the events table in one driver to each size
and runs the job's code on `--batches` x `--batch-events` records at each; the per-size figure is the median of
the full batches after the first, the ratio the largest over the smallest. Nothing here asserts a number.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench import sparkrun
from bench.machine import machine_notes
from bench.stream_session import run_uris, stack_job_args
from contract.batchlog import parse_batch_line

HERE = Path(__file__).resolve().parent
SPARK_SIDE = HERE / "spark_lake.py"
TARGET_RATIO = 1.5
TARGET_EVENTS_PER_S = 30_000
TARGET_FLATNESS = 1.2


def batches_of(lines: Sequence[str]) -> list[dict]:
    """The job's per-batch lines, in order."""
    return [b for b in (parse_batch_line(line) for line in lines) if b is not None]


def job_rate(batches: Sequence[Mapping]) -> dict[str, object]:
    """Records consumed over the sum of batch durations (the batches of --available-now run one after another)."""
    consumed = sum(int(b["consumed"]) for b in batches)
    seconds = sum(float(b["seconds"]) for b in batches)
    return {
        "batches": len(batches),
        "consumed": consumed,
        "valid": sum(int(b["valid"]) for b in batches),
        "rejected": sum(int(b["rejected"]) for b in batches),
        "duplicates": sum(int(b["duplicates"]) for b in batches),
        "batch_seconds_total": round(seconds, 1),
        "events_per_s": round(consumed / seconds) if seconds > 0 else None,
    }


def drain_figure(
    endpoints: Mapping[str, str] | None = None,
    *,
    events: int = 1_000_000,
    malformed_fraction: float = 0.005,
    resent_fraction: float = 0.005,
    processes: int = 2,
    timeout_s: float = 7200,
) -> dict[str, object]:
    endpoints = endpoints or sparkrun.load_endpoints()
    run_id = uuid.uuid4().hex[:8]
    topic, prefix = f"bench-drain-{run_id}", f"bench/drain-{run_id}"
    table_uri, rejected_uri, checkpoint_uri = run_uris(endpoints, prefix)
    malformed, resent = round(events * malformed_fraction), round(events * resent_fraction)
    result: dict[str, object] = {"machine_before": machine_notes(), "records": events, "malformed": malformed,
                                 "resent": resent}  # fmt: skip
    sparkrun.create_topic(endpoints, topic)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-drain-") as tmp:
            work = Path(tmp)
            summary = sparkrun.produce(endpoints, topic, events, work, seed=11, malformed=malformed, resent=resent,
                                       processes=processes)  # fmt: skip
            result["producer"] = {k: summary.get(k) for k in ("sent", "acked", "elapsed_s", "mean_rate")}
            result["records_in_topic"] = sparkrun.topic_record_count(endpoints, topic)
            args = [*stack_job_args(endpoints, topic=topic, table_uri=table_uri, rejected_uri=rejected_uri,
                                    checkpoint_uri=checkpoint_uri), "--available-now"]  # fmt: skip
            result["job_args"] = args
            result["load_before_ours"] = machine_notes()["load_average_1_5_15"]
            app = sparkrun.submit(endpoints, sparkrun.JOBS / "logistics_stream.py", args, work,
                                  f"bench-drain-{run_id}", timeout_s=timeout_s)  # fmt: skip
            batches = batches_of(app.ok_lines())
            ours = job_rate(batches) | {"wall_seconds_incl_start": app.seconds, "batch_log": batches}
            ours["events_per_s_incl_start"] = round(ours["consumed"] / app.seconds) if app.seconds else None  # type: ignore[operator]
            result["ours"] = ours
            result["load_before_lean"] = machine_notes()["load_average_1_5_15"]
            lean_args = ["lean", "--bootstrap-servers", endpoints["testbed_kafka_internal_bootstrap"], "--topic",
                         topic, "--table-uri", f"s3a://{endpoints['lake_bucket']}/{prefix}/lean_append"]  # fmt: skip
            app = sparkrun.submit(endpoints, SPARK_SIDE, lean_args, work, f"bench-drain-lean-{run_id}",
                                  timeout_s=timeout_s)  # fmt: skip
            lean = app.bench_line("bench/spark_lake.py lean") | {"wall_seconds_incl_start": app.seconds}
            lean["events_per_s_incl_start"] = round(lean["rows"] / app.seconds) if app.seconds else None
            result["lean"] = lean
    finally:
        sparkrun.clean_up(endpoints, [topic], prefix)
    ours_rate, lean_rate = result["ours"]["events_per_s"], result["lean"]["events_per_s"]  # type: ignore[index]
    ratio = round(lean_rate / ours_rate, 2) if ours_rate and lean_rate else None
    result["ratio_ours_time_over_lean"] = ratio
    target = f"<= {TARGET_RATIO}x, >= {TARGET_EVENTS_PER_S:,} ev/s"
    result["headline"] = {"ours": ours_rate, "anchor": lean_rate, "ratio": ratio, "target": target}
    result["machine_after"] = machine_notes()
    return result


def steady_seconds(batches: Sequence[Mapping], batch_events: int) -> float | None:
    """Median duration of a run's full batches (at least half of `batch_events`: maxOffsetsPerTrigger splits
    over the partitions, so a run can end with a small rest) after its first (the first carries the query's
    start-up); the first alone if it is the only one."""
    secs = [float(b["seconds"]) for b in batches if int(b["consumed"]) >= batch_events / 2]
    if not secs:
        return None
    return round(statistics.median(secs[1:] if len(secs) > 1 else secs), 2)


def flatness_points(raw_points: Sequence[Mapping], batch_events: int) -> tuple[list[dict], float | None]:
    """Per size: the steady batch duration; and the ratio largest / smallest over the sizes."""
    points = []
    for p in raw_points:
        batches = list(p["batches"])
        secs = [float(b["seconds"]) for b in batches]
        points.append({
            "table_rows": int(p["table_rows"]),
            "batch_seconds": steady_seconds(batches, batch_events),
            "first_batch_seconds": secs[0] if secs else None,
            "all_batch_seconds": secs,
            "consumed": [int(b["consumed"]) for b in batches],
            "fill_seconds": p.get("fill_seconds"),
        })  # fmt: skip
    values = [p["batch_seconds"] for p in points if p["batch_seconds"]]
    ratio = round(max(values) / min(values), 2) if len(values) >= 2 else None
    return points, ratio


def growth_ratio(points: Sequence[Mapping]) -> float | None:
    """Batch duration at the biggest table over that at the smallest: > 1 means batches grow with the table.
    (The headline ratio, largest over smallest whatever the size, also counts a slow first, cold, size.)"""
    measured = [p for p in points if p.get("batch_seconds")]
    if len(measured) < 2:
        return None
    small = min(measured, key=lambda p: p["table_rows"])
    big = max(measured, key=lambda p: p["table_rows"])
    return round(big["batch_seconds"] / small["batch_seconds"], 2)


def flatness_figure(
    endpoints: Mapping[str, str] | None = None,
    *,
    sizes: Sequence[int] = (0, 1_000_000, 5_000_000, 10_000_000),
    batch_events: int = 20_000,
    batches: int = 3,
    fill_tasks: int = 4,
    timeout_s: float = 7200,
) -> dict[str, object]:
    endpoints = endpoints or sparkrun.load_endpoints()
    sizes = sorted(sizes)
    run_id = uuid.uuid4().hex[:8]
    prefix, ckpt = f"bench/flat-{run_id}", endpoints["checkpoint_bucket"]
    table_uri, rejected_uri, _ = run_uris(endpoints, prefix)
    topics = [f"bench-flat-{run_id}-{i}" for i in range(len(sizes))]
    warmup_topic = f"bench-flat-{run_id}-warmup"
    result: dict[str, object] = {"machine_before": machine_notes(), "sizes": list(sizes),
                                 "batch_events": batch_events, "batches_per_size": batches}  # fmt: skip
    try:
        with tempfile.TemporaryDirectory(prefix="bench-flat-") as tmp:
            work = Path(tmp)
            plan = []
            for i, (size, topic) in enumerate(zip(sizes, topics, strict=True)):
                sparkrun.create_topic(endpoints, topic)
                n = batch_events * batches
                sparkrun.produce(endpoints, topic, n, work, seed=21 + i, malformed=n // 200)
                plan.append({"rows": size, "topic": topic, "checkpoint": f"s3a://{ckpt}/{prefix}/ck-{i}"})
            # Two batches through the same driver first, into tables of their own (see spark_lake.py).
            sparkrun.create_topic(endpoints, warmup_topic)
            sparkrun.produce(endpoints, warmup_topic, 2 * batch_events, work, seed=20)
            warm_table, warm_rejected, _ = run_uris(endpoints, f"{prefix}/warmup")
            warmup = {"topic": warmup_topic, "table_uri": warm_table, "rejected_uri": warm_rejected,
                      "checkpoint": f"s3a://{ckpt}/{prefix}/ck-warmup"}  # fmt: skip
            job_args = stack_job_args(endpoints, topic=topics[0], table_uri=table_uri, rejected_uri=rejected_uri,
                                      checkpoint_uri=plan[0]["checkpoint"])  # fmt: skip
            result["job_args"] = job_args
            args = ["flatness", "--table-uri", table_uri, "--rejected-table-uri", rejected_uri, "--plan",
                    json.dumps(plan), "--job-args", json.dumps(job_args), "--batch-events", str(batch_events),
                    "--fill-tasks", str(fill_tasks), "--warmup", json.dumps(warmup)]  # fmt: skip
            app = sparkrun.submit(endpoints, SPARK_SIDE, args, work, f"bench-flatness-{run_id}", timeout_s=timeout_s)
            out = app.bench_line("bench/spark_lake.py flatness")
            result["wall_seconds"] = app.seconds
    finally:
        sparkrun.clean_up(endpoints, [*topics, warmup_topic], prefix)
    points, ratio = flatness_points(out["points"], batch_events)
    result["points"] = points
    result["raw"] = out["points"]
    result["warmup_batch_seconds"] = [float(b["seconds"]) for b in (out.get("warmup") or {}).get("batches", [])]
    result["ratio_largest_over_smallest"] = ratio
    result["ratio_biggest_table_over_empty"] = growth_ratio(points)
    smallest = min(points, key=lambda p: p["table_rows"])["batch_seconds"] if points else None
    largest = max(points, key=lambda p: p["table_rows"])["batch_seconds"] if points else None
    result["headline"] = {
        "ours": f"{largest} s at {max(sizes):,} rows" if largest is not None else None,
        "anchor": f"{smallest} s at {min(sizes):,} rows" if smallest is not None else None,
        "ratio": ratio,
        "target": f"<= {TARGET_FLATNESS}x",
    }
    result["machine_after"] = machine_notes()
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.drain", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["drain", "flatness"])
    p.add_argument("--events", type=int, default=1_000_000, help="drain: records pre-loaded into the topic")
    p.add_argument("--processes", type=int, default=2, help="drain: producer processes")
    p.add_argument("--sizes", default="0,1000000,5000000,10000000", help="flatness: table sizes, comma list")
    p.add_argument("--batch-events", type=int, default=20_000, help="flatness: maxOffsetsPerTrigger")
    p.add_argument("--batches", type=int, default=3, help="flatness: batches per size")
    a = p.parse_args(argv)
    if a.what == "drain":
        out = drain_figure(events=a.events, processes=a.processes)
    else:
        sizes = [int(s) for s in a.sizes.split(",") if s.strip()]
        out = flatness_figure(sizes=sizes, batch_events=a.batch_events, batches=a.batches)
    print(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
