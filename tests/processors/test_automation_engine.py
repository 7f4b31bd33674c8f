"""The automation rule engine: rule format, every condition, cooldown, templates, traces."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from factories import LAT0, LON0, PAYLOADS, T0, event, metres_east
from safecity.core.catalogue import BASE_PRIORITY
from safecity.core.clock import ManualClock
from safecity.core.events import Severity
from safecity.core.geo import Location, locate_in_polygon
from safecity.core.incidents import Incident, IncidentSignals, IncidentStatus
from safecity.processors.automation.engine import (
    AutomationEngine,
    PlannedBrightenLamps,
    PlannedCapDraft,
    PlannedNotify,
    PlannedRaiseBollards,
    PlannedWebhookCall,
    RuleTrace,
)
from safecity.processors.automation.examples import EXAMPLE_RULES, example_rules
from safecity.processors.automation.rules import (
    AutomationConfig,
    AutomationRule,
    WithinArea,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "automations.md"
NOTIFY = {"kind": "notify", "agencies": ["helsinki-police"], "message": "{incident.title}"}


def rule(
    conditions: list[dict[str, Any]] | None = None,
    *,
    actions: list[dict[str, Any]] | None = None,
    trigger: dict[str, Any] | None = None,
    **extra: Any,
) -> AutomationRule:
    body: dict[str, Any] = {
        "id": extra.pop("id", "r1"),
        "name": "Test rule",
        "trigger": trigger or {"on": "event", "event_types": ["gunshot.located"]},
        "conditions": conditions or [],
        "actions": actions or [NOTIFY],
        "agencies": ["helsinki-police"],
        **extra,
    }
    return AutomationRule.model_validate(body)


def incident(**kw: Any) -> Incident:
    fields: dict[str, Any] = {
        "id": "inc-1",
        "type": "fire",
        "title": "Fire at the market",
        "priority": 2,
        "location": Location(lon=LON0, lat=LAT0),
        "opened_at": T0,
        "updated_at": T0,
        "first_event_at": T0,
        "last_event_at": T0,
    }
    fields.update(kw)
    return Incident(**fields)


def engine(*rules: AutomationRule, at: datetime = T0, **kw: Any) -> AutomationEngine:
    return AutomationEngine(rules, ManualClock(at), **kw)


def one(traces: list[RuleTrace]) -> RuleTrace:
    assert len(traces) == 1
    return traces[0]


def check(
    condition: dict[str, Any],
    ev: Any = None,
    *,
    inc: Incident | None = None,
    context: dict[str, Any] | None = None,
    at: datetime = T0,
    change: str | None = None,
) -> tuple[bool, str]:
    """Evaluate one condition; returns (passed, detail)."""
    if change is not None:
        r = rule([condition], trigger={"on": "incident", "changes": [change]})
        assert inc is not None
        trace = one(engine(r, at=at).evaluate_incident_change(change, inc, context=context or {}))
    else:
        ev = ev if ev is not None else event("gunshot.located")
        r = rule([condition], trigger={"on": "event", "event_types": [ev.type]})
        trace = one(engine(r, at=at).evaluate_event(ev, incident=inc, context=context or {}))
    [result] = trace.conditions
    assert result.condition == condition["kind"]
    assert trace.fired is result.passed
    return result.passed, result.detail


# --- every condition, true and false -----------------------------------------------------------


def test_incident_type_in() -> None:
    assert check({"kind": "incident_type_in", "types": ["fire"]}, inc=incident()) == (
        True,
        "incident type fire is one of fire",
    )
    assert check(
        {"kind": "incident_type_in", "types": ["shooting", "violence"]}, inc=incident()
    ) == (
        False,
        "incident type fire is not one of shooting, violence",
    )
    # No incident: the type the event classifies as.
    passed, detail = check(
        {"kind": "incident_type_in", "types": ["fire"]}, event("camera.fire_smoke")
    )
    assert passed and detail == "the event's incident type fire is one of fire"
    passed, detail = check({"kind": "incident_type_in", "types": ["fire"]}, event("camera.motion"))
    assert not passed and detail == "event type camera.motion belongs to no incident type"


def test_priority_at_most() -> None:
    assert check({"kind": "priority_at_most", "priority": 3}, inc=incident(priority=2)) == (
        True,
        "priority 2 ≤ 3",
    )
    assert check({"kind": "priority_at_most", "priority": 2}, inc=incident(priority=4)) == (
        False,
        "priority 4 is above 2",
    )
    # The event's own classified priority when there is no incident (gunshot: 1).
    assert check({"kind": "priority_at_most", "priority": 1}) == (True, "priority 1 ≤ 1")
    assert check({"kind": "priority_at_most", "priority": 1}, event("camera.motion")) == (
        False,
        "no priority: no incident, and the event opens none",
    )


def test_severity_at_least() -> None:
    severe = event("gunshot.located", severity="severe")
    assert check({"kind": "severity_at_least", "severity": "moderate"}, severe) == (
        True,
        "severity severe ≥ moderate",
    )
    minor = event("gunshot.located", severity="minor")
    assert check({"kind": "severity_at_least", "severity": "severe"}, minor) == (
        False,
        "severity minor is below severe",
    )
    inc = incident(signals=IncidentSignals(max_severity=Severity.EXTREME))
    assert check({"kind": "severity_at_least", "severity": "severe"}, inc=inc, change="opened") == (
        True,
        "highest linked severity extreme ≥ severe",
    )
    assert check(
        {"kind": "severity_at_least", "severity": "minor"}, inc=incident(), change="opened"
    ) == (
        False,
        "highest linked severity unknown is below minor",
    )


def test_confidence_at_least() -> None:
    assert check(
        {"kind": "confidence_at_least", "confidence": 0.8}, event("gunshot.located", confidence=0.9)
    ) == (
        True,
        "confidence 0.90 ≥ 0.80",
    )
    assert check(
        {"kind": "confidence_at_least", "confidence": 0.8}, event("gunshot.located", confidence=0.5)
    ) == (
        False,
        "confidence 0.50 is below 0.80",
    )
    inc = incident(signals=IncidentSignals(max_confidence=0.7))
    assert check({"kind": "confidence_at_least", "confidence": 0.7}, inc=inc, change="updated") == (
        True,
        "highest linked confidence 0.70 ≥ 0.70",
    )


def test_status_in() -> None:
    cond = {"kind": "status_in", "statuses": ["new", "acknowledged"]}
    assert check(cond, inc=incident()) == (True, "status new is one of new, acknowledged")
    closed = incident(status=IncidentStatus.CLOSED)
    assert check(cond, inc=closed) == (False, "status closed is not one of new, acknowledged")
    assert check(cond) == (False, "no incident, so no status to be one of new, acknowledged")


SQUARE = [
    [
        [LON0 - 0.001, LAT0 - 0.001],
        [LON0 + 0.001, LAT0 - 0.001],
        [LON0 + 0.001, LAT0 + 0.001],
        [LON0 - 0.001, LAT0 + 0.001],
    ]
]


def test_within_area() -> None:
    cond = {"kind": "within_area", "name": "Kamppi square", "polygon": SQUARE}
    assert check(cond) == (True, "the event at (24.93840, 60.16990) is inside Kamppi square")
    far = event("gunshot.located", lon=LON0 + 0.01)
    assert check(cond, far) == (False, "the event at (24.94840, 60.16990) is outside Kamppi square")
    on_edge = event("gunshot.located", lon=LON0 + 0.001)
    passed, detail = check(cond, on_edge)
    assert passed and "on the boundary of Kamppi square" in detail
    # No event location: the incident's place is used, and the detail says so.
    no_place = event("gunshot.located", lon=None, lat=None)
    passed, detail = check(cond, no_place, inc=incident())
    assert passed and detail.startswith("the incident at")
    assert check(cond, no_place) == (False, "no location to test against Kamppi square")


def test_within_distance() -> None:
    cond = {
        "kind": "within_distance",
        "name": "the station",
        "lon": LON0,
        "lat": LAT0,
        "distance_m": 150,
    }
    near = event("gunshot.located", lon=LON0 + metres_east(100))
    passed, detail = check(cond, near)
    assert passed
    assert re.fullmatch(
        r"the event is 10\d m from the station \(24\.93840, 60\.16990\) ≤ 150 m", detail
    )
    far = event("gunshot.located", lon=LON0 + metres_east(300))
    passed, detail = check(cond, far)
    assert not passed
    assert re.fullmatch(r"the event is 30\d m from the station .*, beyond 150 m", detail)


def test_field_conditions() -> None:
    shot = event(
        "gunshot.located",
        data={"rounds": 3, "first_shot_time": "2026-11-21T12:00:00Z", "sensors_used": ["s1", "s2"]},
        severity="severe",
    )
    assert check({"kind": "field", "path": "data.rounds", "op": "gt", "value": 2}, shot) == (
        True,
        "data.rounds 3 > 2",
    )
    assert check({"kind": "field", "path": "data.rounds", "op": "lt", "value": 2}, shot) == (
        False,
        "data.rounds 3 is not < 2",
    )
    assert check({"kind": "field", "path": "data.rounds", "op": "in", "value": [1, 3]}, shot) == (
        True,
        "data.rounds 3 in [1, 3]",
    )
    assert check(
        {"kind": "field", "path": "data.sensors_used", "op": "contains", "value": "s2"}, shot
    )[0]
    assert check({"kind": "field", "path": "data.sensors_used.0", "op": "eq", "value": "s1"}, shot)[
        0
    ]
    assert check(
        {"kind": "field", "path": "data.classification", "op": "contains", "value": "gun"}, shot
    )[0]
    assert check(
        {"kind": "field", "path": "event.severity", "op": "eq", "value": "severe"}, shot
    ) == (True, "event.severity 'severe' = 'severe'")
    assert check({"kind": "field", "path": "event.location.lat", "op": "ge", "value": 60.0}, shot)[
        0
    ]
    assert check({"kind": "field", "path": "data.nope", "op": "eq", "value": 1}, shot) == (
        False,
        "data.nope is missing",
    )
    assert check(
        {"kind": "field", "path": "data.sensors_used.7", "op": "eq", "value": "x"}, shot
    ) == (False, "data.sensors_used.7 is missing")
    assert check(
        {"kind": "field", "path": "data.classification", "op": "gt", "value": 2}, shot
    ) == (
        False,
        "data.classification 'gunfire' cannot be compared by > with 2",
    )
    # ne is the negation of eq; a bool is never equal to a number.
    assert check({"kind": "field", "path": "data.rounds", "op": "ne", "value": 4}, shot) == (
        True,
        "data.rounds 3 ≠ 4",
    )
    vehicle = event("camera.vehicle", data={"camera_id": "c", "wrong_way": True})
    assert check({"kind": "field", "path": "data.wrong_way", "op": "eq", "value": True}, vehicle)[0]
    assert not check({"kind": "field", "path": "data.wrong_way", "op": "eq", "value": 1}, vehicle)[
        0
    ]
    assert check({"kind": "field", "path": "data.speed_kmh", "op": "eq", "value": None}, vehicle)[0]
    # Incident and context roots.
    inc = incident(signals=IncidentSignals(sources=("a", "b")))
    assert check(
        {"kind": "field", "path": "incident.signals.sources", "op": "contains", "value": "b"},
        inc=inc,
    )[0]
    assert check(
        {"kind": "field", "path": "incident.priority", "op": "le", "value": 2}, inc=inc
    ) == (True, "incident.priority 2 ≤ 2")
    assert check({"kind": "field", "path": "incident.priority", "op": "le", "value": 2}) == (
        False,
        "incident.priority: there is no incident",
    )
    assert check(
        {"kind": "field", "path": "context.zone.name", "op": "eq", "value": "north"},
        context={"zone": {"name": "north"}},
    )[0]
    assert check(
        {"kind": "field", "path": "context.zone", "op": "eq", "value": "x"},
        context={"zone": object()},
    ) == (
        False,
        "context.zone <object> is not = 'x'",
    )


def test_field_paths_never_reach_attributes() -> None:
    # Only keys of the JSON form are walked: a dunder or private name is not even a valid path.
    for path in (
        "incident.__class__",
        "data._private",
        "event.data.__dict__",
        "incident",
        "globals.x",
    ):
        with pytest.raises(ValidationError, match="path"):
            rule([{"kind": "field", "path": path, "op": "eq", "value": 1}])
    # ...and a method name of the model is just a missing key.
    assert check(
        {"kind": "field", "path": "incident.model_dump", "op": "eq", "value": 1}, inc=incident()
    ) == (
        False,
        "incident.model_dump is missing",
    )


def test_sources_at_least() -> None:
    cond = {"kind": "sources_at_least", "count": 2}
    assert check(cond, context={"sources": 3}) == (True, "3 sources (context) ≥ 2")
    assert check(cond, context={"sources": 1}) == (False, "1 source (context) is below 2")
    inc = incident(signals=IncidentSignals(sources=("a", "b")))
    assert check(cond, inc=inc, change="updated") == (True, "2 sources (incident) ≥ 2")
    assert check(cond) == (False, "no source count: no context value and no incident")
    assert check(cond, context={"sources": True}) == (
        False,
        "context value 'sources' is not a whole number",
    )


# --- time of day -------------------------------------------------------------------------------

NIGHT = {"kind": "time_of_day", "start": "22:00", "end": "06:00", "timezone": "Europe/Helsinki"}


@pytest.mark.parametrize(
    ("utc", "passed", "detail"),
    [
        # November: Helsinki is UTC+2. 2026-11-21 is a Saturday.
        (
            datetime(2026, 11, 21, 19, 59, tzinfo=UTC),
            False,
            "local time sat 21:59 (Europe/Helsinki) is outside 22:00–06:00",
        ),
        (
            datetime(2026, 11, 21, 20, 0, tzinfo=UTC),
            True,
            "local time sat 22:00 (Europe/Helsinki) is within 22:00–06:00",
        ),
        (
            datetime(2026, 11, 21, 21, 30, tzinfo=UTC),
            True,
            "local time sat 23:30 (Europe/Helsinki) is within 22:00–06:00",
        ),
        (
            datetime(2026, 11, 21, 22, 0, tzinfo=UTC),
            True,
            "local time sun 00:00 (Europe/Helsinki) is within 22:00–06:00",
        ),
        (
            datetime(2026, 11, 22, 3, 59, tzinfo=UTC),
            True,
            "local time sun 05:59 (Europe/Helsinki) is within 22:00–06:00",
        ),
        (
            datetime(2026, 11, 22, 4, 0, tzinfo=UTC),
            False,
            "local time sun 06:00 (Europe/Helsinki) is outside 22:00–06:00",
        ),
        (
            datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
            False,
            "local time sat 14:00 (Europe/Helsinki) is outside 22:00–06:00",
        ),
        # July: summer time, UTC+3.
        (
            datetime(2026, 7, 1, 19, 30, tzinfo=UTC),
            True,
            "local time wed 22:30 (Europe/Helsinki) is within 22:00–06:00",
        ),
        (
            datetime(2026, 7, 1, 18, 30, tzinfo=UTC),
            False,
            "local time wed 21:30 (Europe/Helsinki) is outside 22:00–06:00",
        ),
    ],
)
def test_time_of_day_across_midnight_in_helsinki(utc: datetime, passed: bool, detail: str) -> None:
    # The engine's clock decides, not the event's time.
    assert check(NIGHT, at=utc) == (passed, detail)


def test_time_of_day_weekdays_count_the_day_the_window_started() -> None:
    friday_night = {**NIGHT, "weekdays": ["fri"]}
    # Saturday 01:00 local belongs to Friday night.
    passed, detail = check(friday_night, at=datetime(2026, 11, 20, 23, 0, tzinfo=UTC))
    assert (
        passed
        and detail
        == "local time sat 01:00 (Europe/Helsinki) is within 22:00–06:00 starting fri (one of fri)"
    )
    # Saturday 23:30 local is Saturday night.
    passed, detail = check(friday_night, at=datetime(2026, 11, 21, 21, 30, tzinfo=UTC))
    assert not passed
    assert detail.endswith("but that window started on sat, not one of fri")
    # A daytime window on the same day.
    office = {
        "kind": "time_of_day",
        "start": "08:00",
        "end": "16:00",
        "timezone": "Europe/Helsinki",
        "weekdays": ["mon", "tue", "wed", "thu", "fri"],
    }
    assert not check(office, at=datetime(2026, 11, 21, 8, 0, tzinfo=UTC))[0]  # Saturday
    assert check(office, at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC))[0]  # Monday 10:00


def test_time_of_day_validation() -> None:
    with pytest.raises(ValidationError, match="unknown IANA time zone 'Europe/Helsingfors'"):
        rule([{**NIGHT, "timezone": "Europe/Helsingfors"}])
    with pytest.raises(ValidationError, match="window would be empty"):
        rule([{**NIGHT, "end": "22:00"}])
    with pytest.raises(ValidationError, match="weekdays"):
        rule([{**NIGHT, "weekdays": ["friday"]}])


# --- polygons ----------------------------------------------------------------------------------

SQ = ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0))
HOLE = ((4.0, 4.0), (6.0, 4.0), (6.0, 6.0), (4.0, 6.0))
# A U shape: the notch (4..6, 3..10) is outside.
U = (
    (0.0, 0.0),
    (10.0, 0.0),
    (10.0, 10.0),
    (6.0, 10.0),
    (6.0, 3.0),
    (4.0, 3.0),
    (4.0, 10.0),
    (0.0, 10.0),
)


@pytest.mark.parametrize(
    ("point", "polygon", "where"),
    [
        ((5.0, 5.0), (SQ,), "inside"),
        ((15.0, 5.0), (SQ,), "outside"),
        ((-0.0001, 5.0), (SQ,), "outside"),
        ((10.0, 5.0), (SQ,), "boundary"),  # on an edge
        ((5.0, 0.0), (SQ,), "boundary"),  # on the bottom edge
        ((10.0, 10.0), (SQ,), "boundary"),  # on a vertex
        ((0.0, 0.0), (SQ,), "boundary"),
        ((5.0, 10.0 + 1e-6), (SQ,), "outside"),
        ((5.0, 5.0), (SQ, HOLE), "outside"),  # strictly inside the hole
        ((4.0, 5.0), (SQ, HOLE), "boundary"),  # on the hole's edge
        ((2.0, 5.0), (SQ, HOLE), "inside"),
        ((5.0, 8.0), (U,), "outside"),  # in the notch
        ((2.0, 8.0), (U,), "inside"),  # an arm
        ((8.0, 8.0), (U,), "inside"),  # the other arm
        ((5.0, 2.0), (U,), "inside"),  # the base
        ((2.0, 3.0), (U,), "inside"),  # ray through the notch's vertices at y = 3
        ((-1.0, 3.0), (U,), "outside"),
        ((5.0, 3.0), (U,), "boundary"),  # on the notch's bottom edge
        ((2.0, 10.0), (U,), "boundary"),
    ],
)
def test_point_in_polygon(point: tuple[float, float], polygon: tuple[Any, ...], where: str) -> None:
    assert locate_in_polygon(*point, polygon) == where


def test_closed_and_open_rings_are_the_same_polygon() -> None:
    closed = WithinArea.model_validate({"kind": "within_area", "polygon": [[*SQ, SQ[0]]]})
    opened = WithinArea.model_validate({"kind": "within_area", "polygon": [list(SQ)]})
    assert closed.polygon == opened.polygon == (SQ,)


@given(st.floats(-5, 15), st.floats(-5, 15))
def test_rectangle_agrees_with_comparisons(x: float, y: float) -> None:
    where = locate_in_polygon(x, y, (SQ,))
    if 0 < x < 10 and 0 < y < 10 and min(x, 10 - x, y, 10 - y) > 1e-6:
        assert where == "inside"
    elif x < -1e-6 or x > 10 + 1e-6 or y < -1e-6 or y > 10 + 1e-6:
        assert where == "outside"


def test_polygon_validation_names_the_problem() -> None:
    with pytest.raises(ValidationError, match="ring 0 needs at least 3 distinct"):
        rule([{"kind": "within_area", "polygon": [[[0, 0], [1, 1], [0, 0]]]}])
    with pytest.raises(ValidationError) as info:
        rule([{"kind": "within_area", "polygon": [[[0, 0], [1, 91], [1, 0]]]}])
    assert "conditions.0.within_area.polygon.0.1.1" in str(info.value)


# --- cooldown ----------------------------------------------------------------------------------


def test_cooldown_per_incident() -> None:
    clock = ManualClock(T0)
    eng = AutomationEngine([rule(cooldown_s=300)], clock)
    first = one(eng.evaluate_event(event("gunshot.located"), incident=incident()))
    assert first.fired
    clock.advance(timedelta(seconds=40))
    second = one(eng.evaluate_event(event("gunshot.located"), incident=incident()))
    assert not second.fired
    assert (
        second.reason == "not fired: cooldown, fired 40 s ago for incident inc-1 (cooldown 300 s)"
    )
    assert second.actions == ()
    # Another incident is not cooling down.
    assert one(eng.evaluate_event(event("gunshot.located"), incident=incident(id="inc-2"))).fired
    clock.advance(timedelta(seconds=260))
    assert one(eng.evaluate_event(event("gunshot.located"), incident=incident())).fired


def test_cooldown_by_place_without_incident() -> None:
    clock = ManualClock(T0)
    eng = AutomationEngine([rule(cooldown_s=600)], clock, place_radius_m=100)
    assert one(eng.evaluate_event(event("gunshot.located"))).fired
    clock.advance(timedelta(seconds=10))
    near = one(eng.evaluate_event(event("gunshot.located", lon=LON0 + metres_east(60))))
    assert not near.fired
    assert near.reason.startswith(
        "not fired: cooldown, fired 10 s ago at (24.93840, 60.16990), within 100 m"
    )
    far = one(eng.evaluate_event(event("gunshot.located", lon=LON0 + metres_east(500))))
    assert far.fired
    # Neither an incident nor a place: the rule as a whole cools down.
    nowhere = rule(cooldown_s=60, id="r2")
    eng2 = AutomationEngine([nowhere], clock)
    assert one(eng2.evaluate_event(event("gunshot.located", lon=None, lat=None))).fired
    again = one(eng2.evaluate_event(event("gunshot.located", lon=None, lat=None)))
    assert (
        again.reason
        == "not fired: cooldown, fired 0 s ago with no incident and no place (cooldown 60 s)"
    )


def test_cooldown_dry_run_and_zero_and_bound() -> None:
    clock = ManualClock(T0)
    eng = AutomationEngine([rule(cooldown_s=300)], clock, max_cooldowns=2)
    assert one(
        eng.evaluate_event(event("gunshot.located"), incident=incident(), dry_run=True)
    ).fired
    assert one(
        eng.evaluate_event(event("gunshot.located"), incident=incident())
    ).fired  # not remembered
    for n in (2, 3):  # two more incidents push inc-1 out of the bounded memory
        assert one(
            eng.evaluate_event(event("gunshot.located"), incident=incident(id=f"inc-{n}"))
        ).fired
    assert one(eng.evaluate_event(event("gunshot.located"), incident=incident())).fired
    assert not one(
        eng.evaluate_event(event("gunshot.located"), incident=incident(id="inc-3"))
    ).fired
    eng.forget_cooldowns()
    assert one(eng.evaluate_event(event("gunshot.located"), incident=incident(id="inc-3"))).fired
    no_cooldown = engine(rule())
    for _ in range(3):
        assert one(no_cooldown.evaluate_event(event("gunshot.located"), incident=incident())).fired


def test_a_rule_that_does_not_fire_does_not_start_a_cooldown() -> None:
    clock = ManualClock(T0)
    eng = AutomationEngine(
        [rule([{"kind": "confidence_at_least", "confidence": 0.8}], cooldown_s=300)], clock
    )
    assert not one(eng.evaluate_event(event("gunshot.located", confidence=0.5))).fired
    assert one(eng.evaluate_event(event("gunshot.located", confidence=0.9))).fired


# --- templates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{incident.nope}", "unknown placeholder {incident.nope}"),
        ("{incident.__class__}", "unknown placeholder {incident.__class__}"),
        ("{incident.title.__class__.__init__.__globals__}", "unknown placeholder"),
        ("{incident[id]}", "unknown placeholder"),
        ("{}", "unknown placeholder {}"),
        ("{0}", "unknown placeholder {0}"),
        ("{incident.title!r}", "may not carry a conversion or format spec"),
        ("{incident.title:>999999}", "may not carry a conversion or format spec"),
        ("Fire {incident.title", "malformed template"),
        ("Fire }", "malformed template"),
    ],
)
def test_bad_templates_fail_at_load(template: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        rule(actions=[{**NOTIFY, "message": template}])
    text = str(info.value)
    assert message in text
    assert "actions.0.notify.message" in text


def test_templates_render_whitelisted_values_only() -> None:
    r = rule(
        actions=[
            {
                **NOTIFY,
                "message": "{{literal}} {incident.title} #{incident.id} p{incident.priority} "
                "{incident.status} {event.type} {rule.id} {location.lat},{location.lon} "
                "{incident.area} {change}",
            }
        ]
    )
    inc = incident(title="Fire\x1b[31m at\nthe market")
    trace = one(engine(r).evaluate_event(event("gunshot.located"), incident=inc))
    [action] = trace.actions
    assert isinstance(action, PlannedNotify)
    assert action.message == (
        "{literal} Fire [31m at the market #inc-1 p2 new gunshot.located r1 "
        "60.169900,24.938400 (none) (none)"
    )


# --- configuration errors name the field -------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "names"),
    [
        ({"cooldown": 60}, ["cooldown", "Extra inputs are not permitted"]),
        (
            {
                "actions": [
                    {"kind": "brighten_lamps", "radius": 100, "level_pct": 50, "duration_s": 60}
                ]
            },
            ["actions.0.brighten_lamps.radius", "actions.0.brighten_lamps.radius_m"],
        ),
        (
            {"conditions": [{"kind": "priority_at_most", "priority": 0}]},
            ["conditions.0.priority_at_most.priority"],
        ),
        ({"conditions": [{"kind": "is_dark"}]}, ["conditions.0", "is_dark"]),
        (
            {"trigger": {"on": "event", "event_types": ["camera.fire"]}},
            ["trigger.event.event_types.0", "unknown event type 'camera.fire'"],
        ),
        (
            {"trigger": {"on": "incident", "changes": ["opend"]}},
            ["trigger.incident.changes.0", "unknown incident change 'opend'"],
        ),
        (
            {"trigger": {"on": "incident", "changes": ["opened"], "incident_types": ["fires"]}},
            ["incident_types.0", "unknown incident type 'fires'"],
        ),
        (
            {"actions": [{"kind": "call_webhook", "target": "https://example.org/hook"}]},
            ["actions.0.call_webhook.target"],
        ),
        (
            {"actions": [{"kind": "call_webhook", "target": "ops", "url": "https://x"}]},
            ["actions.0.call_webhook.url"],
        ),
        (
            {"actions": [{"kind": "raise_bollards"}]},
            ["actions.0.raise_bollards", "either radius_m or device_ids"],
        ),
        (
            {"actions": [{"kind": "raise_bollards", "radius_m": 50, "device_ids": ["b1"]}]},
            ["either radius_m or device_ids"],
        ),
        (
            {"actions": [{"kind": "raise_bollards", "radius_m": 50, "confirm_within_s": 0}]},
            ["actions.0.raise_bollards.confirm_within_s", "greater than or equal to 1"],
        ),
        (
            {"actions": [{"kind": "raise_bollards", "radius_m": 50, "confirm_within_s": 3601}]},
            ["actions.0.raise_bollards.confirm_within_s", "less than or equal to 3600"],
        ),
        (
            {"actions": [{"kind": "raise_bollards", "radius_m": 50, "confirm": "later"}]},
            ["actions.0.raise_bollards.confirm"],
        ),
        (
            {"actions": [{"kind": "notify", "agencies": ["*", "helsinki-police"], "message": "x"}]},
            ["actions.0.notify.agencies", "'*' means every agency"],
        ),
        ({"actions": []}, ["actions"]),
        ({"agencies": []}, ["agencies"]),
        (
            {"conditions": [{"kind": "field", "path": "data.rounds", "op": "in", "value": 3}]},
            ["conditions.0.field", "op 'in' needs a non-empty list"],
        ),
        (
            {"conditions": [{"kind": "field", "path": "data.rounds", "op": "gt", "value": [3]}]},
            ["needs a single value"],
        ),
        (
            {"conditions": [{"kind": "field", "path": "data.rounds", "op": "gt", "value": True}]},
            ["needs a number or a string"],
        ),
        ({"id": "Bad Id"}, ["id"]),
    ],
)
def test_config_errors_name_the_field(patch: dict[str, Any], names: list[str]) -> None:
    body = {
        "id": "r1",
        "name": "Test",
        "trigger": {"on": "event", "event_types": ["gunshot.located"]},
        "actions": [NOTIFY],
        "agencies": ["helsinki-police"],
        **patch,
    }
    with pytest.raises(ValidationError) as info:
        AutomationRule.model_validate(body)
    for name in names:
        assert name in str(info.value)


def test_duplicate_ids_and_unknown_webhooks_are_refused() -> None:
    with pytest.raises(ValidationError, match="two rules have the id 'r1'"):
        AutomationConfig.model_validate({"rules": [rule().model_dump(), rule().model_dump()]})
    hook = rule(actions=[{"kind": "call_webhook", "target": "city-ops"}])
    with pytest.raises(
        ValueError, match="rule 'r1' calls webhook 'city-ops', which is not configured"
    ):
        engine(hook, webhooks=["other"])
    assert engine(hook, webhooks=["city-ops"]).rules == (hook,)


def test_rules_are_frozen() -> None:
    r = rule()
    with pytest.raises(ValidationError):
        r.enabled = False  # type: ignore[misc]


# --- traces ------------------------------------------------------------------------------------


def test_only_considered_rules_are_traced_in_config_order() -> None:
    rules = [
        rule(id="b-second", cooldown_s=0),
        rule(id="disabled", enabled=False),
        rule(id="other-type", trigger={"on": "event", "event_types": ["camera.fire_smoke"]}),
        rule(id="on-incident", trigger={"on": "incident", "changes": ["opened"]}),
        rule(id="a-family", trigger={"on": "event", "event_types": ["gunshot.*", "camera.*"]}),
    ]
    eng = engine(*rules)
    traces = eng.evaluate_event(event("gunshot.located"))
    assert [t.rule_id for t in traces] == ["b-second", "a-family"]
    assert traces[0].trigger.event_type == "gunshot.located"
    assert traces[0].trigger.event_source == "urn:test:camera"
    assert [t.rule_id for t in eng.evaluate_incident_change("opened", incident())] == [
        "on-incident"
    ]
    assert eng.evaluate_incident_change("closed", incident()) == []


def test_incident_trigger_filters_change_and_type() -> None:
    r = rule(
        trigger={
            "on": "incident",
            "changes": ["opened", "dispatched"],
            "incident_types": ["shooting"],
        }
    )
    eng = engine(r)
    assert eng.evaluate_incident_change("opened", incident()) == []  # a fire
    [trace] = eng.evaluate_incident_change("dispatched", incident(type="shooting"))
    assert trace.trigger.model_dump() == {
        "on": "incident",
        "event_source": None,
        "event_id": None,
        "event_type": None,
        "incident_id": "inc-1",
        "change": "dispatched",
    }


def test_all_conditions_are_evaluated_and_the_reason_names_each_failure() -> None:
    r = rule(
        [
            {"kind": "priority_at_most", "priority": 2},
            {"kind": "status_in", "statuses": ["new"]},
            {"kind": "severity_at_least", "severity": "severe"},
        ]
    )
    trace = one(engine(r).evaluate_event(event("gunshot.located"), incident=incident(priority=4)))
    assert not trace.fired
    assert [(c.condition, c.passed) for c in trace.conditions] == [
        ("priority_at_most", False),
        ("status_in", True),
        ("severity_at_least", False),
    ]
    assert trace.reason == "not fired: priority 4 is above 2; severity unknown is below severe"
    fired = one(
        engine(r).evaluate_event(event("gunshot.located", severity="extreme"), incident=incident())
    )
    assert fired.fired and fired.reason == "fired: all 3 conditions held"


def test_actions_are_resolved_to_concrete_values() -> None:
    r = rule(
        actions=[
            {"kind": "brighten_lamps", "radius_m": 150, "level_pct": 100, "duration_s": 900},
            {"kind": "raise_bollards", "radius_m": 100},
            {"kind": "raise_bollards", "device_ids": ["bollard-1", "bollard-2"]},
            {
                "kind": "draft_cap_warning",
                "headline": "Fire: {incident.title}",
                "severity": "severe",
                "urgency": "immediate",
                "certainty": "observed",
                "radius_m": 300,
                "expires_s": 3600,
            },
            {"kind": "call_webhook", "target": "city-ops"},
        ]
    )
    trace = one(
        engine(r, webhooks=["city-ops"]).evaluate_event(
            event("gunshot.located", id_="g1"), incident=incident()
        )
    )
    assert trace.fired and trace.reason == "fired: the rule has no conditions"
    lamps, bollards, by_id, cap, hook = trace.actions
    assert isinstance(lamps, PlannedBrightenLamps)
    assert (lamps.lon, lamps.lat, lamps.radius_m, lamps.level_pct) == (LON0, LAT0, 150, 100)
    assert lamps.until == T0 + timedelta(minutes=15)
    assert lamps.incident_id == "inc-1" and lamps.event_id == "g1" and lamps.rule_id == "r1"
    assert lamps.purpose == "automation rule r1: Test rule"
    assert (
        isinstance(bollards, PlannedRaiseBollards)
        and bollards.radius_m == 100
        and bollards.lon == LON0
    )
    assert isinstance(by_id, PlannedRaiseBollards) and by_id.device_ids == (
        "bollard-1",
        "bollard-2",
    )
    assert by_id.lon is None
    assert isinstance(cap, PlannedCapDraft)
    assert cap.status == "draft" and cap.headline == "Fire: Fire at the market"
    assert cap.expires_at == T0 + timedelta(hours=1) and cap.radius_m == 300
    assert isinstance(hook, PlannedWebhookCall)
    assert hook.target == "city-ops" and hook.incident_type == "fire" and hook.priority == 2
    assert hook.event_type == "gunshot.located" and hook.at == T0
    # A trace is plain data: it round-trips through JSON.
    assert RuleTrace.model_validate_json(trace.model_dump_json()) == trace


def test_an_action_that_needs_a_place_keeps_the_rule_from_firing_without_one() -> None:
    r = rule(
        actions=[{"kind": "brighten_lamps", "radius_m": 150, "level_pct": 100, "duration_s": 900}]
    )
    trace = one(engine(r).evaluate_event(event("gunshot.located", lon=None, lat=None)))
    assert not trace.fired and trace.actions == ()
    assert trace.reason == "not fired: brighten_lamps needs a location, and there is none"
    # Bollards named by id need no place.
    by_id = rule(actions=[{"kind": "raise_bollards", "device_ids": ["b-1"]}])
    assert one(engine(by_id).evaluate_event(event("gunshot.located", lon=None, lat=None))).fired


def test_raising_bollards_is_planned_as_a_proposal_unless_the_rule_says_otherwise() -> None:
    default = rule(actions=[{"kind": "raise_bollards", "radius_m": 100}])
    (planned,) = one(engine(default).evaluate_event(event("gunshot.located"))).actions
    assert isinstance(planned, PlannedRaiseBollards)
    assert (planned.confirm, planned.confirm_within_s) == (True, 120)
    at_once = rule(
        actions=[
            {"kind": "raise_bollards", "device_ids": ["b-1"], "confirm": False},
        ]
    )
    (planned,) = one(engine(at_once).evaluate_event(event("gunshot.located"))).actions
    assert isinstance(planned, PlannedRaiseBollards) and planned.confirm is False
    quick = rule(actions=[{"kind": "raise_bollards", "radius_m": 50, "confirm_within_s": 30}])
    (planned,) = one(engine(quick).evaluate_event(event("gunshot.located"))).actions
    assert isinstance(planned, PlannedRaiseBollards) and planned.confirm_within_s == 30


# --- examples and docs -------------------------------------------------------------------------


def test_example_rules_behave_as_described() -> None:
    eng = engine(*EXAMPLE_RULES)
    shooting = incident(
        id="inc-5",
        type="shooting",
        priority=2,
        signals=IncidentSignals(max_confidence=0.9, sources=("urn:a",)),
    )
    [shot, _any_p1] = eng.evaluate_incident_change("opened", shooting)
    assert shot.rule_id == "gunshot-light-and-alert"
    assert shot.fired and [a.kind for a in shot.actions] == ["brighten_lamps", "notify"]
    assert "inc-5" in shot.actions[1].message  # type: ignore[union-attr]
    fast = event("camera.vehicle", data={"camera_id": "c1", "speed_kmh": 35})
    [vehicle] = eng.evaluate_event(fast)
    assert vehicle.fired and vehicle.actions[0].kind == "raise_bollards"
    slow_outside = event(
        "camera.vehicle", data={"camera_id": "c1", "speed_kmh": 35}, lon=LON0 + 0.02
    )
    [outside] = eng.evaluate_event(slow_outside)
    assert not outside.fired and "is outside Kamppi pedestrian zone" in outside.reason
    [crowd] = eng.evaluate_event(
        event("camera.crowd_density", data={"camera_id": "c2", "persons_per_m2": 5.0})
    )
    assert crowd.fired
    [fire, p1] = eng.evaluate_incident_change("opened", incident(priority=1))
    assert fire.fired and isinstance(fire.actions[0], PlannedCapDraft)
    assert (
        p1.fired and isinstance(p1.actions[0], PlannedNotify) and p1.actions[0].agencies == ("*",)
    )
    [fire2, p2] = eng.evaluate_incident_change("opened", incident(id="inc-9", priority=2))
    assert fire2.fired
    assert not p2.fired and p2.reason == "not fired: priority 2 is above 1"
    [fire3, p3] = eng.evaluate_incident_change("opened", incident(id="inc-10", priority=3))
    assert not fire3.fired and "priority 3 is above 2" in fire3.reason
    assert not p3.fired
    assert example_rules(police="oslo-police")[0].actions[1].agencies[0] == "oslo-police"  # type: ignore[union-attr]


def test_the_toml_example_in_the_docs_loads() -> None:
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "docs/automations.md has a TOML example"
    config = AutomationConfig.model_validate(tomllib.loads(blocks[0])["automations"])
    assert len(config.rules) >= 2
    assert engine(*config.rules, webhooks=["city-ops"]).rules == config.rules


# --- evaluation never raises -------------------------------------------------------------------

ALL_CONDITIONS: list[dict[str, Any]] = [
    {"kind": "incident_type_in", "types": ["fire", "shooting"]},
    {"kind": "priority_at_most", "priority": 3},
    {"kind": "severity_at_least", "severity": "moderate"},
    {"kind": "confidence_at_least", "confidence": 0.5},
    {"kind": "status_in", "statuses": ["new", "dispatched"]},
    {"kind": "within_area", "polygon": SQUARE},
    {"kind": "within_distance", "lon": LON0, "lat": LAT0, "distance_m": 500},
    {**NIGHT, "weekdays": ["fri", "sat"]},
    {"kind": "field", "path": "data.rounds", "op": "ge", "value": 2},
    {"kind": "field", "path": "context.x.0", "op": "contains", "value": "a"},
    {"kind": "field", "path": "incident.signals.sources", "op": "contains", "value": "a"},
    {"kind": "field", "path": "event.data.camera_id", "op": "in", "value": ["cam-1", 3, None]},
    {"kind": "sources_at_least", "count": 2},
]
ALL_ACTIONS: list[dict[str, Any]] = [
    {"kind": "brighten_lamps", "radius_m": 150, "level_pct": 100, "duration_s": 900},
    {"kind": "raise_bollards", "radius_m": 100},
    {**NOTIFY, "message": "{incident.title} {event.type} {location.lat} {change} {now}"},
    {
        "kind": "draft_cap_warning",
        "headline": "{incident.title}",
        "severity": "severe",
        "urgency": "immediate",
        "certainty": "likely",
        "radius_m": 300,
        "expires_s": 3600,
    },
    {"kind": "call_webhook", "target": "ops"},
]
FUZZ_RULES = [
    *EXAMPLE_RULES,
    rule(
        ALL_CONDITIONS,
        actions=ALL_ACTIONS,
        trigger={
            "on": "event",
            "event_types": [
                "gunshot.*",
                "camera.*",
                "call.*",
                "lamp.*",
                "noise.*",
                "unit.*",
                "acoustic.*",
                "citizen.*",
            ],
        },
        id="all-on-event",
        cooldown_s=60,
    ),
    rule(
        ALL_CONDITIONS,
        actions=ALL_ACTIONS,
        trigger={"on": "incident", "changes": ["opened", "updated", "closed"]},
        id="all-on-incident",
        cooldown_s=60,
    ),
    *[
        rule(
            [c],
            actions=ALL_ACTIONS,
            trigger={"on": "event", "event_types": sorted(PAYLOADS)},
            id=f"single-{i}",
        )
        for i, c in enumerate(ALL_CONDITIONS)
    ],
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
places = st.one_of(
    st.none(),
    st.tuples(st.floats(LON0 - 0.01, LON0 + 0.01), st.floats(LAT0 - 0.01, LAT0 + 0.01)),
    st.tuples(st.floats(-180, 180), st.floats(-90, 90)),
)
# Hypothesis takes naive bounds and attaches the zone itself.
times = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001
    max_value=datetime(2035, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@st.composite
def events(draw: st.DrawFn) -> Any:
    type_ = draw(st.sampled_from(sorted(PAYLOADS)))
    place = draw(places)
    return event(
        type_,
        lon=place[0] if place else None,
        lat=place[1] if place else None,
        severity=draw(st.sampled_from([s.value for s in Severity])),
        confidence=draw(st.floats(0, 1)),
        source=draw(st.sampled_from(["urn:a", "urn:b"])),
    )


@st.composite
def incidents(draw: st.DrawFn) -> Incident:
    place = draw(places)
    return incident(
        id=draw(st.sampled_from(["inc-1", "inc-2", "inc-3"])),
        type=draw(st.sampled_from(sorted(BASE_PRIORITY))),
        title=draw(st.text(min_size=1, max_size=30)),
        priority=draw(st.integers(1, 5)),
        status=draw(st.sampled_from(list(IncidentStatus))),
        location=Location(lon=place[0], lat=place[1]) if place else None,
        area=draw(st.none() | st.text(max_size=10)),
        signals=IncidentSignals(
            max_severity=draw(st.sampled_from(list(Severity))),
            max_confidence=draw(st.floats(0, 1)),
            sources=tuple(
                draw(st.lists(st.sampled_from(["a", "b", "c"]), max_size=3, unique=True))
            ),
        ),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.booleans(),
            events(),
            st.none() | incidents(),
            st.sampled_from(["opened", "updated", "closed", "merged"]),
            st.dictionaries(st.sampled_from(["sources", "x"]), json_values, max_size=2),
            st.integers(0, 400),
        ),
        min_size=1,
        max_size=6,
    ),
    times,
)
def test_evaluation_never_raises_and_is_deterministic(steps: list[Any], start: datetime) -> None:
    def run() -> list[RuleTrace]:
        clock = ManualClock(start)
        eng = AutomationEngine(FUZZ_RULES, clock, webhooks=["ops"])
        out: list[RuleTrace] = []
        for on_event, ev, inc, change, context, wait in steps:
            clock.advance(timedelta(seconds=wait))
            if on_event or inc is None:
                out += eng.evaluate_event(ev, incident=inc, context=context)
            else:
                out += eng.evaluate_incident_change(change, inc, context=context)
        return out

    first = run()
    assert first == run()
    for trace in first:
        assert trace.reason.startswith("fired: " if trace.fired else "not fired: ")
        assert trace.fired or trace.actions == ()
        assert all(c.detail for c in trace.conditions)
