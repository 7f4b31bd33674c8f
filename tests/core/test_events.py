"""The envelope accepts what the catalogue describes and names the field at fault otherwise."""

from __future__ import annotations

import pytest

from factories import raw_event
from safecity.core.catalogue import CATALOGUE, classify, discovery_of
from safecity.core.errors import InvalidInput
from safecity.core.events import parse_event


def fields(exc: pytest.ExceptionInfo[InvalidInput]) -> dict[str, str]:
    return {e.field: e.reason for e in exc.value.errors}


def test_valid_event_round_trips_to_utc_json() -> None:
    raw = raw_event(time="2026-11-21T14:00:00+02:00")
    event = parse_event(raw)
    assert event.time.isoformat() == "2026-11-21T12:00:00+00:00"
    again = parse_event(event.to_json_dict())
    assert again == event


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.pop("id"), "id"),
        (lambda r: r.update(id=""), "id"),
        (lambda r: r.update(source="bad\x00source"), "source"),
        (lambda r: r.update(time="2026"), "time"),
        (lambda r: r.update(time="2026-11-21T12:00:00"), "time"),
        (lambda r: r.update(time=1_700_000_000), "time"),
        (lambda r: r.update(location={"lon": 181, "lat": 0}), "location.lon"),
        (lambda r: r.update(location={"lon": 0, "lat": -91}), "location.lat"),
        (lambda r: r.update(confidence=1.5), "confidence"),
        (lambda r: r.update(severity="apocalyptic"), "severity"),
        (lambda r: r.update(specversion="0.3"), "specversion"),
        (lambda r: r.update(unexpected=True), "unexpected"),
        (lambda r: r["data"].update(kind="steam"), "data.kind"),
        (lambda r: r["data"].pop("camera_id"), "data.camera_id"),
        (lambda r: r.pop("data"), "data"),
        (lambda r: r.update(type="camera.teleport"), "type"),
    ],
)
def test_invalid_fields_are_named(mutate: object, field: str) -> None:
    raw = raw_event()
    mutate(raw)  # type: ignore[operator]
    with pytest.raises(InvalidInput) as exc:
        parse_event(raw)
    assert field in fields(exc), fields(exc)


def test_all_faults_reported_at_once_with_batch_prefix() -> None:
    raw = raw_event(location={"lon": 500, "lat": 0})
    raw["data"] = {"camera_id": "c", "kind": "lava"}
    with pytest.raises(InvalidInput) as exc:
        parse_event(raw, where="events[4]")
    assert set(fields(exc)) == {"events[4].location.lon", "events[4].data.kind"}


def test_non_object_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_event([1, 2])
    assert "must be a JSON object" in fields(exc)["body"]


def test_catalogue_covers_the_required_types() -> None:
    required = {
        "acoustic.pulse",
        "gunshot.located",
        "camera.motion",
        "camera.line_crossing",
        "camera.loitering",
        "camera.crowd_density",
        "camera.abnormal",
        "camera.fire_smoke",
        "camera.vehicle",
        "lamp.emergency_button",
        "lamp.fault",
        "lamp.light_level",
        "noise.level",
        "crowd.count",
        "citizen.report",
        "call.emergency",
        "traffic.incident",
        "access.bollard_state",
        "waste.fill_level",
        "unit.position",
        "unit.status",
    }
    assert required <= set(CATALOGUE)


def test_payloads_hold_no_plates_or_names() -> None:
    vehicle = CATALOGUE["camera.vehicle"].payload.model_fields
    assert not {"plate", "licence_plate", "license_plate"} & set(vehicle)
    raw = raw_event("camera.vehicle", data={"camera_id": "c", "plate": "ABC-123"})
    with pytest.raises(InvalidInput) as exc:
        parse_event(raw)
    assert "data.plate" in fields(exc)


@pytest.mark.parametrize(
    ("type_", "data", "incident_type", "opens"),
    [
        ("gunshot.located", None, "shooting", True),
        ("acoustic.pulse", None, "shooting", False),
        ("camera.fire_smoke", None, "fire", True),
        ("camera.abnormal", None, "violence", True),
        ("lamp.emergency_button", None, "help_request", True),
        ("citizen.report", None, "violence", True),
    ],
)
def test_classification(type_: str, data: object, incident_type: str, opens: bool) -> None:
    verdict = classify(parse_event(raw_event(type_)))
    assert verdict is not None
    assert (verdict.incident_type, verdict.opens) == (incident_type, opens)


@pytest.mark.parametrize("type_", ["camera.motion", "noise.level", "unit.position"])
def test_routine_events_open_nothing(type_: str) -> None:
    assert classify(parse_event(raw_event(type_))) is None


def test_severity_raises_priority() -> None:
    calm = classify(parse_event(raw_event("camera.abnormal")))
    severe = classify(parse_event(raw_event("camera.abnormal", severity="severe")))
    assert calm is not None and severe is not None
    assert severe.priority == calm.priority - 1


@pytest.mark.parametrize(
    ("type_", "data", "way"),
    [
        ("citizen.report", None, "public"),
        ("lamp.emergency_button", None, "public"),
        ("call.emergency", {"cad_id": "c1", "category": "assault"}, "public"),
        (
            "call.emergency",
            {"cad_id": "c2", "category": "assault", "discovered_by": "patrol"},
            "patrol",
        ),
        ("camera.abnormal", None, "sensor"),
        ("gunshot.located", None, "sensor"),
        ("cad.incident", {"incident_id": "i1"}, None),
        ("cad.incident", {"incident_id": "i2", "discovered_by": "patrol"}, "patrol"),
        ("unit.status", {"unit_id": "P-1", "status": "available"}, None),
    ],
)
def test_how_an_event_came_to_notice(type_: str, data: object, way: str | None) -> None:
    kw = {"data": data} if data is not None else {}
    found = discovery_of(parse_event(raw_event(type_, **kw)))
    assert (found.value if found is not None else None) == way


def test_an_unknown_discovery_is_refused_naming_the_field() -> None:
    bad = raw_event("call.emergency", data={"cad_id": "c", "category": "x", "discovered_by": "?"})
    bad["data"]["category"] = "assault"
    with pytest.raises(InvalidInput) as info:
        parse_event(bad)
    assert "data.discovered_by" in str(info.value)
