"""orion/guard.py: 401 before any body is read, bodies counted and cut, failed-auth buckets, bounded
concurrency, slow bodies, a /health that costs one master reading per second."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from orion_fakes import FakeLauncher, FakeMaster
from pydantic import SecretStr

from orion.guard import Guard, TokenBuckets
from orion.main import create_app
from orion.settings import OrionSettings

TOKEN = "unit-test-token-0123456789"
MULTIPART_HEAD = (
    b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.py"\r\nContent-Type: text/x-python\r\n\r\n'
)


class Body:
    """A chunked request body that records how much of it the server pulled."""

    def __init__(self, chunks: int, size: int = 1024) -> None:
        self.chunks, self.size, self.pulled = chunks, size, 0

    def __iter__(self) -> Iterator[bytes]:
        yield MULTIPART_HEAD
        self.pulled += 1
        for _ in range(self.chunks):
            self.pulled += 1
            yield b"#" * (self.size - 1) + b"\n"
        yield b"\r\n--XyZ--\r\n"


def _post_chunked(client: TestClient, body: Body, token: str | None) -> Any:
    headers = {"Content-Type": "multipart/form-data; boundary=XyZ"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    client.headers.pop("Authorization", None)
    return client.post("/jobs", content=iter(body), headers=headers)


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789abc"])
def test_anonymous_chunked_upload_is_401_and_its_body_is_never_read(
    client: TestClient, launcher: FakeLauncher, settings: OrionSettings, token: str | None
) -> None:
    body = Body(chunks=50)
    resp = _post_chunked(client, body, token)
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"
    assert "bearer token" in resp.json()["detail"] and resp.headers["connection"] == "close"
    assert body.pulled == 0, "the body was read before the token was checked"
    assert launcher.runs == [] and not (settings.data_dir / "uploads").exists()


def test_authorized_chunked_upload_over_the_limit_is_413_without_content_length(
    client: TestClient, launcher: FakeLauncher, settings: OrionSettings
) -> None:
    body = Body(chunks=400)  # 400 KiB > 4 KiB limit + 256 KiB form overhead; no Content-Length
    resp = _post_chunked(client, body, TOKEN)
    assert resp.status_code == 413 and "ORION_UPLOAD_MAX_BYTES" in resp.json()["detail"]
    assert launcher.runs == [] and not (settings.data_dir / "uploads").exists()


def test_authorized_chunked_upload_within_the_limit_is_accepted(client: TestClient, launcher: FakeLauncher) -> None:
    resp = _post_chunked(client, Body(chunks=2, size=512), TOKEN)
    assert resp.status_code == 201, resp.text
    assert launcher.runs[0][0].name == "big"


def test_routes_without_a_body_take_only_a_small_one(client: TestClient) -> None:
    resp = client.post("/jobs/1/stop", content=b"x" * (65 * 1024))
    assert resp.status_code == 413


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/health"), ("GET", "/"), ("GET", "/static/app.js"), ("GET", "/openapi.json"), ("GET", "/docs")],
)
def test_public_paths_need_no_token(client: TestClient, method: str, path: str) -> None:
    client.headers.pop("Authorization")
    assert client.request(method, path).status_code == 200


@pytest.mark.parametrize(("method", "path"), [("POST", "/health"), ("GET", "/nowhere"), ("DELETE", "/")])
def test_everything_else_needs_the_token_even_unknown_paths(client: TestClient, method: str, path: str) -> None:
    client.headers.pop("Authorization")
    assert client.request(method, path).status_code == 401


def test_failed_authentications_run_a_client_out_of_tries_even_with_the_right_token_then(
    make_settings: Callable[..., OrionSettings], launcher: FakeLauncher, master: FakeMaster
) -> None:
    settings = make_settings(auth_failures_per_minute=3)
    with TestClient(create_app(settings, launcher=launcher, master=master, monitor=False)) as c:
        codes = [c.get("/jobs", headers={"Authorization": "Bearer guess-000000000000"}).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        late = c.get("/jobs", headers={"Authorization": f"Bearer {TOKEN}"})
        assert late.status_code == 429 and int(late.headers["retry-after"]) >= 1  # no oracle for a guesser
        assert c.get("/health").status_code == 200  # probes still work


def test_token_bucket_refills_over_time_and_forgets_old_clients() -> None:
    now = [1000.0]
    buckets = TokenBuckets(per_minute=2, clock=lambda: now[0])
    buckets.fail("a")
    buckets.fail("a")
    assert buckets.exhausted("a") == pytest.approx(30.0) and buckets.exhausted("b") == 0
    now[0] += 30
    assert buckets.exhausted("a") == 0
    for i in range(10_050):
        buckets.fail(f"c{i}")
    assert len(buckets._buckets) == 10_000


class _Slow:
    """An inner app that holds every request until released (a slow route)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.entered += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _scope(method: str = "GET", path: str = "/jobs", headers: list[tuple[bytes, bytes]] | None = None) -> dict:
    auth = [(b"authorization", f"Bearer {TOKEN}".encode())]
    return {"type": "http", "method": method, "path": path, "headers": auth + (headers or []), "client": ("1.2.3.4", 9)}


async def _call(app: Guard, scope: dict, receive: Any = None) -> int:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def no_body() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    await app(scope, receive or no_body, send)
    return sent[0]["status"]


def _run(coro: Any) -> None:
    """Run on a loop of its own: asyncio.run() would leave the main thread without a current loop, which
    the Pulumi mocks of later tests in the same session need."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(coro)
    finally:
        loop.close()


def _guard(inner: Any, **kw: Any) -> Guard:
    options = {"token": SecretStr(TOKEN), "max_concurrent_requests": 3, "auth_failures_per_minute": 30,
               "upload_max_bytes": 4096, "body_timeout_seconds": 30.0} | kw  # fmt: skip
    return Guard(inner, OrionSettings.model_construct(**options))


def test_requests_beyond_the_concurrency_bound_are_503_at_once_and_the_slots_come_back() -> None:
    async def scenario() -> None:
        inner = _Slow()
        guard = _guard(inner)
        held = [asyncio.create_task(_call(guard, _scope())) for _ in range(3)]
        while inner.entered < 3:
            await asyncio.sleep(0.01)
        assert await asyncio.wait_for(_call(guard, _scope()), 5) == 503  # refused without waiting
        assert await asyncio.wait_for(_call(guard, _scope("GET", "/health")), 5) == 503
        inner.release.set()
        assert await asyncio.gather(*held) == [200, 200, 200]
        assert guard.in_flight == 0
        assert await _call(guard, _scope()) == 200

    _run(scenario())


def test_a_body_that_does_not_arrive_in_time_is_408_and_frees_its_slot() -> None:
    async def scenario() -> None:
        inner = _Slow()
        inner.release.set()
        guard = _guard(inner, body_timeout_seconds=0.3)

        async def trickle() -> dict:
            await asyncio.sleep(0.05)
            return {"type": "http.request", "body": b"x", "more_body": True}  # and never the end

        status = await asyncio.wait_for(_call(guard, _scope("POST", "/jobs"), trickle), 10)
        assert status == 408 and guard.in_flight == 0 and inner.entered == 0

    _run(scenario())


def test_health_reads_the_master_at_most_once_a_second_whatever_the_rate(
    settings: OrionSettings, launcher: FakeLauncher
) -> None:
    class CountingMaster(FakeMaster):
        calls = 0

        def view(self):  # type: ignore[no-untyped-def]
            CountingMaster.calls += 1
            return super().view()

    with TestClient(create_app(settings, launcher=launcher, master=CountingMaster(), monitor=False)) as c:
        codes = [c.get("/health").status_code for _ in range(30)]
    assert codes == [200] * 30 and CountingMaster.calls <= 3


def test_an_endless_body_is_cut_at_the_limit_as_it_streams() -> None:
    async def scenario() -> None:
        inner = _Slow()
        inner.release.set()
        guard = _guard(inner, upload_max_bytes=4096)
        pulled = 0

        async def endless() -> dict:
            nonlocal pulled
            pulled += 1
            return {"type": "http.request", "body": b"#" * 65536, "more_body": True}

        assert await asyncio.wait_for(_call(guard, _scope("POST", "/jobs"), endless), 10) == 413
        # 4 KiB + 256 KiB of form overhead allowed: cut on the chunk that crosses it, the rest never pulled.
        assert pulled == (4096 + 256 * 1024) // 65536 + 1 and inner.entered == 0

    _run(scenario())
