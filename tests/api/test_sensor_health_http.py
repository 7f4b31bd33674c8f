"""Sensor health over HTTP: faulty, silent and heard devices, kept at ingest, by the injected
clock, and the read is audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from factories import T0, raw_event, sensor_record
from safecity.core.clock import ManualClock
from safecity.core.identity import Role
from safecity.runtime import Runtime
from support import Api

POLICE, RESCUE = "helsinki-police", "helsinki-rescue"


def register(api: Api, sensor_id: str, kind: str, owner: str = POLICE, **extra: Any) -> None:
    body = sensor_record(
        id=sensor_id, kind=kind, name=f"Device {sensor_id}", owner_agency=owner, **extra
    )
    r = api.client.put(f"/v1/sensors/{sensor_id}", json=body, headers=api.h(Role.INTEGRATOR))
    assert r.status_code == 200, r.text


def send(api: Api, *events: dict[str, Any]) -> None:
    r = api.client.post("/v1/events/batch", json=list(events), headers=api.h(Role.INTEGRATOR))
    assert r.status_code == 200 and r.json()["rejected"] == 0, r.text


def health(api: Api, query: str = "", role: Role = Role.OPERATOR) -> dict[str, Any]:
    r = api.client.get(f"/v1/sensors/health{query}", headers=api.h(role))
    assert r.status_code == 200, r.text
    return dict(r.json())


@pytest.fixture
def city(api: Api) -> Api:
    """A lamp that reported a fault, a lamp that never sent anything, a camera heard 5 minutes
    ago, a noise meter last heard 2 hours ago and a camera under maintenance."""
    register(api, "lamp-17", "lamppost", RESCUE)
    register(api, "lamp-18", "lamppost", RESCUE)
    register(api, "cam-kamppi-1", "camera")
    register(api, "noise-4", "noise", RESCUE)
    register(api, "cam-old", "camera", status="maintenance")
    send(
        api,
        raw_event(
            "lamp.fault",
            source="urn:city:lamps:lamp-17",
            at=T0 - timedelta(minutes=10),
            data={"lamp_id": "lamp-17", "fault": "lamp_out"},
        ),
        raw_event(
            "camera.motion",
            source="frigate/nvr-1/cam-kamppi-1",
            at=T0 - timedelta(minutes=5),
            data={"camera_id": "cam-kamppi-1"},
        ),
        raw_event(
            "noise.level",
            source="urn:city:noise-gateway",
            at=T0 - timedelta(hours=2),
            data={"sensor_id": "noise-4", "laeq_db": 61.0},
        ),
    )
    return api


def test_health_lists_faulty_then_silent_then_heard_devices(city: Api) -> None:
    body = health(city)
    assert body["as_of"] == "2026-11-21T12:00:00Z"
    assert body["silent_before"] == "2026-11-21T11:00:00Z"
    assert body["counts"] == {"registered": 5, "faulty": 2, "silent": 2, "heard": 1}
    rows = {r["sensor_id"]: r for r in body["items"]}
    assert [(r["sensor_id"], r["state"]) for r in body["items"]] == [
        ("cam-old", "faulty"),
        ("lamp-17", "faulty"),
        ("lamp-18", "silent"),  # never heard: first among the silent
        ("noise-4", "silent"),
        ("cam-kamppi-1", "heard"),
    ]
    assert rows["lamp-17"] == {
        "sensor_id": "lamp-17",
        "name": "Device lamp-17",
        "kind": "lamppost",
        "owner_agency": RESCUE,
        "status": "active",
        "state": "faulty",
        "last_event_at": "2026-11-21T11:50:00Z",
        "last_event_type": "lamp.fault",
        "fault": "lamp_out",
        "fault_reported_at": "2026-11-21T11:50:00Z",
    }
    assert rows["cam-old"]["fault"] == "register: maintenance"
    assert rows["lamp-18"]["last_event_at"] is None and rows["lamp-18"]["fault"] is None
    assert rows["noise-4"]["last_event_at"] == "2026-11-21T10:00:00Z"
    assert rows["cam-kamppi-1"]["last_event_type"] == "camera.motion"
    assert body["next_offset"] is None
    # A wider window hears the noise meter.
    assert health(city, "?silent_after_min=180")["counts"]["heard"] == 2


def test_the_window_ends_at_the_servers_clock(city: Api, clock: ManualClock) -> None:
    clock.advance(timedelta(hours=1))
    body = health(city)
    assert body["as_of"] == "2026-11-21T13:00:00Z"
    assert body["counts"] == {"registered": 5, "faulty": 2, "silent": 3, "heard": 0}


def test_a_repaired_lamp_is_heard_again(city: Api) -> None:
    send(
        city,
        raw_event(
            "lamp.light_level",
            source="urn:city:lamps:lamp-17",
            at=T0 - timedelta(minutes=1),
            data={"lamp_id": "lamp-17", "level_pct": 80},
        ),
    )
    rows = {r["sensor_id"]: r for r in health(city)["items"]}
    assert (rows["lamp-17"]["state"], rows["lamp-17"]["fault"]) == ("heard", None)
    assert rows["lamp-17"]["last_event_type"] == "lamp.light_level"


def test_health_filters_and_pages(city: Api) -> None:
    def ids(query: str) -> list[str]:
        return [r["sensor_id"] for r in health(city, query)["items"]]

    assert ids("?state=silent") == ["lamp-18", "noise-4"]
    assert ids("?kind=camera") == ["cam-old", "cam-kamppi-1"]
    assert ids(f"?agency={RESCUE}&state=faulty") == ["lamp-17"]
    counted = health(city, f"?agency={RESCUE}&state=faulty")["counts"]
    assert counted == {"registered": 3, "faulty": 1, "silent": 2, "heard": 0}
    first = health(city, "?limit=2")
    assert [r["sensor_id"] for r in first["items"]] == ["cam-old", "lamp-17"]
    assert first["next_offset"] == 2
    rest = health(city, f"?limit=2&offset={first['next_offset']}")
    assert [r["sensor_id"] for r in rest["items"]] == ["lamp-18", "noise-4"]
    last = health(city, "?limit=2&offset=4")
    assert [r["sensor_id"] for r in last["items"]] == ["cam-kamppi-1"]
    assert last["next_offset"] is None
    assert health(city, "?state=silent&limit=1")["next_offset"] == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?state=asleep", "query.state"),
        ("?silent_after_min=0", "query.silent_after_min"),
        ("?kind=toaster", "query.kind"),
        ("?limit=0", "query.limit"),
        ("?offset=-1", "query.offset"),
    ],
)
def test_bad_input_names_the_field(api: Api, query: str, field: str) -> None:
    r = api.client.get(f"/v1/sensors/health{query}", headers=api.h())
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == [field]


def test_health_needs_a_token_and_the_read_is_audited(city: Api, runtime: Runtime) -> None:
    assert city.client.get("/v1/sensors/health").status_code == 401
    # Whoever may read the register may read its health: integrators look after devices.
    for role in (Role.INTEGRATOR, Role.AUDITOR, Role.ANALYST):
        assert health(city, role=role)["counts"]["registered"] == 5
    health(city, "?state=faulty&silent_after_min=30", role=Role.SUPERVISOR)
    (record,) = [
        r
        for r in runtime.store.list_audit(actor="user:supervisor-1", limit=1000)
        if r.action == "sensors.health"
    ]
    assert record.purpose == "incident-response" and record.object_type == "sensor"
    assert record.details == {
        "silent_after_min": 30,
        "kind": None,
        "owner_agency": None,
        "state": "faulty",
        "count": 2,
    }
