"""An operator sees why events were linked and the priority's factors; overrides, merges and
splits incidents with a reason, and the timeline keeps it."""

from __future__ import annotations

from factories import LON0, later, metres_east, raw_event
from safecity.core.identity import Role
from safecity.runtime import Runtime
from support import Api, settle


def ingest(api: Api, runtime: Runtime, *events: dict[str, object]) -> None:
    r = api.client.post("/v1/events/batch", headers=api.h(Role.INTEGRATOR), json=list(events))
    assert r.status_code in (200, 202), r.text
    settle(api, runtime)


def incidents(api: Api) -> list[dict[str, object]]:
    return list(api.client.get("/v1/incidents", headers=api.h()).json()["items"])


def test_linked_events_carry_their_reason_and_the_incident_its_factors(
    api: Api, runtime: Runtime
) -> None:
    ingest(
        api,
        runtime,
        raw_event("gunshot.located", id_="shot", source="urn:test:localiser"),
        raw_event("camera.abnormal", id_="fight", lon=LON0 + metres_east(150), at=later(30)),
    )
    (incident,) = incidents(api)
    assert incident["type"] == "shooting"
    assessment = incident["assessment"]
    assert isinstance(assessment, dict)
    names = [f["name"] for f in assessment["factors"]]
    assert names[:1] == ["type"] and "corroboration" in names
    events = api.client.get(f"/v1/incidents/{incident['id']}/events", headers=api.h()).json()
    reasons = {e["event"]["id"]: e["link_reason"] for e in events["items"]}
    assert reasons["shot"]["rule"] == "opened"
    assert reasons["fight"]["rule"] == "fusion"
    assert reasons["fight"]["fusion_rule"] == "shots-fired"


def test_priority_override_needs_a_reason_and_can_be_cleared(api: Api, runtime: Runtime) -> None:
    ingest(api, runtime, raw_event("camera.abnormal"))
    (incident,) = incidents(api)
    base = f"/v1/incidents/{incident['id']}"
    r = api.client.post(f"{base}/priority", json={"priority": 5}, headers=api.h())
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.reason"
    r = api.client.patch(base, json={"priority": 5}, headers=api.h())
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.priority_reason"
    r = api.client.post(
        f"{base}/priority", json={"priority": 5, "reason": "rehearsal"}, headers=api.h()
    )
    assert r.status_code == 200
    body = r.json()
    assert body["priority"] == 5
    assert body["assessment"]["override"]["reason"] == "rehearsal"
    assert body["assessment"]["override"]["by"] == "user:operator-1"
    computed = body["assessment"]["computed_priority"]
    r = api.client.post(f"{base}/priority/clear", json={"reason": "not a drill"}, headers=api.h())
    assert r.json()["priority"] == computed
    assert r.json()["assessment"]["override"] is None
    actions = [
        t["action"] for t in api.client.get(f"{base}/timeline", headers=api.h()).json()["items"]
    ]
    assert actions[-2:] == ["priority_overridden", "priority_override_cleared"]


def test_merge_moves_events_and_closes_the_others_as_merged(api: Api, runtime: Runtime) -> None:
    ingest(
        api,
        runtime,
        raw_event("camera.fire_smoke", id_="smoke"),
        raw_event("camera.abnormal", id_="fall", lon=LON0 + metres_east(900), at=later(5)),
    )
    fire, other = sorted(incidents(api), key=lambda i: str(i["type"]))
    assert fire["type"] == "fire"
    r = api.client.post(
        f"/v1/incidents/{fire['id']}/merge",
        json={"incidents": [other["id"]], "reason": "same caller, two views"},
        headers=api.h(),
    )
    assert r.status_code == 200, r.text
    merged = r.json()
    assert merged["event_count"] == 2
    gone = api.client.get(f"/v1/incidents/{other['id']}", headers=api.h()).json()
    assert gone["status"] == "closed"
    assert gone["merged_into"] == fire["id"]
    assert "same caller" in gone["closure_reason"]
    events = api.client.get(f"/v1/incidents/{fire['id']}/events", headers=api.h()).json()
    moved = next(e for e in events["items"] if e["event"]["id"] == "fall")
    assert moved["link_reason"]["rule"] == "operator_merge"
    assert moved["link_reason"]["reason"] == "same caller, two views"
    # Merging into itself or a closed incident is refused with a reason.
    r = api.client.post(
        f"/v1/incidents/{fire['id']}/merge",
        json={"incidents": [other["id"]], "reason": "again"},
        headers=api.h(),
    )
    assert r.status_code == 409
    assert "closed" in r.json()["detail"]


def test_split_moves_chosen_events_to_a_new_incident(api: Api, runtime: Runtime) -> None:
    ingest(
        api,
        runtime,
        raw_event("camera.fire_smoke", id_="a"),
        raw_event("camera.fire_smoke", id_="b", lon=LON0 + metres_east(60), at=later(10)),
        raw_event(
            "call.emergency",
            id_="c",
            source="urn:test:cad",
            at=later(20),
            data={"cad_id": "c-1", "category": "fire"},
        ),
    )
    (incident,) = incidents(api)
    assert incident["event_count"] == 3
    base = f"/v1/incidents/{incident['id']}"
    r = api.client.post(
        f"{base}/split",
        json={
            "events": [{"source": "urn:test:cad", "id": "c"}],
            "reason": "the caller reports a fire in the next block, a separate case",
        },
        headers=api.h(),
    )
    assert r.status_code == 200, r.text
    remaining, new = r.json()["remaining"], r.json()["new"]
    assert remaining["event_count"] == 2
    assert new["event_count"] == 1
    assert new["type"] == "fire"
    assert new["id"] != incident["id"]
    assert new["status"] == "new"
    split_from = api.client.get(f"/v1/incidents/{new['id']}/timeline", headers=api.h()).json()
    assert split_from["items"][0]["action"] == "split_from"
    assert split_from["items"][0]["details"]["from"] == incident["id"]
    # All events cannot leave, and events not in the incident are named in the refusal.
    r = api.client.post(
        f"{base}/split",
        json={"events": [{"source": "urn:test:cad", "id": "zzz"}], "reason": "x"},
        headers=api.h(),
    )
    assert r.status_code == 409
    assert "zzz" in r.json()["detail"]
