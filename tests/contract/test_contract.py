"""The contract's grammars and tables: what each accepts, and that its tables hold together."""

from __future__ import annotations

import pytest

from contract import batchlog, events, names, units


def test_the_producers_ranges_lie_within_each_fields_limits() -> None:
    for f in events.DOUBLE_FIELDS:
        assert f.produced is not None and f.low is not None and f.high is not None, f.name
        assert f.low <= f.produced[0] < f.produced[1] <= f.high, f.name
    assert set(events.RISK_CLASSES) == {name for _, name in events.RISK_BANDS}


@pytest.mark.parametrize(("name", "ok"), [("logistics-events", True), ("a.b_c-1", True), (".", False),
                                          ("..", False), ("", False), ("a b", False), ("t" * 250, False)])  # fmt: skip
def test_topic_names(name: str, ok: bool) -> None:
    assert names.is_topic_name(name) is ok


def test_table_checkpoint_and_quarantine_names() -> None:
    assert names.rejected_table_name("logistics_events") == "logistics_events_rejected"
    assert names.rejected_table_name("s3a://lake/x/") == "s3a://lake/x_rejected"
    assert names.checkpoint_uri("checkpoints", "t") == "s3a://checkpoints/t"
    assert names.derived_checkpoint_uri("s3a://lake/t/") == "s3a://lake/t/_checkpoints/logistics_stream"


@pytest.mark.parametrize(
    ("text", "size"),
    [("512m", 512 << 20), ("2G", 2 << 30), ("1t", 1 << 40), ("1048576k", 1 << 30), ("0m", None), ("512", None),
     ("1.5g", None), ("512 m", None), ("1p", None), ("", None)],
)  # fmt: skip
def test_memory_sizes(text: str, size: int | None) -> None:
    assert units.memory_bytes(text) == size
    if size is not None:
        assert units.memory_mib(text) == size >> 20
    else:
        with pytest.raises(ValueError, match="not a memory size"):
            units.memory_mib(text)


def test_durations() -> None:
    assert units.duration_seconds(" 1 hour ", "x") == 3600 and units.duration_seconds("500 milliseconds", "x") == 0.5
    assert units.is_duration("999999 seconds") and not units.is_duration("1000000 seconds")
    for bad in ("", "10", "0 seconds", "10 days", "10seconds", "-1 hour"):
        assert not units.is_duration(bad)
        with pytest.raises(ValueError, match=r"dedup window = .* is not allowed: a duration such as '1 second'"):
            units.duration_seconds(bad, "dedup window")


def test_the_batch_line_reads_back_as_written() -> None:
    line = batchlog.batch_line(3, 20000, 19880, 100, 4.25, {"read": 1.0, "events": 2.5}, replayed=True)
    assert line == (
        "batch 3: consumed 20000, valid 19880, rejected 100, duplicates 20, 4.2 s (read 1.0 s, events 2.5 s)"
        "; already committed before a restart"
    )
    parsed = batchlog.parse_batch_line(f"2026-12-02 INFO logistics_stream: {line}")
    assert parsed is not None and parsed["duplicates"] == 20 and parsed["steps"] == {"read": 1.0, "events": 2.5}
    assert parsed["replayed"] is True
