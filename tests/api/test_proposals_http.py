"""Raising bollards is a person's decision: a rule only proposes it, the proposal is posted in
the incident's channel and pushed live, and the commands go out when an operator confirms,
as that operator's (the audit naming the rule too), with each device's outcome. Declined,
expired or unconfirmed, nothing moves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest

from factories import LAT0, LON0, metres_east, raw_event, sensor_record
from safecity.core.clock import ManualClock
from safecity.core.identity import Role
from safecity.processors.automation.rules import AutomationConfig
from safecity.runtime import Runtime
from safecity.settings import Settings
from support import Api, DeviceChannel, settle

RULES: list[dict[str, Any]] = [
    {
        "id": "shots-bollards",
        "name": "Shots: close the street around",
        "agencies": ["helsinki-police"],
        "trigger": {"on": "incident", "changes": ["opened"], "incident_types": ["shooting"]},
        "actions": [{"kind": "raise_bollards", "radius_m": 150, "confirm_within_s": 90}],
    },
    {
        "id": "fire-bollards-interlocked",
        "name": "Fire: raise the interlocked bollards at once",
        "agencies": ["helsinki-rescue"],
        "trigger": {"on": "incident", "changes": ["opened"], "incident_types": ["fire"]},
        "actions": [{"kind": "raise_bollards", "device_ids": ["bollard-hvm"], "confirm": False}],
    },
    {
        "id": "fast-vehicle-bollards",
        "name": "Fast vehicle: close the zone",
        "agencies": ["helsinki-police"],
        "trigger": {"on": "event", "event_types": ["camera.vehicle"]},
        "conditions": [{"kind": "field", "path": "data.speed_kmh", "op": "ge", "value": 20}],
        "actions": [{"kind": "raise_bollards", "device_ids": ["bollard-zone"]}],
    },
]


@pytest.fixture
def bollards() -> DeviceChannel:
    return DeviceChannel("bollard-", {"bollard-jammed": "bollard jammed"})


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.automations = AutomationConfig.model_validate({"rules": RULES})
    return settings


@pytest.fixture
def api(api: Api, runtime: Runtime, bollards: DeviceChannel) -> Api:
    # After start-up, which sets the runtime's channels from its configured connectors.
    runtime.actuators.channels.append(bollards)
    return api


def register_bollard(api: Api, bollard_id: str, east_m: float) -> None:
    body = sensor_record(
        id=bollard_id,
        kind="bollard",
        name=f"Bollard {bollard_id}",
        measures=["bollard_state"],
        purpose="Closes the street to vehicles",
        personal_data=False,
        location={"lon": LON0 + metres_east(east_m), "lat": LAT0},
    )
    r = api.client.put(f"/v1/sensors/{bollard_id}", json=body, headers=api.h(Role.INTEGRATOR))
    assert r.status_code in (200, 201), r.text


def a_shooting(api: Api, runtime: Runtime) -> dict[str, Any]:
    api.client.post("/v1/events", json=raw_event("gunshot.located"), headers=api.h(Role.INTEGRATOR))
    settle(api, runtime)
    (proposal,) = api.client.get("/v1/actuators/proposals", headers=api.h()).json()["items"]
    return dict(proposal)


def test_a_rule_proposes_and_an_operator_confirms_as_themselves(
    api: Api, runtime: Runtime, bollards: DeviceChannel, clock: ManualClock
) -> None:
    register_bollard(api, "bollard-near", 60)
    register_bollard(api, "bollard-jammed", 120)
    register_bollard(api, "bollard-far", 400)
    proposal = a_shooting(api, runtime)
    # Proposed, not sent: the devices were chosen when the rule fired, like before.
    assert bollards.received == []
    assert proposal["status"] == "pending"
    assert proposal["device_ids"] == ["bollard-jammed", "bollard-near"]
    assert (proposal["rule_id"], proposal["command"], proposal["value"]) == (
        "shots-bollards",
        "bollard",
        "up",
    )
    assert proposal["rule_name"] == "Shots: close the street around"
    assert proposal["reason"] == "fired: the rule has no conditions"
    created = clock.now()
    assert proposal["expires_at"] == (created + timedelta(seconds=90)).isoformat().replace(
        "+00:00", "Z"
    )
    incident_id = proposal["incident_id"]
    assert incident_id
    by_incident = api.client.get(
        f"/v1/actuators/proposals?incident_id={incident_id}&status=pending", headers=api.h()
    ).json()["items"]
    assert [p["id"] for p in by_incident] == [proposal["id"]]
    # The trace says a person is awaited; the channel asks an operator to decide.
    (trace,) = api.client.get(
        "/v1/automations/traces?rule_id=shots-bollards", headers=api.h()
    ).json()["items"]
    assert trace["reason"].endswith(
        f"proposed: awaiting a person's confirmation (proposal {proposal['id']})"
    )
    assert trace["results"][0]["outcome"] == "proposed"
    channel = api.client.get(f"/v1/incidents/{incident_id}/channel", headers=api.h()).json()
    notice = next(m for m in channel["messages"] if proposal["id"] in m["body"])
    assert "confirm or decline" in notice["body"] and notice["requires_ack"] is True

    clock.advance(timedelta(seconds=30))
    r = api.client.post(
        f"/v1/actuators/proposals/{proposal['id']}/confirm",
        json={"reason": "street clear on camera"},
        headers=api.h(Role.SUPERVISOR, purpose="investigation"),
    )
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "confirmed"
    assert done["decided_by"] == "user:supervisor-1"
    assert done["decision_reason"] == "street clear on camera"
    outcomes = {o["device_id"]: o for o in done["outcomes"]}
    assert outcomes["bollard-near"]["outcome"] == "acknowledged"
    assert outcomes["bollard-jammed"]["outcome"] == "refused"
    assert outcomes["bollard-jammed"]["detail"] == "bollard jammed"
    # Sent as the person, for the purpose they declared.
    assert sorted(c.device_id for c in bollards.received) == ["bollard-jammed", "bollard-near"]
    assert {(c.issued_by, c.purpose, c.value) for c in bollards.received} == {
        ("user:supervisor-1", "investigation", "up")
    }
    # The audit names the person and the rule.
    commands = [r for r in runtime.store.list_audit(limit=1000) if r.action == "actuators.command"]
    assert len(commands) == 2
    assert all(
        r.actor == "user:supervisor-1"
        and r.purpose == "investigation"
        and r.details["rule_id"] == "shots-bollards"
        and r.details["proposal_id"] == proposal["id"]
        for r in commands
    )
    assert any(
        r.action == "actuators.proposal_confirmed" and r.object_id == proposal["id"]
        for r in runtime.store.list_audit(limit=1000)
    )
    # Decided once: a second decision says the state, and nothing more is sent.
    for verb, body in (("confirm", {}), ("decline", {"reason": "too late"})):
        r = api.client.post(
            f"/v1/actuators/proposals/{proposal['id']}/{verb}", json=body, headers=api.h()
        )
        assert r.status_code == 409
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "already confirmed by user:supervisor-1" in r.json()["detail"]
    assert len(bollards.received) == 2


def test_a_declined_proposal_sends_nothing_and_needs_a_reason(
    api: Api, runtime: Runtime, bollards: DeviceChannel
) -> None:
    register_bollard(api, "bollard-near", 60)
    proposal = a_shooting(api, runtime)
    url = f"/v1/actuators/proposals/{proposal['id']}/decline"
    for body in ({}, {"reason": ""}):
        r = api.client.post(url, json=body, headers=api.h())
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "body.reason"
    r = api.client.post(url, json={"reason": "people on the crossing"}, headers=api.h())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "declined" and r.json()["outcomes"] == []
    assert bollards.received == []
    declined = api.client.get("/v1/actuators/proposals?status=declined", headers=api.h()).json()
    assert [p["id"] for p in declined["items"]] == [proposal["id"]]


def test_an_unconfirmed_proposal_expires_and_cannot_be_confirmed_after(
    api: Api, runtime: Runtime, bollards: DeviceChannel, clock: ManualClock
) -> None:
    register_bollard(api, "bollard-near", 60)
    proposal = a_shooting(api, runtime)
    clock.advance(timedelta(seconds=90))
    (listed,) = api.client.get("/v1/actuators/proposals", headers=api.h()).json()["items"]
    assert listed["status"] == "expired"
    assert api.client.get("/v1/actuators/proposals?status=pending", headers=api.h()).json() == {
        "items": []
    }
    r = api.client.post(f"/v1/actuators/proposals/{proposal['id']}/confirm", headers=api.h())
    assert r.status_code == 409
    assert "expired" in r.json()["detail"] and "nothing was sent" in r.json()["detail"]
    assert bollards.received == []


def test_who_may_decide_and_what_is_refused(api: Api, runtime: Runtime) -> None:
    register_bollard(api, "bollard-near", 60)
    proposal = a_shooting(api, runtime)
    url = f"/v1/actuators/proposals/{proposal['id']}/confirm"
    for role in (Role.AUDITOR, Role.ANALYST, Role.INTEGRATOR):
        assert api.client.post(url, headers=api.h(role)).status_code == 403
    r = api.client.post("/v1/actuators/proposals/prp_nope/confirm", headers=api.h())
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    r = api.client.get("/v1/actuators/proposals?status=maybe", headers=api.h())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.status"
    r = api.client.post(url, json={"reason": "x", "force": True}, headers=api.h())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.force"


def test_without_confirm_the_interlocked_bollards_rise_at_once_in_the_rules_name(
    api: Api, runtime: Runtime, bollards: DeviceChannel
) -> None:
    register_bollard(api, "bollard-hvm", 60)
    api.client.post(
        "/v1/events/batch",
        json=[
            raw_event("camera.fire_smoke", severity="extreme"),
            raw_event("call.emergency", source="urn:test:cad", severity="extreme"),
        ],
        headers=api.h(Role.INTEGRATOR),
    )
    settle(api, runtime)
    assert [(c.device_id, c.issued_by) for c in bollards.received] == [
        ("bollard-hvm", "automation:fire-bollards-interlocked")
    ]
    assert api.client.get("/v1/actuators/proposals", headers=api.h()).json() == {"items": []}


def test_a_proposal_and_its_decision_are_pushed_live(api: Api, runtime: Runtime) -> None:
    register_bollard(api, "bollard-near", 60)
    token = api.tokens[Role.OPERATOR]
    with api.client.websocket_connect(f"/v1/stream?access_token={token}&topics=proposal") as ws:
        assert orjson.loads(ws.receive_text())["topics"] == ["proposal"]
        proposal = a_shooting(api, runtime)
        frame = orjson.loads(ws.receive_text())
        assert (frame["topic"], frame["subject"]) == ("proposal", "proposals.proposed")
        assert frame["data"]["id"] == proposal["id"]
        api.client.post(f"/v1/actuators/proposals/{proposal['id']}/confirm", headers=api.h())
        frame = orjson.loads(ws.receive_text())
        assert frame["subject"] == "proposals.confirmed"
        assert frame["data"]["outcomes"][0]["outcome"] == "acknowledged"


@pytest.mark.parametrize(
    ("action", "field"),
    [
        ({"kind": "raise_bollards", "radius_m": 50, "confirm_within_s": 0}, "confirm_within_s"),
        ({"kind": "raise_bollards", "radius_m": 50, "confirm_within_s": 3601}, "confirm_within_s"),
        ({"kind": "raise_bollards", "radius_m": 50, "confirm": "perhaps"}, "confirm"),
    ],
)
def test_bad_confirm_options_fail_at_start_naming_the_field(
    action: dict[str, Any], field: str
) -> None:
    bad = [{**RULES[0], "actions": [action]}]
    with pytest.raises(ValueError, match=rf"raise_bollards\.{field}"):
        Settings.model_validate({"automations": {"rules": bad}})


def test_an_event_rule_without_an_incident_still_only_proposes(
    api: Api, runtime: Runtime, bollards: DeviceChannel
) -> None:
    register_bollard(api, "bollard-zone", 30)
    fast = raw_event("camera.vehicle", data={"camera_id": "c1", "speed_kmh": 35})
    api.client.post("/v1/events", json=fast, headers=api.h(Role.INTEGRATOR))
    settle(api, runtime)
    (proposal,) = api.client.get("/v1/actuators/proposals", headers=api.h()).json()["items"]
    assert proposal["incident_id"] is None  # a fast vehicle alone opens no incident
    assert (proposal["event_source"], proposal["event_id"]) == (fast["source"], fast["id"])
    assert proposal["device_ids"] == ["bollard-zone"] and bollards.received == []
    r = api.client.post(f"/v1/actuators/proposals/{proposal['id']}/confirm", headers=api.h())
    assert r.status_code == 200, r.text
    assert [o["outcome"] for o in r.json()["outcomes"]] == ["acknowledged"]
    assert [c.issued_by for c in bollards.received] == ["user:operator-1"]
