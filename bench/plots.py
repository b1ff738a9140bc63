"""PNG plots of a `make bench` run (matplotlib, Agg backend: no display needed): one function per figure, its
dict from the results JSON -> one file's path (None when there is nothing to plot)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _plt():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def producer(fig1: Mapping[str, Any], out: Path) -> Path | None:
    ours = fig1.get("ours") or {}
    anchor = fig1.get("producer_performance") or {}
    if not ours or not anchor:
        return None
    labels = [f"ours, {k.replace('_', ' ')}" for k in ours] + ["Java ProducerPerformance"]
    med, lo, hi = ([v["events_per_s"][k] for v in [*ours.values(), anchor]] for k in ("median", "min", "max"))
    fig, ax = _plt().subplots(figsize=(7, 3.6))
    err = [[m - a for m, a in zip(med, lo, strict=True)], [b - m for m, b in zip(med, hi, strict=True)]]
    ax.bar(labels, med, yerr=err, capsize=4, color=["#4C72B0"] * len(ours) + ["#DD8452"])
    ax.set(ylabel="events/s (median, min-max)", title="Figure 1: producer, acks=all, 3 brokers")
    return _save(fig, out / "1-producer.png")


def drain(fig2: Mapping[str, Any], out: Path) -> Path | None:
    bars = {k: float(v["events_per_s"]) for k, v in fig2.items() if isinstance(v, Mapping) and v.get("events_per_s")}
    if not bars:
        return None
    fig, ax = _plt().subplots(figsize=(6, 3.4))
    ax.bar(list(bars), list(bars.values()), color=["#4C72B0", "#DD8452", "#55A868"][: len(bars)])
    ax.set(ylabel="events/s", title="Figure 2: drain with --available-now vs a lean bare append")
    return _save(fig, out / "2-drain.png")


def flatness(fig3: Mapping[str, Any], out: Path) -> Path | None:
    xy = sorted((p["table_rows"], p["batch_seconds"]) for p in fig3.get("points") or [] if p.get("batch_seconds"))
    if not xy:
        return None
    fig, ax = _plt().subplots(figsize=(6, 3.4))
    ax.plot([x / 1e6 for x, _ in xy], [y for _, y in xy], marker="o")
    ax.set(xlabel="table size (million rows)", ylabel="seconds per batch", ylim=(0, None))
    ax.set_title("Figure 3: per-batch duration vs table size")
    return _save(fig, out / "3-flatness.png")


def freshness(fig4: Mapping[str, Any], out: Path) -> Path | None:
    runs = fig4.get("runs") or []
    if not runs:
        return None
    fig, (a1, a2) = _plt().subplots(1, 2, figsize=(10, 3.6))
    for run in runs:
        pts = [(t, f) for t, f in run.get("series") or [] if f is not None]
        if not pts:
            continue
        label = f"{run['rate_events_per_s']:,} ev/s"
        a1.plot([t for t, _ in pts], [f for _, f in pts], ".", ms=3, label=label)
        ys = sorted(f for _, f in pts)
        a2.plot(ys, [(i + 1) / len(ys) for i in range(len(ys))], label=label)
    a1.axvline(runs[0].get("warmup_s", 0), color="grey", lw=0.8, ls=":")
    a1.set(xlabel="marker sent at (s into the run)", ylabel="produced -> visible in Trino (s)", ylim=(0, None))
    if a1.get_legend_handles_labels()[0]:
        a1.legend()
    a2.axvline(3.0, color="red", lw=0.8, ls="--", label="target p95 3 s")
    a2.set(xlabel="seconds", ylabel="share of markers")
    a2.legend()
    fig.suptitle("Figure 4: freshness through Trino, default trigger")
    return _save(fig, out / "4-freshness.png")


def dashboards(fig5: Mapping[str, Any], out: Path) -> Path | None:
    before = {c["chart"]: c["p50_s"] for c in (fig5.get("before_maintenance") or {}).get("per_chart") or []}
    after = {c["chart"]: c["p50_s"] for c in (fig5.get("after_maintenance") or {}).get("per_chart") or []}
    charts = [c for c in before if c in after]
    if not charts:
        return None
    fig, ax = _plt().subplots(figsize=(8, 0.3 * len(charts) + 1.5))
    ys = range(len(charts))
    ax.barh([y + 0.2 for y in ys], [before[c] for c in charts], height=0.4, label="before maintenance")
    ax.barh([y - 0.2 for y in ys], [after[c] for c in charts], height=0.4, label="after maintenance")
    ax.set_yticks(list(ys), charts, fontsize=7)
    ax.set(xlabel="median seconds through Trino", title=f"Figure 5: dashboard queries on {fig5.get('rows', 0):,} rows")
    ax.axvline(1.0, color="red", lw=0.8, ls="--")
    ax.legend(fontsize=7)
    return _save(fig, out / "5-dashboards.png")


def footprint(fig6: Mapping[str, Any], out: Path) -> Path | None:
    states = {k: fig6.get(k) for k in ("at_rest", "with_job") if fig6.get(k)}
    if not states:
        return None
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    services = sorted({s for st in states.values() for s in st["rss_mib"]})
    colors = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(services)}
    for i, st in enumerate(states.values()):
        bottom = 0.0
        for s in services:
            v = st["rss_mib"].get(s, {}).get("rss_mib", 0) / 1024
            a1.bar(i, v, bottom=bottom, color=colors[s], label=s if i == len(states) - 1 else None)
            bottom += v
    a1.set_xticks(range(len(states)), [k.replace("_", " ") for k in states])
    a1.axhline(3.0, color="red", lw=0.8, ls="--")
    a1.set_ylabel("resident memory (GiB)")
    a1.legend(fontsize=7, loc="upper left")
    ys = range(len(services))
    for j, (name, st) in enumerate(states.items()):
        cpu = st["mean_cpu_pct_of_one_core"]
        a2.barh([y + (0.2 if j == 0 else -0.2) for y in ys], [cpu.get(s, 0) for s in services], height=0.4,
                label=name.replace("_", " "))  # fmt: skip
    a2.set_yticks(list(ys), services, fontsize=7)
    a2.set_xlabel("idle CPU (% of one core)")
    a2.legend(fontsize=7)
    fig.suptitle("Figure 6: test bed footprint (resident memory, idle CPU per service)")
    return _save(fig, out / "6-footprint.png")


def breakdown(fig: Mapping[str, Any], out: Path) -> Path | None:
    """One stacked bar per batch size: the steady batch's steps (bench/breakdown.py STEPS), and the cold batch."""
    from bench.breakdown import STEPS

    bars = []
    for run in fig.get("runs") or []:
        if run.get("steady"):
            bars.append((f"{run['records_per_batch']:,} rec", run["steady"]["steps"]))
        if cold := run.get("cold_batch"):
            bars.append((f"{run['records_per_batch']:,} rec, cold", cold["steps"]))
    if not bars:
        return None
    plt = _plt()
    fig_, ax = plt.subplots(figsize=(10, 0.6 * len(bars) + 2.6))
    cmap = plt.get_cmap("tab20")
    for y, (_label, steps) in enumerate(bars):
        left = 0.0
        for i, step in enumerate(STEPS):
            width = float(steps.get(step) or 0.0)
            ax.barh(y, width, left=left, color=cmap(i % 20), label=step if y == 0 else None)
            left += width
    ax.set_yticks(range(len(bars)), [label for label, _ in bars])
    ax.set_xlabel("seconds (median batch after the first; the cold one apart)")
    ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    ax.set_title("Figure 3b: where a micro-batch's time goes")
    return _save(fig_, out / "3b-breakdown.png")


def plot_all(results: Mapping[str, Any], out: Path) -> dict[str, str]:
    """Every figure that ran: name -> PNG path. A plot that fails is reported, never fatal."""
    made = {}
    for name, fn in (("producer", producer), ("drain", drain), ("flatness", flatness), ("breakdown", breakdown),
                     ("freshness", freshness), ("dashboards", dashboards), ("footprint", footprint)):  # fmt: skip
        data = ((results.get("figures") or {}).get(name) or {}).get("result")
        if not isinstance(data, Mapping):
            continue
        try:
            path = fn(data, out)
        except Exception as exc:  # a plot is a convenience; the JSON has the numbers
            made[name] = f"plot failed: {type(exc).__name__}: {exc}"
            continue
        if path is not None:
            made[name] = str(path)
    return made
