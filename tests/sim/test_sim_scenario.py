"""The seeded demo simulator: valid envelopes, determinism, situations and patrol units."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from safecity.core.catalogue import classify
from safecity.core.clock import ManualClock
from safecity.core.events import Event, parse_event
from safecity.core.geo import haversine_m
from safecity.sim.city import PATROL_UNIT_IDS, SOURCE_PREFIX, DemoCity
from safecity.sim.scenario import (
    SITUATION_KINDS,
    CitySimulator,
    SimConfig,
)

QUIET = SimConfig(situations=False, camera_motion_per_hour=0.0)


def simulate(
    city: DemoCity,
    start: datetime,
    seconds: float,
    seed: int = 7,
    config: SimConfig | None = None,
) -> tuple[CitySimulator, list[dict[str, Any]]]:
    sim = CitySimulator(city, ManualClock(start), seed=seed, config=config)
    return sim, sim.step(start + timedelta(seconds=seconds))


def opening(events: list[dict[str, Any]]) -> list[Event]:
    """Events that may open an incident on their own."""
    out = []
    for raw in events:
        event = parse_event(raw)
        classification = classify(event)
        if classification is not None and classification.opens:
            out.append(event)
    return out


def test_every_event_parses_and_is_well_formed(city: DemoCity, start: datetime) -> None:
    sim, events = simulate(city, start, 1800)
    assert len(events) > 1000
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))
    times = []
    for raw in events:
        event = parse_event(raw)
        assert raw["time"].endswith("Z")
        assert event.source.startswith(SOURCE_PREFIX)
        assert event.location is not None
        assert city.contains(event.location.lon, event.location.lat), raw
        assert start <= event.time <= start + timedelta(seconds=1800)
        times.append(event.time)
    assert times == sorted(times)
    types = Counter(e["type"] for e in events)
    for routine in (
        "camera.motion",
        "noise.level",
        "crowd.count",
        "waste.fill_level",
        "unit.position",
        "unit.status",
    ):
        assert types[routine] > 0, routine
    assert sim.events_emitted == len(events)


def test_same_seed_same_events_other_seed_other_events(city: DemoCity, start: datetime) -> None:
    _, a = simulate(city, start, 600, seed=11)
    _, b = simulate(city, start, 600, seed=11)
    _, c = simulate(city, start, 600, seed=12)
    assert a == b
    assert a != c


def test_step_size_does_not_change_the_events(city: DemoCity, start: datetime) -> None:
    _, whole = simulate(city, start, 300, seed=3)
    sim = CitySimulator(city, ManualClock(start), seed=3)
    pieces: list[dict[str, Any]] = []
    for ms in range(700, 300_001, 700):
        pieces += sim.step(start + timedelta(milliseconds=ms))
    pieces += sim.step(start + timedelta(seconds=300))
    assert pieces == whole
    assert sim.step(start + timedelta(seconds=100)) == []  # the past is not replayed


def test_step_defaults_to_the_clock(city: DemoCity, start: datetime) -> None:
    clock = ManualClock(start)
    sim = CitySimulator(city, clock, seed=1)
    assert sim.step() == []
    clock.advance(timedelta(seconds=30))
    events = sim.step()
    assert events and sim.now == start + timedelta(seconds=30)


@pytest.mark.parametrize("seed", range(8))
def test_an_incident_opens_within_the_first_minute(
    city: DemoCity, start: datetime, seed: int
) -> None:
    sim, events = simulate(city, start, 60, seed=seed)
    # A shooting is heard by acoustic sensors (the platform locates it); a fire is seen.
    evidence = [
        parse_event(e) for e in events if e["type"] in ("acoustic.pulse", "camera.fire_smoke")
    ]
    assert evidence
    assert evidence[0].time <= start + timedelta(seconds=12)
    assert sum(sim.situations_started.values()) == len(sim.situation_log) >= 2


def test_situations_recur_at_the_configured_rate(city: DemoCity, start: datetime) -> None:
    sim, _ = simulate(city, start, 600)
    started = [r.started_at for r in sim.situation_log]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(started)]
    assert all(20.0 <= g <= 40.0 for g in gaps)
    assert 14 <= len(started) <= 31


def test_shooting_is_heard_by_nearby_sensors_in_sound_time(city: DemoCity, start: datetime) -> None:
    sim = CitySimulator(city, ManualClock(start), seed=5, config=QUIET)
    square = city.landmark("Rautatientori")
    assert square is not None
    sim.trigger("shooting", lon=square.lon, lat=square.lat)
    events = [
        e
        for e in sim.step(start + timedelta(minutes=5))
        if e["type"]
        not in (
            "unit.position",
            "unit.status",
            "noise.level",
            "crowd.count",
            "waste.fill_level",
            "lamp.light_level",
            "access.bollard_state",
        )
    ]
    by_type = Counter(e["type"] for e in events)
    # The platform locates shots itself: the simulator sends only what the sensors hear.
    assert by_type["gunshot.located"] == 0
    assert by_type["call.emergency"] == 1
    assert by_type["citizen.report"] == 1
    (record,) = sim.situation_log
    shot = record.started_at
    speed = 20.05 * math.sqrt(sim.air_temperature(shot) + 273.15)
    first: dict[str, datetime] = {}
    for raw in events:
        event = parse_event(raw)
        assert event.location is not None
        assert haversine_m(event.location.lon, event.location.lat, square.lon, square.lat) < 750
        if event.type == "acoustic.pulse":
            sensor_id = event.data.sensor_id  # type: ignore[attr-defined]
            arrival = event.data.arrival_time  # type: ignore[attr-defined]
            first[sensor_id] = min(first.get(sensor_id, arrival), arrival)
        if event.type == "call.emergency":
            assert 30 <= (event.time - start).total_seconds() <= 91
    assert len(first) >= 4
    for sensor_id, arrival in first.items():
        sensor = city.device(sensor_id)
        dist = haversine_m(record.lon, record.lat, sensor.lon, sensor.lat)
        if dist <= 250:  # near sensors hear every round, so their first pulse is the first shot
            delay = (arrival - shot).total_seconds()
            assert delay == pytest.approx(dist / speed, abs=0.003)
    assert sim.situations_started == {"shooting": 1}


@pytest.mark.parametrize("kind", SITUATION_KINDS)
def test_every_situation_opens_an_incident_nearby(
    city: DemoCity, start: datetime, kind: str
) -> None:
    sim = CitySimulator(city, ManualClock(start), seed=21, config=QUIET)
    sim.trigger(kind, at=start + timedelta(seconds=1))
    events = sim.step(start + timedelta(minutes=10))
    assert sim.situations_started == {kind: 1}
    (record,) = sim.situation_log
    assert record.label
    nearby = [
        e
        for e in opening(events)
        if e.location is not None
        and haversine_m(e.location.lon, e.location.lat, record.lon, record.lat) < 300
    ]
    assert nearby, kind
    assert nearby[0].time <= record.started_at + timedelta(seconds=90)


def test_patrol_units_move_on_the_road_network(city: DemoCity, start: datetime) -> None:
    _, events = simulate(city, start, 900, config=QUIET)
    positions = [e for e in events if e["type"] == "unit.position"]
    units = Counter(e["data"]["unit_id"] for e in positions)
    assert set(units) == set(PATROL_UNIT_IDS)
    assert all(n == 900 // 5 for n in units.values())  # one fix every 5 s per unit
    moved = set()
    for raw in positions:
        event = parse_event(raw)
        assert event.location is not None
        assert city.distance_to_road_m(event.location.lon, event.location.lat) < 1.0
        if raw["data"]["speed_kmh"] > 0:
            moved.add(raw["data"]["unit_id"])
            assert raw["data"]["speed_kmh"] < 60
    assert moved == set(PATROL_UNIT_IDS)
    statuses = [e for e in events if e["type"] == "unit.status"]
    assert {e["data"]["unit_id"] for e in statuses} == set(PATROL_UNIT_IDS)


def test_a_dispatched_unit_drives_to_the_scene(city: DemoCity, start: datetime) -> None:
    sim = CitySimulator(city, ManualClock(start), seed=2, config=QUIET)
    sim.step(start + timedelta(seconds=30))
    target = city.landmark("Senaatintori")
    assert target is not None
    sim.dispatch("unit-p1", target.lon, target.lat, incident_id="inc-1")
    events = sim.step(start + timedelta(minutes=40))
    mine = [e for e in events if e.get("subject") == "unit-p1"]
    statuses = [e["data"]["status"] for e in mine if e["type"] == "unit.status"]
    assert statuses[:4] == ["dispatched", "en_route", "on_scene", "available"]
    on_scene = next(
        e for e in mine if e["type"] == "unit.status" and e["data"]["status"] == "on_scene"
    )
    assert on_scene["data"]["incident_id"] == "inc-1"
    node_lon, node_lat = city.node_position(city.nearest_node(target.lon, target.lat))
    loc = on_scene["location"]
    assert haversine_m(loc["lon"], loc["lat"], node_lon, node_lat) < 1.0
    for raw in mine:
        if raw["type"] == "unit.position":
            assert city.distance_to_road_m(raw["location"]["lon"], raw["location"]["lat"]) < 1.0


def test_lamps_switch_on_at_dusk(city: DemoCity, start: datetime) -> None:
    # 21 November: sunset in Helsinki is about 13:20 UTC.
    early = start.replace(hour=12)
    config = SimConfig(situations=False, camera_motion_per_hour=0.0, units=0)
    _, events = simulate(city, early, 3 * 3600, config=config)
    lights = [e for e in events if e["type"] == "lamp.light_level"]
    assert len(lights) == len(city.lamps)
    assert {e["data"]["reason"] for e in lights} == {"dusk"}
    assert all(e["data"]["level_pct"] == 100.0 for e in lights)
    assert min(e["time"] for e in lights) > early.replace(hour=12, minute=40).isoformat()


def test_api_refuses_bad_input(city: DemoCity, start: datetime) -> None:
    sim = CitySimulator(city, ManualClock(start), seed=1, config=QUIET)
    with pytest.raises(ValueError, match="unknown situation"):
        sim.trigger("meteor")
    with pytest.raises(ValueError, match="both lon and lat"):
        sim.trigger("fire", lon=24.94)
    with pytest.raises(ValueError, match="unknown unit"):
        sim.dispatch("unit-x", 24.94, 60.17)
    sim.step(start + timedelta(seconds=10))
    with pytest.raises(ValueError, match="before"):
        sim.trigger("fire", at=start)
    with pytest.raises(ValueError, match="units"):
        SimConfig(units=7)
    with pytest.raises(ValueError, match="weight"):
        SimConfig(situation_weights=(("meteor", 1.0),))
    with pytest.raises(ValueError, match="situation_interval_s"):
        SimConfig(situation_interval_s=(30.0, 10.0))


def test_sensors_cover_every_event_source_device(city: DemoCity, start: datetime) -> None:
    sim, events = simulate(city, start, 1200)
    registered = {s.id for s in sim.sensors()}
    device_ids = {
        v
        for e in events
        for k, v in e["data"].items()
        if k in ("camera_id", "lamp_id", "sensor_id", "container_id", "bollard_id")
    }
    assert device_ids <= registered
    assert {f"avl-{u}" for u in sim.unit_ids} <= registered


def test_naive_times_are_refused(city: DemoCity, start: datetime) -> None:
    sim = CitySimulator(city, ManualClock(start), seed=1, config=QUIET)
    with pytest.raises(ValueError, match="timezone-aware"):
        sim.step(datetime(2026, 11, 21, 15, 0))  # noqa: DTZ001 - the point of the test
