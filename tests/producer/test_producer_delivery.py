"""KafkaSink's settings (compression, batching) and its key-cached partitioner, without a broker."""

from __future__ import annotations

import pytest
from producer_fakes import FakeSink

from producer import cli, delivery
from producer.delivery import COMPRESSION_TYPES, KafkaSink, SinkOptions, codec_available, key_cached_partitioner


def test_default_options_compress_with_lz4_in_large_batches() -> None:
    config = SinkOptions().producer_config()

    assert config["compression_type"] == "lz4"
    assert config["batch_size"] == 512 * 1024 and config["linger_ms"] == 50
    # A whole uncompressed batch fits in one request.
    assert config["max_request_size"] >= config["batch_size"]


def test_compression_none_means_no_codec() -> None:
    assert SinkOptions(compression="none").producer_config()["compression_type"] is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"compression": "brotli"}, "compression 'brotli' is not allowed"),
        ({"batch_size": 10}, "batch_size 10 is not allowed"),
        ({"linger_ms": -1}, "linger_ms -1 is not allowed"),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SinkOptions(**kwargs)  # type: ignore[arg-type]


def test_the_pinned_codec_and_the_fast_crc_are_installed() -> None:
    # lz4 (the default codec) and crc32c are in requirements-services.txt; kafka-python must find both.
    from kafka.record import util
    from kafka.record._crc32c import crc as pure_python_crc

    assert codec_available("lz4") and codec_available("gzip") and codec_available("none")
    assert util._crc32c is not pure_python_crc, "kafka-python fell back to its pure-Python CRC-32C"


def test_a_codec_without_its_package_is_refused_before_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "codec_available", lambda name: name != "zstd")

    with pytest.raises(ValueError, match="needs the Python package 'zstandard'"):
        KafkaSink("127.0.0.1:1", "t", options=SinkOptions(compression="zstd"), client_id="test")


def test_cli_passes_compression_and_batching_to_the_sink() -> None:
    seen: list[SinkOptions] = []

    def factory(plan, index):
        seen.append(plan.options)
        return FakeSink()

    code = cli.main(["--bootstrap-servers", "127.0.0.1:1", "--count", "5", "--rate", "0", "--compression", "zstd",
                     "--batch-size", "100000", "--linger-ms", "7"], sink_factory=factory)  # fmt: skip

    assert code == cli.EXIT_OK
    assert seen == [SinkOptions(compression="zstd", batch_size=100_000, linger_ms=7)]


def test_cli_refuses_an_unknown_compression(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--bootstrap-servers", "127.0.0.1:1", "--compression", "brotli"], sink=FakeSink())
    assert "invalid choice: 'brotli'" in capsys.readouterr().err
    assert "lz4" in COMPRESSION_TYPES


class FakeCluster:
    """The two ClusterMetadata calls the partitioners make."""

    def __init__(self, partitions: int) -> None:
        self.n = partitions

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self.n))

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return set(range(self.n))


def test_cached_partitioner_agrees_with_kafka_pythons_default() -> None:
    from kafka.partitioner.default import DefaultPartitioner

    cached, default = key_cached_partitioner(), DefaultPartitioner()
    keys = [f"SHP-{i:012X}".encode() for i in range(500)]
    for n in (1, 3, 6, 12):
        cluster = FakeCluster(n)
        for key in keys + keys:  # the second round is served from the cache
            assert cached.partition("t", None, key, None, b"v", cluster) == default.partition(  # type: ignore[attr-defined]
                "t", None, key, None, b"v", cluster
            )


def test_cached_partitioner_follows_a_topic_that_grows() -> None:
    from kafka.partitioner.default import DefaultPartitioner

    cached, default = key_cached_partitioner(), DefaultPartitioner()
    keys = [f"k{i}".encode() for i in range(200)]
    small, large = FakeCluster(3), FakeCluster(8)
    before = [cached.partition("t", None, k, None, b"v", small) for k in keys]  # type: ignore[attr-defined]
    after = [cached.partition("t", None, k, None, b"v", large) for k in keys]  # type: ignore[attr-defined]

    assert after == [default.partition("t", None, k, None, b"v", large) for k in keys]
    assert before != after
