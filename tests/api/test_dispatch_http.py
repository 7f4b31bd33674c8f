"""Dispatch: units ranked by drive time on Helsinki's road network, matched to the procedure's
capabilities; a person confirms; the decision keeps the alternatives that were on screen."""

from __future__ import annotations

from factories import LAT0, LON0, metres_east, raw_event
from safecity.core.identity import Role
from safecity.runtime import Runtime
from support import Api, settle

POLICE, RESCUE = "helsinki-police", "helsinki-rescue"


def unit(
    api: Api,
    unit_id: str,
    agency: str,
    capabilities: list[str],
    east_m: float,
    status: str = "available",
    role: Role = Role.ADMIN,
) -> None:
    body = {
        "id": unit_id,
        "agency_id": agency,
        "kind": "car",
        "callsign": unit_id,
        "capabilities": capabilities,
    }
    h = api.h(role)
    assert api.client.put(f"/v1/units/{unit_id}", json=body, headers=h).status_code == 200
    position = {"location": {"lon": LON0 + metres_east(east_m), "lat": LAT0}}
    assert api.client.post(f"/v1/units/{unit_id}/position", json=position, headers=h).is_success
    if status != "off_duty":
        r = api.client.post(f"/v1/units/{unit_id}/status", json={"status": status}, headers=h)
        assert r.status_code == 200, r.text


def shooting(api: Api, runtime: Runtime) -> str:
    api.client.post("/v1/events", json=raw_event("gunshot.located"), headers=api.h(Role.INTEGRATOR))
    settle(api, runtime)
    (incident,) = api.client.get("/v1/incidents", headers=api.h()).json()["items"]
    return str(incident["id"])


def test_recommendation_ranks_by_drive_time_and_covers_the_procedure(
    api: Api, runtime: Runtime
) -> None:
    incident_id = shooting(api, runtime)
    unit(api, "P-near", POLICE, ["patrol"], 150)
    unit(api, "P-armed", POLICE, ["patrol", "armed_response"], 600)
    unit(api, "P-far", POLICE, ["patrol", "armed_response"], 900)
    unit(api, "A-1", RESCUE, ["paramedic"], -400)
    unit(api, "P-home", POLICE, ["patrol", "armed_response"], 50, status="off_duty")
    r = api.client.get(f"/v1/incidents/{incident_id}/recommendation", headers=api.h())
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["network"] == "helsinki"
    assert rec["required_capabilities"] == ["armed_response", "paramedic"]
    ranked = [u["unit_id"] for u in rec["ranked"]]
    times = [u["drive_time_s"] for u in rec["ranked"]]
    assert times == sorted(times)
    assert ranked.index("P-armed") < ranked.index("P-far")
    assert set(rec["team"]) == {"P-armed", "A-1"}  # the nearest armed unit and an ambulance
    assert rec["uncovered"] == []
    excluded = {e["unit_id"]: e["reason"] for e in rec["excluded"]}
    assert "off_duty" in excluded["P-home"]


def test_a_person_confirms_and_the_decision_keeps_the_alternatives(
    api: Api, runtime: Runtime
) -> None:
    incident_id = shooting(api, runtime)
    unit(api, "P-armed", POLICE, ["patrol", "armed_response"], 600)
    unit(api, "A-1", RESCUE, ["paramedic"], -400)
    unit(api, "P-near", POLICE, ["patrol"], 150)
    api.client.get(f"/v1/incidents/{incident_id}/recommendation", headers=api.h())
    r = api.client.post(
        f"/v1/incidents/{incident_id}/dispatch",
        json={"units": ["P-armed", "A-1"], "note": "as recommended"},
        headers=api.h(Role.SUPERVISOR),
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "dispatched"
    assert set(r.json()["units"]) == {"P-armed", "A-1"}
    for unit_id in ("P-armed", "A-1"):
        got = api.client.get(f"/v1/units/{unit_id}", headers=api.h()).json()
        assert got["status"] == "dispatched" and got["incident_id"] == incident_id
    (decision,) = api.client.get(f"/v1/incidents/{incident_id}/dispatches", headers=api.h()).json()[
        "items"
    ]
    assert decision["actor"] == "user:supervisor-1"
    assert decision["followed_recommendation"] is True
    assert {u["unit_id"] for u in decision["recommendation"]["ranked"]} >= {"P-near"}
    # A committed unit is not silently taken away from its incident.
    api.client.post(
        "/v1/events",
        json=raw_event("camera.fire_smoke", lon=LON0 + metres_east(700)),
        headers=api.h(Role.INTEGRATOR),
    )
    settle(api, runtime)
    fire = next(
        i
        for i in api.client.get("/v1/incidents", headers=api.h()).json()["items"]
        if i["type"] == "fire"
    )
    r = api.client.post(
        f"/v1/incidents/{fire['id']}/dispatch", json={"units": ["P-armed"]}, headers=api.h()
    )
    assert r.status_code == 409 and "reassign" in r.json()["detail"]
    r = api.client.post(
        f"/v1/incidents/{fire['id']}/dispatch",
        json={"units": ["P-armed"], "reassign": True},
        headers=api.h(),
    )
    assert r.status_code == 200
    (decision,) = api.client.get(f"/v1/incidents/{fire['id']}/dispatches", headers=api.h()).json()[
        "items"
    ]
    # Nobody has the fire procedure's capability: the decision says so, there was no team.
    assert decision["recommendation"]["uncovered"] == ["fire_suppression"]
    assert decision["followed_recommendation"] is None


def test_unknown_units_and_incidents_without_a_place_are_refused(
    api: Api, runtime: Runtime
) -> None:
    incident_id = shooting(api, runtime)
    r = api.client.post(
        f"/v1/incidents/{incident_id}/dispatch", json={"units": ["nobody"]}, headers=api.h()
    )
    assert r.status_code == 404 and "nobody" in r.json()["detail"]
    api.client.post(
        "/v1/events",
        json=raw_event("call.emergency", lon=None, lat=None, source="urn:test:cad"),
        headers=api.h(Role.INTEGRATOR),
    )
    settle(api, runtime)
    placeless = next(
        i
        for i in api.client.get("/v1/incidents", headers=api.h()).json()["items"]
        if i["location"] is None
    )
    r = api.client.get(f"/v1/incidents/{placeless['id']}/recommendation", headers=api.h())
    assert r.status_code == 409 and "no location" in r.json()["detail"]
