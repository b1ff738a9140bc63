"""The streaming job's per-batch log line: jobs/logistics/stream.py writes it, bench/ parses it.

batch 3: consumed 20000, valid 19900, rejected 100, duplicates 0, 4.2 s (read 1.0 s, quarantine 0.4 s, ...)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

REPLAYED = "; already committed before a restart"
BATCH_LINE = re.compile(
    r"batch (\d+): consumed (\d+), valid (\d+), rejected (\d+), duplicates (\d+), ([\d.]+) s \((.*?)\)(.*)$"
)


def batch_line(
    batch: int, consumed: int, valid: int, rejected: int, seconds: float, steps: Mapping[str, float], replayed: bool
) -> str:
    """The line of one batch; the duplicates are the records consumed that are neither valid nor rejected."""
    return (
        f"batch {batch}: consumed {consumed}, valid {valid}, rejected {rejected}, "
        f"duplicates {consumed - valid - rejected}, {seconds:.1f} s "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in steps.items())}){REPLAYED if replayed else ''}"
    )


def parse_batch_line(text: str) -> dict | None:
    """One line -> {batch, consumed, valid, rejected, duplicates, seconds, steps, replayed}; None if it is not one."""
    m = BATCH_LINE.search(text)
    if not m:
        return None
    steps: dict[str, float] = {}
    for part in m[7].split(", "):
        name, _, unit = part.rpartition(" ")
        key, _, value = name.rpartition(" ")
        if unit == "s" and key:
            try:
                steps[key] = float(value)
            except ValueError:
                continue
    counts = zip(("batch", "consumed", "valid", "rejected", "duplicates"), map(int, m.groups()[:5]), strict=True)
    return {**dict(counts), "seconds": float(m[6]), "steps": steps, "replayed": REPLAYED.strip("; ") in m[8]}
