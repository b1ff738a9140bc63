"""A Docker engine for a block of tests: the one testbed/docker/engine.py finds, or a dockerd it starts, which is
then stopped at the block's end (an engine started any other way is never touched)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from testbed.docker import engine


@contextlib.contextmanager
def session(
    echo: engine.Echo = lambda _line: None, *, socket_path: str = engine.DEFAULT_SOCKET
) -> Iterator[engine.Engine]:
    eng = engine.connect(echo, socket_path=socket_path)
    try:
        yield eng
    finally:
        with contextlib.suppress(Exception):
            eng.client.close()
        if eng.started_here:
            engine.stop(echo)
