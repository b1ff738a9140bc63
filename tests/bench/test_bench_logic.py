"""The bench's own logic without a test bed: CPU and memory accounting per process group, percentiles, the
stack's job flags, the results table, the plots."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import pytest

from bench import footprint, freshness, machine, plots
from bench import run as bench_run
from bench.stream_session import stack_job_args
from testbed import proc


def _proc(pid: int, pgid: int, ticks: int, rss_mib: int = 1, ppid: int = 1) -> proc.ProcStat:
    return proc.ProcStat(pid, ppid, pgid, ticks, rss_mib * 2**20, f"p{pid}")


def test_cpu_between_sums_ticks_per_service_group_and_lists_others() -> None:
    hz = proc.CLK_TCK
    a = machine.Snapshot(0.0, {10: _proc(10, 10, 0), 11: _proc(11, 10, 0), 20: _proc(20, 20, 0), 99: _proc(99, 99, 0)})
    # over 10 s: group 10 used 1 s + 2 s of CPU, group 20 0.5 s, a new process of group 20 0.5 s, pid 99 3 s
    b = machine.Snapshot(
        10.0,
        {
            10: _proc(10, 10, 1 * hz, 100),
            11: _proc(11, 10, 2 * hz, 50),
            20: _proc(20, 20, hz // 2, 10),
            21: _proc(21, 20, hz // 2, 5),
            99: _proc(99, 99, 3 * hz),
        },
    )
    out = machine.cpu_between(a, b, {"kafka": [10], "s3": [20]})
    assert out["services"]["kafka"] == {"cpu_pct_of_one_core": 30.0, "rss_mib": 150.0, "processes": 2}
    assert out["services"]["s3"]["cpu_pct_of_one_core"] == 10.0 and out["services"]["s3"]["processes"] == 2
    assert out["total_cpu_pct_of_one_core"] == 40.0 and out["total_rss_mib"] == 165.0
    assert [o["pid"] for o in out["others"]] == [99] and out["others_cpu_pct_of_one_core"] == 30.0


def test_cpu_between_counts_extra_roots_and_their_children() -> None:
    hz = proc.CLK_TCK
    a = machine.Snapshot(0.0, {})
    b = machine.Snapshot(
        2.0, {50: _proc(50, 50, hz, 400), 51: _proc(51, 50, hz, 60, ppid=50), 60: _proc(60, 60, 0, 1, ppid=1)}
    )
    out = machine.cpu_between(a, b, {}, {"driver": [50]})
    assert out["services"]["driver"] == {"cpu_pct_of_one_core": 100.0, "rss_mib": 460.0, "processes": 2}


def test_read_stat_reads_this_process() -> None:
    import os

    me = proc.read_stat(os.getpid())
    assert me is not None and me.pid == os.getpid() and me.rss > 0 and me.ticks >= 0
    assert proc.read_stat(2**22 + 12345) is None
    assert me.pgid == os.getpgid(0) and os.getpid() in proc.processes() and proc.argv(os.getpid())


def test_footprint_separates_an_executor_from_its_workers_group() -> None:
    hz = proc.CLK_TCK
    snap = machine.Snapshot(1.0, {5: _proc(5, 5, hz), 6: _proc(6, 5, hz, ppid=5), 7: _proc(7, 7, hz, ppid=6)})
    assert machine.claimed_by_name(snap, {"executor": [6]}) == {"executor": [6, 7]}
    out = machine.cpu_between(machine.Snapshot(0.0, {}), snap, {"spark": [5]}, {"executor": [6]})
    assert out["services"]["spark"]["processes"] == 1 and out["services"]["executor"]["processes"] == 2


def test_footprint_counts_only_the_jobs_own_executors() -> None:
    ours = (
        "java -cp x org.apache.spark.executor.CoarseGrainedExecutorBackend --driver-url "
        "spark://CoarseGrainedScheduler@127.0.0.1:33529 --executor-id 0 --hostname 127.0.0.1 --app-id app-1-0027"
    )
    theirs = ours.replace(":33529", ":41000")
    assert footprint.is_executor_of(ours, {33529, 20950}) and not footprint.is_executor_of(theirs, {33529})
    assert footprint.is_executor_of(theirs, None)  # no driver port known: every executor, an upper bound
    worker = "java org.apache.spark.deploy.worker.Worker --driver-url spark://CoarseGrainedScheduler@h:33529"
    assert not footprint.is_executor_of(worker, {33529})


def test_percentile_is_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert freshness.percentile(values, 50) == 50.0
    assert freshness.percentile(values, 95) == 95.0
    assert freshness.percentile(values, 99) == 99.0
    assert freshness.percentile([3.0], 99) == 3.0
    assert freshness.percentile([], 50) is None
    s = freshness.summary([1.0, 2.0, 3.0, 10.0])
    assert (s["count"], s["p50_s"], s["p95_s"], s["max_s"]) == (4, 2.0, 10.0, 10.0)


def arg_value(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args[:-1] else None


def test_the_job_gets_the_stacks_flags_with_the_runs_topic_tables_and_checkpoint() -> None:
    ep = {"testbed_kafka_internal_bootstrap": "127.0.0.1:20192,127.0.0.1:20193"}
    args = stack_job_args(
        ep,
        topic="t1",
        table_uri="s3a://lake/b/e",
        rejected_uri="s3a://lake/b/r",
        checkpoint_uri="s3a://checkpoints/b/e",
    )
    from lakehouse.settings import Settings

    defaults = Settings()
    assert arg_value(args, "--topic") == "t1"
    assert arg_value(args, "--table-uri") == "s3a://lake/b/e"
    assert arg_value(args, "--rejected-table-uri") == "s3a://lake/b/r"
    assert arg_value(args, "--checkpoint-uri") == "s3a://checkpoints/b/e"
    assert arg_value(args, "--bootstrap-servers") == "127.0.0.1:20192,127.0.0.1:20193"
    assert arg_value(args, "--trigger-interval") == defaults.stream_trigger_interval
    assert arg_value(args, "--max-offsets-per-trigger") == str(defaults.stream_max_offsets_per_trigger)


def _results() -> dict:
    def fig(result: dict) -> dict:
        notes = {"load_average_1_5_15": [1.0, 1.0, 1.0]}
        return {"status": "ok", "result": result, "machine_before": notes, "machine_after": notes, "seconds": 1}

    spread = {"median": 100.0, "min": 90.0, "max": 110.0}
    return {
        "figures": {
            "producer": fig(
                {
                    "ours": {"1_process": {"events_per_s": spread}},
                    "producer_performance": {"events_per_s": {"median": 400.0, "min": 390.0, "max": 410.0}},
                    "ratio_to_producer_performance": {"1_process": 0.25},
                }
            ),
            "drain": {
                "status": "skipped",
                "reason": "bench/drain.py is not there yet",
                "machine_before": {},
                "machine_after": {},
            },
            "freshness": fig(
                {
                    "runs": [
                        {
                            "rate_events_per_s": 1000,
                            "warmup_s": 1,
                            "freshness": {"p50_s": 1.5, "p95_s": 2.5, "p99_s": 2.9},
                            "markers_sent": 4,
                            "markers_never_seen": 0,
                            "series": [[0.5, 1.2], [1.0, 1.5], [1.5, None], [2.0, 2.5]],
                            "machine_before": {"load_average_1_5_15": [2, 2, 2]},
                            "machine_after": {"load_average_1_5_15": [3, 3, 3]},
                        }
                    ],
                }
            ),
            "dashboards": fig(
                {
                    "rows": 1000,
                    "before_maintenance": {
                        "p50_s": 1.0,
                        "p95_s": 2.0,
                        "queries": 1,
                        "runs_per_query": 1,
                        "errors": [],
                        "per_chart": [{"chart": "Events", "p50_s": 1.0}],
                    },
                    "after_maintenance": {
                        "p50_s": 0.5,
                        "p95_s": 0.8,
                        "queries": 1,
                        "runs_per_query": 1,
                        "errors": [],
                        "per_chart": [{"chart": "Events", "p50_s": 0.5}],
                    },
                    "files_before": {"max_files_per_partition": 50},
                    "files_after": {"max_files_per_partition": 1},
                }
            ),
            "footprint": fig(
                {
                    "warm_start": {"total_s": 60.0, "source": "test"},
                    "at_rest": {
                        "total_rss_mib": 2048.0,
                        "mean_total_cpu_pct_of_one_core": 5.0,
                        "rss_mib": {"s3": {"rss_mib": 100.0}},
                        "mean_cpu_pct_of_one_core": {"s3": 0.5},
                    },
                    "with_job": {
                        "total_rss_mib": 3072.0,
                        "mean_total_cpu_pct_of_one_core": 9.0,
                        "rss_mib": {"s3": {"rss_mib": 100.0}, "job": {"rss_mib": 900.0}},
                        "mean_cpu_pct_of_one_core": {"s3": 0.5, "job": 4.0},
                    },
                }
            ),
        }
    }


def test_table_has_a_line_per_figure_with_its_target_and_load() -> None:
    table = bench_run.format_table(bench_run.table_rows(_results()))
    lines = table.splitlines()
    assert lines[0].startswith("| Figure")
    assert any("1 Producer, 1 process" in row and "0.25x" in row and ">= 0.3x" in row for row in lines)
    assert any("2 Drain" in row and "skipped" in row for row in lines)
    assert any("4 Freshness at 1,000 ev/s" in row and "p95 2.50 s" in row and "2->3" in row for row in lines)
    assert any("after maintenance" in row and "1 files/partition" in row for row in lines)
    assert any("6 Test bed with the streaming job" in row and "3.00 GiB" in row for row in lines)
    assert len({len(row) for row in lines}) == 1, "columns are aligned"


def test_plots_write_a_png_per_figure_with_data(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    made = plots.plot_all(_results(), tmp_path)
    assert set(made) == {"producer", "freshness", "dashboards", "footprint"}, made
    for path in made.values():
        assert Path(path).stat().st_size > 1000 and Path(path).read_bytes()[:4] == b"\x89PNG"


def test_results_are_json_serialisable() -> None:
    json.dumps(bench_run.table_rows(_results()))


# ----- figures 2 and 3 (bench/drain.py): the job's batch lines, rates, flatness ratio, sizes from flags

LINE = (
    "2026-12-02 01:00:00,123 INFO logistics_stream: batch 3: consumed 20000, valid 19880, rejected 100, "
    "duplicates 20, 4.2 s (read 1.0 s, quarantine 0.4 s, events 2.5 s)"
)


def test_batch_line_parses_counts_seconds_and_steps() -> None:
    from contract.batchlog import parse_batch_line

    got = parse_batch_line(LINE)
    assert got == {
        "batch": 3,
        "consumed": 20000,
        "valid": 19880,
        "rejected": 100,
        "duplicates": 20,
        "seconds": 4.2,
        "steps": {"read": 1.0, "quarantine": 0.4, "events": 2.5},
        "replayed": False,
    }
    replay = parse_batch_line(LINE + "; already committed before a restart")
    assert replay is not None and replay["replayed"] is True
    assert parse_batch_line("2026-12-02 INFO logistics_stream: batch 3: started") is None


def test_job_rate_is_records_over_the_sum_of_batch_durations() -> None:
    from bench.drain import batches_of, job_rate

    lines = [LINE, "batch 4: started", LINE.replace("batch 3", "batch 4").replace("4.2 s (", "3.8 s (")]
    rate = job_rate(batches_of(lines))
    assert rate["batches"] == 2 and rate["consumed"] == 40000 and rate["batch_seconds_total"] == 8.0
    assert rate["events_per_s"] == 5000 and rate["rejected"] == 200 and rate["duplicates"] == 40


def test_flatness_uses_the_batches_after_each_runs_first_and_the_largest_over_smallest() -> None:
    from bench.drain import flatness_points

    def b(seconds: float, consumed: int = 500) -> dict:
        return {"seconds": seconds, "consumed": consumed}

    raw = [
        {"table_rows": 0, "batches": [b(30.0), b(2.0), b(4.0), b(3.0), b(0.5, 6)]},  # start-up first, a rest last
        {"table_rows": 10_000_000, "batches": [b(9.0), b(3.6), b(3.6)]},
        {"table_rows": 1_000_000, "batches": [b(5.0)]},  # a single batch counts as it is
    ]
    points, ratio = flatness_points(raw, 500)
    assert [p["batch_seconds"] for p in points] == [3.0, 3.6, 5.0]
    assert points[0]["first_batch_seconds"] == 30.0 and points[0]["all_batch_seconds"] == [30.0, 2.0, 4.0, 3.0, 0.5]
    assert ratio == round(5.0 / 3.0, 2)
    assert flatness_points(raw[:1], 500)[1] is None, "one size gives no ratio"
    from bench.drain import growth_ratio

    assert growth_ratio(points) == round(3.6 / 3.0, 2), "biggest table (10 M) over the empty one"
    assert growth_ratio(points[:1]) is None


def test_size_flags_replace_single_sizes_of_the_mode() -> None:
    ns = argparse.Namespace(**{f"size_{k}": None for k in bench_run.FULL.__dict__})
    assert bench_run.sized(bench_run.SMOKE, ns) == bench_run.SMOKE
    ns.size_drain_events, ns.size_flatness_sizes = 200_000, (0, 1_000_000)
    z = bench_run.sized(bench_run.FULL, ns)
    assert z.drain_events == 200_000 and z.flatness_sizes == (0, 1_000_000)
    assert z.lake_rows == bench_run.FULL.lake_rows


def test_table_shows_drain_and_flatness_headlines() -> None:
    results = _results()
    notes = {"load_average_1_5_15": [4.0, 1.0, 1.0]}
    results["figures"]["drain"] = {
        "status": "ok", "machine_before": notes, "machine_after": notes,
        "result": {"headline": {"ours": 31000, "anchor": 40000, "ratio": 1.29, "target": "<= 1.5x"},
                   "ours": {"events_per_s": 31000}, "lean": {"events_per_s": 40000}},
    }  # fmt: skip
    results["figures"]["flatness"] = {
        "status": "ok", "machine_before": notes, "machine_after": notes,
        "result": {"headline": {"ours": "3.6 s at 10,000,000 rows", "anchor": "3.0 s at 0 rows", "ratio": 1.2,
                                "target": "<= 1.2x"},
                   "points": [{"table_rows": 0, "batch_seconds": 3.0}, {"table_rows": 10**7, "batch_seconds": 3.6}]},
    }  # fmt: skip
    lines = bench_run.format_table(bench_run.table_rows(results)).splitlines()
    assert any("2 Drain" in r and "31,000" in r and "40,000" in r and "1.29x" in r and "4.0->4.0" in r for r in lines)
    assert any("3 Flatness" in r and "3.6 s at 10,000,000 rows" in r and "1.20x" in r for r in lines)
    pytest.importorskip("matplotlib")
    made = plots.plot_all(results, Path(tempfile.mkdtemp()))
    assert {"drain", "flatness"} <= set(made), made
