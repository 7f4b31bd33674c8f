"""NGSI-LD out (incident -> Alert, sensor -> Device), the read-only NGSI-LD API, and the
inbound path end to end over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from fastapi.testclient import TestClient

from factories import LON0, later, metres_east, raw_event
from safecity.adapters.base import MappingContext
from safecity.adapters.ngsi_ld.outbound import (
    CORE_CONTEXT,
    incident_entity_id,
    incident_to_entity,
    sensor_to_entity,
)
from safecity.api.routes.ngsi_ld import router
from safecity.core.geo import Location
from safecity.core.identity import Agency, Role
from safecity.core.incidents import Incident, IncidentStatus
from safecity.core.registry import Sensor, SensorKind
from safecity.ingest.adapters import map_input
from safecity.runtime import Runtime
from support import INTEROP, Api, settle

OPENED = datetime(2026, 11, 21, 12, 0, 30, tzinfo=UTC)
INCIDENT = Incident(
    id="inc_42",
    type="fire",
    title="Smoke at Kamppi",
    priority=2,
    status=IncidentStatus.ACKNOWLEDGED,
    location=Location(lon=24.9384, lat=60.1699),
    opened_at=OPENED,
    updated_at=OPENED,
    first_event_at=datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
    last_event_at=OPENED,
    summary="Two cameras and a call",
)
SENSOR = Sensor(
    id="cam-kamppi-1",
    kind=SensorKind.CAMERA,
    name="Kamppi square camera",
    owner_agency="helsinki-police",
    location=Location(lon=24.93, lat=60.17),
    measures=("image",),
    purpose="Public safety",
    legal_basis="Police Act",
    personal_data=True,
    retention_days=30,
    public=True,
)


def inbound(entity: dict[str, object]) -> object:
    return map_input(
        "ngsi_ld",
        orjson.dumps(entity),
        MappingContext(received_at=datetime(2026, 11, 21, 13, tzinfo=UTC)),
    )


def test_incident_becomes_an_alert_entity() -> None:
    entity = incident_to_entity(INCIDENT)
    assert entity["id"] == "urn:ngsi-ld:Alert:safecity:inc_42"
    assert entity["type"] == "Alert"
    assert entity["subCategory"] == {"type": "Property", "value": "fire"}
    assert entity["severity"] == {"type": "Property", "value": "high"}
    assert entity["safecityStatus"] == {"type": "Property", "value": "acknowledged"}
    assert entity["location"] == {
        "type": "GeoProperty",
        "value": {"type": "Point", "coordinates": [24.9384, 60.1699]},
    }
    assert CORE_CONTEXT in entity["@context"]


def test_incident_round_trip_keeps_type_location_and_time() -> None:
    mapped = inbound(incident_to_entity(INCIDENT))
    (event,) = mapped.events  # type: ignore[attr-defined]
    assert event.type == "alert.issued"
    assert event.time == INCIDENT.opened_at
    assert event.location == INCIDENT.location
    data = event.to_json_dict()["data"]
    assert data["event"] == INCIDENT.type
    assert data["categories"] == ["security", "fire"]
    assert data["identifier"] == incident_entity_id(INCIDENT.id)
    assert data["severity"] == "severe"
    assert data["description"] == INCIDENT.summary


def test_sensor_round_trip_as_a_device() -> None:
    entity = sensor_to_entity(SENSOR)
    assert entity["type"] == "Device"
    assert entity["id"] == "urn:ngsi-ld:Device:safecity:cam-kamppi-1"
    (back,) = inbound(entity).sensors  # type: ignore[attr-defined]
    assert (back.kind, back.name, back.measures, back.personal_data) == (
        SensorKind.CAMERA,
        SENSOR.name,
        SENSOR.measures,
        True,
    )
    assert back.location == SENSOR.location


@pytest.fixture
def ld_api(runtime: Runtime) -> Iterator[Api]:
    app = runtime.api()
    app.include_router(router)
    tokens = {role: runtime.identity.issue_token(f"{role.value}-1").secret for role in Role}
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, tokens)


def _open_fire(api: Api, runtime: Runtime) -> dict[str, object]:
    api.client.post(
        "/v1/events/batch",
        headers=api.h(Role.INTEGRATOR),
        json=[
            raw_event("camera.fire_smoke"),
            raw_event("camera.fire_smoke", lon=LON0 + metres_east(80), at=later(20)),
            raw_event("call.emergency", source="urn:test:cad", at=later(45)),
        ],
    )
    settle(api, runtime)
    (incident,) = api.client.get("/v1/incidents", headers=api.h()).json()["items"]
    return dict(incident)


def test_ngsi_ld_api_serves_incidents_and_devices(ld_api: Api, runtime: Runtime) -> None:
    incident = _open_fire(ld_api, runtime)
    put = ld_api.client.put(
        f"/v1/sensors/{SENSOR.id}",
        content=SENSOR.model_dump_json(),
        headers={**ld_api.h(Role.INTEGRATOR), "content-type": "application/json"},
    )
    assert put.status_code == 200, put.text
    alerts = ld_api.client.get("/ngsi-ld/v1/entities?type=Alert", headers=ld_api.h())
    assert alerts.status_code == 200
    assert alerts.headers["content-type"] == "application/ld+json"
    (alert,) = alerts.json()
    assert alert["id"] == f"urn:ngsi-ld:Alert:safecity:{incident['id']}"
    assert alert["subCategory"]["value"] == "fire"
    one = ld_api.client.get(f"/ngsi-ld/v1/entities/{alert['id']}", headers=ld_api.h())
    assert one.status_code == 200 and one.json()["id"] == alert["id"]
    devices = ld_api.client.get("/ngsi-ld/v1/entities?type=Device", headers=ld_api.h()).json()
    assert [d["id"] for d in devices] == ["urn:ngsi-ld:Device:safecity:cam-kamppi-1"]
    by_id = ld_api.client.get(
        f"/ngsi-ld/v1/entities?id={alert['id']},urn:ngsi-ld:Alert:safecity:nope",
        headers=ld_api.h(),
    ).json()
    assert [e["id"] for e in by_id] == [alert["id"]]


def test_ngsi_ld_api_needs_a_token_and_a_known_entity(ld_api: Api) -> None:
    assert ld_api.client.get("/ngsi-ld/v1/entities?type=Alert").status_code == 401
    missing = ld_api.client.get(
        "/ngsi-ld/v1/entities/urn:ngsi-ld:Alert:safecity:nope", headers=ld_api.h()
    )
    assert missing.status_code == 404
    bad = ld_api.client.get("/ngsi-ld/v1/entities?type=Building", headers=ld_api.h())
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.type"


def test_notification_over_http_is_ingested_and_queryable(api: Api, runtime: Runtime) -> None:
    sdm = INTEROP / "ngsi-ld" / "smart-data-models"
    notification = {
        "id": "urn:ngsi-ld:Notification:7",
        "type": "Notification",
        "subscriptionId": "urn:ngsi-ld:Subscription:city",
        "notifiedAt": "2026-11-21T12:00:00Z",
        "data": [
            orjson.loads(
                (sdm / "Environment/NoiseLevelObserved/examples/example.jsonld").read_bytes()
            ),
            orjson.loads((sdm / "Device/Camera/examples/example.jsonld").read_bytes()),
        ],
    }
    r = api.client.post(
        "/v1/adapters/ngsi_ld/messages",
        content=orjson.dumps(notification),
        headers={**api.h(Role.INTEGRATOR), "content-type": "application/ld+json"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 1
    # The default owner agency ("city") is not registered here, so the camera is refused
    # and dead-lettered with that reason; the observation still flows.
    assert body["rejected_parts"][0]["where"] == "sensor urn:ngsi-ld:Camera:Cam2"
    events = api.client.get("/v1/events?type=noise.level", headers=api.h()).json()["items"]
    assert [e["event"]["data"]["laeq_db"] for e in events] == [67.8]
    again = api.client.post(
        "/v1/adapters/ngsi_ld/messages",
        content=orjson.dumps(notification),
        headers={**api.h(Role.INTEGRATOR), "content-type": "application/ld+json"},
    ).json()
    assert (again["accepted"], again["duplicates"]) == (0, 1)


def test_refused_document_is_a_problem_and_dead_lettered(api: Api, runtime: Runtime) -> None:
    raw = (
        INTEROP
        / "ngsi-ld"
        / "etsi-ngsi-ld-test-suite"
        / "data"
        / "entities"
        / "invalid-json.jsonld"
    ).read_bytes()
    r = api.client.post(
        "/v1/adapters/ngsi_ld/messages", content=raw, headers=api.h(Role.INTEGRATOR)
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["errors"][0]["field"] == "body"
    letter = runtime.store.get_dead_letter(problem["dead_letter_id"])
    assert letter is not None and letter.raw == raw


def test_camera_entity_over_http_lands_in_the_register(api: Api, runtime: Runtime) -> None:
    runtime.identity.add_agency(Agency(id="city", name="City of Helsinki", kind="city"))
    camera = (
        INTEROP / "ngsi-ld/smart-data-models/Device/Camera/examples/example.jsonld"
    ).read_bytes()
    r = api.client.post(
        "/v1/adapters/ngsi_ld/messages", content=camera, headers=api.h(Role.INTEGRATOR)
    )
    assert r.status_code == 200, r.text
    assert r.json()["sensors_registered"] == ["urn:ngsi-ld:Camera:Cam2"]
    sensor = api.client.get("/v1/sensors/urn:ngsi-ld:Camera:Cam2", headers=api.h()).json()
    assert (sensor["kind"], sensor["personal_data"], sensor["owner_agency"]) == (
        "camera",
        True,
        "city",
    )
