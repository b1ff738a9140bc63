"""Figures 2 and 3: the streaming job's drain beside a lean bare append, and its per-batch cost vs table size.

python -m bench.drain drain [--events 1000000] [--processes 2]
python -m bench.drain flatness [--sizes 0,1000000,5000000,10000000] [--batch-events 20000] [--batches 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import sparkrun
from bench.machine import machine_notes, noted, print_json
from bench.stream_session import STREAM_JOB, scratch
from contract.batchlog import parse_batch_line

SPARK_SIDE = Path(__file__).with_name("spark_lake.py")
TIMEOUT_S = 7200
FLATNESS_SIZES = (0, 1_000_000, 5_000_000, 10_000_000)


def batches_of(lines: Sequence[str]) -> list[dict]:
    """The job's per-batch lines, in order."""
    return [b for b in (parse_batch_line(line) for line in lines) if b is not None]


def job_rate(batches: Sequence[Mapping]) -> dict[str, object]:
    """Records consumed over the sum of batch durations (the batches of --available-now run one after another)."""
    totals = {k: sum(int(b[k]) for b in batches) for k in ("consumed", "valid", "rejected", "duplicates")}
    seconds = sum(float(b["seconds"]) for b in batches)
    return {"batches": len(batches), **totals, "batch_seconds_total": round(seconds, 1),
            "events_per_s": round(totals["consumed"] / seconds) if seconds > 0 else None}  # fmt: skip


@noted
def drain_figure(endpoints: Mapping[str, str] | None = None, *, events: int = 1_000_000,
                 processes: int = 2) -> dict[str, object]:  # fmt: skip
    malformed = resent = round(events * 0.005)
    result: dict[str, Any] = {"records": events, "malformed": malformed, "resent": resent}
    with scratch(endpoints, "drain") as run:
        topic = run.topic()
        summary = sparkrun.produce(endpoints, topic, events, run.work, seed=11, malformed=malformed, resent=resent,
                                   processes=processes)  # fmt: skip
        result["producer"] = {k: summary.get(k) for k in ("sent", "acked", "elapsed_s", "mean_rate")}
        result["records_in_topic"] = sparkrun.topic_record_count(endpoints, topic)
        result["job_args"] = args = [*run.job_args(topic), "--available-now"]
        result["load_before_ours"] = machine_notes()["load_average_1_5_15"]
        app = run.submit(STREAM_JOB, args, f"bench-drain-{run.id}", timeout_s=TIMEOUT_S)
        batches = batches_of(app.ok_lines())
        result["ours"] = job_rate(batches) | {"wall_seconds_incl_start": app.seconds, "batch_log": batches}
        result["ours"]["events_per_s_incl_start"] = _rate(result["ours"]["consumed"], app.seconds)
        result["load_before_lean"] = machine_notes()["load_average_1_5_15"]
        lean_args = ["lean", "--bootstrap-servers", endpoints["testbed_kafka_internal_bootstrap"], "--topic", topic,
                     "--table-uri", f"s3a://{endpoints['lake_bucket']}/{run.prefix}/lean_append"]  # fmt: skip
        app = run.submit(SPARK_SIDE, lean_args, f"bench-drain-lean-{run.id}", timeout_s=TIMEOUT_S)
        lean = app.bench_line("bench/spark_lake.py lean") | {"wall_seconds_incl_start": app.seconds}
        lean["events_per_s_incl_start"] = _rate(lean["rows"], app.seconds)
        result["lean"] = lean
    ours_rate, lean_rate = result["ours"]["events_per_s"], result["lean"]["events_per_s"]
    ratio = round(lean_rate / ours_rate, 2) if ours_rate and lean_rate else None
    result["ratio_ours_time_over_lean"] = ratio
    result["headline"] = {"ours": ours_rate, "anchor": lean_rate, "ratio": ratio, "target": "<= 1.5x, >= 30,000 ev/s"}
    return result


def _rate(records: int, seconds: float) -> int | None:
    return round(records / seconds) if seconds else None


def steady_seconds(batches: Sequence[Mapping], batch_events: int) -> float | None:
    """Median duration of a run's full batches (at least half of `batch_events`: maxOffsetsPerTrigger splits
    over the partitions, so a run can end with a small rest) after its first (the first carries the query's
    start-up); the first alone if it is the only one."""
    secs = [float(b["seconds"]) for b in batches if int(b["consumed"]) >= batch_events / 2]
    return round(statistics.median(secs[1:] or secs), 2) if secs else None


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
    small, big = (pick(measured, key=lambda p: p["table_rows"]) for pick in (min, max))
    return round(big["batch_seconds"] / small["batch_seconds"], 2)


@noted
def flatness_figure(endpoints: Mapping[str, str] | None = None, *, sizes: Sequence[int] = FLATNESS_SIZES,
                    batch_events: int = 20_000, batches: int = 3) -> dict[str, object]:  # fmt: skip
    sizes = sorted(sizes)
    result: dict[str, object] = {"sizes": list(sizes), "batch_events": batch_events, "batches_per_size": batches}
    with scratch(endpoints, "flat") as run:
        ckpt = f"s3a://{endpoints['checkpoint_bucket']}/{run.prefix}/ck"
        plan = []
        for i, size in enumerate(sizes):
            topic, n = run.topic(f"-{i}"), batch_events * batches
            sparkrun.produce(endpoints, topic, n, run.work, seed=21 + i, malformed=n // 200)
            plan.append({"rows": size, "topic": topic, "checkpoint": f"{ckpt}-{i}"})
        # Two batches through the same driver first, into tables of their own (see spark_lake.py).
        warmup_topic = run.topic("-warmup")
        sparkrun.produce(endpoints, warmup_topic, 2 * batch_events, run.work, seed=20)
        warm_table, warm_rejected, _ = run.uris("/warmup")
        warmup = {"topic": warmup_topic, "table_uri": warm_table, "rejected_uri": warm_rejected,
                  "checkpoint": f"{ckpt}-warmup"}  # fmt: skip
        table_uri, rejected_uri, _ = run.uris()
        result["job_args"] = job_args = run.job_args(plan[0]["topic"], plan[0]["checkpoint"])
        args = ["flatness", "--table-uri", table_uri, "--rejected-table-uri", rejected_uri, "--plan", json.dumps(plan),
                "--job-args", json.dumps(job_args), "--batch-events", str(batch_events), "--fill-tasks", "4",
                "--warmup", json.dumps(warmup)]  # fmt: skip
        app = run.submit(SPARK_SIDE, args, f"bench-flatness-{run.id}", timeout_s=TIMEOUT_S)
        out = app.bench_line("bench/spark_lake.py flatness")
        result["wall_seconds"] = app.seconds
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
        "target": "<= 1.2x",
    }
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.drain", description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["drain", "flatness"])
    p.add_argument("--events", type=int, default=1_000_000, help="drain: records pre-loaded into the topic")
    p.add_argument("--processes", type=int, default=2, help="drain: producer processes")
    p.add_argument("--sizes", default=",".join(map(str, FLATNESS_SIZES)), help="flatness: table sizes, comma list")
    p.add_argument("--batch-events", type=int, default=20_000, help="flatness: maxOffsetsPerTrigger")
    p.add_argument("--batches", type=int, default=3, help="flatness: batches per size")
    a = p.parse_args(argv)
    if a.what == "drain":
        return print_json(drain_figure(events=a.events, processes=a.processes))
    sizes = [int(s) for s in a.sizes.split(",") if s.strip()]
    return print_json(flatness_figure(sizes=sizes, batch_events=a.batch_events, batches=a.batches))


if __name__ == "__main__":
    sys.exit(main())
