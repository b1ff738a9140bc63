"""The DeltaTables dynamic provider's pure parts: validation, diff, engine numbers; and the register loop of
lakehouse.clients.delta_tables against a scripted Trino (the real one is in tests/integration)."""

from __future__ import annotations

from typing import Any

import pytest

from components.providers import delta_tables as dt
from lakehouse.clients import delta_tables
from lakehouse.clients.delta_tables import DeltaTablesError, TableSpec
from lakehouse.clients.trino_sql import TrinoQueryError, TrinoUnavailable

GOOD: dict[str, Any] = {
    "trino_url": "http://127.0.0.1:8085",
    "trino_user": "lakehouse",
    "catalog": "delta",
    "schema": "lakehouse",
    "tables": {"logistics_events": "s3://lake/logistics_events", "logistics_events_rejected": "s3://lake/x_rejected"},
    "wait_seconds": 600,
    "provider_hash": "abc",
}


def test_valid_inputs_pass() -> None:
    assert dt.validate(GOOD) == []


@pytest.mark.parametrize(
    ("change", "prop", "text"),
    [
        ({"trino_url": "127.0.0.1:8085"}, "trino_url", "http(s)://"),
        ({"schema": "Lake House"}, "schema", "SQL identifier"),
        ({"catalog": ""}, "catalog", "SQL identifier"),
        ({"tables": {}}, "tables", "at least one table"),
        ({"tables": {"Bad-Name": "s3://lake/t"}}, "tables", "'Bad-Name'"),
        ({"tables": {"t": "s3a://lake/t"}}, "tables", "s3://bucket/path"),
        ({"wait_seconds": 0}, "wait_seconds", "from 1 to 86400"),
        ({"wait_seconds": 2.5}, "wait_seconds", "from 1 to 86400"),
    ],
)
def test_invalid_inputs_name_the_property(change: dict, prop: str, text: str) -> None:
    failures = dt.validate({**GOOD, **change})
    assert [p for p, _ in failures] == [prop]
    assert text in failures[0][1]


def test_check_accepts_the_floats_the_engine_sends() -> None:
    result = dt.DeltaTablesProvider().check({}, {**GOOD, "wait_seconds": 600.0})
    assert result.failures == []
    assert result.inputs["wait_seconds"] == 600
    assert type(result.inputs["wait_seconds"]) is int


def test_diff_replaces_for_a_new_catalog_or_schema_and_updates_otherwise() -> None:
    assert dt.diff(GOOD, dict(GOOD)) == (False, [])
    assert dt.diff(GOOD, {**GOOD, "schema": "other"}) == (True, ["schema"])
    assert dt.diff(GOOD, {**GOOD, "catalog": "lake"}) == (True, ["catalog"])
    moved = {**GOOD, "tables": {**GOOD["tables"], "logistics_events": "s3://lake/elsewhere"}}
    assert dt.diff(GOOD, moved) == (True, [])
    assert dt.diff(GOOD, {**GOOD, "provider_hash": "new"}) == (True, [])
    # Outputs the provider adds are not inputs, and the engine's floats are not a change.
    stored = {**GOOD, "wait_seconds": 600.0, "schema_created": True, "registrations": {}, "table_names": {}}
    result = dt.DeltaTablesProvider().diff("delta.lakehouse", stored, GOOD)
    assert result.changes is False


def test_qualified_names_of_every_table() -> None:
    assert dt.qualified_names(GOOD) == {
        "logistics_events": "delta.lakehouse.logistics_events",
        "logistics_events_rejected": "delta.lakehouse.logistics_events_rejected",
    }


class ScriptedTrino:
    """Answers `lakehouse.clients.delta_tables`' statements like Trino would; counts register attempts."""

    def __init__(self, *, log_after: int = 0, registered: dict[str, str] | None = None, down_for: int = 0) -> None:
        self.log_after = log_after
        self.registered = dict(registered or {})
        self.down_for = down_for
        self.register_calls = 0
        self.statements: list[str] = []

    def __call__(self, url: str, sql: str, **_: Any) -> list[list[Any]]:
        self.statements.append(sql)
        if sql.startswith("SHOW CREATE TABLE"):
            table = sql.rsplit(".", 1)[1]
            if table not in self.registered:
                raise TrinoQueryError("not found", "TABLE_NOT_FOUND", "does not exist")
            return [[f"CREATE TABLE x (a bigint)\nWITH (\n   location = '{self.registered[table]}'\n)"]]
        if "register_table" in sql and "unregister" not in sql:
            self.register_calls += 1
            if self.register_calls <= self.down_for:
                raise TrinoUnavailable("connection refused")
            if self.register_calls <= self.log_after:
                raise TrinoQueryError("no log", "GENERIC_USER_ERROR", "No transaction log found in location s3://x")
            name = sql.split("table_name => '")[1].split("'")[0]
            self.registered[name] = sql.split("table_location => '")[1].split("'")[0]
            return []
        if "unregister_table" in sql:
            name = sql.split("table_name => '")[1].split("'")[0]
            if self.registered.pop(name, None) is None:
                raise TrinoQueryError("not found", "NOT_FOUND", "Table not found")
            return []
        raise AssertionError(f"unexpected statement {sql}")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _register(trino: ScriptedTrino, monkeypatch: pytest.MonkeyPatch, wait: float = 60) -> str:
    monkeypatch.setattr(delta_tables, "query", trino)
    clock = FakeClock()
    return delta_tables.register(
        "http://trino:8080",
        "delta",
        "lakehouse",
        TableSpec("events", "s3://lake/events"),
        user="lakehouse",
        wait_seconds=wait,
        poll_seconds=3,
        clock=clock,
        sleep=clock.sleep,
    )


def test_register_waits_for_the_delta_log_then_registers(monkeypatch: pytest.MonkeyPatch) -> None:
    trino = ScriptedTrino(log_after=4)
    assert _register(trino, monkeypatch) == "registered"
    assert trino.register_calls == 5
    assert trino.registered == {"events": "s3://lake/events"}


def test_register_retries_while_trino_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    trino = ScriptedTrino(down_for=2)
    assert _register(trino, monkeypatch) == "registered"


def test_register_times_out_with_a_message_naming_the_log_and_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    trino = ScriptedTrino(log_after=10_000)
    with pytest.raises(DeltaTablesError) as err:
        _register(trino, monkeypatch, wait=30)
    text = str(err.value)
    assert "http://trino:8080" in text
    assert "delta.lakehouse.events" in text
    assert "s3://lake/events/_delta_log does not exist yet" in text
    assert "after 30 s" in text
    assert trino.register_calls == 11  # every 3 s for 30 s, plus the first attempt


def test_register_adopts_a_table_at_the_same_location(monkeypatch: pytest.MonkeyPatch) -> None:
    trino = ScriptedTrino(registered={"events": "s3://lake/events"})
    assert _register(trino, monkeypatch) == "adopted"
    assert trino.register_calls == 0


def test_register_moves_a_table_registered_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    trino = ScriptedTrino(registered={"events": "s3://lake/old"})
    assert _register(trino, monkeypatch) == "moved"
    assert trino.registered == {"events": "s3://lake/events"}


def test_register_fails_at_once_on_other_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(url: str, sql: str, **_: Any) -> list[list[Any]]:
        if sql.startswith("SHOW CREATE TABLE"):
            raise TrinoQueryError("x", "TABLE_NOT_FOUND", "")
        raise TrinoQueryError("Trino at http://trino:8080 refused: ACCESS_DENIED: no", "ACCESS_DENIED", "no")

    monkeypatch.setattr(delta_tables, "query", refuse)
    with pytest.raises(DeltaTablesError, match=r"registering delta\.lakehouse\.events failed: .*ACCESS_DENIED"):
        delta_tables.register(
            "http://trino:8080", "delta", "lakehouse", TableSpec("events", "s3://lake/events"),
            user="u", wait_seconds=600, sleep=lambda s: None,
        )  # fmt: skip


def test_unregister_of_an_unknown_table_is_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    trino = ScriptedTrino()
    monkeypatch.setattr(delta_tables, "query", trino)
    assert delta_tables.unregister("http://t", "delta", "lakehouse", "events", user="u") is False
