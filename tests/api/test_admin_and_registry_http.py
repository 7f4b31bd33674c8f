"""Administration, the audit trail and the sensor register over HTTP."""

from __future__ import annotations

from factories import sensor_record
from safecity.core.identity import Role
from safecity.runtime import Runtime
from support import Api

SENSOR = sensor_record()


def test_admin_onboards_an_agency_user_and_token(api: Api) -> None:
    h = api.h(Role.ADMIN)
    r = api.client.post(
        "/v1/agencies", json={"id": "hus", "name": "HUS Ambulance", "kind": "ambulance"}, headers=h
    )
    assert r.status_code == 201
    r = api.client.post(
        "/v1/users",
        json={"id": "medic-1", "agency_id": "hus", "display_name": "Medic", "role": "operator"},
        headers=h,
    )
    assert r.status_code == 201
    token = api.client.post("/v1/users/medic-1/tokens", json={"label": "tablet"}, headers=h).json()
    assert token["secret"].startswith("sc_")
    assert (
        api.client.get(
            "/v1/incidents", headers={"Authorization": f"Bearer {token['secret']}"}
        ).status_code
        == 200
    )
    assert api.client.delete(f"/v1/tokens/{token['id']}", headers=h).status_code == 204
    assert (
        api.client.get(
            "/v1/incidents", headers={"Authorization": f"Bearer {token['secret']}"}
        ).status_code
        == 401
    )
    dup = api.client.post("/v1/agencies", json={"id": "hus", "name": "again"}, headers=h)
    assert dup.status_code == 409
    assert api.client.get("/v1/agencies", headers=api.h(Role.OPERATOR)).status_code == 403


def test_auditor_reads_an_intact_trail(api: Api) -> None:
    api.client.get("/v1/incidents", headers=api.h())
    r = api.client.get("/v1/audit", headers=api.h(Role.AUDITOR))
    assert r.status_code == 200
    body = r.json()
    assert body["chain_intact"] is True
    assert any(i["action"] == "incidents.list" for i in body["items"])
    assert api.client.get("/v1/audit", headers=api.h(Role.OPERATOR)).status_code == 403


def test_register_put_get_list_delete_and_public_view(api: Api, runtime: Runtime) -> None:
    h = api.h(Role.INTEGRATOR)
    r = api.client.put("/v1/sensors/cam-kamppi-1", json=SENSOR, headers=h)
    assert r.status_code == 200 and r.json()["created_at"] is not None
    private = {**SENSOR, "id": "cam-private-2", "public": False}
    api.client.put("/v1/sensors/cam-private-2", json=private, headers=h)
    listed = api.client.get("/v1/sensors?kind=camera", headers=api.h()).json()["items"]
    assert {s["id"] for s in listed} == {"cam-kamppi-1", "cam-private-2"}
    public = api.client.get("/public/v1/sensors").json()["items"]
    assert [s["id"] for s in public] == ["cam-kamppi-1"]
    assert public[0]["retention_days"] == 7 and public[0]["legal_basis"]
    assert api.client.delete("/v1/sensors/cam-private-2", headers=h).status_code == 204
    assert api.client.get("/v1/sensors/cam-private-2", headers=api.h()).status_code == 404
    # Operators read the register but do not change it.
    assert (
        api.client.put("/v1/sensors/x", json={**SENSOR, "id": "x"}, headers=api.h()).status_code
        == 403
    )


def test_register_refuses_bad_records_naming_the_field(api: Api) -> None:
    h = api.h(Role.INTEGRATOR)
    r = api.client.put("/v1/sensors/cam-kamppi-1", json={**SENSOR, "retention_days": -3}, headers=h)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body.retention_days"
    letter = api.client.get(
        f"/v1/dead-letters/{r.json()['dead_letter_id']}", headers=api.h(Role.SUPERVISOR)
    ).json()
    assert letter["channel"] == "http PUT /v1/sensors/cam-kamppi-1"
    assert '"retention_days":-3' in letter["raw_text"].replace(" ", "")
    r = api.client.put("/v1/sensors/other", json=SENSOR, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body.id"
    r = api.client.put(
        "/v1/sensors/cam-kamppi-1", json={**SENSOR, "owner_agency": "nobody"}, headers=h
    )
    assert r.status_code == 404


def test_me_says_who_the_token_belongs_to_and_its_purposes(api: Api) -> None:
    r = api.client.get("/v1/me", headers=api.h(Role.SUPERVISOR, purpose="investigation"))
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["user_id"] == "supervisor-1" and me["role"] == "supervisor"
    assert me["purpose"] == "investigation"
    assert "incident-response" in me["purposes"] and "oversight" not in me["purposes"]
    assert "incidents:write" in me["permissions"]
    assert api.client.get("/v1/me").status_code == 401
    bad = api.client.get("/v1/me", headers=api.h(Role.OPERATOR, purpose="oversight"))
    assert bad.status_code == 403
