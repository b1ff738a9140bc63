"""A pure, seeded generator of plausible logistics events (no I/O, no Kafka).

Each event carries the dataset's columns (DATASET_COLUMNS) after `event_id`, `shipment_id` (the Kafka key) and
`event_time` (ISO-8601 UTC), and its values agree with each other: a pool of shipments drives between freight
hubs (GPS = interpolated position + noise; a delivered shipment is replaced); congestion follows rush hours and
the hubs, weather drifts per shipment; fuel use and ETA variation rise with both; fatigue grows over the trip and
lowers the driver score; cargo suffers away from its target temperature; delay_probability is a logistic function
of those values and risk_classification its band. The same seed and clock readings give the same output.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from contract.events import DOUBLE_FIELDS, FIELD_NAMES, RISK_BANDS

EVENT_COLUMNS: tuple[str, ...] = FIELD_NAMES
DATASET_COLUMNS: tuple[str, ...] = EVENT_COLUMNS[3:]
NUMERIC_COLUMNS: tuple[str, ...] = tuple(f.name for f in DOUBLE_FIELDS)
_STRING_COLUMNS = frozenset(c for c in EVENT_COLUMNS if c not in NUMERIC_COLUMNS)
RANGES: dict[str, tuple[float, float]] = {f.name: f.produced for f in DOUBLE_FIELDS if f.produced}
"""Ranges the generator keeps every value in (those of the dataset, inside the job's limits)."""

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


@dataclass(slots=True)
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


# The bounds of RANGES as constants: next_event() clamps twelve values per event, and a dict lookup plus a
# function call each cost more than the rest of the arithmetic.
_LAT_LO, _LAT_HI = RANGES["vehicle_gps_latitude"]
_LON_LO, _LON_HI = RANGES["vehicle_gps_longitude"]
_FUEL_LO, _FUEL_HI = RANGES["fuel_consumption_rate"]
_ETA_LO, _ETA_HI = RANGES["eta_variation_hours"]
_TRAFFIC_LO, _TRAFFIC_HI = RANGES["traffic_congestion_level"]
_TEMP_LO, _TEMP_HI = RANGES["iot_temperature"]
_CARGO_LO, _CARGO_HI = RANGES["cargo_condition_status"]
_RISK_LO, _RISK_HI = RANGES["route_risk_level"]
_FATIGUE_LO, _FATIGUE_HI = RANGES["fatigue_monitoring_score"]
_BEHAVIOR_LO, _BEHAVIOR_HI = RANGES["driver_behavior_score"]
_DELAY_LO, _DELAY_HI = RANGES["delay_probability"]
_DEV_LO, _DEV_HI = RANGES["delivery_time_deviation"]
(_HIGH, _HIGH_NAME), (_MODERATE, _MODERATE_NAME), (_, _LOW_NAME) = RISK_BANDS
_TWO_PI = 2.0 * math.pi
_ONE_SECOND = timedelta(seconds=1)
_GAUSSES = 12
"""Normal draws per event (all of them between the shipment pick and the reading-time draw)."""

_FINER = {"vehicle_gps_latitude": 6, "vehicle_gps_longitude": 6, "lead_time_days": 2, "customs_clearance_time": 2}
DECIMALS: dict[str, int] = {c: _FINER.get(c, 4) for c in NUMERIC_COLUMNS}
"""Decimal places of each generated number (GPS to ~10 cm, the trip constants to 2 places, the rest to 4)."""

# A generated event serialised in one %-format: the keys are fixed, the strings are ASCII without quotes or
# backslashes (ids, ISO times, risk classes) and each number is written with its decimal places, which
# parses to the same float as round(x, places). Five times cheaper than round() + json.dumps.
_VALUE_TEMPLATE = (
    "{" + ",".join(f'"{c}":"%s"' if c in _STRING_COLUMNS else f'"{c}":%.{DECIMALS[c]}f' for c in EVENT_COLUMNS) + "}"
)


class Encoded(NamedTuple):
    """A generated event ready for Kafka: key (the shipment id), JSON value, and its event_id."""

    key: bytes
    value: bytes
    event_id: str


class EventGenerator:
    """Yields events one at a time. Written for speed (the producer's CPU budget per event is a few microseconds)
    with the draws of the plain model in the same order: `random.gauss` and `randrange` inline give the same values.
    """

    def __init__(self, seed: int | None = None, clock: Clock = wall_clock) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - a seeded simulation, not security
        self._clock = clock
        self._shipments = [self._new_shipment() for _ in range(64)]  # on the road at once
        self._index_bits = len(self._shipments).bit_length()
        # Per-second cache of what depends only on the second (set by _enter_second before its first use): the
        # formatted emission second, the reading time's second (0, 1 or 2 s earlier) and the rush-hour factor.
        self._second: datetime | None = None

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

    def _enter_second(self, now: datetime) -> None:
        second = now.replace(microsecond=0)
        self._second, self._second_end = second, second + _ONE_SECOND
        self._event_prefix = second.strftime("%Y-%m-%dT%H:%M:%S.")
        self._reading_seconds = tuple((second - k * _ONE_SECOND).strftime(TIMESTAMP_FORMAT) for k in range(3))  # type: ignore[assignment]
        hour = now.hour + now.minute / 60.0
        self._rush = math.exp(-((hour - 8.0) ** 2) / 4.0) + math.exp(-((hour - 17.5) ** 2) / 4.0)

    def next_event(self) -> dict[str, object]:
        """The next event as a dict of the EVENT_COLUMNS (numbers rounded to their DECIMALS)."""
        return json.loads(self.next_encoded().value)

    def next_encoded(self) -> Encoded:
        """The next event already serialised."""
        values = self._draw()
        return Encoded(values[1].encode(), (_VALUE_TEMPLATE % values).encode(), values[0])  # type: ignore[union-attr]

    def encoded_stream(self) -> Iterator[Encoded]:
        return iter(self.next_encoded, None)

    def _pick(self) -> int:
        """rng.randrange(len(shipments)), as Random does it."""
        getrandbits, n = self._rng.getrandbits, len(self._shipments)
        index = getrandbits(self._index_bits)
        while index >= n:
            index = getrandbits(self._index_bits)
        return index

    def _normals(self) -> list[float]:
        """rng.gauss() _GAUSSES times: Random.gauss makes normals in pairs from two uniforms each."""
        uniform = self._rng.random
        g: list[float] = []
        for _ in range(_GAUSSES // 2):
            x2pi = uniform() * _TWO_PI
            g2rad = math.sqrt(-2.0 * math.log(1.0 - uniform()))
            g += (math.cos(x2pi) * g2rad, math.sin(x2pi) * g2rad)
        return g

    def _draw(self) -> tuple[object, ...]:
        """One step of the model: the event's values in EVENT_COLUMNS order, numbers not yet rounded."""
        getrandbits = self._rng.getrandbits
        shipments = self._shipments
        index = self._pick()
        s = shipments[index]
        now = self._clock()
        if now.tzinfo is not UTC:
            now = now.astimezone(UTC)
        g = self._normals()
        progress = s.progress + s.step
        p = s.progress = progress if progress < 1.0 else 1.0
        origin, destination = s.origin, s.destination
        lat = origin[0] + (destination[0] - origin[0]) * p + g[0] * 0.01
        lon = origin[1] + (destination[1] - origin[1]) * p + g[1] * 0.01

        if self._second is None or not (self._second <= now < self._second_end):  # type: ignore[operator]
            self._enter_second(now)
        rush = self._rush
        near_hub = 1.0 - 2.0 * min(p, 1.0 - p)  # 1 at either end of the route, 0 half-way
        weather = s.weather = min(1.0, max(0.0, s.weather + g[2] * 0.04))
        traffic = min(_TRAFFIC_HI, max(_TRAFFIC_LO, 1.5 + 4.0 * rush + 2.5 * near_hub + g[3]))
        fuel = min(_FUEL_HI, max(_FUEL_LO, 6.0 + 0.6 * traffic + 4.0 * weather + g[4] * 0.5))
        eta = min(_ETA_HI, max(_ETA_LO, -1.5 + 0.35 * traffic + 2.5 * weather + g[5] * 0.4))
        target = s.target_temperature
        temperature = min(_TEMP_HI, max(_TEMP_LO, target + g[6] * 1.5))
        wear = s.wear = min(0.5, s.wear + abs(g[7] * 0.003))
        cargo = min(_CARGO_HI, max(_CARGO_LO, 1.0 - abs(temperature - target) / 15.0 - wear))
        risk = min(_RISK_HI, max(_RISK_LO, s.route_risk + 3.0 * weather + g[8] * 0.5))
        fatigue = min(_FATIGUE_HI, max(_FATIGUE_LO, 0.1 + 0.75 * p + g[9] * 0.05))
        behavior = min(_BEHAVIOR_HI, max(_BEHAVIOR_LO, s.driver_skill - 0.3 * fatigue + g[10] * 0.05))
        z = -4.0 + 0.25 * traffic + 2.0 * weather + 0.2 * risk + 1.5 * fatigue - 1.5 * behavior + 0.3 * eta
        z += 2.0 * (1.0 - cargo)
        # Rounded here already: the deviation and the risk class follow the delay as published.
        delay = round(min(_DELAY_HI, max(_DELAY_LO, 1.0 / (1.0 + math.exp(-z)))), 4)
        deviation = min(_DEV_HI, max(_DEV_LO, 0.8 * eta + 4.0 * delay - 1.0 + g[11] * 0.5))
        # rng.randint(0, 2000): the sensor reading precedes the emission by up to 2 s.
        lag_ms = getrandbits(11)
        while lag_ms > 2000:
            lag_ms = getrandbits(11)
        micro = now.microsecond
        lag_us = lag_ms * 1000
        back = 0 if lag_us <= micro else (1 if lag_us <= micro + 1_000_000 else 2)
        event_id = uuid4_text(getrandbits(128))
        if p >= 1.0:  # delivered: a new trip takes its place
            shipments[index] = self._new_shipment()
        return (
            event_id,
            s.shipment_id,
            f"{self._event_prefix}{micro // 1000:03d}Z",
            self._reading_seconds[back],
            min(_LAT_HI, max(_LAT_LO, lat)),
            min(_LON_HI, max(_LON_LO, lon)),
            fuel,
            eta,
            traffic,
            weather,
            s.lead_time_days,
            temperature,
            cargo,
            risk,
            s.customs_clearance_time,
            behavior,
            fatigue,
            delay,
            _HIGH_NAME if delay >= _HIGH else (_MODERATE_NAME if delay >= _MODERATE else _LOW_NAME),
            deviation,
        )


def uuid4_text(bits: int) -> str:
    """str(uuid.UUID(int=bits, version=4)) without the UUID object."""
    bits = (bits & ~(0xC000 << 48) | (0x8000 << 48)) & ~(0xF000 << 64) | (4 << 76)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
