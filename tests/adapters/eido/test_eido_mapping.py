"""NENA EIDO in (documents and conveyance messages) and out (schema-valid, round trip)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.eido.config import EidoConfig
from safecity.adapters.eido.mapping import parse
from safecity.adapters.eido.outbound import incident_to_eido, tracking_id
from safecity.core.errors import InvalidInput
from safecity.core.events import Event
from safecity.core.geo import Location
from safecity.core.incidents import Incident, IncidentStatus
from safecity.core.payloads import CadIncident, CallCategory
from support import INTEROP

EIDO = INTEROP / "eido"
RECEIVED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CTX = MappingContext(received_at=RECEIVED, content_type="application/emergency.eido+json")
INCIDENT_URN = "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us"
VALID = [
    "nena-samples/Sample_call_transfer_EIDO.json",
    "eidolib/eido/SampleCallTransferEido.json",
    "eidolib/eido/EidoWithJcard.json",
    "eidolib/conveyance-websocket/NotifyWithEido.json",
]
CONTROL = {
    "BasicSubscribe.json": "subscribe",
    "BasicSubscribeResponse.json": "subscribeResponse",
    "BasicUnsubscribe.json": "unsubscribe",
    "BasicUnsubscribeResponse.json": "unsubscribeResponse",
    "NotifyResponse.json": "eventResponse",
    "TerminateRequest.json": "terminate",
    "TerminateResponse.json": "terminateResponse",
}


def one(raw: bytes) -> tuple[Event, CadIncident, Mapped]:
    mapped = parse(raw, CTX)
    assert len(mapped.events) == 1 and not mapped.rejections
    event = mapped.events[0]
    assert isinstance(event.data, CadIncident)
    return event, event.data, mapped


@pytest.mark.parametrize("name", VALID)
def test_sample_eidos_map_to_a_cad_incident(name: str) -> None:
    event, data, mapped = one((EIDO / name).read_bytes())
    assert event.type == "cad.incident"
    assert event.source == "eido:idx.state.pa.us"
    assert event.id == f"{INCIDENT_URN}@2021-04-30T14:43:49.439-04:00"
    assert event.subject == INCIDENT_URN
    assert event.time == datetime(2021, 4, 30, 18, 43, 49, 439000, tzinfo=UTC)
    assert data.incident_id == INCIDENT_URN
    assert data.agency == "state.pa.us"
    assert data.category is CallCategory.OTHER
    assert data.address == "42 W Cellular Street, Wilmington, DE, US"
    assert data.notes == 0 and data.units == []
    assert data.format == "eido"
    # The sample has a civic address and a by-reference location: no position, nothing fetched.
    assert event.location is None
    assert any("by reference; kept as a link, not fetched" in n for n in mapped.notes)


@pytest.mark.parametrize("name", VALID)
def test_person_callback_and_additional_data_are_never_copied(name: str) -> None:
    event, _, _ = one((EIDO / name).read_bytes())
    text = orjson.dumps(event.to_json_dict()).decode().lower()
    for personal in ("8195551212", "tschofenig", "tjones", "alice", "sip:", "tel:", "caller"):
        assert personal not in text, personal


def test_jcard_sample_spelling_of_the_timestamp_is_noted() -> None:
    _, _, mapped = one((EIDO / "eidolib/eido/EidoWithJcard.json").read_bytes())
    assert "body: read 'lastUpdateTimestamp' as 'lastUpdateTimeStamp'" in mapped.notes


@pytest.mark.parametrize(("name", "kind"), sorted(CONTROL.items()))
def test_conveyance_control_messages_carry_no_incident(name: str, kind: str) -> None:
    mapped = parse((EIDO / "eidolib/conveyance-websocket" / name).read_bytes(), CTX)
    assert mapped.events == [] and mapped.rejections == []
    assert mapped.notes[0].startswith(f"EIDO conveyance {kind} (")


def test_legacy_draft_is_refused_with_the_reason() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse((EIDO / "nena-samples/legacy-draft/Sample_EIDO.json").read_bytes(), CTX)
    error = exc.value.errors[0]
    assert error.field == "eidoVersion"
    assert "pre-standard 2020 draft" in error.reason


def sample() -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(
        (EIDO / "nena-samples/Sample_call_transfer_EIDO.json").read_bytes()
    )
    return loaded


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"$id": None}, "$id", "incident tracking identifier"),
        ({"eidoVersion": "2.0"}, "eidoVersion", "'1.0'"),
        ({"lastUpdateTimeStamp": None}, "lastUpdateTimeStamp", "required"),
        ({"lastUpdateTimeStamp": "30.4.2021 14:43"}, "time", "RFC 3339"),
    ],
)
def test_broken_eidos_name_the_field(change: dict[str, Any], field: str, reason: str) -> None:
    doc = sample()
    for key, value in change.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    with pytest.raises(InvalidInput) as exc:
        parse(orjson.dumps(doc), CTX)
    found = {e.field: e.reason for e in exc.value.errors}
    assert field in found and reason in found[field], found


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        (b"not json", "body", "not valid JSON"),
        (b"42", "body", "EIDO object"),
        (b'{"event": {"notification": []}}', "event.notification", "list of EIDOs"),
        (b'{"subscribe": "x"}', "subscribe", "object"),
    ],
)
def test_broken_messages_are_refused(raw: bytes, field: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse(raw, CTX)
    assert exc.value.errors[0].field == field
    assert reason in exc.value.errors[0].reason


def test_a_bad_eido_in_a_notification_is_rejected_alone() -> None:
    bad = sample()
    del bad["$id"]
    message = {"event": {"subscriptionId": "s", "notification": [sample(), bad]}}
    mapped = parse(orjson.dumps(message), CTX)
    assert len(mapped.events) == 1
    assert mapped.rejections[0].where == "event.notification[1]"
    assert mapped.rejections[0].errors[0].field == "event.notification[1].$id"


def incident_eido(code: str, pidf: str) -> dict[str, Any]:
    doc = sample()
    doc["incidentComponent"] = {
        "$id": "inc-1",
        "lastUpdateTimeStamp": "2021-04-30T14:43:49.439-04:00",
        "updatedByAgencyReference": {"$ref": "state.pa.us"},
        "incidentTypeCommonRegistryText": code,
        "incidentTypeInternalText": "STRUCTURE FIRE",
        "incidentStatusCommonRegistryText": ["Dispatched"],
        "incidentCommonPriorityNumber": 2,
        "locationReference": [{"$ref": "loc-1"}],
    }
    doc["locationComponent"].insert(
        0,
        {
            "$id": "loc-1",
            "lastUpdateTimeStamp": "2021-04-30T14:40:00.0-04:00",
            "updatedByAgencyReference": {"$ref": "state.pa.us"},
            "locationTypeDescriptionRegistryText": "Incident",
            "locationByValue": pidf,
        },
    )
    doc["notesComponent"] = [
        {"$id": "n1", "notesActionComments": "Caller John says smoke from 2nd floor"}
    ]
    doc["emergencyResourceComponent"] = [{"$id": "E12"}, {"$id": "L3"}]
    return doc


POINT = (
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
    'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml">'
    "<tuple id='a'><status><gp:geopriv><gp:location-info><gml:Point>"
    "<gml:pos>39.7459 -75.5466</gml:pos></gml:Point></gp:location-info></gp:geopriv></status>"
    "</tuple></presence>"
)


def test_incident_component_gives_category_status_priority_position_and_counts() -> None:
    event, data, _ = one(orjson.dumps(incident_eido("FSTRU", POINT)))
    assert data.category is CallCategory.FIRE
    assert data.nature == "STRUCTURE FIRE"
    assert data.status == "Dispatched"
    assert data.priority_code == "2"
    assert data.units == ["E12", "L3"]
    assert data.notes == 1
    assert event.location is not None
    assert (event.location.lat, event.location.lon) == (39.7459, -75.5466)
    assert "John" not in orjson.dumps(event.to_json_dict()).decode()


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("SHOOT", CallCategory.SHOOTING),
        ("ROBBERY", CallCategory.ROBBERY),
        ("MVAINJY", CallCategory.TRAFFIC),
        ("CARDIAC", CallCategory.MEDICAL),
        ("CU1", CallCategory.FIRE),  # not a registry code: the text "STRUCTURE FIRE" decides
    ],
)
def test_incident_type_codes(code: str, category: CallCategory) -> None:
    _, data, _ = one(orjson.dumps(incident_eido(code, POINT)))
    assert data.category is category


def test_location_with_a_dtd_is_not_read_and_nothing_is_fetched() -> None:
    evil = (
        '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "http://127.0.0.1:1/">]>'
        "<presence>&x;</presence>"
    )
    event, _, mapped = one(orjson.dumps(incident_eido("FSTRU", evil)))
    assert event.location is None
    assert any("unreadable PIDF-LO" in n and "DTD" in n for n in mapped.notes)


# --- outbound -----------------------------------------------------------------------------------


def make_incident(**overrides: Any) -> Incident:
    at = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    values: dict[str, Any] = {
        "id": "inc_01JDTESTFIRE",
        "type": "fire",
        "title": "Fire or smoke",
        "priority": 1,
        "status": IncidentStatus.DISPATCHED,
        "location": Location(lon=24.9384, lat=60.1699),
        "opened_at": at,
        "updated_at": at + timedelta(minutes=3),
        "first_event_at": at,
        "last_event_at": at,
        "agency_id": "helsinki-rescue",
        "units": ("unit-r1",),
    }
    values.update(overrides)
    return Incident(**values)


def test_round_trip_keeps_id_category_and_location() -> None:
    config = EidoConfig(domain="hel.fi", issuing_element="safecity.hel.fi")
    incident = make_incident()
    doc = incident_to_eido(incident, [], config)
    event, data, _ = one(orjson.dumps(doc))
    assert data.incident_id == tracking_id(incident.id, config)
    assert data.incident_id.split(":")[4] == incident.id
    assert data.category is CallCategory.FIRE
    assert data.agency == "helsinki-rescue"
    assert data.status == "dispatched"
    assert data.priority_code == "1"
    assert event.source == "eido:safecity.hel.fi"
    assert event.time == incident.updated_at
    assert event.location is not None
    assert (event.location.lat, event.location.lon) == (60.1699, 24.9384)


def test_position_comes_from_linked_events_when_the_incident_has_none() -> None:
    from factories import event as make_event

    linked = make_event("camera.fire_smoke", lon=25.0, lat=60.2)
    doc = incident_to_eido(make_incident(location=None), [linked], EidoConfig())
    event, _, _ = one(orjson.dumps(doc))
    assert event.location is not None
    assert (event.location.lat, event.location.lon) == (60.2, 25.0)
    no_place = incident_to_eido(make_incident(location=None), [], EidoConfig())
    assert "locationComponent" not in no_place


# --- fuzzing --------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_fuzz_never_crashes(raw: bytes) -> None:
    try:
        result = parse(raw, CTX)
    except InvalidInput:
        return
    assert isinstance(result, Mapped)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(list(sample())), JSONISH)
def test_fuzz_mutated_sample(key: str, value: Any) -> None:
    doc = sample()
    doc[key] = value
    try:
        result = parse(orjson.dumps(doc), CTX)
    except (InvalidInput, orjson.JSONEncodeError):
        return
    assert isinstance(result, Mapped)


def _files() -> list[Path]:
    return sorted(EIDO.rglob("*.json"))


def test_every_json_vector_is_covered() -> None:
    names = {p.relative_to(EIDO).as_posix() for p in _files()}
    covered = set(VALID) | {f"eidolib/conveyance-websocket/{n}" for n in CONTROL}
    covered.add("nena-samples/legacy-draft/Sample_EIDO.json")
    assert names == covered
