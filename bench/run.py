"""`make bench` = `python -m bench`: every figure of issue 10 in one run on the test bed, each beside its anchor
where it has one; a table on stdout, `bench-results/<timestamp>.json` and PNG plots in `bench-results/<timestamp>/`.

    python -m bench [--smoke] [--only NAME ...] [--skip NAME ...] [--out DIR] [--keep-testbed]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import machine, plots

REPO = Path(__file__).resolve().parent.parent
FIGURES = ("producer", "drain", "flatness", "breakdown", "freshness", "dashboards", "footprint")


@dataclass(frozen=True)
class Sizes:
    producer_events: int = 200_000
    producer_runs: int = 3
    freshness_rates: tuple[int, ...] = (1000, 5000)
    freshness_seconds: float = 180
    freshness_warmup: float = 20
    lake_rows: int = 10_000_000
    lake_files_per_partition: int = 500
    dashboard_runs: int = 5
    idle_seconds: float = 30
    idle_samples: int = 2
    idle_settle: float = 20
    drain_events: int = 1_000_000
    drain_processes: int = 2
    flatness_sizes: tuple[int, ...] = (0, 1_000_000, 5_000_000, 10_000_000)
    flatness_batch_events: int = 20_000
    flatness_batches: int = 3
    breakdown_sizes: tuple[int, ...] = (1000, 20_000)
    breakdown_batches: int = 8


FULL = Sizes()
SMOKE = Sizes(
    producer_events=2000,
    producer_runs=1,
    freshness_rates=(50,),
    freshness_seconds=15,
    freshness_warmup=3,
    lake_rows=20_000,
    lake_files_per_partition=2,
    dashboard_runs=1,
    idle_seconds=2,
    idle_samples=2,
    idle_settle=3,
    drain_events=2000,
    drain_processes=1,
    flatness_sizes=(0, 2000),
    flatness_batch_events=500,
    flatness_batches=1,
    breakdown_sizes=(200,),
    breakdown_batches=2,
)


def sized(base: Sizes, args: argparse.Namespace) -> Sizes:
    """`base` with the sizes given as flags (--drain-events 200000 ...) replaced."""
    given = {k: getattr(args, f"size_{k}") for k in base.__dict__ if getattr(args, f"size_{k}", None) is not None}
    return replace(base, **given)


def spark_apps(endpoints: Mapping[str, str]) -> list[str]:
    """Names of the applications the test bed's Spark master runs now (other people's work on the cluster)."""
    import requests

    try:
        data = requests.get(f"{endpoints['spark_master_ui'].rstrip('/')}/json/", timeout=5).json()
    except Exception as exc:
        return [f"master unreadable: {exc}"]
    return [f"{a.get('name')} ({a.get('id')})" for a in data.get("activeapps") or []]


def run_figure(name: str, fn: Callable[[], dict], endpoints: Mapping[str, str]) -> dict[str, Any]:
    """Run one figure with the machine noted around it; never raises."""
    groups = machine.testbed_groups()
    out: dict[str, Any] = {"machine_before": machine.machine_notes(), "spark_apps_before": spark_apps(endpoints)}
    snap, began = machine.snapshot(), time.monotonic()
    print(f"[bench] {name}: started (load {out['machine_before']['load_average_1_5_15']})", flush=True)
    try:
        out["result"] = fn()
        out["status"] = "ok"
    except Exception as exc:
        out["status"] = "error"
        out["error"] = f"{type(exc).__name__}: {exc}"[:4000]
        out["traceback"] = traceback.format_exc()[-4000:]
    out["seconds"] = round(time.monotonic() - began, 1)
    during = machine.cpu_between(snap, machine.snapshot(), groups)
    out["during"] = {
        "testbed_cpu_pct_of_one_core": during["services"],
        "others_cpu_pct_of_one_core": during["others_cpu_pct_of_one_core"],
        "busiest_others": during["others"][:5],
    }
    out["spark_apps_after"] = spark_apps(endpoints)
    out["machine_after"] = machine.machine_notes()
    status = out["status"] + (f": {out.get('error') or out.get('reason')}" if out["status"] != "ok" else "")
    print(f"[bench] {name}: {status[:300]} in {out['seconds']} s (load {out['machine_after']['load_average_1_5_15']})")
    return out


def _fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.2f}{unit}" if abs(x) < 100 else f"{x:,.0f}{unit}"
    if isinstance(x, int):
        return f"{x:,}{unit}"
    return f"{x}{unit}"


def _load(fig: Mapping[str, Any]) -> str:
    loads = [fig.get(k, {}).get("load_average_1_5_15", ["?"])[0] for k in ("machine_before", "machine_after")]
    return "->".join(map(str, loads))


def _producer_rows(f: Mapping[str, Any]) -> list[list[str]]:
    r = f["result"]
    return [[
        f"1 Producer, {key.replace('_', ' ')} (ev/s)", _fmt(fig["events_per_s"]["median"]),
        _fmt(r["producer_performance"]["events_per_s"]["median"]) + " (Java)",
        _fmt(r["ratio_to_producer_performance"][key], "x"), ">= 0.3x", _load(f),
    ] for key, fig in r["ours"].items()]  # fmt: skip


def _headline_rows(title: str) -> Callable[[Mapping[str, Any]], list[list[str]]]:
    def rows(f: Mapping[str, Any]) -> list[list[str]]:
        h = f["result"].get("headline") or {}
        return [[title, _fmt(h.get("ours")), _fmt(h.get("anchor")), _fmt(h.get("ratio"), "x"), _fmt(h.get("target")),
                 _load(f)]]  # fmt: skip

    return rows


def _breakdown_rows(f: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for run in f["result"]["runs"]:
        st = run.get("steady") or {}
        cpu = st.get("executor_cpu") or {}
        rows.append([
            f"3b One batch of {run['records_per_batch']:,} records (median)", _fmt(st.get("seconds"), " s"),
            f"driver CPU {_fmt(st.get('driver_cpu'), ' s')}, executor CPU {_fmt(sum(cpu.values()), ' s')}; "
            f"{_fmt(st.get('spark_jobs'))} jobs / {_fmt(st.get('tasks'))} tasks", "", "", _load(run),
        ])  # fmt: skip
    return rows


def _freshness_rows(f: Mapping[str, Any]) -> list[list[str]]:
    cold = f["result"].get("cold_start") or {}
    rows = [[
        "4 First rows visible, a new job (cold driver, empty tables)", _fmt(cold.get("first_rows_visible_s"), " s"),
        f"tables registered in Trino after {_fmt(cold.get('tables_registered_s'), ' s')}", "", "<= 10 s", _load(f),
    ]]  # fmt: skip
    for run in f["result"]["runs"]:
        fr = run["freshness"]
        rows.append([
            f"4 Freshness at {run['rate_events_per_s']:,} ev/s",
            f"p50 {_fmt(fr['p50_s'], ' s')} p95 {_fmt(fr['p95_s'], ' s')} p99 {_fmt(fr['p99_s'], ' s')}",
            f"{run['markers_sent']} markers, {run['markers_never_seen']} unseen", "",
            {1000: "p95 <= 3 s", 5000: "p95 <= 6 s"}.get(run["rate_events_per_s"], ""), _load(run),
        ])  # fmt: skip
    return rows


def _dashboards_rows(f: Mapping[str, Any]) -> list[list[str]]:
    r = f["result"]
    rows = []
    for when in ("before", "after"):
        q = r[f"{when}_maintenance"]
        rows.append([
            f"5 Dashboard SQL, {r['rows']:,} rows, {when} maintenance",
            f"p50 {_fmt(q['p50_s'], ' s')} p95 {_fmt(q['p95_s'], ' s')}",
            f"{q['queries']} queries x {q['runs_per_query']}, {len(q['errors'])} failed",
            f"{r[f'files_{when}']['max_files_per_partition']} files/partition",
            "p95 <= 1 s after" if when == "after" else "", _load(f),
        ])  # fmt: skip
    return rows


def _footprint_rows(f: Mapping[str, Any]) -> list[list[str]]:
    r = f["result"]
    ws = r.get("warm_start") or {}
    rows = [["6 Warm start to all usable", _fmt(ws.get("total_s"), " s"), ws.get("source", "")[:40], "", "", _load(f)]]
    for key, label in (("at_rest", "at rest"), ("with_job", "with the streaming job")):
        if st := r.get(key):
            rows.append([
                f"6 Test bed {label}", f"{st['total_rss_mib'] / 1024:.2f} GiB RSS",
                f"{st['mean_total_cpu_pct_of_one_core']:.1f} % of a core idle", "",
                "<= 3 GiB, <= 5 % CPU" if key == "with_job" else "", _load(f),
            ])  # fmt: skip
    if limits := r.get("docker_memory_limits_mib") or {}:
        rows.append(["6 Docker stack, sum of container memory limits", f"{sum(limits.values()) / 1024:.2f} GiB",
                     f"{len(limits)} containers, default settings", "", "<= 8 GiB", ""])  # fmt: skip
    return rows


ROWS = {
    "producer": ("1 Producer (ev/s)", _producer_rows),
    "drain": ("2 Drain", _headline_rows("2 Drain")),
    "flatness": ("3 Flatness", _headline_rows("3 Flatness")),
    "breakdown": ("3b Batch breakdown", _breakdown_rows),
    "freshness": ("4 Freshness", _freshness_rows),
    "dashboards": ("5 Dashboards", _dashboards_rows),
    "footprint": ("6 Footprint", _footprint_rows),
}


def table_rows(results: Mapping[str, Any]) -> list[list[str]]:
    """[figure, ours, anchor, ratio or value, target, load 1-min before->after] per figure line."""
    rows: list[list[str]] = []
    for name, (title, figure_rows) in ROWS.items():
        fig = results.get("figures", {}).get(name)
        if fig is not None and fig["status"] != "ok":
            rows.append([title, fig["status"], (fig.get("error") or fig.get("reason") or "")[:60], "", "", _load(fig)])
        elif fig is not None:
            rows += figure_rows(fig)
    return rows


def format_table(rows: list[list[str]]) -> str:
    head = ["Figure", "Ours", "Anchor / detail", "Ratio / value", "Target", "Load"]
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def acquire_testbed() -> tuple[dict[str, str], dict[str, object] | None, bool]:
    """(endpoints, the warm start measured here or None, started here)."""
    from testbed import bed, session

    began = time.monotonic()
    got = session.acquire(echo=print)
    if not got.started_here:
        return got.endpoints, None, False
    took = round(time.monotonic() - began, 1)
    rows = {r.service: r.ready_seconds for r in bed.status_rows()}
    return got.endpoints, {"source": "started by this run (python -m bench)", "total_s": took, "ready_s": rows}, True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes: every figure in a few minutes")
    p.add_argument("--only", nargs="+", choices=FIGURES, help="run only these figures")
    p.add_argument("--skip", nargs="+", choices=FIGURES, default=[], help="leave these figures out")
    p.add_argument("--out", type=Path, default=REPO / "bench-results", help="where the JSON and plots go")
    p.add_argument("--keep-testbed", action="store_true", help="leave a test bed this run started running")
    p.add_argument("--no-plots", action="store_true")
    g = p.add_argument_group("sizes", "override single sizes of the chosen mode (the JSON records the sizes used)")
    for name, value in FULL.__dict__.items():
        kind = (lambda t: tuple(int(x) for x in t.split(","))) if isinstance(value, tuple) else type(value)
        meta = "N[,N...]" if isinstance(value, tuple) else "N"
        help_ = f"default {value} (smoke: {getattr(SMOKE, name)})"
        g.add_argument(f"--{name.replace('_', '-')}", dest=f"size_{name}", type=kind, metavar=meta, help=help_)
    a = p.parse_args(argv)
    z = sized(SMOKE if a.smoke else FULL, a)
    wanted = [f for f in FIGURES if (not a.only or f in a.only) and f not in a.skip]
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    results: dict[str, Any] = {
        "started": datetime.now().isoformat(timespec="seconds"),
        "mode": ("smoke" if a.smoke else "full") + ("" if z == (SMOKE if a.smoke else FULL) else " (sizes changed)"),
        "sizes": {k: list(v) if isinstance(v, tuple) else v for k, v in z.__dict__.items()},
        "machine": machine.machine_notes(),
        "git_head": _git_head(),
        "figures": {},
    }
    partial = a.out / f"{stamp}.partial.json"
    endpoints, start, started_here = acquire_testbed()
    results["testbed_started_by_this_run"] = started_here
    try:
        results["figures"] = run_all(endpoints, wanted, z, start, lambda f: _save(results | {"figures": f}, partial))
    finally:
        if started_here and not a.keep_testbed:
            from testbed import bed

            bed.down(echo=print)
    results["finished"] = datetime.now().isoformat(timespec="seconds")
    results["machine_end"] = machine.machine_notes()
    if not a.no_plots:
        results["plots"] = plots.plot_all(results, a.out / stamp)
    path = _save(results, a.out / f"{stamp}.json")
    partial.unlink(missing_ok=True)
    print("\n" + format_table(table_rows(results)))
    steps = (results["figures"].get("breakdown") or {}).get("result")
    if steps:
        from bench.breakdown import format_steps

        print("\nWhere one batch's time goes (bench/breakdown.py; Spark's event log, the job's own steps):")
        print(format_steps(steps))
    print(f"\nmachine: {results['machine']['cores']} cores, {results['machine']['memory_gib']} GiB; results: {path}")
    for name, png in (results.get("plots") or {}).items():
        print(f"  plot {name}: {png}")
    return 0


def _save(results: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str))
    return path


def run_all(endpoints: Mapping[str, str], wanted: list[str], z: Sizes, start: dict | None,
            on_figure: Callable[[dict], None]) -> dict[str, Any]:  # fmt: skip
    """The figures in order; footprint's at-rest sample comes first (nothing of ours running), then one
    streaming job serves footprint's with-job sample and the freshness runs. `on_figure(figures)` after each."""
    from bench import breakdown, dashboards, drain, footprint, freshness, producer
    from bench.stream_session import StreamSession

    ep, figs = dict(endpoints), {}

    def put(name: str, fig: dict) -> None:
        figs[name] = fig
        on_figure(figs)

    def run(name: str, fn: Callable[[], dict]) -> None:
        if name in wanted:
            put(name, run_figure(name, fn, ep))

    rest = None
    if "footprint" in wanted:
        rest = run_figure("footprint (at rest)", lambda: machine.sample(z.idle_seconds, z.idle_samples), ep)
    run("producer", lambda: producer.figure(ep, events=z.producer_events, runs=z.producer_runs))
    run("drain", lambda: drain.drain_figure(ep, events=z.drain_events, processes=z.drain_processes))
    run("flatness", lambda: drain.flatness_figure(ep, sizes=z.flatness_sizes, batch_events=z.flatness_batch_events,
                                                  batches=z.flatness_batches))  # fmt: skip
    run("breakdown", lambda: breakdown.figure(ep, sizes=z.breakdown_sizes, batches=z.breakdown_batches))
    if "freshness" in wanted or "footprint" in wanted:
        session = StreamSession(ep)
        try:
            opened = run_figure("streaming job start", lambda: _open(session), ep)
            if opened["status"] != "ok":
                for name in ("freshness", "footprint"):
                    if name in wanted:
                        put(name, opened | {"status": "error", "error": f"job start: {opened.get('error')}"})
            else:
                run("footprint", lambda: footprint.figure(ep, seconds=z.idle_seconds, samples=z.idle_samples,
                    settle_s=z.idle_settle, start=start, session=session, at_rest=rest))  # fmt: skip
                run("freshness", lambda: freshness.figure(ep, rates=z.freshness_rates, seconds=z.freshness_seconds,
                    warmup=z.freshness_warmup, session=session))  # fmt: skip
        finally:
            session.close()
    run("dashboards", lambda: dashboards.figure(ep, rows=z.lake_rows, files_per_partition=z.lake_files_per_partition,
                                                runs=z.dashboard_runs))  # fmt: skip
    return figs


def _open(session: Any) -> dict[str, object]:
    session.start()
    return {"job_args": session.args, "seconds_to_tables_registered": session.started_s}


def _git_head() -> str | None:
    import subprocess

    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    return done.stdout.strip() or None


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
