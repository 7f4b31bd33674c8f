"""Units and shifts: register, clock on and off at any time, report status and position through
the API and as events (the MQTT/AVL path); procedures attach to incidents with a checklist."""

from __future__ import annotations

from factories import LAT0, LON0, later, raw_event
from safecity.core.identity import Role
from safecity.runtime import Runtime
from support import Api, settle

POLICE = "helsinki-police"


def register(api: Api, unit_id: str = "P-11", **extra: object) -> dict[str, object]:
    body = {
        "id": unit_id,
        "agency_id": POLICE,
        "kind": "patrol_car",
        "callsign": unit_id,
        "capabilities": ["patrol", "armed_response"],
        "home_station": "Pasila police station",
        **extra,
    }
    r = api.client.put(f"/v1/units/{unit_id}", json=body, headers=api.h())
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_new_unit_is_off_duty_and_clocking_on_starts_its_shift(api: Api) -> None:
    unit = register(api)
    assert unit["status"] == "off_duty" and unit["shift_started_at"] is None
    r = api.client.post("/v1/units/P-11/status", json={"status": "available"}, headers=api.h())
    assert r.status_code == 200
    assert r.json()["shift_started_at"] is not None
    r = api.client.post("/v1/units/P-11/status", json={"status": "off_duty"}, headers=api.h())
    assert r.json()["shift_started_at"] is None
    history = api.client.get("/v1/units/P-11/history", headers=api.h()).json()["items"]
    assert [(h["status"], h["note"]) for h in history] == [
        ("available", "clocked on"),
        ("off_duty", "clocked off"),
    ]
    board = api.client.get("/v1/units?status=off_duty", headers=api.h()).json()["items"]
    assert [u["id"] for u in board] == ["P-11"]


def test_an_off_duty_officer_can_join_an_incident_before_the_shift(
    api: Api, runtime: Runtime
) -> None:
    api.client.post("/v1/events", json=raw_event("camera.abnormal"), headers=api.h(Role.INTEGRATOR))
    settle(api, runtime)
    (incident,) = api.client.get("/v1/incidents", headers=api.h()).json()["items"]
    register(api)
    r = api.client.post(
        "/v1/units/P-11/status",
        json={"status": "en_route", "incident_id": incident["id"], "note": "passing by"},
        headers=api.h(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["shift_started_at"] is not None  # joining clocks the unit on
    settle(api, runtime)
    after = api.client.get(f"/v1/incidents/{incident['id']}", headers=api.h()).json()
    assert "P-11" in after["units"]
    assert after["status"] == "dispatched"
    api.client.post(
        "/v1/units/P-11/status",
        json={"status": "on_scene", "incident_id": incident["id"]},
        headers=api.h(),
    )
    after = api.client.get(f"/v1/incidents/{incident['id']}", headers=api.h()).json()
    assert after["status"] == "on_scene"
    timeline = api.client.get(f"/v1/incidents/{incident['id']}/timeline", headers=api.h())
    unit_entries = [t for t in timeline.json()["items"] if t["action"] == "unit_status"]
    assert [t["details"]["status"] for t in unit_entries] == ["en_route", "on_scene"]


def test_committed_status_needs_an_incident_and_bad_input_names_the_field(api: Api) -> None:
    register(api)
    r = api.client.post("/v1/units/P-11/status", json={"status": "on_scene"}, headers=api.h())
    assert r.status_code == 409 and "incident" in r.json()["detail"]
    r = api.client.post("/v1/units/P-11/status", json={"status": "napping"}, headers=api.h())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.status"
    r = api.client.put(
        "/v1/units/P-12",
        json={"id": "P-13", "agency_id": POLICE, "kind": "car", "callsign": "x"},
        headers=api.h(),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.id"
    r = api.client.put(
        "/v1/units/P-12",
        json={"id": "P-12", "agency_id": "no-such", "kind": "car", "callsign": "x"},
        headers=api.h(),
    )
    assert r.status_code in (403, 404)
    assert api.client.get("/v1/units/nope", headers=api.h()).status_code == 404


def test_unit_status_and_position_events_update_the_board(api: Api, runtime: Runtime) -> None:
    register(api)
    feed = api.h(Role.INTEGRATOR)
    r = api.client.post(
        "/v1/events/batch",
        headers=feed,
        json=[
            raw_event(
                "unit.status",
                source="urn:test:avl",
                data={"unit_id": "P-11", "status": "available"},
                at=later(1),
            ),
            raw_event(
                "unit.position",
                source="urn:test:avl",
                data={"unit_id": "P-11", "heading_deg": 90, "speed_kmh": 35},
                lon=LON0,
                lat=LAT0,
                at=later(2),
            ),
            raw_event(
                "unit.status",
                source="urn:test:avl",
                data={"unit_id": "GHOST-1", "status": "available"},
                at=later(3),
            ),
        ],
    )
    assert r.status_code in (200, 202)
    settle(api, runtime)
    unit = api.client.get("/v1/units/P-11", headers=api.h()).json()
    assert unit["status"] == "available"
    assert unit["location"]["lon"] == LON0 and unit["speed_kmh"] == 35
    history = api.client.get("/v1/units/P-11/history", headers=api.h()).json()["items"]
    assert history[-1]["actor"] == "device:urn:test:avl"
    # The unknown unit's status stays in the event store, not guessed into the register.
    assert api.client.get("/v1/units/GHOST-1", headers=api.h()).status_code == 404
    assert runtime.unit_feed.unknown == 1


def test_another_agency_cannot_change_our_units(api: Api, runtime: Runtime) -> None:
    register(api)
    from safecity.core.identity import Agency, User

    runtime.identity.ensure_agency(Agency(id="city", name="City", kind="municipality"))
    runtime.identity.ensure_user(
        User(id="city-op", agency_id="city", display_name="City op", role=Role.OPERATOR)
    )
    token = runtime.identity.issue_token("city-op", label="t").secret
    r = api.client.post(
        "/v1/units/P-11/status",
        json={"status": "available"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 403 and "city" in r.json()["detail"]


def test_procedures_attach_with_a_checklist_and_agencies(api: Api, runtime: Runtime) -> None:
    api.client.post("/v1/events", json=raw_event("gunshot.located"), headers=api.h(Role.INTEGRATOR))
    settle(api, runtime)
    (incident,) = api.client.get("/v1/incidents", headers=api.h()).json()["items"]
    procedure = incident["procedure"]
    assert procedure["procedure_id"] == "shots-fired"
    assert "armed_response" in procedure["required_capabilities"]
    assert POLICE in incident["agencies"]
    step = procedure["items"][0]["id"]
    r = api.client.post(
        f"/v1/incidents/{incident['id']}/checklist/{step}",
        json={"note": "three cameras agree"},
        headers=api.h(),
    )
    assert r.status_code == 200
    done = r.json()["procedure"]["items"][0]
    assert done["done_by"] == "user:operator-1" and done["note"] == "three cameras agree"
    r = api.client.post(
        f"/v1/incidents/{incident['id']}/checklist/no-such-step", json={}, headers=api.h()
    )
    assert r.status_code == 409 and "steps:" in r.json()["detail"]
    book = api.client.get("/v1/procedures", headers=api.h()).json()["items"]
    assert any(p["id"] == "shots-fired" for p in book)


def test_unit_changes_are_pushed_on_the_live_stream(api: Api) -> None:
    register(api)
    token = api.tokens[Role.OPERATOR]
    with api.client.websocket_connect(f"/v1/stream?access_token={token}&topics=unit") as ws:
        assert ws.receive_json()["topic"] == "hello"
        api.client.post("/v1/units/P-11/status", json={"status": "available"}, headers=api.h())
        frame = ws.receive_json()
        assert frame["topic"] == "unit" and frame["subject"] == "units.status"
        assert frame["data"]["id"] == "P-11" and frame["data"]["status"] == "available"
