"""A pure, seeded generator of plausible logistics events (no I/O, no Kafka).

Each event carries the columns of the supply-chain logistics dataset the lakehouse was designed around
(DATASET_COLUMNS) plus `event_id` (unique), `shipment_id` (the Kafka key) and `event_time` (ISO-8601 UTC).

The model, so values agree with each other:
- a pool of active shipments, each driving from one freight hub to another; every event moves its
  shipment further along the route (GPS = interpolated position + a little noise); a delivered shipment
  is replaced by a new one;
- per shipment constants: lead time, customs clearance time, cargo's target temperature, driver skill,
  the route's base risk;
- congestion follows rush hours and is higher near the hubs; weather drifts slowly per shipment;
  fuel use and ETA variation rise with congestion and weather; fatigue grows over the trip and lowers
  the driver behaviour score; cargo condition drops when the temperature leaves its target;
- delay_probability is a logistic function of those values, risk_classification is its band
  (RISK_BANDS) and delivery_time_deviation follows ETA variation and delay probability.
Given the same seed and the same clock readings, the output is identical.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DATASET_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "vehicle_gps_latitude",
    "vehicle_gps_longitude",
    "fuel_consumption_rate",
    "eta_variation_hours",
    "traffic_congestion_level",
    "weather_condition_severity",
    "lead_time_days",
    "iot_temperature",
    "cargo_condition_status",
    "route_risk_level",
    "customs_clearance_time",
    "driver_behavior_score",
    "fatigue_monitoring_score",
    "delay_probability",
    "risk_classification",
    "delivery_time_deviation",
)
EVENT_COLUMNS: tuple[str, ...] = ("event_id", "shipment_id", "event_time", *DATASET_COLUMNS)
NUMERIC_COLUMNS: tuple[str, ...] = tuple(c for c in DATASET_COLUMNS if c not in ("timestamp", "risk_classification"))

# Ranges the generator keeps every value in (those of the dataset). The streaming job accepts wider,
# physical limits; a test checks each range here lies inside the job's.
RANGES: dict[str, tuple[float, float]] = {
    "vehicle_gps_latitude": (24.0, 50.0),
    "vehicle_gps_longitude": (-125.0, -66.0),
    "fuel_consumption_rate": (5.0, 20.0),
    "eta_variation_hours": (-2.0, 5.0),
    "traffic_congestion_level": (0.0, 10.0),
    "weather_condition_severity": (0.0, 1.0),
    "lead_time_days": (1.0, 15.0),
    "iot_temperature": (-10.0, 40.0),
    "cargo_condition_status": (0.0, 1.0),
    "route_risk_level": (0.0, 10.0),
    "customs_clearance_time": (0.5, 5.0),
    "driver_behavior_score": (0.0, 1.0),
    "fatigue_monitoring_score": (0.0, 1.0),
    "delay_probability": (0.0, 1.0),
    "delivery_time_deviation": (-2.0, 10.0),
}

# (lower bound of delay_probability, class), highest first.
RISK_BANDS: tuple[tuple[float, str], ...] = ((0.7, "High Risk"), (0.4, "Moderate Risk"), (0.0, "Low Risk"))
RISK_CLASSES: tuple[str, ...] = tuple(name for _, name in RISK_BANDS)

# Freight hubs (latitude, longitude): routes run between two of them.
HUBS: tuple[tuple[float, float], ...] = (
    (40.71, -74.01),  # New York
    (41.88, -87.63),  # Chicago
    (34.05, -118.24),  # Los Angeles
    (29.76, -95.37),  # Houston
    (33.75, -84.39),  # Atlanta
    (47.61, -122.33),  # Seattle
    (39.74, -104.99),  # Denver
    (32.78, -96.80),  # Dallas
    (25.76, -80.19),  # Miami
    (39.10, -94.58),  # Kansas City
    (42.33, -83.05),  # Detroit
    (35.15, -90.05),  # Memphis
)

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
"""Format of the dataset's `timestamp` column (the sensor reading time, UTC)."""

Clock = Callable[[], datetime]


def risk_class(delay_probability: float) -> str:
    """The risk class whose band holds `delay_probability`."""
    for lower, name in RISK_BANDS:
        if delay_probability >= lower:
            return name
    return RISK_BANDS[-1][1]


def format_event_time(t: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and a Z suffix, e.g. 2026-11-26T22:50:01.123Z."""
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(event: dict[str, object]) -> tuple[bytes, bytes]:
    """(Kafka key, value): the shipment id keeps a shipment's events in one partition, in order."""
    return str(event["shipment_id"]).encode(), json.dumps(event, separators=(",", ":")).encode()


def wall_clock() -> datetime:
    return datetime.now(UTC)


class SimulatedClock:
    """A clock that advances by a fixed step on every reading: reproducible event times."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        if start.tzinfo is None:
            raise ValueError(f"start time {start.isoformat()} must carry a time zone (e.g. ...Z)")
        self._next = start.astimezone(UTC)
        self._step = step

    def __call__(self) -> datetime:
        now = self._next
        self._next += self._step
        return now


def _clamp(value: float, column: str) -> float:
    low, high = RANGES[column]
    return min(high, max(low, value))


@dataclass
class Shipment:
    """One truck's trip between two hubs; the fields that stay fixed for the trip are set at creation."""

    shipment_id: str
    origin: tuple[float, float]
    destination: tuple[float, float]
    step: float
    lead_time_days: float
    customs_clearance_time: float
    target_temperature: float
    driver_skill: float
    route_risk: float
    weather: float
    progress: float = 0.0
    wear: float = 0.0


class EventGenerator:
    """Yields events one at a time: `next_event()`; `encode(event)` gives Kafka key and value."""

    def __init__(self, seed: int | None = None, clock: Clock = wall_clock, active_shipments: int = 64) -> None:
        if active_shipments < 1:
            raise ValueError(f"active_shipments = {active_shipments}: at least 1 shipment must be on the road")
        self._rng = random.Random(seed)  # noqa: S311 - a seeded simulation, not security
        self._clock = clock
        self._shipments = [self._new_shipment() for _ in range(active_shipments)]

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _new_shipment(self) -> Shipment:
        rng = self._rng
        origin, destination = rng.sample(HUBS, 2)
        return Shipment(
            shipment_id=f"SHP-{rng.getrandbits(48):012X}",
            origin=origin,
            destination=destination,
            step=1.0 / rng.randint(20, 80),
            lead_time_days=round(rng.uniform(1.0, 15.0), 2),
            customs_clearance_time=round(rng.uniform(0.5, 5.0), 2),
            # Refrigerated cargo (about a third) is kept near 4 °C, the rest travels at ambient temperature.
            target_temperature=4.0 if rng.random() < 0.35 else rng.uniform(12.0, 26.0),
            driver_skill=rng.uniform(0.55, 0.98),
            route_risk=rng.uniform(0.5, 6.0),
            weather=rng.uniform(0.0, 0.6),
        )

    def next_event(self) -> dict[str, object]:
        rng = self._rng
        index = rng.randrange(len(self._shipments))
        s = self._shipments[index]
        now = self._clock().astimezone(UTC)

        s.progress = min(1.0, s.progress + s.step)
        p = s.progress
        lat = s.origin[0] + (s.destination[0] - s.origin[0]) * p + rng.gauss(0.0, 0.01)
        lon = s.origin[1] + (s.destination[1] - s.origin[1]) * p + rng.gauss(0.0, 0.01)

        hour = now.hour + now.minute / 60.0
        rush = math.exp(-((hour - 8.0) ** 2) / 4.0) + math.exp(-((hour - 17.5) ** 2) / 4.0)
        near_hub = 1.0 - 2.0 * min(p, 1.0 - p)  # 1 at either end of the route, 0 half-way
        s.weather = min(1.0, max(0.0, s.weather + rng.gauss(0.0, 0.04)))
        traffic = _clamp(1.5 + 4.0 * rush + 2.5 * near_hub + rng.gauss(0.0, 1.0), "traffic_congestion_level")
        fuel = _clamp(6.0 + 0.6 * traffic + 4.0 * s.weather + rng.gauss(0.0, 0.5), "fuel_consumption_rate")
        eta = _clamp(-1.5 + 0.35 * traffic + 2.5 * s.weather + rng.gauss(0.0, 0.4), "eta_variation_hours")
        temperature = _clamp(s.target_temperature + rng.gauss(0.0, 1.5), "iot_temperature")
        s.wear = min(0.5, s.wear + abs(rng.gauss(0.0, 0.003)))
        cargo = _clamp(1.0 - abs(temperature - s.target_temperature) / 15.0 - s.wear, "cargo_condition_status")
        risk = _clamp(s.route_risk + 3.0 * s.weather + rng.gauss(0.0, 0.5), "route_risk_level")
        fatigue = _clamp(0.1 + 0.75 * p + rng.gauss(0.0, 0.05), "fatigue_monitoring_score")
        behavior = _clamp(s.driver_skill - 0.3 * fatigue + rng.gauss(0.0, 0.05), "driver_behavior_score")
        z = (
            -4.0
            + 0.25 * traffic
            + 2.0 * s.weather
            + 0.2 * risk
            + 1.5 * fatigue
            - 1.5 * behavior
            + 0.3 * eta
            + 2.0 * (1.0 - cargo)
        )
        delay = round(_clamp(1.0 / (1.0 + math.exp(-z)), "delay_probability"), 4)
        deviation = _clamp(0.8 * eta + 4.0 * delay - 1.0 + rng.gauss(0.0, 0.5), "delivery_time_deviation")
        reading_time = now - timedelta(milliseconds=rng.randint(0, 2000))

        event: dict[str, object] = {
            "event_id": self._uuid(),
            "shipment_id": s.shipment_id,
            "event_time": format_event_time(now),
            "timestamp": reading_time.strftime(TIMESTAMP_FORMAT),
            "vehicle_gps_latitude": round(_clamp(lat, "vehicle_gps_latitude"), 6),
            "vehicle_gps_longitude": round(_clamp(lon, "vehicle_gps_longitude"), 6),
            "fuel_consumption_rate": round(fuel, 4),
            "eta_variation_hours": round(eta, 4),
            "traffic_congestion_level": round(traffic, 4),
            "weather_condition_severity": round(s.weather, 4),
            "lead_time_days": s.lead_time_days,
            "iot_temperature": round(temperature, 4),
            "cargo_condition_status": round(cargo, 4),
            "route_risk_level": round(risk, 4),
            "customs_clearance_time": s.customs_clearance_time,
            "driver_behavior_score": round(behavior, 4),
            "fatigue_monitoring_score": round(fatigue, 4),
            "delay_probability": delay,
            "risk_classification": risk_class(delay),
            "delivery_time_deviation": round(deviation, 4),
        }
        if s.progress >= 1.0:  # delivered: a new trip takes its place
            self._shipments[index] = self._new_shipment()
        return event
