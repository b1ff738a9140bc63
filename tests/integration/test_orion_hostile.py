"""Hostile clients against a real Orion process (`python -m orion`, uvicorn, its own port and data dir),
over raw sockets where the wire matters: chunked uploads without Content-Length, slow clients, floods.

Each Orion here points at the test bed's Spark master only for /health; no job is submitted. Figures are
printed (-s to see them).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.orion.orion_live import TOKEN, OrionProcess, wait_until

pytestmark = pytest.mark.integration

LIMIT = 64 * 1024
HOSTILE_ENV = {
    "ORION_UPLOAD_MAX_BYTES": str(LIMIT),
    "ORION_MAX_CONCURRENT_REQUESTS": "4",
    "ORION_BODY_TIMEOUT_SECONDS": "4",
    "ORION_HEADER_TIMEOUT_SECONDS": "3",
    "ORION_AUTH_FAILURES_PER_MINUTE": "100000",  # the bucket has its own Orion below
}


@pytest.fixture(scope="module")
def orion(testbed: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrionProcess]:
    proc = OrionProcess(testbed, tmp_path_factory.mktemp("orion-hostile") / "data", HOSTILE_ENV)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def _connect(orion: OrionProcess) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", orion.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _head(path: str, *extra: str, method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *extra, "", ""]
    return "\r\n".join(lines).encode()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _read_response(sock: socket.socket, timeout: float) -> tuple[int, bytes]:
    """(status, everything until the server closed the connection); fails if it never closes."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            piece = sock.recv(65536)
        except ConnectionResetError:
            break
        if not piece:
            break
        data += piece
    assert data.startswith(b"HTTP/1.1 "), data[:200]
    return int(data.split()[1]), data


MULTIPART = "Content-Type: multipart/form-data; boundary=XyZ"
PART_HEAD = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.py"\r\n\r\n'


def _uploads(orion: OrionProcess) -> list[Path]:
    root = orion.data_dir / "uploads"
    return list(root.iterdir()) if root.exists() else []


def test_anonymous_chunked_upload_gets_401_before_its_body_and_the_connection_closes(orion: OrionProcess) -> None:
    with _connect(orion) as sock:
        t0 = time.monotonic()
        sock.sendall(_head("/jobs", MULTIPART, "Transfer-Encoding: chunked") + _chunk(PART_HEAD + b"#" * 1024))
        status, data = _read_response(sock, timeout=30)  # the server answers and closes with the body unsent
        took = time.monotonic() - t0
    assert status == 401 and b"bearer token" in data and b"connection: close" in data.lower()
    assert _uploads(orion) == []
    print(f"\n[orion] anonymous chunked POST /jobs: 401 in {took * 1000:.0f} ms, connection closed by Orion")


def test_authorized_chunked_upload_is_cut_at_the_limit_while_it_streams(orion: OrionProcess) -> None:
    sent = 0
    status = 0
    with _connect(orion) as sock:
        sock.sendall(_head("/jobs", MULTIPART, "Transfer-Encoding: chunked", f"Authorization: Bearer {TOKEN}"))
        sock.sendall(_chunk(PART_HEAD))
        sock.settimeout(0.05)
        try:
            while sent < 64 * 1024 * 1024:  # would be 64 MiB; Orion stops it long before
                sock.sendall(_chunk(b"#" * 16384))
                sent += 16384
                try:
                    if sock.recv(1, socket.MSG_PEEK):
                        break
                except TimeoutError:
                    continue
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, data = _read_response(sock, timeout=30)
    assert status == 413 and b"ORION_UPLOAD_MAX_BYTES" in data
    assert sent < 16 * 1024 * 1024  # answered while the body streamed, not after it
    assert _uploads(orion) == []
    print(f"[orion] chunked upload without Content-Length: 413 after {sent // 1024} KiB sent (limit {LIMIT // 1024} "
          "KiB + 256 KiB form overhead)")  # fmt: skip


def test_a_client_that_sends_its_headers_slowly_is_disconnected(orion: OrionProcess) -> None:
    with _connect(orion) as sock:
        t0 = time.monotonic()
        sock.sendall(b"GET /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        closed_after = None
        try:
            for _ in range(120):  # one header byte every half second, never the blank line
                sock.sendall(b"X")
                sock.settimeout(0.5)
                try:
                    if sock.recv(65536) == b"":
                        closed_after = time.monotonic() - t0
                        break
                except TimeoutError:
                    continue
        except (BrokenPipeError, ConnectionResetError):
            closed_after = time.monotonic() - t0
    assert closed_after is not None, "Orion kept a connection with an endless request head open for 60 s"
    assert requests.get(f"{orion.url}/health", timeout=10).status_code == 200
    print(f"[orion] slow request head (1 byte / 0.5 s): closed after {closed_after:.1f} s (header timeout 3 s)")


def test_a_slow_body_is_408_and_gives_its_slot_back(orion: OrionProcess) -> None:
    with _connect(orion) as sock:
        t0 = time.monotonic()
        sock.sendall(_head("/jobs", MULTIPART, "Content-Length: 5000", f"Authorization: Bearer {TOKEN}") + b"--XyZ")
        status, _ = _read_response(sock, timeout=60)
        took = time.monotonic() - t0
    assert status == 408
    print(f"[orion] slow body: 408 after {took:.1f} s (body timeout 4 s)")


def test_a_flood_gets_503_and_401_never_exhausts_orions_threads(orion: OrionProcess) -> None:
    # 1. Four authorized requests whose bodies never arrive hold every slot: the next one is 503 at once.
    holders = []
    for _ in range(4):
        sock = _connect(orion)
        sock.sendall(_head("/jobs", MULTIPART, "Content-Length: 5000", f"Authorization: Bearer {TOKEN}"))
        holders.append(sock)
    try:
        (busy,) = wait_until(  # a list: a 503 Response is falsy
            lambda: (r := orion.http.get(f"{orion.url}/jobs", timeout=10)).status_code == 503 and [r], 30,
            "Orion to answer 503 while every slot is held",
        )  # fmt: skip
        assert busy.headers["retry-after"] == "1" and "ORION_MAX_CONCURRENT_REQUESTS" in busy.json()["detail"]
    finally:
        for sock in holders:
            sock.close()
    wait_until(lambda: orion.http.get(f"{orion.url}/jobs", timeout=10).status_code == 200, 60, "the slots to free")

    # 2. 600 requests from 40 threads, anonymous and authorized mixed: only 200, 401 or 503, and Orion's
    #    thread count stays bounded (AnyIO's pool is 40; the guard lets at most 4 requests in).
    def hit(i: int) -> int:
        headers = {"Authorization": f"Bearer {TOKEN}"} if i % 2 else {}
        try:
            return requests.get(f"{orion.url}/jobs", headers=headers, timeout=30).status_code
        except requests.ConnectionError:
            return -1

    assert orion.proc is not None
    peak = 0
    t0 = time.monotonic()
    with ThreadPoolExecutor(40) as pool:
        futures = [pool.submit(hit, i) for i in range(600)]
        while not all(f.done() for f in futures):
            peak = max(peak, _threads(orion.proc.pid))
            time.sleep(0.05)
        codes = [f.result() for f in futures]
    took = time.monotonic() - t0
    counts = {c: codes.count(c) for c in sorted(set(codes))}
    assert set(counts) <= {200, 401, 503}, counts  # no 5xx but "busy", no connection refused or reset
    assert counts.get(401, 0) > 0 and counts.get(200, 0) > 0
    assert peak <= 60, f"Orion ran {peak} threads under the flood"
    assert requests.get(f"{orion.url}/health", timeout=10).status_code == 200
    print(f"[orion] flood: 600 requests from 40 threads in {took:.1f} s -> {counts}; peak {peak} threads in Orion")


def test_failed_authentications_from_one_client_are_rate_limited(
    testbed: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    proc = OrionProcess(
        testbed, tmp_path_factory.mktemp("orion-bucket") / "data", {"ORION_AUTH_FAILURES_PER_MINUTE": "10"}
    )
    proc.start()
    try:
        wrong = {"Authorization": "Bearer " + os.urandom(16).hex()}
        codes = [requests.get(f"{proc.url}/jobs", headers=wrong, timeout=10).status_code for _ in range(12)]
        assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
        right = requests.get(f"{proc.url}/jobs", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert right.status_code == 429 and int(right.headers["retry-after"]) >= 1
        assert requests.get(f"{proc.url}/health", timeout=10).status_code == 200
        # The bucket refills (10 a minute): one try is back after about 6 s.
        wait_until(lambda: requests.get(f"{proc.url}/jobs", headers={"Authorization": f"Bearer {TOKEN}"},
                                        timeout=10).status_code == 200, 60, "the bucket to refill")  # fmt: skip
    finally:
        proc.stop()


def _threads(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
