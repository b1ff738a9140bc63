"""Delivery to Kafka and its accounting: every record sent ends up acknowledged or failed, never silent.

`Sink` is the one thing the producer needs from Kafka (send with callbacks, flush, close);
`KafkaSink` implements it with kafka-python (acks=all, idempotent, retries). `DeliveryTracker`
counts what was sent, acknowledged and failed (callbacks arrive on kafka-python's I/O thread, so it
locks) and keeps the first errors of each type for the summary.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

OnAck = Callable[[int, int], None]
"""Called with (partition, offset) once the record is acknowledged by all in-sync replicas."""
OnError = Callable[[BaseException], None]


class Sink(Protocol):
    def send(self, key: bytes | None, value: bytes, on_ack: OnAck, on_error: OnError) -> None:
        """Queue one record; exactly one of the callbacks follows, or `send` raises at once."""

    def flush(self, timeout: float) -> bool:
        """Wait until every queued record is acknowledged or failed; False if `timeout` ran out first."""

    def close(self, timeout: float) -> None: ...


@dataclass(frozen=True)
class Summary:
    sent: int
    acked: int
    failed: int
    elapsed_s: float
    errors: dict[str, int]
    first_errors: tuple[str, ...]

    @property
    def unacknowledged(self) -> int:
        """Sent but neither acknowledged nor failed (still in flight when the flush timed out)."""
        return self.sent - self.acked - self.failed

    @property
    def ok(self) -> bool:
        return self.acked == self.sent

    @property
    def mean_rate(self) -> float:
        return self.acked / self.elapsed_s if self.elapsed_s > 0 else 0.0


class DeliveryTracker:
    """Thread-safe counters of one run. `sent` counts records handed to `Sink.send` (raising or not)."""

    MAX_KEPT_ERRORS = 5

    def __init__(self, on_ack: OnAck | None = None) -> None:
        self._lock = threading.Lock()
        self._sent = 0
        self._acked = 0
        self._failed = 0
        self._errors: Counter[str] = Counter()
        self._first: list[str] = []
        self._on_ack = on_ack

    def sending(self) -> None:
        with self._lock:
            self._sent += 1

    def acknowledged(self, partition: int, offset: int) -> None:
        with self._lock:
            self._acked += 1
        if self._on_ack is not None:
            self._on_ack(partition, offset)

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self._failed += 1
            self._errors[type(exc).__name__] += 1
            if len(self._first) < self.MAX_KEPT_ERRORS:
                self._first.append(f"{type(exc).__name__}: {exc}")

    @property
    def acked(self) -> int:
        with self._lock:
            return self._acked

    @property
    def failed_count(self) -> int:
        with self._lock:
            return self._failed

    def summary(self, elapsed_s: float) -> Summary:
        with self._lock:
            return Summary(
                sent=self._sent,
                acked=self._acked,
                failed=self._failed,
                elapsed_s=elapsed_s,
                errors=dict(self._errors),
                first_errors=tuple(self._first),
            )


class KafkaSink:
    """kafka-python producer with the delivery guarantees the pipeline relies on.

    acks=all + idempotence: a record counts as delivered only when every in-sync replica has it, and
    the broker drops the copies a retry would otherwise add. Retries are bounded by delivery_timeout_ms;
    what is still unacknowledged then fails through the errback and is counted.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        *,
        linger_ms: int = 50,  # batches at low rates too: kafka-python spends ~1-2 ms of CPU per request
        batch_size: int = 64 * 1024,
        delivery_timeout_ms: int = 120_000,
        max_block_ms: int = 15_000,
        client_id: str = "lakehouse-producer",
    ) -> None:
        from kafka import KafkaProducer  # imported here so the pure parts load without the client
        from kafka.errors import KafkaError

        self._topic = topic
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=[s.strip() for s in bootstrap_servers.split(",") if s.strip()],
                client_id=client_id,
                acks="all",
                enable_idempotence=True,
                retries=2**31 - 1,
                max_in_flight_requests_per_connection=5,
                linger_ms=linger_ms,
                batch_size=batch_size,
                delivery_timeout_ms=delivery_timeout_ms,
                request_timeout_ms=min(30_000, delivery_timeout_ms),
                max_block_ms=max_block_ms,
                allow_auto_create_topics=False,
            )
        except KafkaError as exc:
            raise ConnectionError(f"cannot reach Kafka at {bootstrap_servers}: {type(exc).__name__}: {exc}") from exc
        try:
            partitions = self._producer.partitions_for(topic)
        except KafkaError as exc:
            partitions = None
            detail = f"{type(exc).__name__}: {exc}"
        else:
            detail = "no partitions reported"
        if not partitions:
            self._producer.close(timeout=1)
            raise ConnectionError(
                f"topic {topic!r} is not available on {bootstrap_servers} ({detail}); "
                "create it first (the stack and the test bed do) or pass the right --topic"
            )
        self.partitions = len(partitions)

    def send(self, key: bytes | None, value: bytes, on_ack: OnAck, on_error: OnError) -> None:
        future = self._producer.send(self._topic, key=key, value=value)
        future.add_callback(lambda md: on_ack(md.partition, md.offset))
        future.add_errback(on_error)

    def flush(self, timeout: float) -> bool:
        from kafka.errors import KafkaTimeoutError

        try:
            self._producer.flush(timeout=timeout)
        except KafkaTimeoutError:
            return False
        return True

    def close(self, timeout: float) -> None:
        self._producer.close(timeout=timeout)
