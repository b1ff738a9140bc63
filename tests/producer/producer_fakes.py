"""A fake of the producer's own `Sink` (not of Kafka): it acknowledges, fails, raises or never answers,
as told per record, optionally from another thread like kafka-python's I/O thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from producer.delivery import OnAck, OnError

Behaviour = Callable[[int], str]
"""Record number (0-based) -> 'ack', 'fail', 'raise' or 'hang'."""


@dataclass
class FakeSink:
    behaviour: Behaviour = lambda n: "ack"
    threaded: bool = False
    on_send: Callable[[int], None] | None = None
    sent: list[tuple[bytes | None, bytes]] = field(default_factory=list)
    pending: list[OnError] = field(default_factory=list)
    closed: bool = False
    calls: int = 0
    flush_timeouts: list[float] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def send(self, key: bytes | None, value: bytes, on_ack: OnAck, on_error: OnError) -> None:
        n = self.calls
        self.calls += 1
        if self.on_send is not None:
            self.on_send(n)
        what = self.behaviour(n)
        if what == "raise":
            raise BufferError(f"record {n}: buffer full")
        self.sent.append((key, value))
        if what == "hang":
            self.pending.append(on_error)
            return
        partition, offset = n % 3, n // 3

        def answer() -> None:
            if what == "ack":
                on_ack(partition, offset)
            else:
                on_error(TimeoutError(f"record {n}: not enough in-sync replicas"))

        if self.threaded:
            t = threading.Thread(target=answer)
            t.start()
            self._threads.append(t)
        else:
            answer()

    def flush(self, timeout: float) -> bool:
        self.flush_timeouts.append(timeout)
        for t in self._threads:
            t.join()
        return not self.pending

    def close(self, timeout: float) -> None:
        self.closed = True
