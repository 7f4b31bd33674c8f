"""An incident driven through the API with the clock moved between steps gives exact
response-time figures, per incident and per agency."""

from __future__ import annotations

from datetime import timedelta

from factories import T0, raw_event
from safecity.core.clock import ManualClock
from safecity.core.identity import Role
from safecity.runtime import Runtime
from support import Api, settle

POLICE = "helsinki-police"


def test_an_incident_through_its_life_gives_exact_kpis(
    api: Api, runtime: Runtime, clock: ManualClock
) -> None:
    # The camera saw it 20 s before the platform opened the incident.
    r = api.client.post(
        "/v1/events",
        json=raw_event("camera.abnormal", at=T0 - timedelta(seconds=20)),
        headers=api.h(Role.INTEGRATOR),
    )
    assert r.status_code in (200, 202), r.text
    settle(api, runtime)
    (incident,) = api.client.get("/v1/incidents", headers=api.h()).json()["items"]
    base = f"/v1/incidents/{incident['id']}"
    r = api.client.put(
        "/v1/units/P-11",
        json={"id": "P-11", "agency_id": POLICE, "kind": "patrol_car", "callsign": "P-11"},
        headers=api.h(),
    )
    assert r.status_code == 200, r.text
    api.client.post("/v1/units/P-11/status", json={"status": "available"}, headers=api.h())
    r = api.client.post(f"{base}/assign", json={"agency_id": POLICE}, headers=api.h())
    assert r.status_code == 200, r.text

    def step(seconds: float, method: str, path: str, body: dict[str, object]) -> None:
        clock.advance(timedelta(seconds=seconds))
        r = api.client.request(method, path, json=body, headers=api.h())
        assert r.status_code == 200, r.text
        settle(api, runtime)

    step(12, "POST", f"{base}/acknowledge", {})
    step(30, "POST", f"{base}/dispatch", {"units": ["P-11"]})
    unit = {"incident_id": incident["id"]}
    step(25, "POST", "/v1/units/P-11/status", {"status": "en_route", **unit})
    step(200, "POST", "/v1/units/P-11/status", {"status": "on_scene", **unit})
    assert api.client.get(base, headers=api.h()).json()["status"] == "on_scene"
    step(600, "POST", "/v1/units/P-11/status", {"status": "available"})
    step(100, "POST", f"{base}/close", {"reason": "handled"})

    r = api.client.get(f"{base}/kpis", headers=api.h(Role.ANALYST))
    assert r.status_code == 200, r.text
    kpis = r.json()
    assert {
        k: kpis[k]
        for k in (
            "detection_to_open",
            "time_to_acknowledge",
            "time_to_dispatch",
            "turnout",
            "travel",
            "response",
            "on_scene_time",
            "total",
        )
    } == {
        "detection_to_open": 20,
        "time_to_acknowledge": 12,
        "time_to_dispatch": 42,
        "turnout": 25,
        "travel": 200,
        "response": 267,
        "on_scene_time": 600,
        "total": 967,
    }
    (p11,) = kpis["units"]
    assert p11 == {
        "unit_id": "P-11",
        "agency_id": POLICE,
        "dispatched_at": "2026-11-21T12:00:42Z",
        "en_route_at": "2026-11-21T12:01:07Z",
        "on_scene_at": "2026-11-21T12:04:27Z",
        "cleared_at": "2026-11-21T12:14:27Z",
        "turnout": 25,
        "travel": 200,
    }
    assert kpis["agency_id"] == POLICE and kpis["excluded"] is None

    r = api.client.get("/v1/kpis?group_by=agency", headers=api.h(Role.ANALYST))
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["incidents"] == 1 and report["group_by"] == "agency"
    (group,) = report["groups"]
    assert group["key"] == POLICE and group["incidents"] == 1
    stats = {s["kpi"]: s for s in group["kpis"]}
    assert stats["time_to_acknowledge"] == {
        "kpi": "time_to_acknowledge",
        "count": 1,
        "median_s": 12,
        "p90_s": 12,
        "mean_s": 12,
        "threshold_s": 15,
        "target_share": 0.9,
        "targets_mixed": False,
        "judged": 1,
        "within": 1,
        "share_within": 1.0,
        "met": True,
    }
    assert (stats["turnout"]["median_s"], stats["turnout"]["met"]) == (25, True)
    assert (stats["travel"]["median_s"], stats["travel"]["met"]) == (200, True)
    assert (stats["response"]["median_s"], stats["response"]["met"]) == (267, None)
    assert stats["total"]["mean_s"] == 967

    # The reads are audited.
    audit = runtime.store.list_audit(object_id=incident["id"], limit=1000)
    assert "kpis.incident" in [a.action for a in audit]
    assert any(a.action == "kpis.report" for a in runtime.store.list_audit(limit=1000))


def test_window_and_permissions(api: Api, runtime: Runtime) -> None:
    assert api.client.get("/v1/kpis", headers=api.h(Role.INTEGRATOR)).status_code == 403
    assert api.client.get("/v1/kpis").status_code == 401
    r = api.client.get(
        "/v1/kpis",
        params={"since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"},
        headers=api.h(),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.since"
    r = api.client.get("/v1/kpis", params={"since": "2026-11-21T00:00:00"}, headers=api.h())
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query.since"
    r = api.client.get("/v1/kpis", params={"group_by": "colour"}, headers=api.h())
    assert r.status_code == 422
    r = api.client.get("/v1/kpis", headers=api.h())
    assert r.status_code == 200
    assert r.json()["incidents"] == 0 and r.json()["groups"] == []
    assert api.client.get("/v1/incidents/nope/kpis", headers=api.h()).status_code == 404
