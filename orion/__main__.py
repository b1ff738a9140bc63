"""`python -m orion`: validate the ORION_* settings, then serve the API and UI with uvicorn.

The server holds at most ORION_MAX_CONNECTIONS connections (uvicorn answers 503 beyond) and closes a new
connection that has not sent a complete request head within ORION_HEADER_TIMEOUT_SECONDS (uvicorn's h11
server has no such timeout: a client sending its headers a byte at a time would hold a connection for ever).
"""

from __future__ import annotations

import asyncio
import logging
import sys

import uvicorn
from pydantic import ValidationError
from uvicorn.protocols.http.h11_impl import H11Protocol

from orion.main import create_app
from orion.settings import OrionSettings, describe_errors


def protocol_with_header_timeout(seconds: float) -> type[H11Protocol]:
    class HeaderTimeoutProtocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._head_timer = self.loop.call_later(seconds, self._no_request_head)

        def _no_request_head(self) -> None:
            # No request started on this connection yet (uvicorn sets `cycle` once a head is parsed).
            if self.cycle is None and not self.transport.is_closing():
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            self._head_timer.cancel()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol


def main() -> int:
    try:
        settings = OrionSettings()  # type: ignore[call-arg]  # fields come from the environment
    except ValidationError as exc:
        print(describe_errors(exc), file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # No access log: the UI polls every few seconds and the lines would drown the job events.
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="info",
        http=protocol_with_header_timeout(settings.header_timeout_seconds),
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
