"""The streaming job's per-batch log line, parsed (standard library only: the host side and bench/spark_lake.py
on the Spark driver both import it; the job writes it in logistics/stream.py's ProgressLog):

    batch 3: consumed 20000, valid 19900, rejected 100, duplicates 0, 4.2 s (read 1.0 s, quarantine 0.4 s, ...)
"""

from __future__ import annotations

import re

BATCH_LINE = re.compile(
    r"batch (\d+): consumed (\d+), valid (\d+), rejected (\d+), duplicates (\d+), ([\d.]+) s \((.*?)\)(.*)$"
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
    return {
        "batch": int(m[1]),
        "consumed": int(m[2]),
        "valid": int(m[3]),
        "rejected": int(m[4]),
        "duplicates": int(m[5]),
        "seconds": float(m[6]),
        "steps": steps,
        "replayed": "already committed" in m[8],
    }
