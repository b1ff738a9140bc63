"""Events from a CSV file with the dataset's columns (e.g. the original logistics dataset).

Every row becomes one event. Numeric cells become JSON numbers; a cell that is not a number is sent
as the text it holds, so the streaming job quarantines it (wrong type) instead of the producer hiding
it. `event_id`, `shipment_id` and `event_time` are taken from the file when it has them (a replay of
earlier events then re-sends the same ids); otherwise ids come from the seeded generator's random
source and `event_time` from the clock. Columns not in the event schema are ignored.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from producer.events import DATASET_COLUMNS, NUMERIC_COLUMNS, Clock, format_event_time, uuid4_text, wall_clock

REPLAY_SHIPMENTS = 64
"""Shipments the rows are spread over when the file has no shipment_id column."""


@dataclass
class ReplayStats:
    rows: int = 0
    unparseable_cells: int = 0
    examples: list[str] = field(default_factory=list)


def _number(text: str) -> float | int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None  # NaN/Infinity are not JSON numbers
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def read_events(
    path: Path, *, seed: int | None = None, clock: Clock = wall_clock, stats: ReplayStats | None = None
) -> Iterator[dict[str, object]]:
    """Yield one event per row; raises ValueError naming the missing columns if the header lacks any."""
    stats = stats if stats is not None else ReplayStats()
    rng = random.Random(seed)  # noqa: S311 - a seeded simulation, not security
    shipments = [f"SHP-{rng.getrandbits(48):012X}" for _ in range(REPLAY_SHIPMENTS)]
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in DATASET_COLUMNS if c not in header]
        if missing:
            raise ValueError(
                f"{path}: the CSV lacks column(s) {', '.join(missing)}; "
                f"a replay file needs every dataset column: {', '.join(DATASET_COLUMNS)}"
            )
        for row in reader:
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            stats.rows += 1
            event: dict[str, object] = {
                "event_id": row.get("event_id") or uuid4_text(rng.getrandbits(128)),
                "shipment_id": row.get("shipment_id") or rng.choice(shipments),
                "event_time": row.get("event_time") or format_event_time(clock()),
            }
            for column in DATASET_COLUMNS:
                text = row[column]
                value = _number(text) if column in NUMERIC_COLUMNS else text
                if value is None:
                    stats.unparseable_cells += 1
                    if len(stats.examples) < 5:
                        stats.examples.append(f"row {stats.rows} {column}={text!r}")
                event[column] = text if value is None else value
            yield event
