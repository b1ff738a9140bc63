"""Memory sizes and durations: one grammar each, with the message that says what is allowed.

Memory sizes are written as the JVM and Spark's daemons take them: a whole number and a unit, `512m`, `2g`.
A Spark property takes more (a bare number in a default unit, a `b` suffix, `p`, spaces): `spark=True`.
"""

from __future__ import annotations

import re

MEMORY_PATTERN = r"^[1-9][0-9]*[kmgtKMGT]$"
MEMORY_RULE = "a number followed by k, m, g or t (e.g. 512m, 2g)"
_SPARK_SIZE = re.compile(r"^\s*([0-9]+)\s*([kmgtp]?)(b?)\s*$", re.IGNORECASE)
MIB = 1024 * 1024

# At most six digits: Spark turns a duration into microseconds in a signed 64-bit number.
DURATION_PATTERN = r"^([1-9][0-9]{0,5}) (milliseconds?|seconds?|minutes?|hours?)$"
DURATION_EXAMPLES = "'1 second', '500 milliseconds', '10 minutes', '1 hour'"
_DURATION = re.compile(DURATION_PATTERN)
OFF = "off"
"""What a duration that may be turned off (the maintenance interval) takes for 'never'."""
_UNIT_SECONDS = {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600}


def memory_bytes(text: str, *, spark: bool = False, default_unit: int = MIB) -> int | None:
    """Bytes of a memory size ('512m' -> 536870912), None when it is not one.

    With `spark`, a Spark size as Spark reads it: '7' is 7 `default_unit`s, '7b' 7 bytes, '100kb' 100 KiB."""
    if not spark:
        m = re.match(MEMORY_PATTERN, text) if isinstance(text, str) else None
        if m is None:
            return None
        end = m.end() - 1  # the unit ('$' also matches before a final newline)
        return int(text[:end]) * 1024 ** ("kmgt".index(text[end].lower()) + 1)
    m = _SPARK_SIZE.match(text)
    if m is None:
        return None
    number, unit, b = m.groups()
    if not unit:
        return int(number) * (1 if b else default_unit)
    return int(number) * 1024 ** ("kmgtp".index(unit.lower()) + 1)


def memory_mib(size: str) -> int:
    """'512m' -> 512, '2g' -> 2048, '1048576k' -> 1024; ValueError when `size` is not a memory size."""
    if (size_bytes := memory_bytes(size)) is None:
        raise ValueError(f"not a memory size: {size!r}")
    return size_bytes // MIB


def is_duration(text: object) -> bool:
    return isinstance(text, str) and bool(_DURATION.match(text))


def duration_seconds(text: str, what: str) -> float:
    """'1 hour' -> 3600.0; raises ValueError naming `what`, the value and the allowed form."""
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{what} = {text!r} is not allowed: a duration such as {DURATION_EXAMPLES}")
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2).rstrip("s")]
