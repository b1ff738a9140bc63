"""The Pipeline health assets of issue 15: per-minute charts over the last hour, one column per reason code the
job can give, and a freshness tile that says what it measures and does not carry a cold start for an hour."""

from __future__ import annotations

from pathlib import Path

import yaml

from contract.events import REASON_CODES

ASSETS = Path(__file__).resolve().parents[2] / "superset_assets"


def _load(rel: str) -> dict:
    return yaml.safe_load((ASSETS / rel).read_text())


def test_ingest_minutes_has_a_column_and_a_metric_for_every_reason_code_the_job_gives() -> None:
    dataset = _load("datasets/trino/ingest_minutes.yaml")
    for code in REASON_CODES:
        assert f"COUNT_IF(reason_code = '{code}') AS {code}" in dataset["sql"], code
    metrics = {m["metric_name"] for m in dataset["metrics"]}
    assert set(REASON_CODES) <= metrics
    chart = _load("charts/quarantine_by_reason.yaml")
    assert chart["params"]["metrics"] == list(REASON_CODES)


def test_per_minute_charts_span_the_last_hour_by_minute() -> None:
    sql = _load("datasets/trino/ingest_minutes.yaml")["sql"]
    # Every minute of the hour is a row (an empty one too), so a minute is one bar on a one-hour axis.
    assert "SEQUENCE(0, 59)" in sql and "FROM MINUTES" in sql and "LEFT JOIN valid" in sql
    for name in ("rows_ingested_per_minute", "freshness_per_minute", "quarantine_by_reason"):
        chart = _load(f"charts/{name}.yaml")
        query = chart["query_context"]["queries"][0]
        assert chart["params"]["x_axis"] == "minute", name
        assert query["extras"]["time_grain_sqla"] == "PT1M", name


def test_the_freshness_tile_says_what_it_measures_over_a_short_window() -> None:
    tile = _load("charts/health_freshness_p95_last_hour.yaml")
    assert "last 5 minutes" in tile["slice_name"]
    assert "ingestion_time - event_time" in tile["description"]
    text = yaml.safe_dump(tile["query_context"])
    assert "INTERVAL '5' MINUTE" in text, "a cold start would weigh on a one-hour window for an hour"
