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


@dataclass(frozen=True)
class FakeSinkFactory:
    """A picklable sink factory for `--processes N` (it runs in the spawned workers): per process index, the
    record numbers (of that process) to fail, to leave unanswered, or at which the process dies (os._exit);
    `refuse` makes a process unable to connect. Records are answered from another thread, as kafka-python does."""

    fail: dict[int, tuple[int, ...]] = field(default_factory=dict)
    hang: dict[int, tuple[int, ...]] = field(default_factory=dict)
    die: dict[int, int] = field(default_factory=dict)
    refuse: tuple[int, ...] = ()
    interrupt_parent_at: int | None = None
    """Process 0 sends its parent a SIGINT (as a Ctrl-C aimed at the parent alone) at this record."""
    interrupt_all_at: int | None = None
    """Every process sends itself a SIGINT at this record, process 0 its parent too: a terminal's Ctrl-C."""

    def __call__(self, plan: object, index: int) -> FakeSink:
        if index in self.refuse:
            raise ConnectionError(f"process {index}: cannot reach Kafka at fake:1")
        fail, hang, die = set(self.fail.get(index, ())), set(self.hang.get(index, ())), self.die.get(index)

        def behaviour(n: int) -> str:
            import os

            if die is not None and n == die:
                os._exit(9)
            if n in (self.interrupt_parent_at, self.interrupt_all_at):
                import signal

                if n == self.interrupt_all_at:
                    os.kill(os.getpid(), signal.SIGINT)
                if index == 0:
                    os.kill(os.getppid(), signal.SIGINT)
            return "fail" if n in fail else "hang" if n in hang else "ack"

        return FakeSink(behaviour=behaviour, threaded=True)
