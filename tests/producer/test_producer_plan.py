"""How a run is split over --processes N: every position sent once, the same kinds and totals as one process,
deterministic per seed, event ids unique across processes, interleaved simulated times, replay rows once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from producer import malformed
from producer.events import DATASET_COLUMNS, EventGenerator, SimulatedClock
from producer.plan import Plan, process_seed, share
from producer.runner import DUPLICATE, VALID, Record, injection_schedule, stream_end

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def plan(**kw: object) -> Plan:
    return Plan(bootstrap_servers="fake:1", topic="t", **kw)  # type: ignore[arg-type]


def take(p: Plan, index: int) -> list[Record]:
    """What process `index` sends: its part, cut at its share as the send loop does."""
    n = share(p.total, index, p.processes)
    out: list[Record] = []
    for record in p.part(index):
        if n is not None and len(out) >= n:
            break
        out.append(record)
    return out


def test_process_seed_is_the_seed_for_one_process_and_distinct_per_process() -> None:
    assert process_seed(7, 0, 1) == 7
    assert process_seed(None, 1, 4) is None
    seeds = [process_seed(7, i, 4) for i in range(4)]
    assert len(set(seeds)) == 4 and seeds == [process_seed(7, i, 4) for i in range(4)]
    assert process_seed(7, 0, 2) != process_seed(7, 0, 3)


@pytest.mark.parametrize(("total", "processes"), [(10, 3), (7, 7), (1000, 2), (5, 8)])
def test_shares_add_up_to_the_total(total: int, processes: int) -> None:
    assert sum(share(total, i, processes) or 0 for i in range(processes)) == total
    assert share(None, 0, processes) is None


def test_schedule_keeps_the_first_position_of_every_process_valid() -> None:
    schedule = injection_schedule(100, 40, 40, seed=3, reserved=4)

    assert len(schedule) == 80 and not {0, 1, 2, 3} & set(schedule)
    assert injection_schedule(100, 40, 40, seed=3) != schedule  # one process reserves one position
    with pytest.raises(ValueError, match="first 4 records"):
        injection_schedule(10, 4, 3, seed=1, reserved=4)


def test_two_processes_send_every_position_once_with_the_kinds_of_one() -> None:
    one = plan(processes=1, count=3000, seed=5, inject_malformed=50, duplicates=30).resolved()
    two = plan(processes=2, count=3000, seed=5, inject_malformed=50, duplicates=30).resolved()

    sent_one = take(one, 0)
    parts = [take(two, 0), take(two, 1)]

    assert [len(p) for p in parts] == [1500, 1500]
    kinds_one = Counter(r.kind for r in sent_one)
    kinds_two = Counter(r.kind for p in parts for r in p)
    assert kinds_two == kinds_one
    assert kinds_two[VALID] == 2920 and kinds_two[DUPLICATE] == 30
    assert all(kinds_two[k] == 10 for k in malformed.KINDS)
    # Every event id is new except the re-sent copies; none repeats between the two processes.
    fresh = [r.event_id for p in parts for r in p if r.kind != DUPLICATE]
    assert len(fresh) == len(set(fresh)) == 2970
    ids = [{r.event_id for r in p if r.kind != DUPLICATE} for p in parts]
    assert ids[0].isdisjoint(ids[1])


def test_a_process_copies_and_spoils_only_its_own_events() -> None:
    two = plan(processes=2, count=2000, seed=9, inject_malformed=40, duplicates=60).resolved()

    for index in range(2):
        sent = take(two, index)
        valid_values = {r.value for r in sent if r.kind == VALID}
        keys = {r.key for r in sent if r.kind == VALID}
        assert all(r.value in valid_values for r in sent if r.kind == DUPLICATE)
        assert all(r.key in keys for r in sent if r.kind in malformed.KINDS)


def test_parts_are_deterministic_for_a_seed_and_differ_between_seeds() -> None:
    def run(seed: int) -> list[list[bytes]]:
        p = plan(processes=3, count=600, seed=seed, start_time=START, rate=100.0, inject_malformed=9).resolved()
        return [[r.value for r in take(p, i)] for i in range(3)]

    assert run(4) == run(4)
    assert run(4)[1] != run(5)[1]


def test_one_process_sends_the_generators_stream_of_the_seed() -> None:
    p = plan(count=200, seed=11, start_time=START, rate=50.0).resolved()
    gen = EventGenerator(seed=11, clock=SimulatedClock(START, p.step))

    assert [json.loads(r.value) for r in take(p, 0)] == [gen.next_event() for _ in range(200)]


def test_simulated_times_of_two_processes_interleave_as_one_stream() -> None:
    one = plan(count=400, seed=2, start_time=START, rate=100.0).resolved()
    two = plan(processes=2, count=400, seed=2, start_time=START, rate=100.0).resolved()

    times_one = sorted(json.loads(r.value)["event_time"] for r in take(one, 0))
    times_two = sorted(json.loads(r.value)["event_time"] for i in range(2) for r in take(two, i))
    assert times_two == times_one


def test_processes_never_exceed_the_records() -> None:
    assert plan(processes=8, count=3).resolved().processes == 3
    assert plan(processes=8).resolved().processes == 8


def test_stream_end_counts_the_injected_positions_before_the_source_runs_dry() -> None:
    assert stream_end({}, 10) == 10
    assert stream_end({2: "malformed", 5: DUPLICATE, 30: "malformed"}, 10) == 12


# ----- replay -----
ROW = {c: "2.5" for c in DATASET_COLUMNS} | {"timestamp": "2021-01-01 00:00:00", "risk_classification": "Low Risk"}


def write_csv(path: Path, rows: int) -> Path:
    lines = [",".join(DATASET_COLUMNS)]
    lines += [",".join(str(i) if c == "lead_time_days" else ROW[c] for c in DATASET_COLUMNS) for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_replay_rows_are_each_sent_once_by_some_process_as_one_process_would(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "rows.csv", 500)
    one = plan(count=520, seed=3, replay=csv, start_time=START, inject_malformed=15, duplicates=5).resolved()
    three = plan(processes=3, count=520, seed=3, replay=csv, start_time=START, inject_malformed=15,
                 duplicates=5).resolved()  # fmt: skip

    valid_one = [r.value for r in take(one, 0) if r.kind == VALID]
    parts = [take(three, i) for i in range(3)]
    valid_three = [r.value for p in parts for r in p if r.kind == VALID]

    assert len(valid_one) == 500
    assert Counter(valid_three) == Counter(valid_one)
    assert Counter(r.kind for p in parts for r in p) == Counter(r.kind for r in take(one, 0))


def test_replay_shorter_than_count_ends_where_one_process_would(tmp_path: Path) -> None:
    csv = write_csv(tmp_path / "short.csv", 40)
    two = plan(processes=2, count=100, seed=1, replay=csv, inject_malformed=10).resolved()

    sent = [r for i in range(2) for r in take(two, i)]

    assert two.total == stream_end(two.schedule(), 40)
    assert sum(r.kind == VALID for r in sent) == 40
    assert len(sent) == two.total
