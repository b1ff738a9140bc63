"""`python -m producer`: flags, exit codes, Ctrl-C, summary, replay and where the defaults come from."""

from __future__ import annotations

import json
import signal
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from producer_fakes import FakeSink

from producer import cli, endpoints
from producer.events import DATASET_COLUMNS
from producer.replay import ReplayStats, read_events

SERVERS = ["--bootstrap-servers", "127.0.0.1:1"]


@pytest.fixture
def sigint_restored() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, previous)


def test_all_acknowledged_exits_0_and_summarises(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    code = cli.main([*SERVERS, "--count", "200", "--rate", "0", "--seed", "1", "--inject-malformed", "10",
                     "--duplicates", "5", "--summary-json", str(summary)], sink=FakeSink(threaded=True))  # fmt: skip

    assert code == cli.EXIT_OK
    err = capsys.readouterr().err
    assert "sent 200  acknowledged 200  failed 0  unacknowledged 0" in err
    injected = "duplicate 5, malformed_json 2, missing_field 2, out_of_range 2, oversize 2, wrong_type 2"
    assert f"valid events 185; injected: {injected}" in err
    data = json.loads(summary.read_text())
    assert (data["sent"], data["acked"], data["failed"], data["exit_code"]) == (200, 200, 0, 0)


def test_a_failed_delivery_exits_1_and_shows_the_error(capsys: pytest.CaptureFixture[str]) -> None:
    sink = FakeSink(behaviour=lambda n: "fail" if n == 7 else "ack")

    code = cli.main([*SERVERS, "--count", "50", "--rate", "0"], sink=sink)

    assert code == cli.EXIT_UNACKED
    err = capsys.readouterr().err
    assert "failed 1" in err and "TimeoutError: record 7: not enough in-sync replicas" in err


def test_unanswered_records_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    sink = FakeSink(behaviour=lambda n: "hang" if n == 9 else "ack")

    code = cli.main([*SERVERS, "--count", "10", "--rate", "0", "--flush-timeout", "0.2"], sink=sink)

    assert code == cli.EXIT_UNACKED
    assert "unacknowledged 1" in capsys.readouterr().err


def test_ctrl_c_flushes_and_exits_130(capsys: pytest.CaptureFixture[str], sigint_restored: None) -> None:
    sink = FakeSink(on_send=lambda n: signal.raise_signal(signal.SIGINT) if n == 25 else None, threaded=True)

    code = cli.main([*SERVERS, "--rate", "0"], sink=sink)

    assert code == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert "interrupted by Ctrl-C" in err
    assert "sent 26  acknowledged 26" in err
    assert sink.flush_timeouts and sink.closed


def test_ctrl_c_with_a_failure_still_exits_1(sigint_restored: None) -> None:
    sink = FakeSink(
        behaviour=lambda n: "fail" if n == 2 else "ack",
        on_send=lambda n: signal.raise_signal(signal.SIGINT) if n == 5 else None,
    )

    assert cli.main([*SERVERS, "--rate", "0"], sink=sink) == cli.EXIT_UNACKED


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--inject-malformed", "3"], "--inject-malformed and --duplicates need --count"),
        (["--count", "5", "--inject-malformed", "5"], "do not fit in --count 5"),
        (["--count", "5", "--malformed-kinds", "typo"], "unknown malformed kind(s) ['typo']"),
        (["--rate", "-1"], "events per second"),
        (["--count", "5", "--duration", "3"], "not allowed with argument"),
        (["--start-time", "2026-01-01T00:00:00"], "needs a time zone"),
        (["--replay", "/nonexistent.csv"], "no such file"),
    ],
)
def test_bad_flags_exit_2_with_the_reason(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([*SERVERS, *argv], sink=FakeSink())

    assert exc.value.code == cli.EXIT_USAGE
    assert message in capsys.readouterr().err


def test_start_time_and_seed_make_runs_identical(tmp_path: Path) -> None:
    runs = []
    for _ in range(2):
        sink = FakeSink()
        cli.main([*SERVERS, "--count", "100", "--rate", "0", "--seed", "4", "--start-time", "2026-02-01T00:00:00Z",
                  "--inject-malformed", "5"], sink=sink)  # fmt: skip
        runs.append(sink.sent)
    assert runs[0] == runs[1]
    assert json.loads(runs[0][0][1])["event_time"] == "2026-02-01T00:00:00.000Z"


def test_manifest_lists_every_record(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"

    cli.main([*SERVERS, "--count", "60", "--rate", "0", "--seed", "1", "--inject-malformed", "5",
              "--manifest", str(manifest)], sink=FakeSink())  # fmt: skip

    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert len(lines) == 60
    assert sum(1 for line in lines if line["kind"] != "valid") == 5
    assert all("offset" in line for line in lines)


# ----- replay -----
def write_csv(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = DATASET_COLUMNS) -> Path:
    lines = [",".join(columns)] + [",".join(row.get(c, "") for c in columns) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


ROW = {c: "1.5" for c in DATASET_COLUMNS} | {"timestamp": "2021-01-01 00:00:00", "risk_classification": "Low Risk",
                                             "lead_time_days": "7"}  # fmt: skip


def test_replay_turns_rows_into_typed_events(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "data.csv", [ROW, ROW | {"fuel_consumption_rate": "n/a"}])
    stats = ReplayStats()

    events = list(read_events(path, seed=1, stats=stats))

    assert len(events) == 2 and stats.rows == 2
    assert events[0]["lead_time_days"] == 7 and events[0]["delay_probability"] == 1.5
    assert events[0]["timestamp"] == "2021-01-01 00:00:00"
    assert events[0]["event_id"] != events[1]["event_id"]
    # A cell that is not a number goes out as text, for the job to quarantine; it is counted here.
    assert events[1]["fuel_consumption_rate"] == "n/a"
    assert stats.unparseable_cells == 1 and "fuel_consumption_rate='n/a'" in stats.examples[0]


def test_replay_keeps_ids_from_the_file(tmp_path: Path) -> None:
    columns = ("event_id", "shipment_id", "event_time", *DATASET_COLUMNS)
    row = ROW | {"event_id": "e-1", "shipment_id": "SHP-1", "event_time": "2026-01-01T00:00:00.000Z"}
    path = write_csv(tmp_path / "again.csv", [row], columns)

    (event,) = read_events(path)

    assert (event["event_id"], event["shipment_id"], event["event_time"]) == (
        "e-1",
        "SHP-1",
        "2026-01-01T00:00:00.000Z",
    )


def test_replay_of_a_file_missing_columns_names_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "short.csv", [ROW], DATASET_COLUMNS[:-2])

    with pytest.raises(SystemExit):
        cli.main([*SERVERS, "--replay", str(path)], sink=FakeSink())

    assert "lacks column(s) risk_classification, delivery_time_deviation" in capsys.readouterr().err


def test_replay_sends_each_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "data.csv", [ROW] * 7)
    sink = FakeSink()

    assert cli.main([*SERVERS, "--replay", str(path), "--rate", "0"], sink=sink) == cli.EXIT_OK
    assert len(sink.sent) == 7


# ----- defaults -----
def test_flags_win_over_everything(tmp_path: Path) -> None:
    env = {endpoints.ENV_BOOTSTRAP: "env:1", endpoints.ENV_TOPIC: "env-topic"}

    target = endpoints.resolve("flag:1", "flag-topic", env=env, cwd=tmp_path)

    assert (target.bootstrap_servers, target.topic, target.source) == ("flag:1", "flag-topic", "--bootstrap-servers")


def test_environment_comes_before_the_testbed(tmp_path: Path) -> None:
    write_testbed(tmp_path, "bed:1", "bed-topic")
    env = {endpoints.ENV_BOOTSTRAP: "env:1", endpoints.ENV_TOPIC: "env-topic"}

    target = endpoints.resolve(None, None, env=env, cwd=tmp_path)

    assert (target.bootstrap_servers, target.topic) == ("env:1", "env-topic")


def test_testbed_file_is_found_from_a_subdirectory(tmp_path: Path) -> None:
    write_testbed(tmp_path, "127.0.0.1:20092", "bed-topic")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)

    target = endpoints.resolve(None, None, env={}, cwd=sub)

    assert (target.bootstrap_servers, target.topic) == ("127.0.0.1:20092", "bed-topic")
    assert target.source.endswith(".testbed/endpoints.json")


def test_stack_outputs_come_from_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: lakehouse-stack\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pulumi"
    outputs = {"kafka_bootstrap_servers": "localhost:19092", "kafka_topic": "stack-topic"}
    fake.write_text(f"#!/bin/sh\n[ \"$1 $2 $3\" = 'stack output --json' ] && echo '{json.dumps(outputs)}'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))

    target = endpoints.resolve(None, None, env={}, cwd=tmp_path)

    assert (target.bootstrap_servers, target.topic, target.source) == ("localhost:19092", "stack-topic",
                                                                       "pulumi stack output")  # fmt: skip


def test_no_source_at_all_says_how_to_give_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ValueError, match="pass --bootstrap-servers"):
        endpoints.resolve(None, None, env={}, cwd=tmp_path)


def test_topic_defaults_to_the_stacks(tmp_path: Path) -> None:
    assert endpoints.resolve("b:1", None, env={}, cwd=tmp_path).topic == "logistics-events"


def write_testbed(root: Path, servers: str, topic: str) -> None:
    (root / ".testbed").mkdir()
    (root / ".testbed" / "endpoints.json").write_text(json.dumps({"kafka_bootstrap_servers": servers,
                                                                  "kafka_topic": topic}))  # fmt: skip
