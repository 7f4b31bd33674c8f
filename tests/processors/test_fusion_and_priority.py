"""Fusion across sensor kinds, duplicate reports, link reasons, and the explainable priority."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from factories import LAT0, LON0, T0, event, later, metres_east
from safecity.core.areas import Area, AreaMap
from safecity.core.clock import ManualClock
from safecity.core.incidents import Incident, IncidentWrite
from safecity.core.places import Place, PlaceIndex, PlaceKind
from safecity.core.priority import PriorityConfig, PriorityModel, PriorityOverride
from safecity.processors.correlation import CorrelationConfig, Correlator
from safecity.processors.correlation.engine import SHOTS_FIRED, FusionRule


def make_engine(config: CorrelationConfig | None = None, at: datetime = T0) -> Correlator:
    counter = itertools.count(1)
    return Correlator(
        config or CorrelationConfig(), ManualClock(at), id_factory=lambda _: f"inc-{next(counter)}"
    )


def apply(engine: Correlator, *events: object) -> list[IncidentWrite]:
    plan = engine.plan(list(events))  # type: ignore[arg-type]
    engine.commit(plan)
    return plan.writes


def reasons(writes: list[IncidentWrite]) -> dict[str, dict[str, object]]:
    return {
        key[1]: why for w in writes for key, why in zip(w.link_events, w.link_reasons, strict=True)
    }


def shot_scene(offset_m: float = 0.0, delay_s: float = 0.0) -> list[object]:
    def east(m: float) -> float:
        return LON0 + metres_east(m + offset_m)

    return [
        event("gunshot.located", id_="shot", at=later(delay_s), source="urn:test:localiser"),
        event("camera.abnormal", id_="fight", lon=east(180), at=later(delay_s + 40)),
        event(
            "call.emergency",
            id_="call",
            lon=east(90),
            at=later(delay_s + 100),
            source="urn:test:cad",
            data={"cad_id": "c-9", "category": "assault"},
        ),
        event(
            "citizen.report",
            id_="report",
            lon=east(240),
            at=later(delay_s + 170),
            source="urn:test:app",
            data={"category": "violence", "description": "people running"},
        ),
    ]


def test_gunshot_camera_call_and_report_nearby_become_one_incident() -> None:
    engine = make_engine()
    writes = apply(engine, *shot_scene())
    assert len(writes) == 1
    (write,) = writes
    assert write.incident.type == "shooting"
    assert write.incident.event_count == 4
    why = reasons(writes)
    assert why["shot"]["rule"] == "opened"
    for key in ("fight", "call", "report"):
        assert why[key]["rule"] == "fusion"
        assert why[key]["fusion_rule"] == "shots-fired"
        assert 0 < float(why[key]["distance_m"]) <= 250  # type: ignore[arg-type]
    # The timeline says why each event was linked, so an operator can check the machine.
    linked = next(e for e in write.timeline if e.action == "events_linked")
    assert {e["id"] for e in linked.details["events"]} == {"fight", "call", "report"}
    assert all("reason" in e for e in linked.details["events"])


def test_a_fight_beyond_the_fusion_radius_is_another_incident() -> None:
    config = CorrelationConfig(fusion=(SHOTS_FIRED,))
    engine = make_engine(config)
    apply(engine, event("gunshot.located", id_="shot"))
    far = apply(engine, event("camera.abnormal", lon=LON0 + metres_east(300), at=later(30)))
    # West of the shot, so not near the first fight either.
    late = apply(engine, event("camera.abnormal", lon=LON0 - metres_east(100), at=later(240)))
    assert [w.expected_version for w in far] == [None]
    assert [w.expected_version for w in late] == [None]


def test_the_fusion_matrix_is_configurable() -> None:
    # A city that treats any camera abnormal event within 400 m of a shot as the same scene.
    wide = FusionRule(
        "wide-shots",
        400.0,
        timedelta(minutes=10),
        event_types=frozenset({"gunshot.located", "camera.abnormal"}),
        incident_types=frozenset({"shooting", "violence"}),
    )
    engine = make_engine(CorrelationConfig(fusion=(wide,)))
    apply(engine, event("gunshot.located", id_="shot"))
    writes = apply(
        engine, event("camera.abnormal", id_="fight", lon=LON0 + metres_east(350), at=later(300))
    )
    assert [w.incident.id for w in writes] == ["inc-1"]
    assert reasons(writes)["fight"]["fusion_rule"] == "wide-shots"
    # With no fusion rules at all, kinds never mix.
    bare = make_engine(CorrelationConfig(fusion=()))
    apply(bare, event("gunshot.located"))
    assert apply(bare, event("camera.abnormal", at=later(5)))[0].expected_version is None


def test_duplicate_citizen_reports_within_50_m_merge() -> None:
    engine = make_engine()
    pothole = {"category": "lighting", "description": "lamp out"}
    first = apply(engine, event("citizen.report", id_="r1", source="urn:app", data=pothole))
    dup = apply(
        engine,
        event(
            "citizen.report",
            id_="r2",
            source="urn:app",
            lon=LON0 + metres_east(45),
            at=later(3 * 3600),
            data=pothole,
        ),
    )
    other = apply(
        engine,
        event(
            "citizen.report",
            id_="r3",
            source="urn:app",
            lon=LON0 + metres_east(120),
            at=later(3 * 3600),
            data=pothole,
        ),
    )
    assert dup[0].incident.id == first[0].incident.id
    assert reasons(dup)["r2"]["fusion_rule"] == "duplicate-citizen-reports"
    assert other[0].expected_version is None


def test_same_type_and_correlation_id_links_say_so() -> None:
    engine = make_engine()
    apply(engine, event("camera.fire_smoke", id_="a", context={"correlation_id": "cad-77"}))
    writes = apply(
        engine, event("camera.fire_smoke", id_="b", lon=LON0 + metres_east(100), at=later(20))
    )
    assert reasons(writes)["b"]["rule"] == "same_type"
    assert reasons(writes)["b"]["distance_m"] == pytest.approx(100.0, abs=0.5)
    # Far away, but the CAD says it is the same case.
    writes = apply(
        engine,
        event(
            "call.emergency",
            id_="c",
            lon=LON0 + metres_east(5000),
            at=later(60),
            context={"correlation_id": "cad-77"},
        ),
    )
    assert reasons(writes)["c"] == {
        "rule": "correlation_id",
        "correlation_id": "cad-77",
        "event_type": "call.emergency",
    }


def test_every_incident_carries_its_priority_factors() -> None:
    engine = make_engine()
    (write,) = apply(engine, event("camera.abnormal", confidence=0.6))
    assessment = write.incident.assessment
    assert assessment is not None
    names = [f.name for f in assessment.factors]
    assert names[0] == "type"
    assert "confidence" in names
    assert write.incident.priority == assessment.computed_priority
    opened = write.timeline[0]
    assert opened.action == "opened"
    assert opened.details["factors"][0]["name"] == "type"


def test_corroboration_raises_the_score_and_can_raise_the_priority() -> None:
    engine = make_engine()
    (one,) = apply(engine, event("camera.abnormal", source="urn:cam:1"))
    score_one = one.incident.assessment.score  # type: ignore[union-attr]
    (two,) = apply(engine, event("lamp.emergency_button", source="urn:lamp:1", at=later(20)))
    (three,) = apply(
        engine,
        event(
            "call.emergency",
            source="urn:cad",
            at=later(40),
            data={"cad_id": "c1", "category": "assault"},
        ),
    )
    a2, a3 = two.incident.assessment, three.incident.assessment
    assert a2 is not None and a3 is not None
    assert score_one < a2.score < a3.score
    corroboration = next(f for f in a3.factors if f.name == "corroboration")
    assert "3 independent sources" in corroboration.detail
    assert three.incident.priority == 1
    assert any(e.action == "priority_changed" for e in three.timeline)


def test_a_school_nearby_in_school_hours_weighs_more_than_at_night() -> None:
    school = Place("s1", PlaceKind.SCHOOL, "Kaisaniemen ala-aste", LON0 + metres_east(80), LAT0)
    model = PriorityModel(PriorityConfig(timezone="Europe/Helsinki"), PlaceIndex([school]))
    config = CorrelationConfig(priority=model)
    monday_10 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # 10:00 in Helsinki
    (day,) = apply(make_engine(config, monday_10), event("camera.abnormal", at=monday_10))
    sunday_23 = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)  # 23:00 in Helsinki
    (night,) = apply(make_engine(config, sunday_23), event("camera.abnormal", at=sunday_23))
    day_places = next(f for f in day.incident.assessment.factors if f.name == "places")  # type: ignore[union-attr]
    assert "Kaisaniemen ala-aste" in day_places.detail
    assert "school hours" in day_places.detail
    night_factors = {f.name: f for f in night.incident.assessment.factors}  # type: ignore[union-attr]
    assert night_factors["places"].points < day_places.points
    assert "night" in night_factors["time_of_day"].detail
    # Far from the school there is no places factor at all.
    (far,) = apply(
        make_engine(config, monday_10),
        event("camera.abnormal", at=monday_10, lon=LON0 + metres_east(2000)),
    )
    assert "places" not in {f.name for f in far.incident.assessment.factors}  # type: ignore[union-attr]


def test_an_operator_override_survives_re_scoring() -> None:
    engine = make_engine()
    (write,) = apply(engine, event("camera.abnormal", source="urn:cam:1"))
    incident: Incident = write.incident
    assert incident.assessment is not None
    override = PriorityOverride(priority=4, reason="known film shoot", by="op-1", at=later(10))
    engine.observe(
        incident.model_copy(
            update={
                "priority": 4,
                "version": incident.version + 1,
                "assessment": incident.assessment.model_copy(update={"override": override}),
            }
        )
    )
    (again,) = apply(engine, event("camera.abnormal", source="urn:cam:2", at=later(30)))
    assert again.incident.priority == 4
    assert again.incident.assessment is not None
    assert again.incident.assessment.override == override
    assert again.incident.assessment.score > incident.assessment.score


def test_incidents_take_the_name_of_their_area() -> None:
    areas = AreaMap(
        [
            Area("Kamppi", centre=(LON0, LAT0)),
            Area("Kluuvi", centre=(LON0 + metres_east(900), LAT0)),
        ]
    )
    engine = make_engine(CorrelationConfig(areas=areas))
    (near,) = apply(engine, event("camera.fire_smoke", lon=LON0 + metres_east(100)))
    (far,) = apply(engine, event("camera.abnormal", lon=LON0 + metres_east(800)))
    assert near.incident.area == "Kamppi"
    assert far.incident.area == "Kluuvi"
