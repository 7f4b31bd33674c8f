"""Automations: a rule fires on an incident, brightens the registered lamps nearby through the
audited actuator path, drafts a CAP warning that only a person can publish, and every
evaluation is traced, fired or not."""

from __future__ import annotations

from pathlib import Path

import pytest

from factories import LAT0, LON0, T0, metres_east, raw_event, sensor_record
from safecity.core.clock import ManualClock
from safecity.core.identity import Role
from safecity.processors.automation.rules import AutomationConfig
from safecity.runtime import Runtime
from safecity.settings import Settings
from support import Api, DeviceChannel, settle

RULES = [
    {
        "id": "shots-light",
        "name": "Shots: brighten lamps within 150 m",
        "agencies": ["helsinki-police"],
        "trigger": {"on": "incident", "changes": ["opened"], "incident_types": ["shooting"]},
        "conditions": [{"kind": "priority_at_most", "priority": 2}],
        "actions": [
            {"kind": "brighten_lamps", "radius_m": 150, "level_pct": 100, "duration_s": 900}
        ],
    },
    {
        "id": "fire-warning",
        "name": "Fire: draft a warning",
        "agencies": ["helsinki-rescue"],
        "trigger": {"on": "incident", "changes": ["opened"], "incident_types": ["fire"]},
        "conditions": [{"kind": "priority_at_most", "priority": 1}],
        "actions": [
            {
                "kind": "draft_cap_warning",
                "headline": "Smoke near {incident.title}: keep windows closed",
                "severity": "severe",
                "urgency": "immediate",
                "certainty": "likely",
                "radius_m": 300,
                "expires_s": 3600,
            }
        ],
    },
]


@pytest.fixture
def lamps() -> DeviceChannel:
    return DeviceChannel("lamp-")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.automations = AutomationConfig.model_validate({"rules": RULES})
    return settings


@pytest.fixture
def api(api: Api, runtime: Runtime, lamps: DeviceChannel) -> Api:
    # After start-up, which sets the runtime's channels from its configured connectors.
    runtime.actuators.channels.append(lamps)
    return api


def register_lamp(api: Api, lamp_id: str, east_m: float) -> None:
    body = sensor_record(
        id=lamp_id,
        kind="lamppost",
        location={"lon": LON0 + metres_east(east_m), "lat": LAT0},
    )
    r = api.client.put(f"/v1/sensors/{lamp_id}", json=body, headers=api.h(Role.INTEGRATOR))
    assert r.status_code in (200, 201), r.text


def test_a_shooting_brightens_the_lamps_within_the_radius_and_is_traced(
    api: Api, runtime: Runtime, lamps: DeviceChannel
) -> None:
    register_lamp(api, "lamp-near", 60)
    register_lamp(api, "lamp-edge", 140)
    register_lamp(api, "lamp-far", 400)
    api.client.post("/v1/events", json=raw_event("gunshot.located"), headers=api.h(Role.INTEGRATOR))
    settle(api, runtime)
    assert sorted(c.device_id for c in lamps.received) == ["lamp-edge", "lamp-near"]
    assert {c.value for c in lamps.received} == {100}
    assert {c.issued_by for c in lamps.received} == {"automation:shots-light"}
    (incident,) = api.client.get("/v1/incidents", headers=api.h()).json()["items"]
    traces = api.client.get(f"/v1/incidents/{incident['id']}/automations", headers=api.h()).json()[
        "items"
    ]
    fired = next(t for t in traces if t["rule_id"] == "shots-light")
    assert fired["fired"] is True
    assert fired["conditions"][0]["passed"] is True
    (result,) = fired["results"]
    assert result["outcome"] == "acknowledged"
    assert result["devices"] == ["lamp-edge", "lamp-near"]
    # The commands are in the audit log under the rule's name, like a person's would be.
    audit = runtime.store.list_audit(limit=1000)
    assert any(
        r.action == "actuators.command" and r.actor == "automation:shots-light" for r in audit
    )


def test_a_rule_that_does_not_fire_says_why(api: Api, runtime: Runtime) -> None:
    # A doubtful camera (confidence 0.1) alone scores priority 2: the rule wants priority 1.
    api.client.post(
        "/v1/events",
        json=raw_event("camera.fire_smoke", confidence=0.1),
        headers=api.h(Role.INTEGRATOR),
    )
    settle(api, runtime)
    traces = api.client.get("/v1/automations/traces?rule_id=fire-warning", headers=api.h()).json()[
        "items"
    ]
    assert traces and traces[0]["fired"] is False
    assert traces[0]["reason"].startswith("not fired: priority")


def test_a_drafted_warning_is_published_only_after_a_person_approves_it(
    api: Api, runtime: Runtime, clock: ManualClock
) -> None:
    api.client.post(
        "/v1/events/batch",
        json=[
            raw_event("camera.fire_smoke", severity="extreme"),
            raw_event("call.emergency", source="urn:test:cad", severity="extreme"),
        ],
        headers=api.h(Role.INTEGRATOR),
    )
    settle(api, runtime)
    (draft,) = api.client.get("/v1/alerts/drafts", headers=api.h()).json()["items"]
    assert draft["status"] == "draft"
    assert draft["headline"].startswith("Smoke near")
    feed = api.client.get("/public/v1/cap/alerts.atom").text
    assert draft["id"] not in feed  # a draft is never public
    r = api.client.post(
        f"/v1/alerts/drafts/{draft['id']}/approve", json={"reason": "ok"}, headers=api.h()
    )
    assert r.status_code == 403  # operators draft and read; a supervisor approves
    r = api.client.post(
        f"/v1/alerts/drafts/{draft['id']}/approve",
        json={"reason": "confirmed by the rescue officer", "headline": "Fire at Kamppi"},
        headers=api.h(Role.SUPERVISOR),
    )
    assert r.status_code == 200, r.text
    assert r.json()["decided_by"] == "user:supervisor-1"
    feed = api.client.get("/public/v1/cap/alerts.atom").text
    assert "Fire at Kamppi" in feed and draft["id"] in feed
    r = api.client.post(
        f"/v1/alerts/drafts/{draft['id']}/reject",
        json={"reason": "too late"},
        headers=api.h(Role.SUPERVISOR),
    )
    assert r.status_code == 409 and "already approved" in r.json()["detail"]
    assert clock.now() >= T0


def test_rules_are_listed_and_bad_rules_fail_at_start_naming_the_field(tmp_path: Path) -> None:
    bad = [{**RULES[0], "actions": [{"kind": "brighten_lamps", "radius_m": -5}]}]
    with pytest.raises(ValueError, match="radius_m"):
        Settings.model_validate({"automations": {"rules": bad}})
    webhook = [
        {
            **RULES[0],
            "actions": [{"kind": "call_webhook", "target": "https://evil.example/x"}],
        }
    ]
    with pytest.raises(ValueError, match="target"):
        Settings.model_validate({"automations": {"rules": webhook}})
