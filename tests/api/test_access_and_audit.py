"""Who may do what, for which purpose; and every read or change of data leaves an audit record."""

from __future__ import annotations

import sqlite3

import pytest

from factories import raw_event
from safecity.core.identity import Role
from safecity.governance.audit import verify_chain
from safecity.runtime import Runtime
from support import Api, settle


@pytest.mark.parametrize(
    "path", ["/v1/incidents", "/v1/events", "/v1/sensors", "/metrics", "/v1/dead-letters"]
)
def test_data_endpoints_need_a_token(api: Api, path: str) -> None:
    r = api.client.get(path)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    bad = api.client.get(path, headers={"Authorization": "Bearer sc_not-a-token"})
    assert bad.status_code == 401


@pytest.mark.parametrize(
    "path", ["/health", "/v1/event-types", "/public/v1/sensors", "/openapi.json"]
)
def test_public_endpoints_need_none(api: Api, path: str) -> None:
    assert api.client.get(path).status_code == 200


def test_roles_limit_actions(api: Api) -> None:
    # An analyst reads but cannot change incidents or ingest; an integrator ingests but reads no
    # incidents; an auditor reads the audit trail's subjects, not raw events.
    assert (
        api.client.post("/v1/events", json=raw_event(), headers=api.h(Role.ANALYST)).status_code
        == 403
    )
    assert api.client.get("/v1/incidents", headers=api.h(Role.INTEGRATOR)).status_code == 403
    assert api.client.get("/v1/events", headers=api.h(Role.AUDITOR)).status_code == 403
    assert api.client.get("/v1/events", headers=api.h(Role.ANALYST)).status_code == 200


def test_purpose_must_be_one_the_role_may_declare(api: Api) -> None:
    ok = api.client.get("/v1/incidents", headers=api.h(Role.SUPERVISOR, "investigation"))
    assert ok.status_code == 200
    wrong = api.client.get("/v1/incidents", headers=api.h(Role.OPERATOR, "investigation"))
    assert wrong.status_code == 403
    assert "may not act for purpose 'investigation'" in wrong.json()["detail"]
    unknown = api.client.get("/v1/incidents", headers=api.h(Role.OPERATOR, "curiosity"))
    assert unknown.status_code == 403 and "unknown purpose" in unknown.json()["detail"]


def test_reads_and_changes_are_audited_with_purpose(api: Api, runtime: Runtime) -> None:
    api.client.post("/v1/events", json=raw_event(), headers=api.h())
    settle(api, runtime)
    api.client.get("/v1/incidents", headers=api.h(Role.SUPERVISOR, "investigation"))
    records = runtime.store.list_audit(limit=100)
    actions = [(r.action, r.actor, r.purpose) for r in records]
    assert ("events.ingest", "user:operator-1", "incident-response") in actions
    assert ("incidents.list", "user:supervisor-1", "investigation") in actions
    # The platform's own changes are audited too.
    assert ("incidents.correlate", "system:correlation", "incident-response") in actions
    assert all(r.agency_id == "helsinki-police" for r in records if r.actor.startswith("user:"))


def test_audit_log_is_hash_chained_and_append_only(
    api: Api, runtime: Runtime, settings: object
) -> None:
    for _ in range(3):
        api.client.get("/v1/incidents", headers=api.h())
    records = runtime.store.list_audit(limit=100)
    assert len(records) >= 3
    assert verify_chain(records) is None
    tampered = [
        records[0],
        records[1].__class__(**{**records[1].__dict__, "purpose": "other"}),
        *records[2:],
    ]
    assert verify_chain(tampered) == records[1].seq
    with sqlite3.connect(runtime.settings.store.path) as raw, pytest.raises(sqlite3.DatabaseError):
        raw.execute("UPDATE audit_log SET purpose = 'x'")


def test_revoked_token_stops_working(api: Api, runtime: Runtime) -> None:
    issued = runtime.identity.issue_token("operator-1", label="temp")
    h = {"Authorization": f"Bearer {issued.secret}"}
    assert api.client.get("/v1/incidents", headers=h).status_code == 200
    runtime.identity.revoke_token(issued.token.id)
    assert api.client.get("/v1/incidents", headers=h).status_code == 401


def test_tokens_are_stored_hashed(runtime: Runtime) -> None:
    issued = runtime.identity.issue_token("operator-1")
    with sqlite3.connect(runtime.settings.store.path) as raw:
        dump = "\n".join(raw.iterdump())
    assert issued.secret not in dump


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_api_docs_work_offline(api: Api, page: str) -> None:
    html = api.client.get(page).text
    assert "/static-offline-docs/" in html
    assert "https://" not in html.replace("https://www.openstreetmap.org", "")
    asset = "swagger-ui-bundle.js" if page == "/docs" else "redoc.standalone.js"
    assert api.client.get(f"/static-offline-docs/{asset}").status_code == 200
