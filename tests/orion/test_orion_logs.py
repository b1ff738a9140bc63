"""Per-job driver logs: bounded on disk, read by offset, served by GET /jobs/{id}/logs."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from orion_fakes import FakeLauncher

from orion.joblog import BoundedLog


def _lines(n: int, start: int = 0) -> list[str]:
    return [f"line {i:05d} {'x' * 38}\n" for i in range(start, start + n)]  # 50 bytes each


def test_log_below_the_cap_reads_back_whole_and_by_offset(tmp_path: Path) -> None:
    log = BoundedLog(tmp_path / "j", max_bytes=8192)
    for line in _lines(10):
        log.append(line)
    whole = log.read(0)
    assert (whole.offset, whole.next_offset, whole.size, whole.truncated) == (0, 500, 500, False)
    assert whole.text == "".join(_lines(10))
    tail = log.read(450)
    assert tail.text == _lines(1, 9)[0]
    assert log.read(500).text == ""


def test_log_over_the_cap_drops_the_oldest_bytes_and_keeps_offsets_stable(tmp_path: Path) -> None:
    log = BoundedLog(tmp_path / "j", max_bytes=4096)  # two segments of 2048 bytes
    for line in _lines(200):
        log.append(line)
    on_disk = sum(p.stat().st_size for p in (tmp_path / "j").glob("driver.log*"))
    assert on_disk <= 4096
    chunk = log.read(0, limit=1_000_000)
    assert chunk.truncated and chunk.offset > 0 and chunk.size == 200 * 50
    assert chunk.next_offset == chunk.size
    assert chunk.text == "".join(_lines(200))[chunk.offset :]  # offsets count from the very first byte
    # A new reader (Orion restarted) sees the same offsets.
    again = BoundedLog(tmp_path / "j", max_bytes=4096).read(chunk.offset)
    assert (again.offset, again.text) == (chunk.offset, chunk.text)


def test_log_read_with_a_limit_stops_at_a_line_end(tmp_path: Path) -> None:
    log = BoundedLog(tmp_path / "j", max_bytes=8192)
    for line in ["é" * 30 + "\n", "ü" * 30 + "\n"]:
        log.append(line)
    chunk = log.read(0, limit=80)
    assert chunk.text == "é" * 30 + "\n"
    assert log.read(chunk.next_offset).text == "ü" * 30 + "\n"


def test_overlong_line_is_cut_to_the_segment(tmp_path: Path) -> None:
    log = BoundedLog(tmp_path / "j", max_bytes=4096)
    log.append("y" * 10_000 + "\n")
    text = log.read(0).text
    assert len(text) <= 2048 and text.endswith("[line cut by Orion]\n")


def test_logs_endpoint_pages_through_the_driver_log(client: TestClient, launcher: FakeLauncher) -> None:
    job_id = client.post("/jobs", data={"job": "count_batch"}).json()["id"]
    first = client.get(f"/jobs/{job_id}/logs").json()
    assert "accepted" in first["text"] and "fake driver of job" in first["text"]
    assert first["offset"] == 0 and first["next_offset"] == first["size"] and not first["truncated"]
    assert client.get(f"/jobs/{job_id}/logs", params={"offset": first["next_offset"]}).json()["text"] == ""
    part = client.get(f"/jobs/{job_id}/logs", params={"offset": 0, "limit": 20}).json()
    assert part["next_offset"] <= 20 and first["text"].startswith(part["text"])
    assert client.get(f"/jobs/{job_id}/logs", params={"offset": -1}).status_code == 422
    assert client.get(f"/jobs/{job_id}/logs", params={"limit": 0}).status_code == 422
