"""Figure 5, dashboard queries: p50/p95 of the dashboards' SQL through Trino on 10 M rows, before and after
maintenance, and files per partition before and after.

    python -m bench.dashboards [--rows 10000000] [--files-per-partition 500] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.freshness import percentile, summary
from bench.machine import machine_notes, noted, print_json
from bench.stream_session import EVENTS, REJECTED, TRINO_USER, Scratch, register, scratch, unregister
from lakehouse.clients.trino_sql import query
from lakehouse.generators.trino import CATALOG


def run_lake_job(run: Scratch, command: str, *args: str) -> dict:
    """spark-submit bench/spark_lake.py `command` on the run's tables; returns its BENCH line."""
    table_uri, rejected_uri, _ = run.uris()
    args = (command, "--table-uri", table_uri, "--rejected-table-uri", rejected_uri, *args)
    app = run.submit(Path(__file__).with_name("spark_lake.py"), args, f"bench-lake-{command}", timeout_s=7200)
    return app.bench_line(f"bench/spark_lake.py {command}")


def chart_queries(endpoints: Mapping[str, str], schema: str, instance: str) -> tuple[list[dict], dict]:
    """Import an instance of the dashboards on `schema`; return ([{chart, viz_type, sql}], outputs to delete)."""
    from lakehouse.clients import superset_dashboards as sd
    from lakehouse.clients.superset_api import SupersetClient
    from testbed.plan import bed_settings

    trino_port = int(endpoints["trino_url"].rsplit(":", 1)[1].split("/")[0])
    props = sd.inputs(
        bed_settings(), superset_url=endpoints["superset_url"], trino_host="127.0.0.1", trino_port=trino_port,
        schema=schema, instance=instance, timeout_seconds=300,
    ) | {"admin_password": endpoints["superset_admin_password"]}  # fmt: skip
    outs = sd.apply(props)
    cleanup = props | outs
    bundle = sd.bundle_of(props)
    names = {
        str(doc["uuid"]): (str(doc.get("slice_name")), str(doc.get("viz_type")))
        for path, doc in bundle.files.items()
        if path.startswith("charts/")
    }
    found = []
    with SupersetClient.login(endpoints["superset_url"], props["admin_user"], props["admin_password"]) as client:
        for chart_uuid, chart_id in sorted(outs["object_ids"]["chart"].items()):
            params = {"format": "json", "type": "query", "force": "true"}
            resp = client.request("GET", f"/api/v1/chart/{chart_id}/data/", what=f"the SQL of chart {chart_id}",
                                  params=params, timeout=120)  # fmt: skip
            name, viz = names.get(chart_uuid, (str(chart_id), ""))
            for i, part in enumerate(resp.json().get("result") or []):
                if part.get("query"):
                    label = name if i == 0 else f"{name} (query {i + 1})"
                    # Superset shows the statement with a trailing ';' and strips it before it executes it.
                    sql = part["query"].strip().rstrip(";").rstrip()
                    found.append({"chart": label, "viz_type": viz, "sql": sql})
    return found, cleanup


def time_queries(trino_url: str, queries: Sequence[dict], schema: str, runs: int) -> dict[str, object]:
    """Each query once unmeasured, then `runs` times; per chart and over all: p50/p95 seconds, rows returned."""
    per_chart, every, errors = [], [], []
    for q in queries:
        try:
            rows = query(trino_url, q["sql"], user=TRINO_USER, catalog=CATALOG, schema=schema, timeout=600)
        except Exception as exc:
            errors.append({"chart": q["chart"], "error": str(exc)[:500]})
            continue
        took = []
        for _ in range(runs):
            t = time.monotonic()
            query(trino_url, q["sql"], user=TRINO_USER, catalog=CATALOG, schema=schema, timeout=600)
            took.append(time.monotonic() - t)
        every += took
        per_chart.append({
            "chart": q["chart"], "rows": len(rows), "p50_s": round(statistics.median(took), 3),
            "p95_s": round(percentile(took, 95) or 0, 3), "max_s": round(max(took), 3),
        })  # fmt: skip
    overall = {k: v for k, v in summary(every).items() if k in ("p50_s", "p95_s", "max_s")}
    return {"runs_per_query": runs, "queries": len(queries), **overall, "per_chart": per_chart, "errors": errors}


def _partition_stats(files: Mapping[str, int]) -> dict[str, object]:
    return {"partitions": len(files), "files_per_partition": dict(sorted(files.items())),
            "max_files_per_partition": max(files.values()) if files else 0}  # fmt: skip


@noted
def figure(endpoints: Mapping[str, str] | None = None, *, rows: int = 10_000_000, files_per_partition: int = 500,
           hours: float = 24, runs: int = 5) -> dict[str, object]:  # fmt: skip
    url = endpoints["trino_url"]
    result: dict[str, Any] = {"rows": rows, "hours_spanned": hours}
    registered: list[str] = []
    cleanup: dict | None = None
    with scratch(endpoints, "lake") as run:
        schema = f"bench_lake_{run.id}"
        try:
            fill = run_lake_job(run, "fill", "--rows", str(rows), "--files-per-partition", str(files_per_partition),
                                "--hours", str(hours), "--end-epoch", str(time.time()))  # fmt: skip
            result["fill_seconds"] = fill["seconds"]
            result["rejected_rows"] = fill["rejected_rows"]
            result["files_before"] = _partition_stats(fill["files_per_partition"])
            table_uri, rejected_uri, _ = run.uris()
            register(url, schema, {EVENTS: table_uri, REJECTED: rejected_uri}, registered, wait_seconds=120)
            count_sql = f"SELECT count(*) FROM {CATALOG}.{schema}.{EVENTS}"  # noqa: S608 - our own names
            result["rows_in_trino"] = int(query(url, count_sql, user=TRINO_USER)[0][0])
            queries, cleanup = chart_queries(endpoints, schema, instance=f"bench-{run.id}")
            result["queries"] = [{"chart": q["chart"], "viz_type": q["viz_type"], "sql": q["sql"]} for q in queries]
            result["load_before"] = machine_notes()["load_average_1_5_15"]
            result["before_maintenance"] = time_queries(url, queries, schema, runs)
            maint = run_lake_job(run, "maintain")
            result["maintenance"] = {k: maint[k] for k in ("how", "seconds", "reports")}
            result["files_after"] = _partition_stats(maint["files_per_partition"])
            result["load_after"] = machine_notes()["load_average_1_5_15"]
            result["after_maintenance"] = time_queries(url, queries, schema, runs)
        finally:
            if cleanup is not None:
                from lakehouse.clients import superset_dashboards as sd

                with contextlib.suppress(Exception):
                    sd.remove(cleanup)
            unregister(url, schema, registered)
    result["target_p95_s_after_maintenance"] = 1.0
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.dashboards", description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=10_000_000)
    p.add_argument("--files-per-partition", type=int, default=500)
    p.add_argument("--hours", type=float, default=24)
    p.add_argument("--runs", type=int, default=5)
    return print_json(figure(**vars(p.parse_args(argv))))


if __name__ == "__main__":
    sys.exit(main())
