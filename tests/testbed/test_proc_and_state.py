"""Process groups, readiness errors with log tails, /proc socket parsing, the run record."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from testbed import proc
from testbed.state import ServiceRecord, State, StateStore, load


def test_stop_group_ends_the_process_and_its_children(tmp_path: Path) -> None:
    p = proc.spawn(
        "tree", ["sh", "-c", "sleep 300 & sleep 300 & wait"], env={"PATH": "/usr/bin:/bin"}, log=tmp_path / "tree.log"
    )
    deadline = time.monotonic() + 5
    while len(proc.group_members(p.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(proc.group_members(p.pid)) == 3
    assert proc.rss_bytes(p.pid) > 0
    proc.stop_group(p.pid, timeout=5, popen=p.popen)
    assert proc.group_members(p.pid) == []


def test_wait_for_names_the_service_and_shows_the_log_when_it_exits(tmp_path: Path) -> None:
    p = proc.spawn(
        "svc",
        ["sh", "-c", "echo 'listener failed: address in use'; exit 7"],
        env={"PATH": "/usr/bin:/bin"},
        log=tmp_path / "svc.log",
    )
    with pytest.raises(proc.ServiceError) as info:
        proc.wait_for(lambda: False, service="svc", what="port open", timeout=10, proc=p, interval=0.05)
    msg = str(info.value)
    assert "'svc'" in msg and "exited (code 7) before port open" in msg
    assert "listener failed: address in use" in msg


def test_wait_for_times_out_with_the_last_probe_error() -> None:
    def probe() -> bool:
        raise ConnectionRefusedError("nobody home")

    with pytest.raises(proc.ServiceError, match=r"not ready after 0 s: x.*nobody home"):
        proc.wait_for(probe, service="svc", what="x", timeout=0.2, interval=0.05)


def test_run_logged_reports_a_failed_step(tmp_path: Path) -> None:
    with pytest.raises(proc.ServiceError, match="exited with code 2"):
        proc.run_logged(
            "step", ["sh", "-c", "echo formatting; exit 2"], env={"PATH": "/usr/bin:/bin"}, log=tmp_path / "s.log"
        )
    assert "formatting" in (tmp_path / "s.log").read_text()


def test_listening_sockets_are_read_from_proc() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert port in proc.listening_ports()
        assert ("127.0.0.1", port) in proc.group_listening(__import__("os").getpgid(0))
    assert port not in proc.listening_ports()


def test_listening_ipv6_sockets_are_decoded() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    with socket.socket(socket.AF_INET6) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        try:
            s.bind(("::ffff:127.0.0.1", 0))
        except OSError as exc:
            pytest.skip(f"no IPv6 loopback: {exc}")
        s.listen()
        port = s.getsockname()[1]
        assert ("::ffff:127.0.0.1", port) in proc.group_listening(__import__("os").getpgid(0))


def test_log_tail_keeps_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("\n".join(f"line {i}" for i in range(100)))
    assert proc.log_tail(log, lines=3).splitlines() == ["line 97", "line 98", "line 99"]
    assert proc.log_tail(tmp_path / "missing.log") == "(no log)"


def test_state_round_trips_and_is_written_atomically(tmp_path: Path) -> None:
    store = StateStore(tmp_path, State())
    store.service("kafka", address="127.0.0.1:20092", ports=[20092])
    store.add_pid("kafka", 4242)
    store.service("kafka", state="ready", ready_seconds=12.5)
    store.set_status("up")
    st = load(tmp_path)
    assert st is not None and st.status == "up"
    assert st.services["kafka"] == ServiceRecord(
        name="kafka", pids=[4242], address="127.0.0.1:20092", ports=[20092], log="", state="ready", ready_seconds=12.5
    )
    assert not list(tmp_path.glob("*.tmp"))
    (tmp_path / "state.json").write_text("{broken")
    assert load(tmp_path) is None
