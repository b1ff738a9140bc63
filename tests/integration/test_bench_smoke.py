"""Smoke run of `make bench` (`python -m bench --smoke`) on the test bed, so the benchmark cannot rot: every
figure runs at tiny sizes through the same code as the full run, and the test checks that each one ran and
reported its figures, the results JSON, the table and the plots; never what the figures are."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import run as bench_run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

REPO = Path(__file__).resolve().parents[2]


def test_bench_smoke_runs_every_figure_and_writes_results(testbed: dict[str, str], require_services, tmp_path) -> None:
    require_services("kafka", "s3", "spark", "trino", "superset")
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path), "--keep-testbed"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=3300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == 1, files
    results = json.loads(files[0].read_text())
    assert results["mode"] == "smoke"
    assert results["machine"]["cores"] >= 1 and results["machine"]["memory_gib"] > 0

    figs = results["figures"]
    assert set(figs) == set(bench_run.FIGURES)
    for name, fig in figs.items():
        assert fig["machine_before"]["load_average_1_5_15"] and fig["machine_after"]["load_average_1_5_15"], name
        assert "testbed_cpu_pct_of_one_core" in fig["during"], name
        assert fig["status"] == "ok", f"{name}: {fig.get('error')}\n{fig.get('traceback')}"

    producer = figs["producer"]["result"]
    assert set(producer["ours"]) == {"1_process", "2_processes"}
    assert producer["producer_performance"]["events_per_s"]["median"] > 0

    drain = figs["drain"]["result"]
    assert drain["records_in_topic"] == drain["records"] == 2000
    ours = drain["ours"]
    assert ours["batches"] >= 1 and ours["consumed"] == 2000, ours
    assert "--available-now" in drain["job_args"] and "--max-offsets-per-trigger" in drain["job_args"]
    # every malformed record quarantined, every re-send recognised, the rest appended
    assert (ours["rejected"], ours["duplicates"]) == (drain["malformed"], drain["resent"]) == (10, 10), ours
    assert ours["valid"] == 2000 - 20
    assert drain["lean"]["rows"] == 2000, drain["lean"]
    assert drain["headline"]["ours"] and drain["headline"]["anchor"] and drain["headline"]["ratio"]

    flat = figs["flatness"]["result"]
    assert flat["points"][0]["table_rows"] == 0, flat["points"]
    assert flat["points"][1]["table_rows"] >= 2000, flat["points"]
    for point in flat["points"]:
        assert sum(point["consumed"]) == 500 and max(point["consumed"]) <= 500, point
        assert point["batch_seconds"] is not None, point
    assert flat["headline"]["ratio"] is not None
    assert len(flat["warmup_batch_seconds"]) >= 2, "the driver is warmed up on a topic of its own first"

    fresh = figs["freshness"]["result"]
    assert "--trigger-interval" in fresh["job_args"], "the job runs with the stack's flags"
    (run,) = fresh["runs"]
    assert run["rate_events_per_s"] == 50 and run["producer"]["acked"] == run["producer"]["sent"] > 0
    assert run["markers_sent"] > 0
    assert run["freshness"]["count"] + run["freshness_warmup"]["count"] >= 1, "no marker became visible in Trino"

    dash = figs["dashboards"]["result"]
    assert dash["rows_in_trino"] == 20_000
    assert dash["queries"], "no chart SQL came from Superset"
    for when in ("before_maintenance", "after_maintenance"):
        assert dash[when]["errors"] == [], dash[when]["errors"]
        assert len(dash[when]["per_chart"]) == len(dash["queries"])
    assert dash["files_before"]["max_files_per_partition"] >= dash["files_after"]["max_files_per_partition"] >= 1

    foot = figs["footprint"]["result"]
    assert foot["warm_start"]["ready_s"], "no warm start record"
    for state in ("at_rest", "with_job"):
        assert {"s3", "kafka", "spark", "trino"} <= set(foot[state]["rss_mib"]), state
        assert foot[state]["total_rss_mib"] > 0
    assert foot["with_job"]["rss_mib"]["streaming job (driver)"]["processes"] >= 1
    # The job's executors are found by the port of their driver, not every executor on the workers.
    assert isinstance(foot["with_job"]["executors_of_driver_ports"], list), foot["with_job"]
    assert foot["with_job"]["rss_mib"]["streaming job (executor)"]["processes"] >= 1

    table = done.stdout
    for title in (
        "1 Producer",
        "2 Drain",
        "3 Flatness",
        "4 Freshness at 50 ev/s",
        "5 Dashboard SQL",
        "6 Test bed with the streaming job",
    ):
        assert title in table, table[-3000:]
    for png in (
        "1-producer.png",
        "2-drain.png",
        "3-flatness.png",
        "4-freshness.png",
        "5-dashboards.png",
        "6-footprint.png",
    ):
        assert (tmp_path / files[0].stem / png).stat().st_size > 1000, png
