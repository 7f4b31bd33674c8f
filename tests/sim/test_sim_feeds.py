"""The demo's devices speak NGSI-LD, Open311 and Frigate MQTT; the adapters read every message."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from safecity.adapters.base import MappingContext
from safecity.core.clock import ManualClock
from safecity.ingest.adapters import map_input
from safecity.sim.city import DemoCity
from safecity.sim.feeds import encode
from safecity.sim.scenario import CitySimulator, SimConfig


def test_every_wire_message_maps_back_to_the_same_kind_of_event(city: DemoCity) -> None:
    clock = ManualClock(datetime(2026, 11, 21, 13, 0, tzinfo=UTC))  # dusk: lamps switch on
    sim = CitySimulator(city, clock, seed=11, config=SimConfig(situation_interval_s=(10, 20)))
    events = sim.step(clock.now() + timedelta(minutes=40))
    wires, native = encode(events)
    sent = Counter(e["type"] for e in events) - Counter(e["type"] for e in native)
    mapped: Counter[str] = Counter()
    for wire in wires:
        result = map_input(
            wire.adapter,
            wire.raw,
            MappingContext(
                received_at=clock.now(), content_type=wire.content_type, origin=wire.origin
            ),
        )
        assert result.rejections == [], result.rejections
        mapped.update(e.type for e in result.events)
    assert {w.adapter for w in wires} == {"ngsi_ld", "open311", "frigate"}
    # Each device reading sent as NGSI-LD / Open311 comes back as one event of the same type.
    assert mapped == sent
    assert {
        "noise.level",
        "lamp.light_level",
        "crowd.count",
        "waste.fill_level",
        "camera.motion",
        "camera.fire_smoke",
        "citizen.report",
    } <= set(mapped)


def test_emergencies_stay_on_the_emergency_channel(city: DemoCity) -> None:
    report = {
        "id": "x",
        "source": "urn:app",
        "type": "citizen.report",
        "time": "2026-11-21T13:00:00Z",
        "location": {"lon": 24.94, "lat": 60.17},
        "data": {"category": "shots", "description": "bangs"},
    }
    wires, native = encode([report])
    assert wires == [] and native == [report]
