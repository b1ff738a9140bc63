"""Figures 2 and 3: the streaming job's drain beside a lean bare append, and its per-batch cost vs table size.

    python -m bench.drain drain [--events 1000000] [--processes 2]
    python -m bench.drain flatness [--sizes 0,1000000,5000000,10000000] [--batch-events 20000] [--batches 3]

Figure 2, drain: a fresh 6-partition topic shaped like the events topic is pre-loaded with `--events` records by
our producer (`python -m producer --rate 0`, acks=all), 0.5 % of them malformed and 0.5 % re-sent copies of
earlier events. Then, in the same run on the test bed's cluster with its defaults:
  - ours: `spark-submit jobs/logistics_stream.py --available-now` with the flags the stack gives the job (its
    default maxOffsetsPerTrigger, dedup window...; bench/stream_session.py), own tables and checkpoint, the
    jobs/ packages as --py-files; events/s = records consumed / the sum of the job's per-batch durations (its
    own log line per batch); the wall time from spark-submit to exit is reported too;
  - the anchor: bench/spark_drain.py `lean`: the same topic read as one Spark batch, parsed into the same
    columns with no checks, appended to a fresh Delta table in one commit; events/s = rows / its read+write
    time (also without the app's start).
  The ratio is ours' seconds over the anchor's (= anchor events/s over ours): 1.0 means the job costs what a
  naive append costs.
Figure 3, flatness: bench/spark_drain.py `flatness` in ONE Spark driver grows the events table by bare appends
to each size in turn, and at each size runs the job (logistics.stream.run, the stack's flags) with
--available-now on a topic of `--batches` x `--batch-events` records (0.5 % malformed), maxOffsetsPerTrigger =
`--batch-events`, a checkpoint of its own. The per-size figure is the median duration of the full batches (at least half
the batch size; the partitions split maxOffsetsPerTrigger, a run may end with a small rest) after each run's
first one (the first batch of a query carries its start-up: state store, plans); the ratio is the largest
per-size figure over the smallest. All batches are in the JSON.
Topics, tables and checkpoints are removed afterwards. Nothing here asserts a number.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench import sparkrun
from bench.machine import machine_notes
from bench.stream_session import EVENTS, REJECTED, job_packages_zip, stack_job_args
from contract.batchlog import parse_batch_line

HERE = Path(__file__).resolve().parent
SPARK_SIDE = HERE / "spark_drain.py"
TARGET_RATIO = 1.5
TARGET_EVENTS_PER_S = 30_000
TARGET_FLATNESS = 1.2


def _conf(workdir: Path, name: str) -> dict[str, str]:
    conf = {"spark.app.name": name}
    packages = job_packages_zip(workdir / "packages.zip")
    if packages is not None:
        conf["spark.submit.pyFiles"] = str(packages)
    return conf


def _submit(endpoints: Mapping[str, str], script: Path, args: Sequence[str], workdir: Path, name: str,
            timeout_s: float) -> tuple[int, list[str], float]:  # fmt: skip
    """spark-submit and wait; (exit code, log lines, wall seconds). Killed (whole group) on timeout."""
    argv = sparkrun.spark_submit_argv(endpoints, script, list(args), conf=_conf(workdir, name))
    began = time.monotonic()
    app = sparkrun.SparkApp(argv, sparkrun.spark_env(endpoints), workdir / f"{name}.log")
    try:
        code = app.wait(timeout_s)
    except BaseException:
        with contextlib.suppress(Exception):
            app.kill()
        raise
    return code, app.lines(), round(time.monotonic() - began, 1)


def _bench_line(lines: Sequence[str], what: str, code: int) -> dict:
    found = [line for line in lines if line.startswith("BENCH ")]
    if code != 0 or not found:
        raise RuntimeError(f"bench/spark_drain.py {what} exited {code}:\n" + "\n".join(lines[-40:]))
    return json.loads(found[-1][len("BENCH ") :])


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


def _produce(endpoints: Mapping[str, str], topic: str, count: int, malformed: int, resent: int, seed: int,
             processes: int, workdir: Path) -> dict:  # fmt: skip
    args = ["--count", str(count), "--rate", "0", "--seed", str(seed), "--processes", str(processes)]
    if malformed:
        args += ["--inject-malformed", str(malformed)]
    if resent:
        args += ["--duplicates", str(resent)]
    code, summary = sparkrun.run_producer(endpoints, topic, args, workdir, timeout_s=max(600, count / 200))
    if code != 0:
        raise RuntimeError(f"the producer exited {code}: {summary}")
    return summary


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
    topic = f"bench-drain-{run_id}"
    prefix = f"bench/drain-{run_id}"
    lake, ckpt = endpoints["lake_bucket"], endpoints["checkpoint_bucket"]
    table_uri = f"s3a://{lake}/{prefix}/{EVENTS}"
    rejected_uri = f"s3a://{lake}/{prefix}/{REJECTED}"
    checkpoint_uri = f"s3a://{ckpt}/{prefix}/{EVENTS}"
    lean_uri = f"s3a://{lake}/{prefix}/lean_append"
    malformed, resent = round(events * malformed_fraction), round(events * resent_fraction)
    result: dict[str, object] = {"machine_before": machine_notes(), "records": events, "malformed": malformed,
                                 "resent": resent}  # fmt: skip
    sparkrun.create_topic(endpoints, topic)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-drain-") as tmp:
            work = Path(tmp)
            summary = _produce(endpoints, topic, events, malformed, resent, 11, processes, work)
            result["producer"] = {k: summary.get(k) for k in ("sent", "acked", "elapsed_s", "mean_rate")}
            result["records_in_topic"] = sparkrun.topic_record_count(endpoints, topic)
            stack = stack_job_args(endpoints, topic=topic, table_uri=table_uri, rejected_uri=rejected_uri,
                                   checkpoint_uri=checkpoint_uri)  # fmt: skip
            args = [*stack, "--available-now"]
            result["job_args"] = args
            result["load_before_ours"] = machine_notes()["load_average_1_5_15"]
            code, lines, wall = _submit(endpoints, sparkrun.JOBS / "logistics_stream.py", args, work,
                                        f"bench-drain-{run_id}", timeout_s)  # fmt: skip
            if code != 0:
                raise RuntimeError(f"the job exited {code}:\n" + "\n".join(lines[-40:]))
            batches = batches_of(lines)
            ours = job_rate(batches) | {"wall_seconds_incl_start": wall, "batch_log": batches}
            ours["events_per_s_incl_start"] = round(ours["consumed"] / wall) if wall else None  # type: ignore[operator]
            result["ours"] = ours
            result["load_before_lean"] = machine_notes()["load_average_1_5_15"]
            code, lines, wall = _submit(endpoints, SPARK_SIDE, ["lean", "--bootstrap-servers",
                                        endpoints["testbed_kafka_internal_bootstrap"], "--topic", topic,
                                        "--table-uri", lean_uri], work, f"bench-drain-lean-{run_id}",
                                        timeout_s)  # fmt: skip
            lean = _bench_line(lines, "lean", code)
            lean["wall_seconds_incl_start"] = wall
            lean["events_per_s_incl_start"] = round(lean["rows"] / wall) if wall else None
            result["lean"] = lean
    finally:
        with contextlib.suppress(Exception):
            sparkrun.delete_topic(endpoints, topic)
        for bucket in (lake, ckpt):
            with contextlib.suppress(Exception):
                sparkrun.delete_prefix(endpoints, bucket, prefix + "/")
    ours_rate, lean_rate = result["ours"]["events_per_s"], result["lean"]["events_per_s"]  # type: ignore[index]
    ratio = round(lean_rate / ours_rate, 2) if ours_rate and lean_rate else None
    result["ratio_ours_time_over_lean"] = ratio
    result["headline"] = {
        "ours": ours_rate,
        "anchor": lean_rate,
        "ratio": ratio,
        "target": f"<= {TARGET_RATIO}x, >= {TARGET_EVENTS_PER_S:,} ev/s",
    }
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
    prefix = f"bench/flat-{run_id}"
    lake, ckpt = endpoints["lake_bucket"], endpoints["checkpoint_bucket"]
    table_uri = f"s3a://{lake}/{prefix}/{EVENTS}"
    rejected_uri = f"s3a://{lake}/{prefix}/{REJECTED}"
    topics = [f"bench-flat-{run_id}-{i}" for i in range(len(sizes))]
    warmup_topic = f"bench-flat-{run_id}-warmup"
    per_topic = batch_events * batches
    result: dict[str, object] = {"machine_before": machine_notes(), "sizes": list(sizes),
                                 "batch_events": batch_events, "batches_per_size": batches}  # fmt: skip
    try:
        with tempfile.TemporaryDirectory(prefix="bench-flat-") as tmp:
            work = Path(tmp)
            plan = []
            for i, (size, topic) in enumerate(zip(sizes, topics, strict=True)):
                sparkrun.create_topic(endpoints, topic)
                _produce(endpoints, topic, per_topic, per_topic // 200, 0, 21 + i, 1, work)
                plan.append({"rows": size, "topic": topic, "checkpoint": f"s3a://{ckpt}/{prefix}/ck-{i}"})
            # Two batches through the same driver first, into tables of their own (see spark_drain.py).
            sparkrun.create_topic(endpoints, warmup_topic)
            _produce(endpoints, warmup_topic, 2 * batch_events, 0, 0, 20, 1, work)
            warmup = {"topic": warmup_topic, "table_uri": f"s3a://{lake}/{prefix}/warmup/{EVENTS}",
                      "rejected_uri": f"s3a://{lake}/{prefix}/warmup/{REJECTED}",
                      "checkpoint": f"s3a://{ckpt}/{prefix}/ck-warmup"}  # fmt: skip
            job_args = stack_job_args(endpoints, topic=topics[0], table_uri=table_uri, rejected_uri=rejected_uri,
                                      checkpoint_uri=plan[0]["checkpoint"])  # fmt: skip
            result["job_args"] = job_args
            code, lines, wall = _submit(endpoints, SPARK_SIDE, ["flatness", "--table-uri", table_uri,
                                        "--rejected-table-uri", rejected_uri, "--plan", json.dumps(plan),
                                        "--job-args", json.dumps(job_args), "--batch-events", str(batch_events),
                                        "--fill-tasks", str(fill_tasks), "--warmup", json.dumps(warmup)],
                                        work, f"bench-flatness-{run_id}",
                                        timeout_s)  # fmt: skip
            out = _bench_line(lines, "flatness", code)
            result["wall_seconds"] = wall
    finally:
        for topic in [*topics, warmup_topic]:
            with contextlib.suppress(Exception):
                sparkrun.delete_topic(endpoints, topic)
        for bucket in (lake, ckpt):
            with contextlib.suppress(Exception):
                sparkrun.delete_prefix(endpoints, bucket, prefix + "/")
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
