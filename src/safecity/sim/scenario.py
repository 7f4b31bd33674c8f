"""A seeded, deterministic simulator of the demo city's event feeds and incident situations."""

from __future__ import annotations

import heapq
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from safecity.core import payloads as p
from safecity.core.clock import Clock
from safecity.core.events import Severity
from safecity.core.registry import Sensor
from safecity.sim.city import (
    AGENCY_POLICE,
    AGENCY_RESCUE,
    PATROL_UNIT_IDS,
    SOURCE_PREFIX,
    DemoCity,
    Device,
)
from safecity.sim.geometry import (
    offset,
    segment_distance_m,
    solar_hour,
    sun_elevation_deg,
)
from safecity.sim.units import PatrolUnit

SHOOTING = "shooting"
FIRE = "fire"
FIGHT = "fight"
FALL = "fall"
LAMP_FAULT = "lamp_fault"
WRONG_WAY = "wrong_way"
WASTE_OVERHEAT = "waste_overheat"
CROWD_SURGE = "crowd_surge"
NOISE_DISTURBANCE = "noise_disturbance"
BOLLARD_FORCED = "bollard_forced"

#: Situation kinds and their default relative frequency.
DEFAULT_SITUATION_WEIGHTS: tuple[tuple[str, float], ...] = (
    (SHOOTING, 1.0),
    (FIRE, 1.5),
    (FIGHT, 2.0),
    (FALL, 1.0),
    (LAMP_FAULT, 1.5),
    (WRONG_WAY, 1.0),
    (WASTE_OVERHEAT, 1.0),
    (CROWD_SURGE, 1.0),
    (NOISE_DISTURBANCE, 1.0),
    (BOLLARD_FORCED, 0.5),
)
SITUATION_KINDS: tuple[str, ...] = tuple(kind for kind, _ in DEFAULT_SITUATION_WEIGHTS)

ERC_SOURCE = f"{SOURCE_PREFIX}erc"  # the emergency response centre's CAD (112 calls)
CITIZEN_APP_SOURCE = f"{SOURCE_PREFIX}citizen-app"
LOCALISER_SOURCE = f"{SOURCE_PREFIX}gunshot-localiser"
TRAFFIC_CENTRE_SOURCE = f"{SOURCE_PREFIX}traffic-centre"

_MINOR = Severity.MINOR.value
_MODERATE = Severity.MODERATE.value
_SEVERE = Severity.SEVERE.value


@dataclass(frozen=True)
class SimConfig:
    """Rates and switches of the simulator. Times are in seconds of simulated time."""

    units: int = len(PATROL_UNIT_IDS)
    situations: bool = True
    first_situation: str | None = SHOOTING
    first_situation_after_s: tuple[float, float] = (2.0, 5.0)
    situation_interval_s: tuple[float, float] = (20.0, 40.0)
    situation_weights: tuple[tuple[str, float], ...] = DEFAULT_SITUATION_WEIGHTS
    camera_motion_per_hour: float = 12.0
    unit_position_interval_s: float = 5.0
    noise_interval_s: float = 60.0
    crowd_interval_s: float = 60.0
    waste_interval_s: float = 300.0
    lamp_check_interval_s: float = 60.0
    bollard_cycle_s: tuple[float, float] = (600.0, 1800.0)
    unit_break_every_s: tuple[float, float] = (1800.0, 3600.0)
    unit_break_length_s: tuple[float, float] = (300.0, 900.0)
    on_scene_s: tuple[float, float] = (300.0, 720.0)

    def __post_init__(self) -> None:
        if not 0 <= self.units <= len(PATROL_UNIT_IDS):
            raise ValueError(f"units must be between 0 and {len(PATROL_UNIT_IDS)}")
        known = set(SITUATION_KINDS)
        for kind, weight in self.situation_weights:
            if kind not in known or weight < 0:
                raise ValueError(f"bad situation weight {kind!r}: {weight}")
        if self.situations and not any(w > 0 for _, w in self.situation_weights):
            raise ValueError("situations need at least one positive weight")
        if self.first_situation is not None and self.first_situation not in known:
            raise ValueError(f"unknown first situation {self.first_situation!r}")
        for name in (
            "first_situation_after_s",
            "situation_interval_s",
            "bollard_cycle_s",
            "unit_break_every_s",
            "unit_break_length_s",
            "on_scene_s",
        ):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name} must be (low, high) with 0 <= low <= high")
        positive = (
            self.unit_position_interval_s,
            self.noise_interval_s,
            self.crowd_interval_s,
            self.waste_interval_s,
            self.lamp_check_interval_s,
        )
        if min(positive) <= 0 or self.camera_motion_per_hour < 0:
            raise ValueError("intervals must be positive and rates non-negative")
        if min(self.situation_interval_s) <= 0:
            raise ValueError("situation_interval_s must be positive")


@dataclass(frozen=True)
class SituationRecord:
    """A situation the simulator started: what, when, where, in words."""

    kind: str
    started_at: datetime
    lon: float
    lat: float
    label: str


def rfc3339(when: datetime, *, micros: bool = False) -> str:
    """UTC RFC 3339 with a ``Z``: milliseconds, or microseconds for arrival times."""
    utc = when.astimezone(UTC)
    frac = f"{utc.microsecond:06d}" if micros else f"{utc.microsecond // 1000:03d}"
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


@dataclass
class _Lamp:
    device: Device
    threshold_deg: float
    dim_from_h: float
    dim_to_h: float
    level: float = 0.0
    faulty: bool = False
    #: A commanded level holds until then (an automation or an operator brightened it).
    held_until: datetime | None = None


@dataclass
class _Waste:
    device: Device
    fill: float
    hot: bool = False
    temperature: float = 10.0
    collection_due: bool = False


@dataclass
class _Boost:
    """A temporary override of a routine reading (loud noise, a crowd surge)."""

    start: datetime
    peak_until: datetime
    end: datetime
    peak: float


Action = Callable[[], None]
_Starter = Callable[[datetime, tuple[float, float] | None], "SituationRecord | None"]


class CitySimulator:
    """Produces CloudEvents-style dicts for the demo city, deterministically for a seed.

    Time comes only from the injected clock (for the start, and as the default ``until``) and
    from ``until``; randomness only from ``random.Random(seed)``. Events come out in time
    order, and stepping in small or large increments gives the same events.
    """

    def __init__(
        self, city: DemoCity, clock: Clock, seed: int = 0, config: SimConfig | None = None
    ) -> None:
        self.city = city
        self.clock = clock
        self.seed = seed
        self.config = config or SimConfig()
        self.start = _aware(clock.now())
        self._now = self.start
        self._cursor = self.start  # time of the item being processed
        self._rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not secrets
        self._heap: list[tuple[datetime, int, Action | dict[str, Any]]] = []
        self._seq = 0
        self._emitted = 0
        self._out: list[dict[str, Any]] = []
        self._id_prefix = f"demo-{self.start:%Y%m%dT%H%M%S}Z-{seed}"
        self._cad = 0
        self._started: Counter[str] = Counter()
        self._log: list[SituationRecord] = []
        self._noise_boost: dict[str, _Boost] = {}
        self._crowd_boost: dict[str, _Boost] = {}
        self._noise_bias = {d.id: self._rng.uniform(-3.0, 3.0) for d in city.noise_sensors}
        self._lamps = {
            d.id: _Lamp(
                d,
                self._rng.uniform(-3.0, 1.0),
                self._rng.uniform(0.75, 1.25),
                self._rng.uniform(4.75, 5.25),
            )
            for d in city.lamps
        }
        for lamp in self._lamps.values():
            lamp.level = self._lamp_target(lamp, self.start)
        self._waste = {
            d.id: _Waste(d, round(self._rng.uniform(10.0, 85.0), 1)) for d in city.waste_containers
        }
        self._oneway_edges = sorted(
            (int(u), int(v)) for u, v, one in city.roads.edges(data="oneway") if one
        )
        self._units: dict[str, PatrolUnit] = {}
        for i, unit_id in enumerate(PATROL_UNIT_IDS[: self.config.units]):
            node = self._rng.choice(city.road_nodes)
            unit = PatrolUnit(unit_id, city, node, self.start)
            self._units[unit_id] = unit
            self._schedule_unit_start(unit, i)
        self._schedule_routines()
        if self.config.situations:
            low, high = self.config.first_situation_after_s
            first = self.config.first_situation
            when = self._after(self.start, self._rng.uniform(low, high))
            self._at(when, self._situation_tick(first, when))

    # --- public API -----------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """Simulated time up to which events have been produced."""
        return self._now

    @property
    def unit_ids(self) -> tuple[str, ...]:
        return tuple(self._units)

    @property
    def situations_started(self) -> dict[str, int]:
        """How many situations of each kind have started so far."""
        return dict(self._started)

    @property
    def situation_log(self) -> tuple[SituationRecord, ...]:
        return tuple(self._log)

    @property
    def events_emitted(self) -> int:
        return self._emitted

    def sensors(self) -> list[Sensor]:
        """The register entries of every device this simulator produces events for."""
        return self.city.sensors()

    def step(self, until: datetime | None = None) -> list[dict[str, Any]]:
        """Every event not returned yet whose time is at or before ``until``, in time order.

        ``until`` defaults to the clock's now. Each dict is a CloudEvents-style envelope that
        :func:`safecity.core.events.parse_event` accepts.
        """
        limit = _aware(until if until is not None else self.clock.now())
        if limit <= self._now:
            return []
        while self._heap and self._heap[0][0] <= limit:
            self._cursor, _, item = heapq.heappop(self._heap)
            if callable(item):
                item()
            else:
                self._emitted += 1
                self._out.append({"id": f"{self._id_prefix}-{self._emitted:07d}", **item})
        self._now = limit
        out, self._out = self._out, []
        return out

    def trigger(
        self,
        kind: str,
        *,
        at: datetime | None = None,
        lon: float | None = None,
        lat: float | None = None,
    ) -> None:
        """Start a situation of ``kind`` at ``at`` (default: now), near (lon, lat) if given."""
        if kind not in SITUATION_KINDS:
            raise ValueError(f"unknown situation {kind!r}; known: {', '.join(SITUATION_KINDS)}")
        if (lon is None) != (lat is None):
            raise ValueError("give both lon and lat, or neither")
        when = self._not_past(at)
        where = (lon, lat) if lon is not None and lat is not None else None
        self._at(when, lambda: self._start_situation(kind, when, where))

    def dispatch(
        self,
        unit_id: str,
        lon: float,
        lat: float,
        *,
        at: datetime | None = None,
        incident_id: str | None = None,
    ) -> None:
        """Send a unit (blue lights) to the road node nearest (lon, lat).

        It reports dispatched, en_route, on_scene on arrival, and available again after a
        while on scene; then it resumes patrolling.
        """
        unit = self._units.get(unit_id)
        if unit is None:
            raise ValueError(f"unknown unit {unit_id!r}; known: {', '.join(self._units)}")
        when = self._not_past(at)
        self._at(when, lambda: self._dispatch(unit, lon, lat, when, incident_id))

    # --- scheduling -----------------------------------------------------------------------------

    def _not_past(self, at: datetime | None) -> datetime:
        when = _aware(at or self._now)
        if when < self._now:
            raise ValueError("cannot schedule before the simulator's current time")
        return when

    def _push(self, when: datetime, item: Action | dict[str, Any]) -> None:
        if when < self._cursor:  # would break time order and step-size independence
            raise RuntimeError(f"scheduled at {when} while at {self._cursor}")
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, item))

    def _at(self, when: datetime, action: Action) -> None:
        self._push(when, action)

    @staticmethod
    def _after(when: datetime, seconds: float) -> datetime:
        return when + timedelta(milliseconds=round(seconds * 1000))

    def _emit(
        self,
        when: datetime,
        type_name: str,
        source: str,
        data: dict[str, Any],
        *,
        lon: float,
        lat: float,
        accuracy_m: float | None = None,
        severity: str = _MINOR,
        confidence: float = 1.0,
        subject: str | None = None,
    ) -> None:
        location: dict[str, float] = {"lon": round(lon, 7), "lat": round(lat, 7)}
        if accuracy_m is not None:
            location["accuracy_m"] = round(accuracy_m, 1)
        event: dict[str, Any] = {
            "source": source,
            "type": type_name,
            "time": rfc3339(when),
            "location": location,
            "severity": severity,
            "confidence": round(min(1.0, max(0.0, confidence)), 3),
            "data": data,
        }
        if subject is not None:
            event["subject"] = subject
        self._push(when, event)

    def _emit_device(
        self,
        when: datetime,
        type_name: str,
        device: Device,
        data: dict[str, Any],
        *,
        severity: str = _MINOR,
        confidence: float = 1.0,
        accuracy_m: float | None = None,
        lon: float | None = None,
        lat: float | None = None,
    ) -> None:
        self._emit(
            when,
            type_name,
            device.source,
            data,
            lon=device.lon if lon is None else lon,
            lat=device.lat if lat is None else lat,
            accuracy_m=accuracy_m,
            severity=severity,
            confidence=confidence,
            subject=device.id,
        )

    def _every(self, first: datetime, interval: float, action: Callable[[datetime], None]) -> None:
        def run_at(when: datetime) -> Action:
            def run() -> None:
                action(when)
                nxt = self._after(when, interval)
                self._at(nxt, run_at(nxt))

            return run

        self._at(first, run_at(first))

    def _schedule_routines(self) -> None:
        cfg = self.config
        start = self.start
        if self.city.cameras and cfg.camera_motion_per_hour > 0:
            first = self._after(start, self._motion_gap(start))
            self._at(first, self._motion(first))
        for i, sensor in enumerate(self.city.noise_sensors):
            phase = cfg.noise_interval_s * (i + 0.5) / len(self.city.noise_sensors)
            self._every(
                self._after(start, phase), cfg.noise_interval_s, self._noise_reading(sensor)
            )
        for i, counter in enumerate(self.city.crowd_counters):
            phase = cfg.crowd_interval_s * (i + 0.5) / len(self.city.crowd_counters)
            self._every(
                self._after(start, phase), cfg.crowd_interval_s, self._crowd_reading(counter)
            )
        for i, bin_ in enumerate(self._waste.values()):
            phase = cfg.waste_interval_s * (i + 0.5) / len(self._waste)
            self._every(self._after(start, phase), cfg.waste_interval_s, self._waste_reading(bin_))
        self._every(
            self._after(start, cfg.lamp_check_interval_s),
            cfg.lamp_check_interval_s,
            self._lamp_check,
        )
        for bollard in self.city.bollards:
            low, high = cfg.bollard_cycle_s
            when = self._after(start, self._rng.uniform(low / 4, high))
            self._at(when, self._bollard_cycle(bollard, when))

    # --- routine feeds --------------------------------------------------------------------------

    def _activity(self, when: datetime) -> float:
        """How busy the streets are, 0.2 (small hours) to 1.0 (afternoon), by solar time."""
        hour = solar_hour(when, self.city.centre.lon)
        return 0.6 - 0.4 * math.cos(2 * math.pi * (hour - 3.0) / 24.0)

    def _motion_gap(self, when: datetime) -> float:
        rate = len(self.city.cameras) * self.config.camera_motion_per_hour / 3600.0
        return self._rng.expovariate(rate * self._activity(when))

    def _motion(self, when: datetime) -> Action:
        def run() -> None:
            camera = self._rng.choice(self.city.cameras)
            self._emit_device(
                when,
                "camera.motion",
                camera,
                {"camera_id": camera.id},
                confidence=self._rng.uniform(0.6, 0.99),
            )
            nxt = self._after(when, max(0.001, self._motion_gap(when)))
            self._at(nxt, self._motion(nxt))

        return run

    def _noise_reading(self, sensor: Device) -> Callable[[datetime], None]:
        def read(when: datetime) -> None:
            self._emit_noise(sensor, when)

        return read

    def _emit_noise(self, sensor: Device, when: datetime) -> None:
        laeq = 46.0 + 18.0 * self._activity(when) + self._noise_bias[sensor.id]
        laeq += self._rng.gauss(0.0, 1.5)
        boost = self._noise_boost.get(sensor.id)
        if boost is not None and boost.start <= when <= boost.end:
            laeq = max(laeq, boost.peak + self._rng.gauss(0.0, 1.0))
        laeq = min(130.0, max(30.0, laeq))
        severity = _MODERATE if laeq >= 85.0 else _MINOR
        self._emit_device(
            when,
            "noise.level",
            sensor,
            {
                "sensor_id": sensor.id,
                "laeq_db": round(laeq, 1),
                "lamax_db": round(min(140.0, laeq + self._rng.uniform(8.0, 18.0)), 1),
                "window_s": self.config.noise_interval_s,
            },
            severity=severity,
            confidence=0.95,
        )

    def _crowd_reading(self, counter: Device) -> Callable[[datetime], None]:
        def read(when: datetime) -> None:
            self._emit_crowd(counter, when)

        return read

    def _emit_crowd(self, counter: Device, when: datetime) -> None:
        capacity = counter.capacity or 1000
        fraction = 0.08 * self._activity(when) * self._rng.uniform(0.8, 1.2)
        boost = self._crowd_boost.get(counter.id)
        if boost is not None and boost.start <= when <= boost.end:
            fraction = max(fraction, _ramp(boost, when) * self._rng.uniform(0.97, 1.03))
        count = max(0, round(capacity * fraction))
        severity = _MINOR
        if count >= capacity:
            severity = _SEVERE
        elif count >= 0.9 * capacity:
            severity = _MODERATE
        self._emit_device(
            when,
            "crowd.count",
            counter,
            {
                "sensor_id": counter.id,
                "count": count,
                "area_m2": counter.area_m2,
                "capacity": capacity,
            },
            severity=severity,
            confidence=0.9,
        )

    def _waste_reading(self, bin_: _Waste) -> Callable[[datetime], None]:
        def read(when: datetime) -> None:
            if bin_.hot:
                return  # the overheating situation reports every minute itself
            if bin_.collection_due and bin_.fill >= 95.0:
                bin_.fill = round(self._rng.uniform(2.0, 8.0), 1)  # emptied by the round
                bin_.collection_due = False
            else:
                bin_.fill = round(min(100.0, bin_.fill + self._rng.uniform(0.2, 2.0)), 1)
                bin_.collection_due = bin_.fill >= 95.0
            bin_.temperature = round(self.air_temperature(when) + self._rng.uniform(0.0, 3.0), 1)
            self._emit_waste(bin_, when)

        return read

    def _emit_waste(self, bin_: _Waste, when: datetime) -> None:
        severity = _MINOR
        if bin_.temperature >= 70.0:
            severity = _SEVERE
        elif bin_.fill >= 90.0:
            severity = _MODERATE
        self._emit_device(
            when,
            "waste.fill_level",
            bin_.device,
            {
                "container_id": bin_.device.id,
                "fill_pct": bin_.fill,
                "temperature_c": bin_.temperature,
            },
            severity=severity,
            confidence=0.95,
        )

    def air_temperature(self, when: datetime) -> float:
        """A plausible Helsinki air temperature (°C) by day of year and hour."""
        day = when.timetuple().tm_yday
        seasonal = 6.0 - 11.0 * math.cos(2 * math.pi * (day - 20) / 365.0)
        return seasonal + 3.0 * (self._activity(when) - 0.6)

    def _lamp_target(self, lamp: _Lamp, when: datetime) -> float:
        centre = self.city.centre
        return _lamp_level(
            lamp, sun_elevation_deg(when, centre.lon, centre.lat), solar_hour(when, centre.lon)
        )

    def _lamp_check(self, when: datetime) -> None:
        # One sun position for the whole centre: across 2 km it differs by ~0.02 degrees.
        centre = self.city.centre
        elevation = sun_elevation_deg(when, centre.lon, centre.lat)
        hour = solar_hour(when, centre.lon)
        for lamp in self._lamps.values():
            target = _lamp_level(lamp, elevation, hour)
            if lamp.held_until is not None:
                if when < lamp.held_until:
                    continue
                lamp.held_until = None
            if lamp.faulty or target == lamp.level:
                continue
            if lamp.level == 0.0:
                reason = "dusk"
            elif target == 0.0:
                reason = "dawn"
            elif target < lamp.level:
                reason = "night dimming"
            else:
                reason = "night dimming ended"
            lamp.level = target
            self._emit_device(
                when,
                "lamp.light_level",
                lamp.device,
                {"lamp_id": lamp.device.id, "level_pct": target, "reason": reason},
                accuracy_m=1.0,
            )

    # --- commands from the platform (a person's, or a configured automation's) ---------------

    def command_lamp(self, lamp_id: str, level_pct: int, *, hold_s: float = 900.0) -> bool:
        """Set a lamp's light level now and hold it for ``hold_s``; False if it cannot (a
        faulty lamp does not obey). The lamp reports its new level, as a real one would."""
        lamp = self._lamps.get(lamp_id)
        if lamp is None or lamp.faulty:
            return False
        when = self._now
        lamp.level = float(level_pct)
        lamp.held_until = when + timedelta(seconds=hold_s)
        self._emit_device(
            when,
            "lamp.light_level",
            lamp.device,
            {"lamp_id": lamp_id, "level_pct": float(level_pct), "reason": "command"},
            accuracy_m=1.0,
        )
        return True

    def command_bollard(self, bollard_id: str, position: str) -> bool:
        """Move a bollard ``up`` (closed to vehicles) or ``down`` now; it reports its state."""
        bollard = next((b for b in self.city.bollards if b.id == bollard_id), None)
        if bollard is None or position not in ("up", "down"):
            return False
        self._emit_bollard(bollard, self._now, p.BollardPosition(position), forced=False)
        return True

    def _bollard_cycle(self, bollard: Device, when: datetime) -> Action:
        def run() -> None:
            self._emit_bollard(bollard, when, p.BollardPosition.DOWN, forced=False)
            up = self._after(when, self._rng.uniform(60.0, 240.0))
            self._at(up, lambda: self._emit_bollard(bollard, up, p.BollardPosition.UP, False))
            low, high = self.config.bollard_cycle_s
            nxt = self._after(when, self._rng.uniform(low, high))
            self._at(nxt, self._bollard_cycle(bollard, nxt))

        return run

    def _emit_bollard(
        self, bollard: Device, when: datetime, state: p.BollardPosition, forced: bool
    ) -> None:
        severity = _MODERATE if forced or state is p.BollardPosition.FAULT else _MINOR
        self._emit_device(
            when,
            "access.bollard_state",
            bollard,
            {"bollard_id": bollard.id, "state": state.value, "forced": forced},
            severity=severity,
            accuracy_m=1.0,
        )

    # --- patrol units ---------------------------------------------------------------------------

    def _schedule_unit_start(self, unit: PatrolUnit, index: int) -> None:
        first = self._after(self.start, 0.2 * index)
        self._at(first, lambda: self._unit_status(unit, first))
        interval = self.config.unit_position_interval_s
        phase = interval * (index + 0.5) / max(1, self.config.units)
        self._every(self._after(self.start, phase), interval, self._unit_tick(unit))
        low, high = self.config.unit_break_every_s
        brk = self._after(self.start, self._rng.uniform(low, high))
        self._at(brk, self._unit_break(unit, brk))

    def _patrol_factor(self) -> float:
        return self._rng.uniform(1.3, 1.8)

    def _unit_tick(self, unit: PatrolUnit) -> Callable[[datetime], None]:
        def tick(when: datetime) -> None:
            if unit.status is p.UnitState.AVAILABLE and when >= max(unit.end_time, unit.idle_until):
                unit.wait_until(when)
                target = self._rng.choice(self.city.road_nodes)
                unit.plan_route(target, self._patrol_factor())
                unit.idle_until = unit.end_time + timedelta(seconds=self._rng.uniform(0.0, 90.0))
            fix = unit.fix(when)
            data: dict[str, Any] = {"unit_id": unit.id, "speed_kmh": fix.speed_kmh}
            if fix.heading_deg is not None:
                data["heading_deg"] = fix.heading_deg
            self._emit(
                when,
                "unit.position",
                _unit_source(unit.id),
                data,
                lon=fix.lon,
                lat=fix.lat,
                accuracy_m=5.0,
                subject=unit.id,
            )

        return tick

    def _unit_status(self, unit: PatrolUnit, when: datetime) -> None:
        fix = unit.fix(when)
        data: dict[str, Any] = {"unit_id": unit.id, "status": unit.status.value}
        if unit.incident_id is not None:
            data["incident_id"] = unit.incident_id
        self._emit(
            when,
            "unit.status",
            _unit_source(unit.id),
            data,
            lon=fix.lon,
            lat=fix.lat,
            accuracy_m=5.0,
            subject=unit.id,
        )

    def _unit_break(self, unit: PatrolUnit, when: datetime) -> Action:
        def run() -> None:
            low, high = self.config.unit_break_every_s
            if unit.status is not p.UnitState.AVAILABLE:
                later = self._after(when, self._rng.uniform(300.0, 900.0))
                self._at(later, self._unit_break(unit, later))
                return
            unit.version += 1
            version = unit.version
            unit.stop_at_next_node(when)
            unit.status = p.UnitState.UNAVAILABLE
            self._unit_status(unit, when)
            b_low, b_high = self.config.unit_break_length_s
            back = self._after(when, self._rng.uniform(b_low, b_high))

            def resume() -> None:
                if unit.version != version:
                    return
                unit.status = p.UnitState.AVAILABLE
                unit.idle_until = back
                self._unit_status(unit, back)

            self._at(back, resume)
            nxt = self._after(back, self._rng.uniform(low, high))
            self._at(nxt, self._unit_break(unit, nxt))

        return run

    def _dispatch(
        self, unit: PatrolUnit, lon: float, lat: float, when: datetime, incident_id: str | None
    ) -> None:
        unit.version += 1
        version = unit.version
        unit.stop_at_next_node(when)
        unit.status = p.UnitState.DISPATCHED
        unit.incident_id = incident_id
        self._unit_status(unit, when)
        target = self.city.nearest_node(lon, lat)
        arrival = max(unit.plan_route(target, 0.75), self._after(when, 1.0))
        en_route = min(self._after(when, self._rng.uniform(5.0, 20.0)), arrival)

        def go() -> None:
            if unit.version == version:
                unit.status = p.UnitState.EN_ROUTE
                self._unit_status(unit, en_route)

        def arrive() -> None:
            if unit.version == version:
                unit.status = p.UnitState.ON_SCENE
                self._unit_status(unit, arrival)

        low, high = self.config.on_scene_s
        clear_at = self._after(arrival, self._rng.uniform(low, high))

        def clear() -> None:
            if unit.version == version:
                unit.status = p.UnitState.AVAILABLE
                unit.incident_id = None
                unit.idle_until = clear_at
                self._unit_status(unit, clear_at)

        self._at(en_route, go)
        self._at(arrival, arrive)
        self._at(clear_at, clear)

    # --- situations -----------------------------------------------------------------------------

    def _situation_tick(self, kind: str | None, when: datetime) -> Action:
        def run() -> None:
            chosen = kind or self._pick_kind()
            self._start_situation(chosen, when, None)
            low, high = self.config.situation_interval_s
            nxt = self._after(when, self._rng.uniform(low, high))
            self._at(nxt, self._situation_tick(None, nxt))

        return run

    def _pick_kind(self) -> str:
        kinds = [k for k, w in self.config.situation_weights if w > 0]
        weights = [w for _, w in self.config.situation_weights if w > 0]
        return self._rng.choices(kinds, weights=weights)[0]

    def _start_situation(
        self, kind: str, when: datetime, where: tuple[float, float] | None
    ) -> None:
        starters: dict[str, _Starter] = {
            SHOOTING: self._shooting,
            FIRE: self._fire,
            FIGHT: self._fight,
            FALL: self._fall,
            LAMP_FAULT: self._lamp_fault,
            WRONG_WAY: self._wrong_way,
            WASTE_OVERHEAT: self._waste_overheat,
            CROWD_SURGE: self._crowd_surge,
            NOISE_DISTURBANCE: self._noise_disturbance,
            BOLLARD_FORCED: self._bollard_forced,
        }
        record = starters[kind](when, where)
        if record is not None:
            self._started[kind] += 1
            self._log.append(record)

    def _near(self, lon: float, lat: float, low_m: float, high_m: float) -> tuple[float, float]:
        """A random point between ``low_m`` and ``high_m`` from (lon, lat), inside the bbox."""
        for _ in range(20):
            angle = self._rng.uniform(0.0, 2 * math.pi)
            dist = self._rng.uniform(low_m, high_m)
            x, y = offset(lon, lat, dist * math.sin(angle), dist * math.cos(angle))
            if self.city.contains(x, y):
                return x, y
        return lon, lat

    def _place(
        self,
        where: tuple[float, float] | None,
        anchors: tuple[Device, ...],
        low_m: float,
        high_m: float,
    ) -> tuple[float, float]:
        if where is not None:
            return where
        anchor = self._rng.choice(anchors)
        return self._near(anchor.lon, anchor.lat, low_m, high_m)

    def _street(self, lon: float, lat: float) -> str:
        return self.city.nearest_street(lon, lat) or self.city.name

    def _call(
        self,
        when: datetime,
        lon: float,
        lat: float,
        *,
        category: p.CallCategory,
        nature: str,
        agency: str,
        priority: str = "A",
        severity: str = _SEVERE,
    ) -> None:
        self._cad += 1
        cad_id = f"ERC-{when:%Y%m%d}-{self._cad:05d}"
        x, y = self._near(lon, lat, 10.0, 60.0)
        self._emit(
            when,
            "call.emergency",
            ERC_SOURCE,
            {
                "cad_id": cad_id,
                "category": category.value,
                "nature": nature,
                "priority_code": priority,
                "agency": agency,
                "address": self._street(lon, lat),
                "caller_ref": f"caller-{self._rng.getrandbits(32):08x}",
            },
            lon=x,
            lat=y,
            accuracy_m=self._rng.uniform(15.0, 80.0),
            severity=severity,
            confidence=0.9,
            subject=cad_id,
        )

    def _report(
        self,
        when: datetime,
        lon: float,
        lat: float,
        category: p.ReportCategory,
        description: str,
        *,
        severity: str = _MODERATE,
    ) -> None:
        x, y = self._near(lon, lat, 10.0, 80.0)
        self._emit(
            when,
            "citizen.report",
            CITIZEN_APP_SOURCE,
            {
                "category": category.value,
                "description": description,
                "channel": "app",
                "reporter_ref": f"reporter-{self._rng.getrandbits(32):08x}",
                "media_count": self._rng.choice((0, 0, 1, 2)),
            },
            lon=x,
            lat=y,
            accuracy_m=self._rng.uniform(20.0, 100.0),
            severity=severity,
            confidence=self._rng.uniform(0.5, 0.7),
        )

    def _shooting(
        self, when: datetime, where: tuple[float, float] | None
    ) -> SituationRecord | None:
        """Shots fired: the lamppost acoustic sensors nearby hear every round (and some hear an
        echo off a facade); the platform's own localiser has to find the shooter from the
        arrival times. A camera sees people running; a call and a citizen report follow."""
        if not self.city.acoustic_sensors:
            return None
        lon, lat = self._place(where, self.city.acoustic_sensors, 20.0, 120.0)
        wanted = self._rng.randint(5, 8)
        heard = self.city.nearest(self.city.acoustic_sensors, lon, lat, k=wanted, max_m=700.0)
        if len(heard) < 4:
            heard = self.city.nearest(self.city.acoustic_sensors, lon, lat, k=4)
        rounds = self._rng.choice((1, 2, 2, 3, 3, 4, 5, 6))
        # The speed of sound follows the air temperature, as it does for the real network.
        speed = 20.05 * math.sqrt(self.air_temperature(when) + 273.15)
        shot = when
        for _ in range(rounds):
            for dist, sensor in heard:
                if dist > 250.0 and self._rng.random() < 0.1:
                    continue  # a far sensor shadowed by buildings misses this round
                delay = dist / speed + self._rng.gauss(0.0, 0.0004)
                arrival = shot + timedelta(microseconds=round(max(delay, 0.0) * 1e6))
                peak = 150.0 - 20.0 * math.log10(max(dist, 1.0)) + self._rng.gauss(0.0, 2.0)
                self._pulse(sensor, arrival, peak)
                if self._rng.random() < 0.35:
                    echo = arrival + timedelta(seconds=self._rng.uniform(0.03, 0.3))
                    self._pulse(sensor, echo, peak - self._rng.uniform(6.0, 15.0))
            shot += timedelta(seconds=self._rng.uniform(0.3, 1.2))
        seen = self.city.nearest(self.city.cameras, lon, lat, k=1, max_m=150.0)
        if seen:
            camera = seen[0][1]
            x, y = self._near(lon, lat, 5.0, 30.0)
            self._emit_device(
                self._after(when, self._rng.uniform(3.0, 20.0)),
                "camera.abnormal",
                camera,
                {
                    "camera_id": camera.id,
                    "zone": "field of view",
                    "behaviour": p.AbnormalBehaviour.RUNNING.value,
                    "description": "People running away",
                },
                lon=x,
                lat=y,
                accuracy_m=30.0,
                severity=_SEVERE,
                confidence=self._rng.uniform(0.6, 0.85),
            )
        street = self._street(lon, lat)
        self._call(
            self._after(when, self._rng.uniform(30.0, 90.0)),
            lon,
            lat,
            category=p.CallCategory.SHOOTING,
            nature="Shots fired",
            agency=AGENCY_POLICE,
        )
        bangs = "a loud bang" if rounds == 1 else f"{rounds} loud bangs"
        self._report(
            self._after(when, self._rng.uniform(60.0, 180.0)),
            lon,
            lat,
            p.ReportCategory.SHOTS,
            f"Heard {bangs} near {street}, people running.",
        )
        return SituationRecord(SHOOTING, when, lon, lat, f"Shots fired near {street}")

    def _pulse(self, sensor: Device, arrival: datetime, peak_db: float) -> None:
        self._emit_device(
            arrival,
            "acoustic.pulse",
            sensor,
            {
                "sensor_id": sensor.id,
                "arrival_time": rfc3339(arrival, micros=True),
                "peak_db": round(min(180.0, max(40.0, peak_db)), 1),
                # Street background is about 55-65 dB(A): what is left is the margin.
                "snr_db": round(max(0.0, peak_db - self._rng.uniform(55.0, 65.0)), 1),
                "classification": "gunfire-like",
            },
            severity=_MODERATE,
            confidence=self._rng.uniform(0.55, 0.8),
            accuracy_m=1.0,
        )

    def _fire(self, when: datetime, where: tuple[float, float] | None) -> SituationRecord | None:
        if not self.city.cameras:
            return None
        lon, lat = self._place(where, self.city.cameras, 15.0, 50.0)
        seen = self.city.nearest(self.city.cameras, lon, lat, k=self._rng.randint(1, 2), max_m=90.0)
        if not seen:
            seen = self.city.nearest(self.city.cameras, lon, lat, k=1)
        t = when
        for i, (_, camera) in enumerate(seen):
            delay = self._rng.uniform(5.0, 20.0) if i == 0 else self._rng.uniform(5.0, 30.0)
            t = self._after(t, delay)
            self._camera_fire(camera, t, lon, lat, p.FireOrSmoke.SMOKE)
        first_camera = seen[0][1]
        self._camera_fire(
            first_camera,
            self._after(t, self._rng.uniform(60.0, 120.0)),
            lon,
            lat,
            p.FireOrSmoke.FIRE,
        )
        nature = self._rng.choice(("Building fire", "Smoke from a building", "Vehicle fire"))
        self._call(
            self._after(when, self._rng.uniform(30.0, 120.0)),
            lon,
            lat,
            category=p.CallCategory.FIRE,
            nature=nature,
            agency=AGENCY_RESCUE,
        )
        street = self._street(lon, lat)
        if self._rng.random() < 0.5:
            self._report(
                self._after(when, self._rng.uniform(60.0, 240.0)),
                lon,
                lat,
                p.ReportCategory.FIRE,
                f"Thick smoke near {street}.",
            )
        return SituationRecord(FIRE, when, lon, lat, f"Fire near {street}")

    def _camera_fire(
        self, camera: Device, when: datetime, lon: float, lat: float, kind: p.FireOrSmoke
    ) -> None:
        x, y = self._near(lon, lat, 0.0, 10.0)
        self._emit_device(
            when,
            "camera.fire_smoke",
            camera,
            {"camera_id": camera.id, "zone": "field of view", "kind": kind.value},
            lon=x,
            lat=y,
            accuracy_m=30.0,
            severity=_SEVERE,
            confidence=self._rng.uniform(0.7, 0.92),
        )

    def _fight(self, when: datetime, where: tuple[float, float] | None) -> SituationRecord | None:
        if not self.city.cameras:
            return None
        lon, lat = self._place(where, self.city.cameras, 10.0, 40.0)
        camera = self.city.nearest(self.city.cameras, lon, lat)[0][1]
        x, y = self._near(lon, lat, 0.0, 10.0)
        self._emit_device(
            self._after(when, self._rng.uniform(0.0, 5.0)),
            "camera.abnormal",
            camera,
            {
                "camera_id": camera.id,
                "zone": "field of view",
                "behaviour": p.AbnormalBehaviour.FIGHT.value,
                "description": "Several people fighting",
            },
            lon=x,
            lat=y,
            accuracy_m=25.0,
            severity=_MODERATE,
            confidence=self._rng.uniform(0.65, 0.9),
        )
        button = self.city.nearest(self.city.emergency_buttons, lon, lat, max_m=250.0)
        if button:
            device = button[0][1]
            self._emit_device(
                self._after(when, self._rng.uniform(10.0, 60.0)),
                "lamp.emergency_button",
                device,
                {"lamp_id": self.city.lamp_of(device).id, "voice_channel_open": True},
                severity=_MODERATE,
                accuracy_m=1.0,
            )
        street = self._street(lon, lat)
        if self._rng.random() < 0.5:
            self._call(
                self._after(when, self._rng.uniform(60.0, 150.0)),
                lon,
                lat,
                category=p.CallCategory.ASSAULT,
                nature="Fight in the street",
                agency=AGENCY_POLICE,
                priority="B",
                severity=_MODERATE,
            )
        return SituationRecord(FIGHT, when, lon, lat, f"Fight near {street}")

    def _fall(self, when: datetime, where: tuple[float, float] | None) -> SituationRecord | None:
        if not self.city.cameras:
            return None
        lon, lat = self._place(where, self.city.cameras, 5.0, 30.0)
        camera = self.city.nearest(self.city.cameras, lon, lat)[0][1]
        x, y = self._near(lon, lat, 0.0, 8.0)
        self._emit_device(
            self._after(when, self._rng.uniform(0.0, 5.0)),
            "camera.abnormal",
            camera,
            {
                "camera_id": camera.id,
                "zone": "field of view",
                "behaviour": p.AbnormalBehaviour.FALL.value,
                "description": "Person fell and has not got up",
            },
            lon=x,
            lat=y,
            accuracy_m=20.0,
            severity=_MODERATE,
            confidence=self._rng.uniform(0.6, 0.9),
        )
        street = self._street(lon, lat)
        if self._rng.random() < 0.7:
            self._call(
                self._after(when, self._rng.uniform(30.0, 120.0)),
                lon,
                lat,
                category=p.CallCategory.MEDICAL,
                nature="Person collapsed",
                agency=AGENCY_RESCUE,
                priority="B",
                severity=_MODERATE,
            )
        return SituationRecord(FALL, when, lon, lat, f"Person fallen near {street}")

    def _lamp_fault(
        self, when: datetime, where: tuple[float, float] | None
    ) -> SituationRecord | None:
        if not self._lamps:
            return None
        if where is None:
            first = self._rng.choice(self.city.lamps)
        else:
            first = self.city.nearest(self.city.lamps, *where)[0][1]
        kind = self._rng.choices(
            (
                p.LampFaultKind.LAMP_OUT,
                p.LampFaultKind.POWER,
                p.LampFaultKind.TILT,
                p.LampFaultKind.DOOR_OPEN,
            ),
            weights=(5, 2, 1, 1),
        )[0]
        if kind is p.LampFaultKind.POWER:
            hit = [
                d
                for _, d in self.city.nearest(
                    self.city.lamps, first.lon, first.lat, k=self._rng.randint(3, 5)
                )
            ]
        else:
            hit = [first]
        dark = self._lamps[first.id].level > 0
        t = when
        for lamp in hit:
            state = self._lamps[lamp.id]
            if kind in (p.LampFaultKind.LAMP_OUT, p.LampFaultKind.POWER):
                state.faulty = True
                state.level = 0.0
            self._emit_device(
                t,
                "lamp.fault",
                lamp,
                {"lamp_id": lamp.id, "fault": kind.value},
                severity=_MINOR,
                accuracy_m=1.0,
            )
            t = self._after(t, self._rng.uniform(0.1, 1.0))
        repair = self._after(when, self._rng.uniform(1200.0, 3600.0))

        def repaired() -> None:
            for lamp in hit:
                state = self._lamps[lamp.id]
                state.faulty = False
                self._emit_device(
                    repair,
                    "lamp.fault",
                    lamp,
                    {"lamp_id": lamp.id, "fault": kind.value, "cleared": True},
                    accuracy_m=1.0,
                )
                target = self._lamp_target(state, repair)
                if target != state.level:
                    state.level = target
                    self._emit_device(
                        repair,
                        "lamp.light_level",
                        lamp,
                        {"lamp_id": lamp.id, "level_pct": target, "reason": "repaired"},
                        accuracy_m=1.0,
                    )

        self._at(repair, repaired)
        street = self._street(first.lon, first.lat)
        if dark and kind is not p.LampFaultKind.TILT and self._rng.random() < 0.5:
            self._report(
                self._after(when, self._rng.uniform(300.0, 1200.0)),
                first.lon,
                first.lat,
                p.ReportCategory.LIGHTING,
                f"Street lights out on {street}.",
                severity=_MINOR,
            )
        label = f"Street lamp fault ({kind.value}, {len(hit)} lamps) near {street}"
        return SituationRecord(LAMP_FAULT, when, first.lon, first.lat, label)

    def _wrong_way(
        self, when: datetime, where: tuple[float, float] | None
    ) -> SituationRecord | None:
        pick: tuple[int, int, Device] | None = None
        candidates = list(self._oneway_edges)
        if where is not None:
            candidates.sort(key=lambda e: self._edge_distance(e, *where))
            candidates = candidates[:10]
        for _ in range(60):
            if not candidates:
                break
            u, v = self._rng.choice(candidates)
            mid = self._midpoint(u, v)
            seen = self.city.nearest(self.city.cameras, *mid, max_m=60.0)
            if seen:
                pick = (u, v, seen[0][1])
                break
        if pick is None:
            return None
        u, v, camera = pick
        lon, lat = self._midpoint(u, v)
        speed = round(self._rng.uniform(25.0, 50.0), 1)
        vehicle = self._rng.choice(("car", "car", "van", "motorcycle"))
        self._emit_device(
            when,
            "camera.vehicle",
            camera,
            {
                "camera_id": camera.id,
                "zone": "carriageway",
                "vehicle_class": vehicle,
                "speed_kmh": speed,
                "wrong_way": True,
                "stopped": False,
            },
            lon=lon,
            lat=lat,
            accuracy_m=20.0,
            severity=_SEVERE,
            confidence=self._rng.uniform(0.75, 0.95),
        )
        # The vehicle goes against the edge: from v towards u; a camera there may see it too.
        ahead_lon, ahead_lat = self.city.node_position(u)
        more = [
            (d, c)
            for d, c in self.city.nearest(self.city.cameras, ahead_lon, ahead_lat, k=3, max_m=150.0)
            if c.id != camera.id
        ]
        if more:
            dist, second = more[0]
            seen_at = self._after(when, (dist + 20.0) / (speed / 3.6))
            self._emit_device(
                seen_at,
                "camera.vehicle",
                second,
                {
                    "camera_id": second.id,
                    "zone": "carriageway",
                    "vehicle_class": vehicle,
                    "speed_kmh": round(speed * self._rng.uniform(0.8, 1.2), 1),
                    "wrong_way": True,
                    "stopped": False,
                },
                lon=ahead_lon,
                lat=ahead_lat,
                accuracy_m=25.0,
                severity=_SEVERE,
                confidence=self._rng.uniform(0.7, 0.9),
            )
        road = self.city.roads.edges[u, v].get("name") or self._street(lon, lat)
        self._emit(
            self._after(when, self._rng.uniform(20.0, 60.0)),
            "traffic.incident",
            TRAFFIC_CENTRE_SOURCE,
            {
                "kind": p.TrafficIncidentKind.WRONG_WAY.value,
                "lanes_blocked": 0,
                "road_name": str(road),
                "injuries_reported": False,
            },
            lon=lon,
            lat=lat,
            accuracy_m=50.0,
            severity=_SEVERE,
            confidence=0.8,
        )
        if self._rng.random() < 0.4:
            self._call(
                self._after(when, self._rng.uniform(30.0, 90.0)),
                lon,
                lat,
                category=p.CallCategory.TRAFFIC,
                nature="Vehicle driving the wrong way",
                agency=AGENCY_POLICE,
            )
        return SituationRecord(WRONG_WAY, when, lon, lat, f"Wrong-way vehicle on {road}")

    def _midpoint(self, u: int, v: int) -> tuple[float, float]:
        (x0, y0), (x1, y1) = self.city.node_position(u), self.city.node_position(v)
        return (x0 + x1) / 2, (y0 + y1) / 2

    def _edge_distance(self, edge: tuple[int, int], lon: float, lat: float) -> float:
        a, b = self.city.node_position(edge[0]), self.city.node_position(edge[1])
        return segment_distance_m(lon, lat, a, b)

    def _waste_overheat(
        self, when: datetime, where: tuple[float, float] | None
    ) -> SituationRecord | None:
        bins = [b for b in self._waste.values() if not b.hot]
        if not bins:
            return None
        if where is None:
            bin_ = self._rng.choice(bins)
        else:
            devices = tuple(b.device for b in bins)
            nearest = self.city.nearest(devices, *where)[0][1]
            bin_ = self._waste[nearest.id]
        bin_.hot = True
        temperature = self._rng.uniform(72.0, 80.0)
        readings = self._rng.randint(5, 8)
        for i in range(readings):
            at = self._after(when, 60.0 * i)
            value = round(temperature, 1)

            def read(at: datetime = at, value: float = value) -> None:
                bin_.temperature = value
                self._emit_waste(bin_, at)

            self._at(at, read)
            temperature = min(400.0, temperature + self._rng.uniform(4.0, 12.0))
        done = self._after(when, 60.0 * readings + self._rng.uniform(300.0, 600.0))

        def cooled() -> None:
            bin_.hot = False
            bin_.temperature = round(self.air_temperature(done) + 15.0, 1)
            self._emit_waste(bin_, done)

        self._at(done, cooled)
        device = bin_.device
        street = self._street(device.lon, device.lat)
        if self._rng.random() < 0.5:
            self._report(
                self._after(when, self._rng.uniform(120.0, 360.0)),
                device.lon,
                device.lat,
                p.ReportCategory.FIRE,
                f"Smoke coming out of a bin on {street}.",
            )
        return SituationRecord(
            WASTE_OVERHEAT, when, device.lon, device.lat, f"Waste container overheating on {street}"
        )

    def _crowd_surge(
        self, when: datetime, where: tuple[float, float] | None
    ) -> SituationRecord | None:
        free = [
            c for c in self.city.crowd_counters if not self._boosted(self._crowd_boost, c, when)
        ]
        if not free:
            return None
        counter = self._rng.choice(free) if where is None else self.city.nearest(free, *where)[0][1]
        boost = _Boost(
            start=when,
            peak_until=self._after(when, self._rng.uniform(360.0, 600.0)),
            end=self._after(when, self._rng.uniform(720.0, 1200.0)),
            peak=self._rng.uniform(1.02, 1.25),
        )
        self._crowd_boost[counter.id] = boost
        self._emit_crowd(counter, when)
        camera = self.city.nearest(self.city.cameras, counter.lon, counter.lat, max_m=200.0)
        if camera:
            density = round(self._rng.uniform(2.5, 4.5), 1)
            area = counter.area_m2 or 1000.0
            self._emit_device(
                self._after(when, self._rng.uniform(10.0, 60.0)),
                "camera.crowd_density",
                camera[0][1],
                {
                    "camera_id": camera[0][1].id,
                    "zone": "square",
                    "persons": round(density * min(area, 800.0)),
                    "persons_per_m2": density,
                },
                lon=counter.lon,
                lat=counter.lat,
                accuracy_m=50.0,
                severity=_MODERATE,
                confidence=self._rng.uniform(0.7, 0.9),
            )
        square = counter.name.rpartition(", ")[2]
        return SituationRecord(
            CROWD_SURGE, when, counter.lon, counter.lat, f"Crowd over capacity at {square}"
        )

    def _noise_disturbance(
        self, when: datetime, where: tuple[float, float] | None
    ) -> SituationRecord | None:
        free = [s for s in self.city.noise_sensors if not self._boosted(self._noise_boost, s, when)]
        if not free:
            return None
        sensor = self._rng.choice(free) if where is None else self.city.nearest(free, *where)[0][1]
        end = self._after(when, self._rng.uniform(600.0, 1200.0))
        self._noise_boost[sensor.id] = _Boost(when, end, end, self._rng.uniform(86.0, 92.0))
        self._emit_noise(sensor, when)
        street = self._street(sensor.lon, sensor.lat)
        self._report(
            self._after(when, self._rng.uniform(180.0, 600.0)),
            sensor.lon,
            sensor.lat,
            p.ReportCategory.NOISE,
            f"Very loud music and shouting on {street}.",
            severity=_MINOR,
        )
        return SituationRecord(
            NOISE_DISTURBANCE, when, sensor.lon, sensor.lat, f"Loud noise on {street}"
        )

    def _bollard_forced(
        self, when: datetime, where: tuple[float, float] | None
    ) -> SituationRecord | None:
        if not self.city.bollards:
            return None
        bollard = (
            self._rng.choice(self.city.bollards)
            if where is None
            else self.city.nearest(self.city.bollards, *where)[0][1]
        )
        self._emit_bollard(bollard, when, p.BollardPosition.DOWN, forced=True)
        later = self._after(when, self._rng.uniform(60.0, 180.0))
        state = p.BollardPosition.FAULT if self._rng.random() < 0.3 else p.BollardPosition.UP
        self._at(later, lambda: self._emit_bollard(bollard, later, state, False))
        street = self._street(bollard.lon, bollard.lat)
        return SituationRecord(
            BOLLARD_FORCED, when, bollard.lon, bollard.lat, f"Bollard forced on {street}"
        )

    @staticmethod
    def _boosted(boosts: dict[str, _Boost], device: Device, when: datetime) -> bool:
        boost = boosts.get(device.id)
        return boost is not None and boost.start <= when <= boost.end


def _ramp(boost: _Boost, when: datetime) -> float:
    """Fraction of capacity during a surge: 0.92 at the start, up to the peak, then down."""
    if when <= boost.peak_until:
        span = max(1.0, (boost.peak_until - boost.start).total_seconds())
        frac = min(1.0, (when - boost.start).total_seconds() / (span / 2))
        return 0.92 + (boost.peak - 0.92) * frac
    span = max(1.0, (boost.end - boost.peak_until).total_seconds())
    frac = (when - boost.peak_until).total_seconds() / span
    return boost.peak - (boost.peak - 0.5) * min(1.0, frac)


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("the simulator needs timezone-aware times")
    return when.astimezone(UTC)


def _lamp_level(lamp: _Lamp, sun_elevation: float, hour: float) -> float:
    """Light level a healthy lamp's photocell and night-dimming schedule ask for."""
    if lamp.faulty or sun_elevation >= lamp.threshold_deg:
        return 0.0
    return 60.0 if lamp.dim_from_h <= hour < lamp.dim_to_h else 100.0


def _unit_source(unit_id: str) -> str:
    return f"{SOURCE_PREFIX}avl:{unit_id}"
