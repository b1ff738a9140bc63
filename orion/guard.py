"""Orion's front door against hostile clients: one pure ASGI middleware in front of the whole app.

Before any route (so before FastAPI reads or parses a body), in this order:
1. At most ORION_MAX_CONCURRENT_REQUESTS requests in flight (below AnyIO's 40 worker threads, so a flood never
   takes every thread the sync routes need); one more is answered 503 at once, costing no thread.
2. Authentication from the headers alone: all but /health, the static UI and the API docs (GET/HEAD) need
   `Authorization: Bearer <ORION_TOKEN>` (constant-time compare), or get 401 with the body unread. Failed
   attempts drain a per-client token bucket (ORION_AUTH_FAILURES_PER_MINUTE); an empty one gets 429 at once.
3. Bodies counted as they stream and cut at the limit with 413 (POST /jobs may carry an upload, other routes
   take none), due within ORION_BODY_TIMEOUT_SECONDS (408). The route then reads the body from memory.
Refusals close the connection (`Connection: close`), so the server does not go on reading what was refused.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orion.settings import OrionSettings

# Multipart overhead allowed on top of the upload limit (field names, boundaries, the args and conf fields).
FORM_OVERHEAD = 256 * 1024
# Routes other than POST /jobs take no body: anything beyond this is refused.
SMALL_BODY = 64 * 1024
_PUBLIC_EXACT = {"/health", "/", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
_PUBLIC_PREFIX = ("/static/",)
_SAFE_METHODS = {"GET", "HEAD"}
_MAX_CLIENTS = 10_000  # buckets kept; the oldest is dropped first (a full one holds no information)
UNAUTHORIZED = "missing or wrong bearer token: send 'Authorization: Bearer <ORION_TOKEN>'"


class TokenBuckets:
    """Per-client buckets of failed authentications: `capacity` per minute, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _level(self, client: str) -> float:
        level, at = self._buckets.get(client, (self.capacity, self.clock()))
        return min(self.capacity, level + (self.clock() - at) * self.rate)

    def exhausted(self, client: str) -> float:
        """Seconds until `client` may try again; 0 when it may now."""
        return max(0.0, (1 - self._level(client)) / self.rate)

    def fail(self, client: str) -> None:
        self._buckets[client] = (max(self._level(client) - 1, 0.0), self.clock())
        self._buckets.move_to_end(client)
        while len(self._buckets) > _MAX_CLIENTS:
            self._buckets.popitem(last=False)


class BodyTooLarge(Exception):
    pass


class Guard:
    def __init__(self, app: ASGIApp, settings: OrionSettings) -> None:
        self.app = app
        self._token = settings.token.get_secret_value().encode()
        self.max_in_flight = settings.max_concurrent_requests
        self.in_flight = 0
        self.buckets = TokenBuckets(settings.auth_failures_per_minute)
        self.upload_limit = settings.upload_max_bytes + FORM_OVERHEAD
        self.upload_max_bytes = settings.upload_max_bytes
        self.body_timeout = settings.body_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            busy = f"Orion is busy: {self.in_flight} requests in flight (ORION_MAX_CONCURRENT_REQUESTS); retry shortly"
            await _refuse(send, 503, busy, {"retry-after": "1"})
            return
        self.in_flight += 1
        try:
            await self._guarded(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"]
        if not (method in _SAFE_METHODS and (path in _PUBLIC_EXACT or path.startswith(_PUBLIC_PREFIX))):
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.buckets.exhausted(client)
            if wait > 0:
                why = "too many failed authentications from this client; retry later"
                await _refuse(send, 429, why, {"retry-after": str(math.ceil(wait))})
                return
            if not self._authorized(scope):
                self.buckets.fail(client)
                await _refuse(send, 401, UNAUTHORIZED, {"www-authenticate": "Bearer"})
                return
        limit = self.upload_limit if (method, path.rstrip("/")) == ("POST", "/jobs") else SMALL_BODY
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await _refuse(send, 413, self._too_large(int(length)))
            return
        if method in _SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        try:
            body = await asyncio.wait_for(_read_body(receive, limit), timeout=self.body_timeout)
        except BodyTooLarge:
            await _refuse(send, 413, self._too_large(None))
            return
        except TimeoutError:
            why = f"the request body did not arrive within {self.body_timeout:g} s (ORION_BODY_TIMEOUT_SECONDS)"
            await _refuse(send, 408, why)
            return
        if body is None:  # the client went away
            return
        await self.app(scope, _replay(body, receive), send)

    def _authorized(self, scope: Scope) -> bool:
        scheme, _, given = (_header(scope, b"authorization") or "").partition(" ")
        return hmac.compare_digest((given.strip() if scheme.lower() == "bearer" else "").encode(), self._token)

    def _too_large(self, length: int | None) -> str:
        size = f"of {length} bytes " if length is not None else ""
        return (
            f"request body {size}is larger than the upload limit of {self.upload_max_bytes} bytes "
            "(ORION_UPLOAD_MAX_BYTES)"
        )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, counted as it arrives; BodyTooLarge past `limit`, None if the client disconnected."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        if len(body) > limit:
            raise BodyTooLarge
        if not message.get("more_body", False):
            return bytes(body)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect, as the server would

    return replay


async def _refuse(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),  # do not read on what was refused
        (b"x-content-type-options", b"nosniff"),
    ]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
