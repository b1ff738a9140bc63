"""What one run sends, and which part of it each process sends: pure and picklable (no Kafka, no I/O but
the replay file).

A run is one stream of positions 0, 1, 2, ...: a valid event, an injected malformed record or a re-sent
duplicate at each (the injection schedule, fixed by --seed). Process i of N sends positions i, i+N, ...:
- generated events: its own generator, seeded from (--seed, i, N) (N = 1: the seed's own stream); with
  --start-time its clock starts i steps later and steps N times further, so times interleave as one stream's;
- replayed rows: every process reads the file alike and sends the rows on its positions (each row once);
- injected records: the schedule is global, the first N positions are valid events (each process needs one to
  copy or spoil), malformed kinds go in turn by global order: the counts per kind are those of one process.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from producer import malformed
from producer.delivery import SinkOptions
from producer.events import Clock, EventGenerator, SimulatedClock, wall_clock
from producer.replay import ReplayStats, read_events
from producer.runner import Record, injection_schedule, records, stream_end


def process_seed(seed: int | None, index: int, processes: int) -> int | None:
    """The generator seed of process `index` of `processes`: the run's seed itself for one process."""
    if seed is None or processes == 1:
        return seed
    digest = hashlib.sha256(f"lakehouse-producer:{seed}:{index}:{processes}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def share(total: int | None, index: int, processes: int) -> int | None:
    """How many of the positions 0..total-1 process `index` sends (None: no limit)."""
    return None if total is None else len(range(index, total, processes))


@dataclass(frozen=True)
class Plan:
    """One run as the flags describe it. `total` is the number of positions (None: until stopped)."""

    bootstrap_servers: str
    topic: str
    options: SinkOptions = field(default_factory=SinkOptions)
    processes: int = 1
    count: int | None = None
    duration_s: float | None = None
    rate: float = 0.0
    seed: int | None = None
    start_time: datetime | None = None
    replay: Path | None = None
    inject_malformed: int = 0
    duplicates: int = 0
    kinds: tuple[str, ...] = malformed.KINDS
    flush_timeout_s: float = 60.0
    total: int | None = None

    @property
    def step(self) -> timedelta:
        """The simulated clock's step between two events of the whole run."""
        return timedelta(seconds=1 / self.rate) if self.rate > 0 else timedelta(milliseconds=10)

    def schedule(self) -> dict[int, str]:
        """Injected positions -> 'malformed'/'duplicate' (raises ValueError when they do not fit)."""
        if not (self.inject_malformed or self.duplicates) or self.count is None:
            return {}
        return injection_schedule(self.count, self.inject_malformed, self.duplicates, self.seed, self.processes)

    def resolved(self, replay_stats: ReplayStats | None = None) -> Plan:
        """The plan with `total` set and `processes` at most one per position. Several processes: the replay file
        is read once here, to know where it runs dry (and check every row before Kafka); `replay_stats` counts it."""
        total = self.count
        schedule = self.schedule()
        if self.replay is not None and self.processes > 1:
            needed = None if self.count is None else max(1, self.count - len(schedule))  # rows to read, at least 1
            events = read_events(self.replay, seed=self.seed, clock=wall_clock, stats=replay_stats)
            end = stream_end(schedule, sum(1 for _ in itertools.islice(events, needed)))
            total = end if total is None else min(total, end)
        processes = self.processes if total is None else max(1, min(self.processes, total))
        return replace(self, total=total, processes=processes)

    def part(self, index: int, replay_stats: ReplayStats | None = None) -> Iterator[Record]:
        """The records process `index` sends, in order (the send loop stops at `share(total, index, processes)`)."""
        n = self.processes
        if not 0 <= index < n:
            raise ValueError(f"process index {index} is not allowed: 0 <= index < {n}")
        schedule = self.schedule()
        # The injected records' own random draws (which copy, which defect, their event ids): the run's seed
        # for one process, one stream per process otherwise (also without --seed), so ids never repeat.
        inject_seed = self.seed if n == 1 else f"{self.seed}:{index}:{n}"
        if self.replay is not None:
            events = read_events(self.replay, seed=self.seed, clock=self._clock(0, 1), stats=replay_stats)
            return records(events, schedule, self.kinds, inject_seed, offset=index, stride=n, shared_source=True)
        generator = EventGenerator(seed=process_seed(self.seed, index, n), clock=self._clock(index, n))
        return records(generator.encoded_stream(), schedule, self.kinds, inject_seed, offset=index, stride=n)

    def _clock(self, index: int, processes: int) -> Clock:
        if self.start_time is None:
            return wall_clock
        return SimulatedClock(self.start_time + index * self.step, self.step * processes)
