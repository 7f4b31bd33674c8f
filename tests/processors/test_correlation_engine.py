"""Correlation: the same situation from several sources becomes one incident, others stay apart."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from factories import LAT0, LON0, T0, event, later, metres_east
from safecity.core.clock import ManualClock
from safecity.core.incidents import IncidentStatus
from safecity.processors.correlation import CorrelationConfig, CorrelationRule, Correlator


@pytest.fixture
def engine() -> Correlator:
    counter = itertools.count(1)
    return Correlator(
        CorrelationConfig(), ManualClock(T0), id_factory=lambda _: f"inc-{next(counter)}"
    )


def run(engine: Correlator, *events: object) -> list[str]:
    plan = engine.plan(list(events))  # type: ignore[arg-type]
    engine.commit(plan)
    return plan.opened


def test_nearby_same_kind_events_join_one_incident(engine: Correlator) -> None:
    opened = run(
        engine,
        event("camera.fire_smoke"),
        event("camera.fire_smoke", lon=LON0 + metres_east(120), at=later(40)),
        event("call.emergency", lon=LON0 + metres_east(60), at=later(90)),
    )
    assert opened == ["inc-1"]
    plan = engine.plan([event("camera.fire_smoke", at=later(100))])
    assert plan.opened == []
    (write,) = plan.writes
    assert write.incident.event_count == 4
    assert write.expected_version == 1


def test_far_apart_or_late_events_open_separate_incidents(engine: Correlator) -> None:
    run(engine, event("camera.fire_smoke"))
    far = run(engine, event("camera.fire_smoke", lon=LON0 + metres_east(1500), at=later(5)))
    late = run(engine, event("camera.fire_smoke", at=T0 + timedelta(hours=2)))
    assert far == ["inc-2"]
    assert late == ["inc-3"]


def test_different_incident_types_do_not_mix(engine: Correlator) -> None:
    opened = run(engine, event("camera.fire_smoke"), event("camera.abnormal"))
    assert len(opened) == 2


def test_evidence_only_events_join_but_never_open(engine: Correlator) -> None:
    assert run(engine, event("acoustic.pulse")) == []
    opened = run(engine, event("gunshot.located", at=later(1)))
    plan = engine.plan([event("acoustic.pulse", lon=LON0 + metres_east(300), at=later(2))])
    assert opened == ["inc-1"]
    assert plan.writes[0].incident.id == "inc-1"


def test_priority_rises_to_the_most_urgent_event(engine: Correlator) -> None:
    run(engine, event("citizen.report", data={"category": "shots"}))
    plan = engine.plan([event("gunshot.located", at=later(30))])
    incident = plan.writes[0].incident
    assert incident.priority == 1
    assert any(t.action == "priority_changed" for t in plan.writes[0].timeline)


def test_correlation_id_links_events_without_location(engine: Correlator) -> None:
    run(engine, event("camera.fire_smoke", context={"correlation_id": "cad-77"}))
    plan = engine.plan(
        [
            event(
                "call.emergency",
                lon=None,
                lat=None,
                at=later(30),
                context={"correlation_id": "cad-77"},
            )
        ]
    )
    assert [w.incident.id for w in plan.writes] == ["inc-1"]


def test_plan_changes_nothing_until_committed(engine: Correlator) -> None:
    plan = engine.plan([event("camera.fire_smoke")])
    assert engine.open_incident_ids() == []
    engine.commit(plan)
    assert engine.open_incident_ids() == ["inc-1"]


def test_closed_incident_is_not_joined(engine: Correlator) -> None:
    plan = engine.plan([event("camera.fire_smoke")])
    engine.commit(plan)
    closed = plan.writes[0].incident.model_copy(
        update={"status": IncidentStatus.CLOSED, "version": 2}
    )
    engine.observe(closed)
    assert run(engine, event("camera.fire_smoke", at=later(10))) == ["inc-2"]


def test_configurable_radius_and_window() -> None:
    config = CorrelationConfig(per_type={"fire": CorrelationRule(50.0, timedelta(seconds=30))})
    counter = itertools.count(1)
    engine = Correlator(config, ManualClock(T0), id_factory=lambda _: f"inc-{next(counter)}")
    run(engine, event("camera.fire_smoke"))
    assert run(engine, event("camera.fire_smoke", lon=LON0 + metres_east(80), at=later(1))) != []
    assert run(engine, event("camera.fire_smoke", at=later(120))) != []


def test_incident_location_is_the_confidence_weighted_centre(engine: Correlator) -> None:
    run(
        engine,
        event("camera.fire_smoke", confidence=1.0),
        event("camera.fire_smoke", lon=LON0 + metres_east(100), confidence=1.0, at=later(1)),
    )
    (incident_id,) = engine.open_incident_ids()
    plan = engine.plan([event("camera.fire_smoke", at=later(2), confidence=0.0001)])
    loc = plan.writes[0].incident.location
    assert loc is not None
    assert loc.lat == pytest.approx(LAT0)
    assert LON0 < loc.lon < LON0 + metres_east(100)
    assert incident_id == "inc-1"


def test_many_incidents_stay_fast_to_search(engine: Correlator) -> None:
    # 2,000 separate fires on a grid 1 km apart; a new event must find only its neighbour.
    events = [
        event(
            "camera.fire_smoke",
            lon=LON0 + metres_east(1000 * (i % 50)),
            lat=LAT0 + (i // 50) * 0.009,
            at=later(i % 60),
        )
        for i in range(2000)
    ]
    assert len(run(engine, *events)) == 2000
    plan = engine.plan(
        [
            event(
                "camera.fire_smoke",
                lon=LON0 + metres_east(1000 * 7 + 20),
                lat=LAT0 + 3 * 0.009,
                at=later(61),
            )
        ]
    )
    assert plan.opened == [] and plan.writes[0].incident.id == "inc-158"


def test_compatible_types_merge_and_the_most_urgent_names_it(engine: Correlator) -> None:
    # A help button pressed next to a fight is the same situation; shots make it a shooting.
    run(engine, event("lamp.emergency_button"))
    plan = engine.plan([event("camera.abnormal", lon=LON0 + metres_east(40), at=later(20))])
    assert plan.opened == []
    engine.commit(plan)
    plan = engine.plan([event("gunshot.located", lon=LON0 + metres_east(60), at=later(30))])
    incident = plan.writes[0].incident
    assert (incident.id, incident.type, incident.priority) == ("inc-1", "shooting", 1)


def test_incompatible_types_stay_apart(engine: Correlator) -> None:
    run(engine, event("camera.fire_smoke"))
    assert run(engine, event("noise.level", data={"sensor_id": "n", "laeq_db": 95})) == ["inc-2"]


def test_compatible_types_merge_only_when_close_by_both_rules(engine: Correlator) -> None:
    # Shots are heard 600 m away, but a fight 400 m from a shooting is another situation.
    run(engine, event("gunshot.located"))
    opened = run(engine, event("camera.abnormal", lon=LON0 + metres_east(400), at=later(60)))
    assert opened == ["inc-2"]
