"""The driver agent's report (app id, UI, each query's latest progress) and how Orion reads it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from orion.agent import driver as agent
from orion.progress import read_status, streaming_progress
from orion.scrub import MASK, Scrubber


class FakeJavaProgress:
    def __init__(self, data: dict) -> None:
        self.data = data

    def json(self) -> str:
        return json.dumps(self.data)


class FakeQuery:
    def __init__(self, qid: str, progress: dict | None) -> None:
        self.id, self.runId, self.name = qid, f"run-{qid}", f"query-{qid}"
        self._jsq = SimpleNamespace(lastProgress=lambda: FakeJavaProgress(progress) if progress else None)


def _session(queries: list[FakeQuery]) -> SimpleNamespace:
    return SimpleNamespace(
        sparkContext=SimpleNamespace(applicationId="app-1", uiWebUrl="http://127.0.0.1:4040"),
        streams=SimpleNamespace(active=queries),
    )


def test_reporter_writes_app_and_latest_progress_and_keeps_finished_queries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status = tmp_path / "status.json"
    reporter = agent.Reporter(str(status), interval=60)
    session = _session([FakeQuery("a", {"batchId": 3, "timestamp": "2026-01-01T00:00:00.000Z"}), FakeQuery("b", None)])
    monkeypatch.setattr(agent, "_session", lambda: session)
    reporter.report()
    data = json.loads(status.read_text())
    assert (data["app_id"], data["ui_url"]) == ("app-1", "http://127.0.0.1:4040")
    assert [(q["id"], q["active"], q["progress"]) for q in data["queries"]] == [
        ("a", True, {"batchId": 3, "timestamp": "2026-01-01T00:00:00.000Z"}), ("b", True, None),
    ]  # fmt: skip
    session.streams.active = []  # both queries ended: the last progress stays visible
    reporter.report()
    data = json.loads(status.read_text())
    assert [(q["id"], q["active"], q["progress"] is not None) for q in data["queries"]] == [
        ("a", False, True), ("b", False, False),
    ]  # fmt: skip
    assert not Path(f"{status}.tmp").exists()


def test_reporter_without_a_session_writes_nothing_and_never_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status = tmp_path / "status.json"
    reporter = agent.Reporter(str(status), interval=60)
    monkeypatch.setattr(agent, "_session", lambda: None)
    reporter.report()
    assert not status.exists()

    def broken() -> None:
        raise RuntimeError("py4j gateway gone")

    monkeypatch.setattr(agent, "_session", broken)
    reporter.report()
    assert "progress report failed" in capsys.readouterr().err


def test_agent_refuses_to_run_without_a_job_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["driver.py"])
    with pytest.raises(SystemExit) as exc:
        agent.main()
    assert exc.value.code == 2


def test_status_reader_tolerates_missing_and_broken_files(tmp_path: Path) -> None:
    assert read_status(tmp_path / "none.json") is None
    (tmp_path / "bad.json").write_text("{half")
    assert read_status(tmp_path / "bad.json") is None
    assert streaming_progress(None, Scrubber()) is None


def test_streaming_progress_falls_back_to_trigger_duration_and_scrubs_strings() -> None:
    status = {
        "updated_at": 0,
        "queries": [{"id": "q", "progress": {
            "durationMs": {"triggerExecution": 812}, "batchId": 1,
            # pragma: allowlist nextline secret - a test's fake value
            "sources": [{"description": "s3a://key:secret@bucket/path", "endOffset": "top-secret-offset"}],
        }}],
    }  # fmt: skip
    q = streaming_progress(status, Scrubber(["top-secret-offset"])).queries[0]  # type: ignore[union-attr]
    assert q.batch_duration_ms == 812
    assert q.sources[0].description == f"s3a://{MASK}@bucket/path"
    assert q.sources[0].end_offset == MASK
