"""The event generator: columns, ranges, uniqueness, consistency between values, determinism."""

from __future__ import annotations

import itertools
import json
import math
import statistics
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from contract.events import RISK_BANDS, RISK_CLASSES
from producer.events import (
    DATASET_COLUMNS,
    DECIMALS,
    EVENT_COLUMNS,
    HUBS,
    RANGES,
    EventGenerator,
    SimulatedClock,
    encode,
)

START = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def risk_class(delay_probability: float) -> str:
    """The risk class whose band (the contract's RISK_BANDS, highest first) holds `delay_probability`."""
    return next(name for lower, name in RISK_BANDS if delay_probability >= lower)


def generate(n: int, seed: int = 7, step_ms: int = 50) -> list[dict[str, object]]:
    gen = EventGenerator(seed=seed, clock=SimulatedClock(START, timedelta(milliseconds=step_ms)))
    return [gen.next_event() for _ in range(n)]


@pytest.fixture(scope="module")
def events() -> list[dict[str, object]]:
    # 20 000 events at 50 ms: about 17 minutes of traffic over the morning rush hour.
    return generate(20_000)


def test_dataset_columns_are_the_datasets() -> None:
    assert DATASET_COLUMNS == (
        "timestamp", "vehicle_gps_latitude", "vehicle_gps_longitude", "fuel_consumption_rate",
        "eta_variation_hours", "traffic_congestion_level", "weather_condition_severity", "lead_time_days",
        "iot_temperature", "cargo_condition_status", "route_risk_level", "customs_clearance_time",
        "driver_behavior_score", "fatigue_monitoring_score", "delay_probability", "risk_classification",
        "delivery_time_deviation",
    )  # fmt: skip


def test_event_has_exactly_the_event_columns(events: list[dict[str, object]]) -> None:
    assert all(tuple(e) == EVENT_COLUMNS for e in events)


def test_numeric_values_stay_in_their_ranges(events: list[dict[str, object]]) -> None:
    for column, (low, high) in RANGES.items():
        values = [e[column] for e in events]
        assert all(isinstance(v, float | int) and low <= v <= high for v in values), column
        # The ranges are used, not one corner of them.
        assert max(values) - min(values) > (high - low) * 0.2, column


def test_event_ids_are_unique_uuids(events: list[dict[str, object]]) -> None:
    ids = [str(e["event_id"]) for e in events]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids[:100])


def test_risk_class_agrees_with_delay_probability(events: list[dict[str, object]]) -> None:
    assert all(e["risk_classification"] == risk_class(float(e["delay_probability"])) for e in events)
    assert {e["risk_classification"] for e in events} == set(RISK_CLASSES)


@pytest.mark.parametrize(
    ("probability", "expected"),
    [
        (0.0, "Low Risk"),
        (0.3999, "Low Risk"),
        (0.4, "Moderate Risk"),
        (0.6999, "Moderate Risk"),
        (0.7, "High Risk"),
        (1.0, "High Risk"),
    ],
)
def test_risk_class_bands(probability: float, expected: str) -> None:
    assert risk_class(probability) == expected


def test_times_are_iso_utc_and_reading_precedes_emission(events: list[dict[str, object]]) -> None:
    for e in events[:2000]:
        assert str(e["event_time"]).endswith("Z")
        emitted = datetime.fromisoformat(str(e["event_time"]).replace("Z", "+00:00"))
        read = datetime.strptime(str(e["timestamp"]), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert timedelta(0) <= emitted - read <= timedelta(seconds=3)


def _by_shipment(events: list[dict[str, object]]) -> dict[str, list[dict[str, object]]]:
    trips: dict[str, list[dict[str, object]]] = defaultdict(list)
    for e in events:
        trips[str(e["shipment_id"])].append(e)
    return trips


def test_shipments_move_away_from_their_origin_hub(events: list[dict[str, object]]) -> None:
    trips = [t for t in _by_shipment(events).values() if len(t) >= 10]
    assert len(trips) > 50
    for trip in trips:
        first = (trip[0]["vehicle_gps_latitude"], trip[0]["vehicle_gps_longitude"])
        origin = min(HUBS, key=lambda h: math.dist(h, first))
        distances = [math.dist(origin, (e["vehicle_gps_latitude"], e["vehicle_gps_longitude"])) for e in trip]
        # GPS noise is ~0.01 degrees; progress along the route only grows.
        assert all(b >= a - 0.06 for a, b in itertools.pairwise(distances)), trip[0]["shipment_id"]
        assert distances[-1] > distances[0]


def test_trip_constants_stay_constant_per_shipment(events: list[dict[str, object]]) -> None:
    for trip in _by_shipment(events).values():
        assert len({e["lead_time_days"] for e in trip}) == 1
        assert len({e["customs_clearance_time"] for e in trip}) == 1


def test_fatigue_grows_over_a_trip(events: list[dict[str, object]]) -> None:
    trips = [t for t in _by_shipment(events).values() if len(t) >= 20]
    assert all(statistics.mean(float(e["fatigue_monitoring_score"]) for e in t[-5:])
               > statistics.mean(float(e["fatigue_monitoring_score"]) for e in t[:5]) for t in trips)  # fmt: skip


def test_congestion_raises_fuel_use_and_delay(events: list[dict[str, object]]) -> None:
    jammed = [e for e in events if float(e["traffic_congestion_level"]) >= 7]
    free = [e for e in events if float(e["traffic_congestion_level"]) <= 3]
    assert jammed and free

    def mean(rows: list[dict[str, object]], column: str) -> float:
        return statistics.mean(float(e[column]) for e in rows)

    assert mean(jammed, "fuel_consumption_rate") > mean(free, "fuel_consumption_rate") + 1
    assert mean(jammed, "eta_variation_hours") > mean(free, "eta_variation_hours")
    assert mean(jammed, "delay_probability") > mean(free, "delay_probability")


def test_same_seed_and_clock_give_the_same_events() -> None:
    assert generate(500, seed=42) == generate(500, seed=42)


def test_other_seed_gives_other_events() -> None:
    a, b = generate(50, seed=1), generate(50, seed=2)
    assert {e["event_id"] for e in a}.isdisjoint({e["event_id"] for e in b})


def test_simulated_clock_needs_a_time_zone() -> None:
    with pytest.raises(ValueError, match="must carry a time zone"):
        SimulatedClock(datetime(2026, 1, 1), timedelta(seconds=1))


def test_encode_keys_by_shipment_and_serialises_json(events: list[dict[str, object]]) -> None:
    key, value = encode(events[0])
    assert key == str(events[0]["shipment_id"]).encode()
    assert json.loads(value) == events[0]


def test_encoded_events_are_the_dict_events_as_json() -> None:
    a = EventGenerator(seed=13, clock=SimulatedClock(START, timedelta(milliseconds=7)))
    b = EventGenerator(seed=13, clock=SimulatedClock(START, timedelta(milliseconds=7)))
    for _ in range(5000):
        event, encoded = a.next_event(), b.next_encoded()
        assert json.loads(encoded.value) == event
        assert (encoded.key, encoded.event_id) == (encode(event)[0], event["event_id"])


def test_encoded_numbers_carry_their_decimal_places(events: list[dict[str, object]]) -> None:
    value = EventGenerator(seed=2).next_encoded().value.decode()
    data = json.loads(value)
    for column, places in DECIMALS.items():
        text = value.split(f'"{column}":', 1)[1].split(",", 1)[0].rstrip("}")
        assert len(text.split(".")[1]) == places, column
        assert float(text) == data[column]
    # next_event rounds to the same places.
    assert all(round(float(e[c]), p) == e[c] for e in events[:500] for c, p in DECIMALS.items())


def test_event_times_cross_seconds_and_days_correctly() -> None:
    start = datetime(2026, 12, 31, 23, 59, 59, 998_000, tzinfo=UTC)
    gen = EventGenerator(seed=5, clock=SimulatedClock(start, timedelta(microseconds=700)))

    out = [gen.next_event() for _ in range(10)]

    times = [datetime.fromisoformat(str(e["event_time"]).replace("Z", "+00:00")) for e in out]
    expected = [start + i * timedelta(microseconds=700) for i in range(10)]
    assert times == [t.replace(microsecond=t.microsecond // 1000 * 1000) for t in expected]
    assert out[-1]["event_time"].startswith("2027-01-01T00:00:00.")  # type: ignore[union-attr]
    for e, t in zip(out, expected, strict=True):
        read = datetime.strptime(str(e["timestamp"]), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert timedelta(0) <= t - read < timedelta(seconds=3)
