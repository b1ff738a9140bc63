"""The test bed's interface: endpoints.json, loopback-only listeners, status, a refused second `up`,
`down` leaving no port listening, and a failed start that names the service and shows its log."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from lakehouse.endpoints import ALL_KEYS
from testbed import artifacts, bed
from testbed.paths import endpoints_file
from testbed.plan import PortPlan
from testbed.proc import ServiceError, group_listening, group_members, listening_ports
from testbed.services.s3 import client
from testbed.state import load

pytestmark = pytest.mark.integration

LOOPBACK = ("127.0.0.1", "::ffff:127.0.0.1")


def test_endpoints_file_has_the_stack_keys_and_is_private(testbed: dict[str, str]) -> None:
    if "testbed_dir" not in testbed:
        pytest.skip("targets a deployed stack, not the test bed")
    path = endpoints_file(Path(testbed["testbed_dir"]))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert set(ALL_KEYS) <= set(data)
    assert all(k.startswith("testbed_") for k in set(data) - set(ALL_KEYS))
    assert all(isinstance(v, str) and v for v in data.values())


def test_every_process_listens_on_loopback_only(testbed: dict[str, str]) -> None:
    if "testbed_dir" not in testbed:
        pytest.skip("targets a deployed stack, not the test bed")
    state = load(Path(testbed["testbed_dir"]))
    assert state is not None and state.status == "up"
    seen = 0
    for name, rec in state.services.items():
        for pid in rec.pids:
            for ip, port in group_listening(pid):
                seen += 1
                assert ip in LOOPBACK, f"{name} (pid {pid}) listens on {ip}:{port}"
    assert seen >= 20  # kafka 9, seaweed 10, spark 6, trino, superset...


def test_status_reports_every_service_ready_with_memory(testbed: dict[str, str]) -> None:
    if "testbed_dir" not in testbed:
        pytest.skip("targets a deployed stack, not the test bed")
    rows = {r.service: r for r in bed.status_rows(Path(testbed["testbed_dir"]))}
    assert set(testbed["testbed_services"].split(",")) == set(rows)
    for r in rows.values():
        assert r.state == "ready" and r.rss > 10 * 2**20 and r.ready_seconds is not None, r
    table = bed.format_table(list(rows.values()))
    print("\n" + table)
    assert "total" in table.splitlines()[-1]


def test_second_up_says_one_is_running(testbed: dict[str, str]) -> None:
    if "testbed_dir" not in testbed:
        pytest.skip("targets a deployed stack, not the test bed")
    with pytest.raises(bed.AlreadyRunning, match=r"already running|being started"):
        bed.up(run_dir=Path(testbed["testbed_dir"]), echo=lambda _: None)


# A second, tiny test bed (S3 only: ports 20900-20909) on its own directory: its whole life cycle.
MINI = PortPlan(base=20600)


def test_mini_testbed_up_again_down(tmp_path: Path) -> None:
    run_dir = tmp_path / "tb"
    result = bed.up(services=["s3"], plan=MINI, run_dir=run_dir, echo=lambda _: None)
    ep = result.endpoints
    assert ep["s3_endpoint"] == f"http://127.0.0.1:{MINI.s3}"
    s3 = client(ep["s3_endpoint"], ep["s3_access_key"], ep["s3_secret_key"])
    s3.put_object(Bucket=ep["lake_bucket"], Key="k", Body=b"v")
    assert not (run_dir / "s3" / "s3.json").exists(), "the identities file must not outlive the start"
    with pytest.raises(bed.AlreadyRunning):
        bed.up(services=["s3"], plan=MINI, run_dir=run_dir, echo=lambda _: None)
    pids = [p for rec in load(run_dir).services.values() for p in rec.pids]
    left = bed.down(run_dir=run_dir, plan=MINI, echo=lambda _: None)
    assert left == []
    assert not set(MINI.seaweed().values()) & listening_ports()
    assert all(not group_members(p) for p in pids)
    assert sorted(p.name for p in run_dir.iterdir() if p.name != ".up.lock") == ["logs"]
    assert (run_dir / "logs" / "s3.log").stat().st_size > 0


def test_failed_start_names_the_service_and_shows_its_log(tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "weed"
    fake.write_text("#!/bin/sh\necho 'fake weed: cannot open volume directory' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setattr(artifacts, "weed_binary", lambda v: fake)
    run_dir = tmp_path / "tb"
    with pytest.raises(ServiceError) as info:
        bed.up(services=["s3"], plan=MINI, run_dir=run_dir, echo=lambda _: None)
    msg = str(info.value)
    assert "'s3'" in msg and "exited (code 3)" in msg
    assert "fake weed: cannot open volume directory" in msg and "last lines of" in msg
    assert load(run_dir).status == "failed"
    bed.down(run_dir=run_dir, plan=MINI, echo=lambda _: None)
