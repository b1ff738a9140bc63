"""testbed/faults.py on small real processes (kill -9, restart from /proc, state.json kept true, SIGSTOP), and the
fault suite's pure parts (tests/integration/faults_load.py): the recovery timeline, the offsets file, the
reconciliation."""

from __future__ import annotations

import json
import os
import socket
import stat
import sys
import time
from pathlib import Path

import pytest

from testbed import faults, proc
from testbed.state import State, StateStore, load
from tests.integration.faults_load import Batch, Timeline, expected, parse_offsets_file, reconcile

# A tiny "server": listens on the port it is given (and on an ephemeral one, not the service's), logs its argv
# and one environment value, then waits.
SERVER = """
import os, socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
extra = socket.socket(); extra.bind(("127.0.0.1", 0)); extra.listen()  # like an executor's ephemeral port
print("started", sys.argv[1:], os.environ.get("FAULTS_TEST_SECRET"), flush=True)
time.sleep(600)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.fixture
def bed(tmp_path: Path):
    """A run directory with one service `dummy` of two processes, recorded in state.json as the test bed does."""
    run_dir = tmp_path / "bed"
    (run_dir / "logs").mkdir(parents=True)
    store = StateStore(run_dir, State())
    ports = [_free_port(), _free_port()]
    store.service("dummy", ports=ports)
    started = []
    for i, port in enumerate(ports, start=1):
        p = proc.spawn(
            f"dummy-{i}",
            [sys.executable, "-c", SERVER, str(port), "--data", str(tmp_path / f"data-{i}")],
            env={"PATH": "/usr/bin:/bin", "FAULTS_TEST_SECRET": f"s3cr3t-{i}"},
            log=run_dir / "logs" / f"dummy-{i}.log",
            cwd=tmp_path,
        )
        store.add_pid("dummy", p.pid)
        started.append(p)
    for port in ports:
        _wait(lambda port=port: port in proc.listening_ports())
    yield run_dir, ports, started
    st = load(run_dir)
    for pgid in st.services["dummy"].pids if st else []:
        proc.stop_group(pgid, timeout=5)
    for p in started:
        proc.stop_group(p.pid, timeout=5, popen=p.popen)


def test_processes_are_named_by_their_log(bed) -> None:
    run_dir, _, started = bed
    assert faults.processes(run_dir) == {"dummy-1": ("dummy", started[0].pid), "dummy-2": ("dummy", started[1].pid)}


def test_kill_then_restart_runs_the_same_command_and_keeps_state_json_true(bed) -> None:
    run_dir, ports, started = bed
    image = faults.kill("dummy-2", run_dir)
    started[1].popen.wait(5)

    fake = "s3cr3t-2"  # pragma: allowlist secret - a unit test's fake
    assert image.ports == [ports[1]] and image.env["FAULTS_TEST_SECRET"] == fake
    assert proc.group_members(image.pgid) == [] and ports[1] not in proc.listening_ports()
    assert "dummy-2" not in faults.processes(run_dir)

    restarted = faults.restart(image, run_dir, endpoints={})

    assert restarted.pid != image.pgid and ports[1] in proc.listening_ports()
    st = load(run_dir)
    assert st is not None and st.services["dummy"].pids == [started[0].pid, restarted.pid]
    assert faults.processes(run_dir)["dummy-2"] == ("dummy", restarted.pid)
    log = (run_dir / "logs" / "dummy-2.log").read_text()
    started_lines = [line for line in log.splitlines() if line.startswith("started")]
    # The same arguments and environment both times, the output appended to the same log.
    assert len(started_lines) == 2 and started_lines[0] == started_lines[1]
    assert "s3cr3t-2" in started_lines[1]
    # The environment is not written anywhere else.
    assert "s3cr3t-2" not in (run_dir / "state.json").read_text()


def test_restart_refuses_a_process_that_still_runs(bed) -> None:
    run_dir, _, _ = bed
    image = faults.capture("dummy-1", run_dir)
    with pytest.raises(faults.FaultError, match="still runs"):
        faults.restart(image, run_dir, endpoints={})


def test_unknown_process_names_what_runs(bed) -> None:
    run_dir, _, _ = bed
    with pytest.raises(faults.FaultError, match=r"no live test bed process 'kafka-9'.*dummy-1, dummy-2"):
        faults.kill("kafka-9", run_dir)


def test_restart_fails_with_the_log_when_the_process_exits(bed, tmp_path: Path) -> None:
    run_dir, _, _ = bed
    image = faults.kill("dummy-1", run_dir)
    image.argv = [sys.executable, "-c", "print('cannot bind: address in use'); raise SystemExit(4)"]
    with pytest.raises(proc.ServiceError, match=r"exited \(code 4\)[\s\S]*cannot bind"):
        faults.restart(image, run_dir, endpoints={}, timeout=20)


def test_a_restart_that_timed_out_is_recorded_and_not_started_twice(bed) -> None:
    run_dir, ports, _ = bed
    image = faults.kill("dummy-2", run_dir)
    image.ports = [*image.ports, _free_port()]  # a port the restarted process never opens: its wait times out
    with pytest.raises(proc.ServiceError, match="not usable after"):
        faults.restart(image, run_dir, endpoints={}, timeout=3)

    # The process was started and recorded in place of the killed group, so a clean-up must not start another.
    restarted = faults.processes(run_dir)["dummy-2"][1]
    assert not faults.awaits_restart(image, run_dir) and ports[1] in proc.listening_ports()
    with pytest.raises(faults.FaultError, match="restarted already"):
        faults.restart(image, run_dir, endpoints={})
    assert proc.group_members(restarted) and faults.processes(run_dir)["dummy-2"][1] == restarted
    proc.stop_group(restarted, timeout=5)


def test_pause_stops_the_group_and_resume_continues_it(bed) -> None:
    run_dir, _, started = bed
    image = faults.pause("dummy-1", run_dir)
    try:
        _wait(lambda: faults.is_stopped(started[0].pid))
        assert any("stopped" in p for p in faults.health_problems(run_dir, {}))
    finally:
        faults.resume(image)
    _wait(lambda: not faults.is_stopped(started[0].pid))
    assert faults.health_problems(run_dir, {}) == []


def test_health_names_a_dead_process_group(bed) -> None:
    run_dir, _, started = bed
    faults.kill("dummy-1", run_dir)
    assert faults.health_problems(run_dir, {}) == [f"dummy: process group {started[0].pid} is gone"]


def test_replace_group_refuses_an_unknown_group(bed) -> None:
    run_dir, _, _ = bed
    with pytest.raises(faults.FaultError, match="no process group 1 for dummy"):
        faults.replace_group(run_dir, "dummy", 1, 2)


def test_seaweed_ports_and_flags_are_read_from_the_command_line() -> None:
    argv = ["weed", "mini", "-dir=/d", "-master.port=20300", "-master.port.grpc=20301", "-s3.port=20306",
            "-s3.port.iceberg=0", "-s3.config=/x/s3.json", "-bucket=lake,checkpoints"]  # fmt: skip
    assert faults.seaweed_ports(argv) == [20300, 20301, 20306]
    image = faults.Image(name="s3", service="s3", pgid=1, argv=argv, env={}, cwd=Path("/"), log=Path("/l"), ports=[])
    assert image.flag("s3.config") == "/x/s3.json"
    image.argv = ["java", "Worker", "--port", "20078", "--webui-port", "20081"]
    assert image.flag("port") == "20078" and image.flag("cores") is None


def test_s3_restart_writes_its_identities_again_readable_only_by_the_owner(tmp_path: Path) -> None:
    port = _free_port()
    stale = Path(f"/tmp/seaweedfs-master-{port}.sock")
    stale.write_text("")
    config = tmp_path / "s3" / "s3.json"
    image = faults.Image(name="s3", service="s3", pgid=1, argv=["weed", f"-master.port={port}", f"-s3.config={config}"],
                         env={}, cwd=tmp_path, log=tmp_path / "s3.log", ports=[])  # fmt: skip
    endpoints = {
        "testbed_s3_admin_access_key": "TBADADMIN",
        "testbed_s3_admin_secret_key": "admin-secret",  # pragma: allowlist secret - a unit test's fake
        "testbed_s3_spark_access_key": "TBSPSPARK",
        "testbed_s3_spark_secret_key": "spark-secret",  # pragma: allowlist secret - a unit test's fake
        "testbed_s3_trino_access_key": "TBTRTRINO",
        "testbed_s3_trino_secret_key": "trino-secret",  # pragma: allowlist secret - a unit test's fake
    }

    assert faults.prepare_restart(image, endpoints) == config

    assert not stale.exists()
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o600
    ids = {i["name"]: i for i in json.loads(config.read_text())["identities"]}
    spark_keys = {"accessKey": "TBSPSPARK", "secretKey": "spark-secret"}  # pragma: allowlist secret - a fake
    assert ids["spark"]["credentials"] == [spark_keys]
    assert "Write:lake" in ids["spark"]["actions"] and "Admin" in ids["admin"]["actions"]


# ------------------------------------------------------------------------------------------ the fault suite's math


def _timeline() -> Timeline:
    tl = Timeline()
    # batch: planned (offsets file seen) at, end offsets total, committed at
    for n, planned, total, committed in [(0, 1, 100, 2), (1, 3, 200, 4), (2, 9.5, 300, 30), (3, 31, 450, 33),
                                          (4, 34, 600, 36)]:  # fmt: skip
        tl.batches[n] = Batch(id=n, planned_at=planned, total=total, committed_at=committed)
    tl.ends = [(1, 120), (5, 260), (10, 400), (20, 420), (35, 610)]
    return tl


def test_timeline_in_flight_is_produced_minus_committed() -> None:
    tl = _timeline()
    assert tl.committed_total(10) == 200
    assert tl.in_flight(10) == 400 - 200
    assert tl.in_flight(0.5) is None


def test_timeline_flowing_again_is_the_commit_of_a_batch_planned_after_the_fault() -> None:
    tl = _timeline()
    # Fault at 10: batch 2 (planned at 9.5) was in flight and commits at 30; batch 3 is the first planned after.
    assert tl.first_commit_after(10) == 30
    assert tl.first_flow_after(10) == 33
    # Everything in flight at 10 (the topic held 400) has landed when a batch reaching 400 commits.
    assert tl.landed_by(400, after=10) == 33
    assert tl.first_flow_after(40) is None


def test_offsets_file_of_structured_streaming_is_parsed() -> None:
    text = (
        'v1\n{"batchWatermarkMs":0,"batchTimestampMs":1764633600000,"conf":{"spark.sql.shuffle.partitions":"4"}}\n'
        '{"faults-abc":{"2":1200,"5":1190,"4":1210,"1":1188,"3":1201,"0":1199}}\n'
    )
    assert parse_offsets_file(text, "faults-abc") == {0: 1199, 1: 1188, 2: 1200, 3: 1201, 4: 1210, 5: 1190}
    assert parse_offsets_file(text, "other") is None


def _manifests() -> dict[str, list[dict]]:
    return {
        "stream-0": [
            {"kind": "valid", "event_id": "a", "partition": 0, "offset": 0},
            {"kind": "valid", "event_id": "b", "partition": 1, "offset": 0},
            {"kind": "malformed_json", "event_id": None, "partition": 0, "offset": 1},
            {"kind": "duplicate", "event_id": "a", "partition": 0, "offset": 2},
            {"kind": "oversize", "event_id": None, "partition": 1, "offset": 1},
        ],
        "resend-1": [{"kind": "valid", "event_id": "a", "partition": 0, "offset": 3}],
    }


def test_expected_counts_valid_bad_and_resent_records() -> None:
    exp = expected(_manifests())
    assert exp.valid == {"a", "b"}
    assert exp.bad == {(0, 1): "malformed_json", (1, 1): "oversize"}
    assert (exp.resent, exp.acked, exp.failed) == (2, 6, 0)


def test_reconcile_finds_nothing_wrong_in_an_exact_result() -> None:
    rejected = [
        {"kafka_partition": 0, "kafka_offset": 1, "reason_code": "malformed_json", "reason": "not JSON"},
        {"kafka_partition": 1, "kafka_offset": 1, "reason_code": "oversize", "reason": "too long"},
    ]
    rec = reconcile(expected(_manifests()), 6, ["a", "b"], rejected)
    assert (rec.lost, rec.duplicated, rec.unexpected) == (0, 0, 0)
    assert (rec.rejected_missing, rec.rejected_extra, rec.wrong_reason, rec.no_reason_text) == (0, 0, 0, 0)
    assert rec.recognised_duplicates == rec.resent == 2


def test_reconcile_counts_every_kind_of_error() -> None:
    rejected = [
        {"kafka_partition": 0, "kafka_offset": 1, "reason_code": "wrong_type", "reason": ""},
        {"kafka_partition": 0, "kafka_offset": 1, "reason_code": "wrong_type", "reason": "again"},
        {"kafka_partition": 0, "kafka_offset": 2, "reason_code": "missing_field", "reason": "x"},
    ]
    rec = reconcile(expected(_manifests()), 6, ["a", "a", "zz"], rejected)
    assert (rec.lost, rec.duplicated, rec.unexpected) == (1, 1, 1)  # b lost, a twice, zz never sent
    assert rec.rejected_missing == 1  # (1, 1) never reached the quarantine
    assert rec.rejected_extra == 2  # the second copy of (0, 1) and (0, 2), which was a re-send
    assert (rec.wrong_reason, rec.no_reason_text) == (1, 1)
    assert rec.recognised_duplicates == 6 - 3 - 3
