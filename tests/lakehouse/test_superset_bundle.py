"""The dashboards bundle built from superset_assets/: valid YAML in one root folder, every reference resolves,
uuids stable, the deployment's names filled in, nothing secret inside, every chart queryable (a query_context
that agrees with its params) and on the streaming job's real columns."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from lakehouse import superset_bundle as sb

URI = "trino://superset@trino:8080/delta"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def bundle() -> sb.Bundle:
    return sb.build(sb.BundleParams(trino_uri=URI))


def entries(data: bytes) -> dict[str, dict]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: yaml.safe_load(zf.read(name)) for name in zf.namelist()}


def kind_files(b: sb.Bundle, kind: str) -> dict[str, dict]:
    return {rel: doc for rel, doc in b.files.items() if sb.kind_of(rel) == kind}


def datasets_by_uuid(b: sb.Bundle) -> dict[str, dict]:
    return {d["uuid"]: d for d in kind_files(b, "dataset").values()}


# ----- structure -----


def test_bundle_zip_has_one_root_folder_and_valid_yaml_everywhere(bundle: sb.Bundle) -> None:
    files = entries(bundle.data)
    assert {name.split("/", 1)[0] for name in files} == {sb.ROOT_FOLDER}
    rels = {name.split("/", 1)[1] for name in files}
    assert rels == {"metadata.yaml", *bundle.files}
    meta = files[f"{sb.ROOT_FOLDER}/metadata.yaml"]
    assert meta["type"] == "assets" and meta["version"] == "1.0.0"
    for name, doc in files.items():
        assert isinstance(doc, dict), name
    # Parsed back, the zip holds exactly the rendered configs.
    assert {n.split("/", 1)[1]: d for n, d in files.items() if not n.endswith("metadata.yaml")} == bundle.files


def test_bundle_has_one_database_two_dashboards_and_the_required_charts(bundle: sb.Bundle) -> None:
    uuids = bundle.uuids()
    assert len(uuids["database"]) == 1
    titles = {d["title"] for d in bundle.dashboards()}
    assert titles == {"Logistics — live", "Pipeline health"}
    charts = {doc["slice_name"]: doc["viz_type"] for doc in kind_files(bundle, "chart").values()}
    required = {
        "Events per minute": "echarts_timeseries_bar",
        "Share by risk classification": "pie",
        "Delay probability and delivery time deviation": "mixed_timeseries",
        "Fuel consumption by traffic congestion band": "echarts_timeseries_bar",
        "Latest position per shipment": "table",
        "Top shipments by delay probability": "echarts_timeseries_bar",
        "Rows ingested per minute": "echarts_timeseries_bar",
        "Quarantined records per minute by reason code": "echarts_timeseries_bar",
        "Quarantine rate per minute": "echarts_timeseries_line",
        "Freshness per minute (p50, p95)": "echarts_timeseries_line",
        "Commits per minute and rows per commit": "mixed_timeseries",
    }
    assert {t: charts.get(t) for t in required} == required


def test_every_dashboard_refreshes_every_10_to_30_seconds(bundle: sb.Bundle) -> None:
    for rel, doc in kind_files(bundle, "dashboard").items():
        assert 10 <= doc["metadata"]["refresh_frequency"] <= 30, rel
        assert doc["slug"] and doc["published"] is True


def test_every_reference_resolves(bundle: sb.Bundle) -> None:
    assert sb.problems(bundle.files) == []
    charts = set(bundle.uuids()["chart"])
    datasets = set(bundle.uuids()["dataset"])
    for doc in kind_files(bundle, "chart").values():
        assert doc["dataset_uuid"] in datasets
    in_layouts = [u for d in kind_files(bundle, "dashboard").values() for u in sb.chart_uuids_in_layout(d)]
    # Every chart is on exactly one dashboard, and every layout entry is a chart of the bundle.
    assert sorted(in_layouts) == sorted(charts)


def test_layout_rows_fit_the_12_column_grid(bundle: sb.Bundle) -> None:
    for rel, doc in kind_files(bundle, "dashboard").items():
        pos = doc["position"]
        for row in (n for n in pos.values() if isinstance(n, dict) and n.get("type") == "ROW"):
            assert sum(pos[c]["meta"]["width"] for c in row["children"]) <= 12, (rel, row["id"])
            assert all(pos[c]["parents"][-1] == row["id"] for c in row["children"])


def test_problems_names_a_chart_on_a_missing_dataset_and_a_layout_on_a_missing_chart(bundle: sb.Bundle) -> None:
    files = json.loads(json.dumps(bundle.files))
    chart_rel = next(r for r in files if r.startswith("charts/"))
    files[chart_rel]["dataset_uuid"] = "00000000-0000-0000-0000-000000000000"
    files[chart_rel]["query_context"] = None
    dash = next(d for r, d in files.items() if r.startswith("dashboards/"))
    node = next(n for n in dash["position"].values() if isinstance(n, dict) and n.get("type") == "CHART")
    node["meta"]["uuid"] = "11111111-1111-1111-1111-111111111111"
    found = " | ".join(sb.problems(files))
    assert f"{chart_rel}: dataset_uuid 00000000-0000-0000-0000-000000000000 is no dataset" in found
    assert f"{chart_rel}: no query_context" in found
    assert "references chart 11111111-1111-1111-1111-111111111111" in found


# ----- uuids and stability -----


def test_uuids_are_the_ones_written_in_the_files_and_stable_across_builds(bundle: sb.Bundle) -> None:
    written = {rel: doc["uuid"] for rel, doc in sb.load_sources().items()}
    assert {rel: doc["uuid"] for rel, doc in bundle.files.items()} == written
    assert all(UUID.match(u) for u in written.values())
    again = sb.build(sb.BundleParams(trino_uri=URI))
    assert again.uuids() == bundle.uuids()
    assert again.data == bundle.data  # byte-identical for the same inputs


def test_instance_copy_has_its_own_uuids_slugs_and_names_with_references_intact(bundle: sb.Bundle) -> None:
    copy = sb.build(sb.BundleParams(trino_uri=URI, events_table="ev_x", rejected_table="ev_x_rej", instance="it-1"))
    assert sb.problems(copy.files) == []
    default_uuids = {u for us in bundle.uuids().values() for u in us}
    copy_uuids = {u for us in copy.uuids().values() for u in us}
    assert len(copy_uuids) == len(default_uuids) and not copy_uuids & default_uuids
    assert {d["slug"] for d in copy.dashboards()} == {f"{d['slug']}-it-1" for d in bundle.dashboards()}
    (db,) = kind_files(copy, "database").values()
    assert db["database_name"].endswith("(it-1)")
    names = {d["table_name"] for d in kind_files(copy, "dataset").values()}
    assert {"ev_x", "ev_x_rej", "shipment_latest_it_1"} <= names
    # The same instance gives the same uuids again.
    again = sb.build(sb.BundleParams(trino_uri=URI, events_table="ev_x", rejected_table="ev_x_rej", instance="it-1"))
    assert again.uuids() == copy.uuids()


# ----- the deployment's names -----


def test_uri_schema_and_table_names_are_filled_in_everywhere() -> None:
    b = sb.build(
        sb.BundleParams(
            trino_uri="trino://superset@127.0.0.1:20085/delta", schema="s1", events_table="ev", rejected_table="rj"
        )
    )
    (db,) = kind_files(b, "database").values()
    assert db["sqlalchemy_uri"] == "trino://superset@127.0.0.1:20085/delta"
    physical = {d["table_name"]: d for d in kind_files(b, "dataset").values() if not d.get("sql")}
    assert set(physical) == {"ev", "rj"} and {d["schema"] for d in physical.values()} == {"s1"}
    sql = " ".join(d["sql"] for d in kind_files(b, "dataset").values() if d.get("sql"))
    assert re.search(r"delta\.s1\.ev\b", sql) and "delta.s1.rj" in sql and 'delta.s1."ev$history"' in sql
    # (The file names inside the zip keep theirs; no content names the default tables.)
    text = b"".join(sb._dump(d) for d in b.files.values())
    assert b"logistics_events" not in text and b"${" not in text


def test_an_unknown_placeholder_is_an_error_naming_the_file(tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    shutil.copytree(sb.ASSETS_DIR, assets)
    chart = assets / "charts" / "events_per_minute.yaml"
    chart.write_text(chart.read_text().replace("slice_name: Events per minute", "slice_name: ${nope}"))
    with pytest.raises(sb.BundleError, match=r"charts/events_per_minute.yaml: unknown placeholder \$\{nope\}"):
        sb.build(sb.BundleParams(trino_uri=URI), assets)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("trino_uri", "postgresql://x/y", "must be a trino://"),
        ("schema", "Bad-Name", "schema = 'Bad-Name' must be a lower-case SQL identifier"),
        ("events_table", "x; DROP TABLE y", "events_table"),
        ("instance", "Has Space", "instance"),
    ],
)
def test_bundle_params_refuse_bad_values(field: str, value: str, message: str) -> None:
    kwargs = {"trino_uri": URI, field: value}
    with pytest.raises(sb.BundleError, match=re.escape(message)):
        sb.BundleParams(**kwargs)


# ----- secrets -----


def test_a_password_in_the_trino_uri_never_enters_the_bundle() -> None:
    b = sb.build(sb.BundleParams(trino_uri="trino://superset:S3cr3t-pw-9@trino:8443/delta"))
    assert b"S3cr3t-pw-9" not in b.data
    (rel,) = kind_files(b, "database")
    assert b.files[rel]["sqlalchemy_uri"] == f"trino://superset:{sb.MASK}@trino:8443/delta"
    assert b.passwords == {rel: "S3cr3t-pw-9"}


def test_nothing_secret_inside_the_default_bundle(bundle: sb.Bundle) -> None:
    assert bundle.passwords == {}

    def walk(value, path=""):  # type: ignore[no-untyped-def]
        if isinstance(value, dict):
            for k, v in value.items():
                if re.search(r"password|secret|token|access_key", str(k), re.I):
                    assert v in (None, "", {}), f"{path}.{k} holds a value"
                walk(v, f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")

    walk(bundle.files)
    assert not re.search(rb"(?i)(aws_secret|secret_key|password\s*[:=]\s*\S)", bundle.data)


# ----- charts are queryable, on the real columns -----


def test_every_chart_has_a_query_context_that_agrees_with_its_params(bundle: sb.Bundle) -> None:
    for rel, doc in kind_files(bundle, "chart").items():
        assert isinstance(doc["query_context"], str), rel
        qc = json.loads(doc["query_context"])
        params = doc["params"]
        assert qc["form_data"] == params, rel
        assert qc["queries"], rel
        mixed = params["viz_type"] == "mixed_timeseries"
        for i, query in enumerate(qc["queries"]):
            suffix = "_b" if mixed and i == 1 else ""
            metrics = params.get(f"metrics{suffix}") or ([params["metric"]] if params.get("metric") else [])
            assert query.get("metrics", []) == metrics, (rel, i)
            labels = [c if isinstance(c, str) else c.get("label") for c in query["columns"]]
            wanted = [params["x_axis"]] if params.get("x_axis") else []
            wanted += params.get(f"groupby{suffix}") or params.get("all_columns") or []
            assert labels == wanted, (rel, i)
            for f in params.get(f"adhoc_filters{suffix}") or []:
                if f["expressionType"] == "SQL":
                    assert f["sqlExpression"] in query["extras"]["where"], (rel, i)
            grains = [c["timeGrain"] for c in query["columns"] if isinstance(c, dict) and "timeGrain" in c]
            if grains:  # a temporal x-axis: bucketed by the chart's time grain
                assert grains == [params["time_grain_sqla"]] == [query["extras"]["time_grain_sqla"]], (rel, i)
            if "row_limit" in params:
                assert query["row_limit"] == params[f"row_limit{suffix}" if suffix else "row_limit"], (rel, i)


def test_every_column_and_metric_a_chart_uses_is_in_its_dataset(bundle: sb.Bundle) -> None:
    ds = datasets_by_uuid(bundle)
    for rel, doc in kind_files(bundle, "chart").items():
        dataset = ds[doc["dataset_uuid"]]
        columns = {c["column_name"] for c in dataset["columns"]}
        metrics = {m["metric_name"] for m in dataset["metrics"]}
        p = doc["params"]
        used_cols = [
            p.get("x_axis"),
            *(p.get("groupby") or []),
            *(p.get("groupby_b") or []),
            *(p.get("all_columns") or []),
        ]
        used_cols += [
            f["subject"] for k in ("adhoc_filters", "adhoc_filters_b") for f in p.get(k) or [] if f.get("subject")
        ]
        assert {c for c in used_cols if c} <= columns, rel
        used_metrics = [
            *(p.get("metrics") or []),
            *(p.get("metrics_b") or []),
            *([p["metric"]] if "metric" in p else []),
        ]
        assert set(used_metrics) <= metrics, rel


def test_physical_datasets_are_the_streaming_jobs_tables_column_for_column(bundle: sb.Bundle) -> None:
    from jobs.logistics.schema import EVENTS_SCHEMA, REJECTED_SCHEMA

    physical = {d["table_name"]: d for d in kind_files(bundle, "dataset").values() if not d.get("sql")}
    for table, schema in (("logistics_events", EVENTS_SCHEMA), ("logistics_events_rejected", REJECTED_SCHEMA)):
        stored = [c["column_name"] for c in physical[table]["columns"] if not c["expression"]]
        assert stored == [f.name for f in schema.fields], table
        times = {c["column_name"] for c in physical[table]["columns"] if c["is_dttm"]}
        assert times == {f.name for f in schema.fields if f.dataType.simpleString() in ("timestamp", "date")}


def test_virtual_datasets_read_only_the_jobs_columns(bundle: sb.Bundle) -> None:
    from jobs.logistics.schema import EVENTS_SCHEMA, REJECTED_SCHEMA

    real = {f.name for f in EVENTS_SCHEMA.fields} | {f.name for f in REJECTED_SCHEMA.fields}
    history = {"timestamp", "version", "operation", "operation_metrics"}  # Trino 476's "<table>$history"
    for doc in kind_files(bundle, "dataset").values():
        if doc.get("sql"):
            # Comments, string literals and quoted identifiers ("timestamp", "<table>$history") aside.
            sql = re.sub(r"--[^\n]*|'[^']*'|\"[^\"]*\"", " ", doc["sql"])
            idents = set(re.findall(r"\b([a-z_][a-z0-9_]*)\b", sql))
            outputs = {c["column_name"] for c in doc["columns"]}
            # Every snake_case identifier is a real column, an output alias, SQL or a table/schema name.
            known = real | history | outputs | _SQL_WORDS | {"delta", "lakehouse", "logistics_events", "v", "r", "n"}
            assert idents <= known, (doc["table_name"], sorted(idents - known))


_SQL_WORDS = {
    "select", "from", "where", "and", "group", "by", "as", "with", "max", "max_by", "count", "coalesce", "full",
    "outer", "join", "on", "current_timestamp", "current_date", "interval", "date_trunc", "minute", "day", "hour",
    "try_cast", "element_at", "bigint", "valid", "rejected", "logistics_events_rejected",
}  # fmt: skip


# ----- the hash -----


def test_assets_hash_changes_with_any_asset_edit_and_only_then(tmp_path: Path) -> None:
    assets = tmp_path / "assets"
    shutil.copytree(sb.ASSETS_DIR, assets)
    before = sb.assets_hash(assets)
    assert sb.assets_hash(assets) == before == sb.assets_hash(sb.ASSETS_DIR)
    chart = assets / "charts" / "events_per_minute.yaml"
    chart.write_text(chart.read_text().replace("Events per minute", "Events each minute"))
    assert sb.assets_hash(assets) != before
