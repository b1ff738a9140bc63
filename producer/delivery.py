"""Delivery to Kafka and its accounting: every record sent ends up acknowledged or failed, never silent.

`Sink` is what the producer needs from Kafka; `KafkaSink` is it with kafka-python. Where such a producer spends
its time (py-spy, 650-byte events): without the C `crc32c` package in the pure-Python CRC-32C of every batch;
then per record in `send()` (a third of it murmur2 of the key), and per request in the I/O thread (compression,
framing, futures). Hence crc32c, a per-key partition cache, batches of 512 KiB and lz4 (a third of the bytes).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

OnAck = Callable[[int, int], None]
"""Called with (partition, offset) once the record is acknowledged by all in-sync replicas."""
OnError = Callable[[BaseException], None]


class Sink(Protocol):
    def send(self, key: bytes | None, value: bytes, on_ack: OnAck, on_error: OnError) -> None:
        """Queue one record; exactly one of the callbacks follows, or `send` raises at once."""

    def flush(self, timeout: float) -> bool:
        """Wait until every queued record is acknowledged or failed; False if `timeout` ran out first."""

    def close(self, timeout: float) -> None: ...


class Summary(NamedTuple):
    sent: int
    acked: int
    failed: int
    elapsed_s: float
    errors: dict[str, int]
    first_errors: tuple[str, ...]
    value_bytes: int = 0
    """Bytes of the record values sent (before compression): the mean event size is value_bytes / sent."""

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
    """Counters of one run, counted under a lock (callbacks arrive on kafka-python's I/O thread) and read without
    one (a moment old at worst); the send loop counts what it sent itself (one lock less per record)."""

    MAX_KEPT_ERRORS = 5

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.acked = 0
        self.failed_count = 0
        self._errors: Counter[str] = Counter()
        self._first: list[str] = []

    def acknowledged(self, partition: int, offset: int) -> None:
        with self._lock:
            self.acked += 1

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            self.failed_count += 1
            self._errors[type(exc).__name__] += 1
            if len(self._first) < self.MAX_KEPT_ERRORS:
                self._first.append(f"{type(exc).__name__}: {exc}")

    @property
    def answered(self) -> int:
        """Acknowledged + failed: the send loop's back-pressure."""
        return self.acked + self.failed_count

    def summary(self, elapsed_s: float, sent: int = 0, value_bytes: int = 0) -> Summary:
        with self._lock:
            errors, first = dict(self._errors), tuple(self._first)
            return Summary(sent, self.acked, self.failed_count, elapsed_s, errors, first, value_bytes)


COMPRESSION_TYPES: tuple[str, ...] = ("lz4", "zstd", "gzip", "snappy", "none")
"""Codecs kafka-python can write; the brokers and the job's Kafka client (Java) read all of them."""
DEFAULT_COMPRESSION = "lz4"
"""lz4: the cheapest codec to compress in Python (~3x smaller JSON batches); its package `lz4` is pinned in
requirements-services.txt. zstd needs the package `zstandard`, snappy `python-snappy` (not pinned)."""
CODEC_PACKAGES = {"lz4": "lz4", "zstd": "zstandard", "snappy": "python-snappy"}
DEFAULT_BATCH_SIZE = 512 * 1024
"""Bytes of records (before compression) per partition batch: kafka-python's cost is per request, so large
batches; ~160 KB compressed, well under the brokers' 1 MiB message limit."""
DEFAULT_LINGER_MS = 50
"""How long a batch waits for more records: at full speed batches fill up within it; at 1,000 events/s it
adds at most 50 ms to an event's way into Kafka."""


@dataclass(frozen=True)
class SinkOptions:
    """The tunable part of KafkaSink (the guarantees, acks=all and idempotence, are not options)."""

    compression: str = DEFAULT_COMPRESSION
    batch_size: int = DEFAULT_BATCH_SIZE
    linger_ms: int = DEFAULT_LINGER_MS

    def __post_init__(self) -> None:
        if self.compression not in COMPRESSION_TYPES:
            raise ValueError(f"compression {self.compression!r} is not allowed: one of {', '.join(COMPRESSION_TYPES)}")
        if self.batch_size < 1024:
            raise ValueError(f"batch_size {self.batch_size} is not allowed: at least 1024 bytes")
        if self.linger_ms < 0:
            raise ValueError(f"linger_ms {self.linger_ms} is not allowed: 0 or more milliseconds")

    def producer_config(self) -> dict[str, object]:
        return {
            "compression_type": None if self.compression == "none" else self.compression,
            "batch_size": self.batch_size,
            "linger_ms": self.linger_ms,
            # A batch must fit in one request even uncompressed (kafka-python checks the uncompressed size).
            "max_request_size": max(1024 * 1024, self.batch_size + 64 * 1024),
        }


def codec_available(compression: str) -> bool:
    """Whether kafka-python finds the Python package of `compression` (gzip and none always work)."""
    from kafka import codec

    return compression == "none" or getattr(codec, f"has_{compression}")()


def key_cached_partitioner() -> object:
    """kafka-python's DefaultPartitioner (murmur2 of the key, as the Java client) with the answer cached per
    key and partition count: the pure-Python murmur2 cost ~a third of `send()`, and shipments repeat."""
    from kafka.partitioner.default import DefaultPartitioner

    class KeyCachedPartitioner(DefaultPartitioner):
        MAX_CACHED = 100_000

        def __init__(self) -> None:
            self._cache: dict[tuple[str, bytes, int], int] = {}

        def partition(self, topic, key, serialized_key, value, serialized_value, cluster):  # type: ignore[no-untyped-def]
            parts = cluster.partitions_for_topic(topic) if serialized_key is not None else None
            if not parts:
                return super().partition(topic, key, serialized_key, value, serialized_value, cluster)
            cache_key = (topic, serialized_key, len(parts))
            found = self._cache.get(cache_key)
            if found is None:
                found = super().partition(topic, key, serialized_key, value, serialized_value, cluster)
                if len(self._cache) >= self.MAX_CACHED:
                    self._cache.clear()
                self._cache[cache_key] = found
            return found

    return KeyCachedPartitioner()


class KafkaSink:
    """kafka-python producer with the delivery guarantees the pipeline relies on.

    acks=all + idempotence: a record counts as delivered only when every in-sync replica has it, and
    the broker drops the copies a retry would otherwise add. Retries are bounded by delivery_timeout_ms;
    what is still unacknowledged then fails through the errback and is counted.
    """

    def __init__(self, bootstrap_servers: str, topic: str, *, options: SinkOptions, client_id: str) -> None:
        from kafka import KafkaProducer  # imported here so the pure parts load without the client
        from kafka.errors import KafkaError

        if not codec_available(options.compression):
            package = CODEC_PACKAGES.get(options.compression, options.compression)
            raise ValueError(
                f"compression {options.compression!r} needs the Python package {package!r}, which is not installed: "
                f"pip install -r requirements-services.txt, or choose --compression none"
            )
        self._topic = topic
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=[s.strip() for s in bootstrap_servers.split(",") if s.strip()],
                client_id=client_id,
                acks="all",
                enable_idempotence=True,
                retries=2**31 - 1,
                max_in_flight_requests_per_connection=5,
                delivery_timeout_ms=120_000,
                request_timeout_ms=30_000,
                max_block_ms=15_000,
                allow_auto_create_topics=False,
                partitioner=key_cached_partitioner(),
                **options.producer_config(),
            )
        except KafkaError as exc:
            raise ConnectionError(f"cannot reach Kafka at {bootstrap_servers}: {type(exc).__name__}: {exc}") from exc
        partitions, detail = None, "no partitions reported"
        try:
            partitions = self._producer.partitions_for(topic)
        except KafkaError as exc:
            detail = f"{type(exc).__name__}: {exc}"
        if not partitions:
            self._producer.close(timeout=1)
            raise ConnectionError(
                f"topic {topic!r} is not available on {bootstrap_servers} ({detail}); "
                "create it first (the stack and the test bed do) or pass the right --topic"
            )

    def send(self, key: bytes | None, value: bytes, on_ack: OnAck, on_error: OnError) -> None:
        future = self._producer.send(self._topic, key=key, value=value)
        future.add_callback(lambda md: on_ack(md.partition, md.offset)).add_errback(on_error)

    def flush(self, timeout: float) -> bool:
        from kafka.errors import KafkaTimeoutError

        try:
            self._producer.flush(timeout=timeout)
        except KafkaTimeoutError:
            return False
        return True

    def close(self, timeout: float) -> None:
        self._producer.close(timeout=timeout)
