"""EIDO over HTTP: incidents served as EIDO, EIDOs received through the adapter endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from factories import raw_event
from safecity.api.routes import eido
from safecity.core.identity import Role
from safecity.core.payloads import CadIncident, CallCategory
from safecity.runtime import Runtime
from support import INTEROP, Api, settle

EIDO = INTEROP / "eido"


@pytest.fixture
def client(runtime: Runtime) -> Iterator[Api]:
    tokens = {role: runtime.identity.issue_token(f"{role.value}-1").secret for role in Role}
    app = runtime.api()
    app.include_router(eido.router)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield Api(c, tokens)


def open_fire(api: Api, runtime: Runtime) -> dict[str, object]:
    r = api.client.post(
        "/v1/events/batch",
        headers=api.h(Role.INTEGRATOR),
        json=[raw_event("camera.fire_smoke"), raw_event("citizen.report", source="urn:test:app")],
    )
    assert r.status_code == 200, r.text
    settle(api, runtime)
    items = api.client.get("/v1/incidents?type=fire", headers=api.h()).json()["items"]
    return dict(items[0])


def test_incident_as_eido_and_back(client: Api, runtime: Runtime) -> None:
    incident = open_fire(client, runtime)
    client.client.post(
        f"/v1/incidents/{incident['id']}/assign",
        json={"agency_id": "helsinki-rescue"},
        headers=client.h(),
    )
    r = client.client.get(f"/v1/incidents/{incident['id']}/eido", headers=client.h())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/emergency.eido+json"
    doc = r.json()
    assert doc["incidentComponent"]["internalIncidentId"] == incident["id"]
    assert doc["agencyComponent"][0]["agencyType"] == ["fire"]
    assert "people fighting" not in r.text  # the citizen's words are not shared
    # ...and in again, as another agency's CAD would send it.
    back = client.client.post(
        "/v1/adapters/eido/messages",
        content=r.content,
        headers={**client.h(Role.INTEGRATOR), "Content-Type": "application/emergency.eido+json"},
    )
    assert back.status_code == 200, back.text
    assert back.json()["accepted"] == 1
    source, event_id = back.json()["events"][0]["source"], back.json()["events"][0]["id"]
    stored = runtime.store.get_event(source, event_id)
    assert stored is not None
    data = stored.event.data
    assert isinstance(data, CadIncident)
    assert data.incident_id.endswith(f":{incident['id']}:safecity.local")
    assert data.category is CallCategory.FIRE
    assert stored.event.location is not None
    location = incident["location"]
    assert isinstance(location, dict)
    assert stored.event.location.lat == pytest.approx(location["lat"], abs=1e-6)
    assert stored.event.location.lon == pytest.approx(location["lon"], abs=1e-6)


def test_eido_needs_a_token_and_an_incident(client: Api) -> None:
    assert client.client.get("/v1/incidents/inc_x/eido").status_code == 401
    r = client.client.get("/v1/incidents/inc_nope/eido", headers=client.h())
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    r = client.client.get("/v1/incidents/inc_nope/eido", headers=client.h(Role.INTEGRATOR))
    assert r.status_code == 403


def test_notification_over_the_adapter_endpoint(api: Api, runtime: Runtime) -> None:
    raw = (EIDO / "eidolib/conveyance-websocket/NotifyWithEido.json").read_bytes()
    h = {**api.h(Role.INTEGRATOR), "Content-Type": "application/json"}
    r = api.client.post("/v1/adapters/eido/messages", content=raw, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    settle(api, runtime)
    found = api.client.get("/v1/events?types=cad.incident", headers=api.h()).json()
    assert [e["event"]["data"]["incident_id"] for e in found["items"]] == [
        "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us"
    ]
    again = api.client.post("/v1/adapters/eido/messages", content=raw, headers=h)
    assert again.json()["duplicates"] == 1


def test_legacy_draft_is_refused_and_dead_lettered(api: Api, runtime: Runtime) -> None:
    raw = (EIDO / "nena-samples/legacy-draft/Sample_EIDO.json").read_bytes()
    h = {**api.h(Role.INTEGRATOR), "Content-Type": "application/json"}
    r = api.client.post("/v1/adapters/eido/messages", content=raw, headers=h)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["errors"][0]["field"] == "eidoVersion"
    letter = runtime.store.get_dead_letter(problem["dead_letter_id"])
    assert letter is not None and letter.raw == raw
    assert orjson.loads(letter.raw)["EIDOVersion"] == "1.0"
