"""`--processes N` through the CLI with real spawned worker processes and a fake of our own Sink in each:
one summary and one manifest for the whole run, exit 1 when any record of any process is unacknowledged or a
process dies, exit 2 when a process cannot connect."""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from producer_fakes import FakeSinkFactory

from producer import cli, malformed, parallel
from producer.delivery import Summary
from producer.plan import Plan
from producer.runner import RunResult

SERVERS = ["--bootstrap-servers", "127.0.0.1:1", "--rate", "0", "--no-progress"]


@pytest.fixture
def sigint_restored() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, previous)


def main(args: list[str], factory: FakeSinkFactory, tmp_path: Path) -> tuple[int, dict]:
    summary = tmp_path / "summary.json"
    code = cli.main([*SERVERS, *args, "--summary-json", str(summary)], sink_factory=factory)
    return code, json.loads(summary.read_text()) if summary.exists() else {}


def test_two_processes_send_everything_once_with_one_summary_and_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sigint_restored: None
) -> None:
    manifest = tmp_path / "sent.jsonl"

    code, summary = main(["--count", "1000", "--seed", "3", "--processes", "2", "--inject-malformed", "25",
                          "--duplicates", "10", "--manifest", str(manifest)], FakeSinkFactory(), tmp_path)  # fmt: skip

    assert code == cli.EXIT_OK
    assert (summary["sent"], summary["acked"], summary["unacknowledged"], summary["processes"]) == (1000, 1000, 0, 2)
    assert summary["kinds"] == {"valid": 965, "duplicate": 10, **{k: 5 for k in malformed.KINDS}}
    assert summary["mean_value_bytes"] > 400
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(lines) == 1000 and not list(tmp_path.glob("sent.jsonl.part*"))
    assert Counter(line["kind"] for line in lines) == Counter(summary["kinds"])
    fresh = [line["event_id"] for line in lines if line["kind"] != "duplicate"]
    assert len(set(fresh)) == len(fresh)
    assert "by 2 processes" in capsys.readouterr().err


def test_one_failed_record_in_one_process_exits_1(tmp_path: Path, sigint_restored: None) -> None:
    code, summary = main(["--count", "400", "--processes", "2"], FakeSinkFactory(fail={1: (17,)}), tmp_path)

    assert code == cli.EXIT_UNACKED
    assert (summary["sent"], summary["acked"], summary["failed"]) == (400, 399, 1)
    assert summary["errors"] == {"TimeoutError": 1}


def test_an_unanswered_record_in_one_process_exits_1(tmp_path: Path, sigint_restored: None) -> None:
    factory = FakeSinkFactory(hang={0: (5,)})

    code, summary = main(["--count", "100", "--processes", "2", "--flush-timeout", "0.5"], factory, tmp_path)

    assert code == cli.EXIT_UNACKED
    assert (summary["sent"], summary["acked"], summary["unacknowledged"]) == (100, 99, 1)


def test_a_process_that_dies_makes_the_run_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sigint_restored: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "REPORT_GRACE_S", 1.0)

    code, summary = main(["--count", "300", "--processes", "2"], FakeSinkFactory(die={1: 20}), tmp_path)

    assert code == cli.EXIT_UNACKED
    assert summary["lost_processes"] == [1]
    assert summary["errors"]["ProcessLost"] == 1
    assert "process(es) 1 ended without reporting" in capsys.readouterr().err


def test_a_process_that_cannot_connect_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sigint_restored: None
) -> None:
    code, _ = main(["--count", "50", "--processes", "3"], FakeSinkFactory(refuse=(2,)), tmp_path)

    assert code == cli.EXIT_USAGE
    assert "process 2: cannot reach Kafka at fake:1" in capsys.readouterr().err


def test_ctrl_c_to_the_parent_stops_every_process_flushed_exit_130(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sigint_restored: None
) -> None:
    code, summary = main(["--processes", "2"], FakeSinkFactory(interrupt_parent_at=200), tmp_path)

    assert code == cli.EXIT_INTERRUPTED
    assert summary["interrupted"] and summary["sent"] >= 200 and summary["sent"] == summary["acked"]
    assert "interrupted by Ctrl-C" in capsys.readouterr().err


def test_ctrl_c_in_a_terminal_reaching_every_process_ends_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sigint_restored: None
) -> None:
    # The workers stop and leave on their own SIGINT before the parent passes the stop on: passing it on
    # must not wait for them (a multiprocessing.Event.set() would hang here for good).
    code, summary = main(["--processes", "2"], FakeSinkFactory(interrupt_all_at=150), tmp_path)

    assert code == cli.EXIT_INTERRUPTED
    assert summary["sent"] > 150 and summary["sent"] == summary["acked"]


class RecordingProgress:
    def __init__(self) -> None:
        self.total = 0
        self.postfix = ""
        self.closed = False

    def update(self, n: int) -> None:
        self.total += n

    def set_postfix_str(self, s: str) -> None:
        self.postfix = s

    def close(self) -> None:
        self.closed = True


def test_the_progress_bar_adds_up_all_processes() -> None:
    import threading

    progress = RecordingProgress()
    plan = Plan(bootstrap_servers="fake:1", topic="t", processes=3, count=900).resolved()

    result = parallel.run_parallel(plan, stop=threading.Event(), progress=progress, sink_factory=FakeSinkFactory())

    assert result.ok and result.summary.sent == 900
    assert progress.total == 900 and progress.postfix == "acked=900 failed=0" and progress.closed


def test_merge_counts_a_lost_process_from_its_last_published_counters() -> None:
    summary = Summary(sent=10, acked=10, failed=0, elapsed_s=2.0, errors={}, first_errors=(), value_bytes=6500)
    report = RunResult(summary, {"valid": 10}, interrupted=False, flushed=True)

    result = parallel.merge({0: report}, [10, 10, 0, 7, 5, 0], processes=2, elapsed_s=3.0)

    s = result.summary
    assert (s.sent, s.acked, s.unacknowledged) == (17, 15, 2)
    assert result.lost_processes == (1,) and not result.ok
    assert s.errors == {"ProcessLost": 1} and "process 1 ended without a report" in s.first_errors[0]


def test_a_replayed_file_is_sent_once_by_two_processes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sigint_restored: None
) -> None:
    from producer.events import DATASET_COLUMNS

    row = {c: "1.5" for c in DATASET_COLUMNS} | {"timestamp": "2021-01-01 00:00:00", "risk_classification": "Low Risk"}
    lines = [",".join(DATASET_COLUMNS)] + [
        ",".join("n/a" if (c == "fuel_consumption_rate" and i == 3) else row[c] for c in DATASET_COLUMNS)
        for i in range(77)
    ]
    csv = tmp_path / "rows.csv"
    csv.write_text("\n".join(lines) + "\n")
    manifest = tmp_path / "m.jsonl"

    code, summary = main(["--replay", str(csv), "--processes", "2", "--seed", "1", "--manifest", str(manifest)],
                         FakeSinkFactory(), tmp_path)  # fmt: skip

    assert code == cli.EXIT_OK and (summary["sent"], summary["acked"]) == (77, 77)
    ids = [json.loads(line)["event_id"] for line in manifest.read_text().splitlines()]
    assert len(set(ids)) == 77
    assert "replay: 1 cell(s) were not numbers" in capsys.readouterr().err
