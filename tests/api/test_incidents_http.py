"""Incidents over HTTP: correlation opens them; operators move them through their lifecycle."""

from __future__ import annotations

from factories import LON0, later, metres_east, raw_event
from safecity.core.identity import Role
from safecity.runtime import Runtime
from support import Api, settle


def open_fire(api: Api, runtime: Runtime) -> dict[str, object]:
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
    items = api.client.get("/v1/incidents", headers=api.h()).json()["items"]
    assert len(items) == 1
    return dict(items[0])


def test_related_events_from_three_sources_make_one_incident(api: Api, runtime: Runtime) -> None:
    incident = open_fire(api, runtime)
    assert incident["type"] == "fire"
    assert incident["event_count"] == 3
    assert incident["status"] == "new"
    events = api.client.get(f"/v1/incidents/{incident['id']}/events", headers=api.h()).json()
    assert {e["event"]["type"] for e in events["items"]} == {"camera.fire_smoke", "call.emergency"}


def test_full_lifecycle_with_timeline_and_actors(api: Api, runtime: Runtime) -> None:
    inc = open_fire(api, runtime)
    base = f"/v1/incidents/{inc['id']}"
    h = api.h()
    assert (
        api.client.post(f"{base}/acknowledge", json={"note": "seen"}, headers=h).status_code == 200
    )
    r = api.client.post(f"{base}/assign", json={"agency_id": "helsinki-rescue"}, headers=h)
    assert r.status_code == 200 and r.json()["agency_id"] == "helsinki-rescue"
    unit = {"id": "unit-p1", "agency_id": "helsinki-police", "kind": "car", "callsign": "P1"}
    assert api.client.put("/v1/units/unit-p1", json=unit, headers=h).status_code == 200
    r = api.client.post(f"{base}/dispatch", json={"units": ["unit-p1"]}, headers=h)
    assert r.json()["status"] == "dispatched" and r.json()["units"] == ["unit-p1"]
    assert api.client.post(f"{base}/on-scene", json={}, headers=h).json()["status"] == "on_scene"
    r = api.client.patch(
        base,
        json={"priority": 2, "priority_reason": "contained bin fire", "summary": "bin fire"},
        headers=h,
    )
    assert r.json()["priority"] == 2
    r = api.client.post(f"{base}/close", json={"reason": "extinguished"}, headers=h)
    assert r.json()["status"] == "closed" and r.json()["closure_reason"] == "extinguished"
    r = api.client.post(f"{base}/reopen", json={"reason": "flared up"}, headers=h)
    assert r.json()["status"] == "acknowledged" and r.json()["closed_at"] is None
    timeline = api.client.get(f"{base}/timeline", headers=h).json()["items"]
    actions = [t["action"] for t in timeline]
    assert actions[0] == "opened" and timeline[0]["actor"] == "system:correlation"
    assert actions[-9:] == [
        "acknowledged",
        "assigned",
        "dispatched",
        "unit_status",  # the unit's own status moved with the dispatch
        "on_scene",
        "priority_overridden",
        "updated",
        "closed",
        "reopened",
    ]
    assert {t["actor"] for t in timeline[-9:]} == {"user:operator-1"}
    override = next(t for t in timeline if t["action"] == "priority_overridden")
    assert override["details"] == {"priority": 2, "reason": "contained bin fire"}


def test_invalid_transition_is_409_naming_the_allowed_ones(api: Api, runtime: Runtime) -> None:
    inc = open_fire(api, runtime)
    r = api.client.post(f"/v1/incidents/{inc['id']}/on-scene", json={}, headers=api.h())
    assert r.status_code == 409
    assert "allowed: acknowledged, closed, dispatched" in r.json()["detail"]


def test_stale_version_is_refused(api: Api, runtime: Runtime) -> None:
    inc = open_fire(api, runtime)
    r = api.client.post(
        f"/v1/incidents/{inc['id']}/acknowledge",
        json={"expected_version": int(str(inc["version"])) + 5},
        headers=api.h(),
    )
    assert r.status_code == 409


def test_unknown_incident_is_404_problem(api: Api) -> None:
    r = api.client.get("/v1/incidents/inc_nope", headers=api.h())
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_closed_incident_is_not_joined_by_new_events(api: Api, runtime: Runtime) -> None:
    inc = open_fire(api, runtime)
    api.client.post(
        f"/v1/incidents/{inc['id']}/close", json={"reason": "false alarm"}, headers=api.h()
    )
    settle(api, runtime)
    api.client.post("/v1/events", json=raw_event(at=later(60)), headers=api.h())
    settle(api, runtime)
    items = api.client.get("/v1/incidents?status=new", headers=api.h()).json()["items"]
    assert len(items) == 1 and items[0]["id"] != inc["id"]


def test_operator_edit_bounds_are_checked(api: Api, runtime: Runtime) -> None:
    inc = open_fire(api, runtime)
    r = api.client.patch(f"/v1/incidents/{inc['id']}", json={"priority": 9}, headers=api.h())
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.priority"
