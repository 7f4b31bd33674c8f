"""Agencies share one thread per incident (which is also the incident's log) and area channels;
only agencies involved may read or post; deliveries and acknowledgements are tracked per agency
and pushed live."""

from __future__ import annotations

from typing import Any

import orjson

from factories import raw_event
from safecity.core.identity import Agency, Role, User
from safecity.runtime import Runtime
from support import Api, settle

POLICE, RESCUE, CITY = "helsinki-police", "helsinki-rescue", "city"


def city_tokens(runtime: Runtime) -> dict[Role, str]:
    """A municipality (not involved in a shooting by its procedure) with an operator and a
    supervisor."""
    runtime.identity.ensure_agency(Agency(id=CITY, name="City of Helsinki", kind="municipality"))
    out = {}
    for role in (Role.OPERATOR, Role.SUPERVISOR):
        user_id = f"city-{role.value}"
        runtime.identity.ensure_user(
            User(id=user_id, agency_id=CITY, display_name=f"City {role.value}", role=role)
        )
        out[role] = runtime.identity.issue_token(user_id, label="test").secret
    return out


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def shooting(api: Api, runtime: Runtime) -> str:
    r = api.client.post(
        "/v1/events", json=raw_event("gunshot.located"), headers=api.h(Role.INTEGRATOR)
    )
    assert r.status_code in (200, 202), r.text
    settle(api, runtime)
    (incident,) = api.client.get("/v1/incidents", headers=api.h()).json()["items"]
    return str(incident["id"])


def receipt(message: dict[str, Any], agency: str) -> dict[str, Any]:
    found = [r for r in message["receipts"] if r["agency_id"] == agency]
    assert len(found) == 1, message["receipts"]
    return dict(found[0])


def lines(api: Api, incident_id: str) -> list[str]:
    r = api.client.get(f"/v1/incidents/{incident_id}/channel", headers=api.h())
    assert r.status_code == 200, r.text
    return [m["body"] for m in r.json()["messages"] if m["kind"] == "log"]


def test_the_incident_thread_is_shared_with_involved_agencies_delivered_and_acknowledged(
    api: Api, runtime: Runtime
) -> None:
    city = city_tokens(runtime)
    incident_id = shooting(api, runtime)
    base = f"/v1/incidents/{incident_id}/channel"

    r = api.client.get(base, headers=api.h())
    assert r.status_code == 200, r.text
    view = r.json()
    channel = view["channel"]
    assert channel["kind"] == "incident" and channel["incident_id"] == incident_id
    assert POLICE in channel["agencies"] and CITY not in channel["agencies"]
    assert (
        channel["name"]
        == api.client.get(f"/v1/incidents/{incident_id}", headers=api.h()).json()["title"]
    )
    assert view["messages"][0]["body"].startswith("Opened: ")

    r = api.client.post(f"{base}/messages", json={"body": "Cordon at Kamppi"}, headers=api.h())
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["kind"] == "message" and first["author"] == "user:operator-1"
    mine = receipt(first, POLICE)
    assert mine["delivered_at"] and mine["acknowledged_by"] == "user:operator-1"
    assert receipt(first, RESCUE)["delivered_at"] is None

    # The municipality is not involved: it may neither read nor post, and is told why.
    r = api.client.get(base, headers=bearer(city[Role.OPERATOR]))
    assert r.status_code == 403
    detail = r.json()["detail"]
    assert "'city'" in detail and incident_id in detail
    r = api.client.post(
        f"{base}/messages", json={"body": "hi"}, headers=bearer(city[Role.OPERATOR])
    )
    assert r.status_code == 403
    r = api.client.get(
        f"/v1/channels/{channel['id']}/messages", headers=bearer(city[Role.OPERATOR])
    )
    assert r.status_code == 403
    denied = runtime.store.list_audit(object_type="incident", object_id=incident_id)
    assert any(
        a.action == "incidents.channel.read" and a.outcome == "denied" and a.agency_id == CITY
        for a in denied
    )

    # Once involved, it reads the thread (earlier messages included) ...
    r = api.client.post(
        f"/v1/incidents/{incident_id}/agencies",
        json={"agencies": [CITY], "reason": "close Mannerheimintie"},
        headers=api.h(),
    )
    assert r.status_code == 200, r.text
    assert CITY in r.json()["agencies"]
    settle(api, runtime)
    r = api.client.get(base, headers=bearer(city[Role.OPERATOR]))
    assert r.status_code == 200, r.text
    bodies = [m["body"] for m in r.json()["messages"]]
    assert "Cordon at Kamppi" in bodies
    assert "Agencies involved: city: close Mannerheimintie" in bodies
    assert CITY in r.json()["channel"]["agencies"]

    # ... and gets new messages live, which marks them delivered for the municipality.
    token = city[Role.OPERATOR]
    with api.client.websocket_connect(f"/v1/stream?access_token={token}&topics=message") as ws:
        assert orjson.loads(ws.receive_text()) == {"topic": "hello", "topics": ["message"]}
        r = api.client.post(
            f"{base}/messages",
            json={"body": "Close the street at Kamppi, please", "requires_ack": True},
            headers=api.h(),
        )
        assert r.status_code == 201, r.text
        second = r.json()
        assert receipt(second, CITY)["delivered_at"] is None
        frame = orjson.loads(ws.receive_text())
        settle(api, runtime)
    assert frame["topic"] == "message"
    assert frame["subject"] == f"channels.{channel['id']}.message"
    assert frame["data"]["message"]["id"] == second["id"]
    assert CITY in frame["data"]["agencies"]

    # The author sees the delivery, then the acknowledgement.
    r = api.client.get(f"/v1/channels/{channel['id']}/messages", headers=api.h())
    (seen,) = [m for m in r.json()["items"] if m["id"] == second["id"]]
    assert receipt(seen, CITY)["delivered_at"] is not None
    assert receipt(seen, CITY)["acknowledged_at"] is None
    r = api.client.post(f"/v1/messages/{second['id']}/ack", headers=bearer(city[Role.OPERATOR]))
    assert r.status_code == 200, r.text
    assert receipt(r.json(), CITY)["acknowledged_by"] == "user:city-operator"
    r = api.client.get(f"{base}?after={first['id']}", headers=api.h())
    (seen,) = [m for m in r.json()["messages"] if m["id"] == second["id"]]
    assert receipt(seen, CITY)["acknowledged_by"] == "user:city-operator"
    assert all(m["id"] > first["id"] for m in r.json()["messages"])

    # Log lines need no acknowledgement; unknown messages are 404.
    log_line = next(m for m in view["messages"] if m["kind"] == "log")
    r = api.client.post(f"/v1/messages/{log_line['id']}/ack", headers=api.h())
    assert r.status_code == 409
    assert api.client.post("/v1/messages/msg_nope/ack", headers=api.h()).status_code == 404
    assert api.client.get("/v1/incidents/inc_nope/channel", headers=api.h()).status_code == 404


def test_a_stream_session_of_another_agency_gets_no_channel_messages(
    api: Api, runtime: Runtime
) -> None:
    city = city_tokens(runtime)
    incident_id = shooting(api, runtime)
    token = city[Role.OPERATOR]
    with api.client.websocket_connect(
        f"/v1/stream?access_token={token}&topics=message,incident"
    ) as ws:
        ws.receive_text()  # hello
        r = api.client.post(
            f"/v1/incidents/{incident_id}/channel/messages",
            json={"body": "police only"},
            headers=api.h(),
        )
        assert r.status_code == 201
        # An incident change follows; the channel message before it must not have come.
        api.client.post(f"/v1/incidents/{incident_id}/acknowledge", json={}, headers=api.h())
        frame = orjson.loads(ws.receive_text())
    assert frame["topic"] == "incident"


def test_the_author_sees_the_acknowledgement_live(api: Api, runtime: Runtime) -> None:
    city = city_tokens(runtime)
    incident_id = shooting(api, runtime)
    r = api.client.post(
        f"/v1/incidents/{incident_id}/agencies",
        json={"agencies": [CITY], "reason": "traffic"},
        headers=api.h(),
    )
    assert r.status_code == 200
    settle(api, runtime)
    token = api.tokens[Role.OPERATOR]
    with api.client.websocket_connect(f"/v1/stream?access_token={token}&topics=message") as ws:
        ws.receive_text()  # hello
        r = api.client.post(
            f"/v1/incidents/{incident_id}/channel/messages",
            json={"body": "Confirm the closure", "requires_ack": True},
            headers=api.h(),
        )
        posted = r.json()
        own = orjson.loads(ws.receive_text())
        assert own["subject"].endswith(".message") and own["data"]["message"]["id"] == posted["id"]
        r = api.client.post(f"/v1/messages/{posted['id']}/ack", headers=bearer(city[Role.OPERATOR]))
        assert r.status_code == 200
        ack = orjson.loads(ws.receive_text())
    assert ack["subject"].endswith(".receipt")
    assert ack["data"]["receipt"]["agency_id"] == CITY
    assert ack["data"]["receipt"]["acknowledged_by"] == "user:city-operator"
    assert receipt(ack["data"]["message"], CITY)["acknowledged_at"] is not None


def test_the_thread_is_the_incident_log(api: Api, runtime: Runtime) -> None:
    incident_id = shooting(api, runtime)
    base = f"/v1/incidents/{incident_id}"
    assert api.client.post(f"{base}/acknowledge", json={}, headers=api.h()).status_code == 200
    r = api.client.post(
        f"{base}/priority", json={"priority": 3, "reason": "rehearsal"}, headers=api.h()
    )
    assert r.status_code == 200, r.text
    r = api.client.post(f"{base}/close", json={"reason": "false alarm"}, headers=api.h())
    assert r.status_code == 200, r.text
    settle(api, runtime)
    log = lines(api, incident_id)
    assert log[0].startswith("Opened: ") and "(priority " in log[0]
    assert "Procedure attached: Shots fired" in log
    tail = log[-3:]
    assert tail == [
        "Acknowledged by user:operator-1",
        "Priority overridden to 3: rehearsal",
        "Closed: false alarm",
    ]
    # One line per timeline entry, each once, in timeline order, with its details.
    timeline = api.client.get(f"{base}/timeline", headers=api.h()).json()["items"]
    r = api.client.get(f"{base}/channel", headers=api.h())
    logged = [m for m in r.json()["messages"] if m["kind"] == "log"]
    assert [m["details"]["action"] for m in logged] == [t["action"] for t in timeline]
    assert [m["details"]["timeline_seq"] for m in logged] == [t["seq"] for t in timeline]
    assert logged[-1]["details"]["reason"] == "false alarm"
    assert all(m["receipts"] == [] and not m["requires_ack"] for m in logged)
    # Reading again writes nothing twice.
    assert lines(api, incident_id) == log


def test_linked_events_make_one_compact_line(api: Api, runtime: Runtime) -> None:
    from factories import LON0, later, metres_east

    r = api.client.post(
        "/v1/events/batch",
        headers=api.h(Role.INTEGRATOR),
        json=[
            raw_event("gunshot.located", id_="shot", source="urn:test:localiser"),
            raw_event("camera.abnormal", id_="fight", lon=LON0 + metres_east(150), at=later(30)),
        ],
    )
    assert r.status_code in (200, 202)
    settle(api, runtime)
    (incident,) = api.client.get("/v1/incidents", headers=api.h()).json()["items"]
    log = lines(api, str(incident["id"]))
    assert "1 event linked (fusion: shots-fired)" in log


def test_area_channels(api: Api, runtime: Runtime) -> None:
    city = city_tokens(runtime)
    body = {"name": "New Year's Eve", "agencies": [RESCUE], "area": "Senate Square"}
    r = api.client.post("/v1/channels", json=body, headers=api.h())
    assert r.status_code == 403 and "supervisor" in r.json()["detail"]
    r = api.client.post(
        "/v1/channels", json={**body, "agencies": ["nobody"]}, headers=api.h(Role.SUPERVISOR)
    )
    assert r.status_code == 404
    r = api.client.post("/v1/channels", json=body, headers=api.h(Role.SUPERVISOR))
    assert r.status_code == 201, r.text
    channel = r.json()
    assert channel["kind"] == "area" and channel["area"] == "Senate Square"
    assert channel["agencies"] == [POLICE, RESCUE]
    assert channel["created_by"] == "user:supervisor-1"
    cid = channel["id"]

    listed = api.client.get("/v1/channels", headers=api.h()).json()["items"]
    assert [c["id"] for c in listed] == [cid]
    city_h = bearer(city[Role.OPERATOR])
    assert api.client.get("/v1/channels", headers=city_h).json()["items"] == []
    r = api.client.get(f"/v1/channels/{cid}/messages", headers=city_h)
    assert r.status_code == 403 and "'city'" in r.json()["detail"]
    r = api.client.post(f"/v1/channels/{cid}/messages", json={"body": "hi"}, headers=city_h)
    assert r.status_code == 403

    r = api.client.post(
        f"/v1/channels/{cid}/messages",
        json={"body": "Crowd building at the steps", "requires_ack": True},
        headers=api.h(),
    )
    assert r.status_code == 201, r.text
    message = r.json()
    assert receipt(message, RESCUE)["delivered_at"] is None
    page = api.client.get(f"/v1/channels/{cid}/messages", headers=api.h()).json()
    assert [m["id"] for m in page["items"]] == [message["id"]]
    assert page["next_after"] is None
    page = api.client.get(f"/v1/channels/{cid}/messages?limit=1", headers=api.h()).json()
    assert page["next_after"] == message["id"]

    r = api.client.post(f"/v1/channels/{cid}/close", headers=api.h())
    assert r.status_code == 403
    r = api.client.post(
        f"/v1/channels/{cid}/close", json={"reason": "over"}, headers=api.h(Role.SUPERVISOR)
    )
    assert r.status_code == 200, r.text
    assert r.json()["closed_at"] is not None
    r = api.client.post(f"/v1/channels/{cid}/messages", json={"body": "late"}, headers=api.h())
    assert r.status_code == 409 and "closed" in r.json()["detail"]
    assert api.client.get("/v1/channels", headers=api.h()).json()["items"] == []
    listed = api.client.get("/v1/channels?include_closed=true", headers=api.h()).json()["items"]
    assert [c["id"] for c in listed] == [cid]
    r = api.client.get(f"/v1/channels/{cid}/messages", headers=api.h())
    assert r.status_code == 200  # still readable
    audit = runtime.store.list_audit(object_type="channel", object_id=cid)
    assert {"channels.create", "channels.post", "channels.read", "channels.close"} <= {
        a.action for a in audit
    }

    incident_id = shooting(api, runtime)
    incident_channel = api.client.get(
        f"/v1/incidents/{incident_id}/channel", headers=api.h()
    ).json()["channel"]
    r = api.client.post(
        f"/v1/channels/{incident_channel['id']}/close", headers=api.h(Role.SUPERVISOR)
    )
    assert r.status_code == 409
    kinds = api.client.get("/v1/channels?kind=incident", headers=api.h()).json()["items"]
    assert [c["id"] for c in kinds] == [incident_channel["id"]]


def test_bad_bodies_are_refused_naming_the_field(api: Api, runtime: Runtime) -> None:
    incident_id = shooting(api, runtime)
    url = f"/v1/incidents/{incident_id}/channel/messages"

    def field(r: Any) -> str:
        assert r.status_code == 422, r.text
        return str(r.json()["errors"][0]["field"])

    assert field(api.client.post(url, json={"body": ""}, headers=api.h())) == "body.body"
    assert field(api.client.post(url, json={"body": "x" * 4001}, headers=api.h())) == "body.body"
    assert field(api.client.post(url, json={}, headers=api.h())) == "body.body"
    r = api.client.post(url, json={"body": "x", "urgent": True}, headers=api.h())
    assert field(r) == "body.urgent"
    r = api.client.post(url, json={"body": "x", "requires_ack": "maybe"}, headers=api.h())
    assert field(r) == "body.requires_ack"
    r = api.client.post(url, json={"body": "   "}, headers=api.h())
    assert field(r) == "body"
    sup = api.h(Role.SUPERVISOR)
    r = api.client.post("/v1/channels", json={"name": "x", "agencies": ["Bad Id"]}, headers=sup)
    assert field(r) == "body.agencies.0"
    r = api.client.post("/v1/channels", json={"name": "", "agencies": [RESCUE]}, headers=sup)
    assert field(r) == "body.name"
    r = api.client.post(
        f"/v1/incidents/{incident_id}/agencies", json={"agencies": [], "reason": "x"}, headers=sup
    )
    assert field(r) == "body.agencies"
    r = api.client.post(
        f"/v1/incidents/{incident_id}/agencies", json={"agencies": [RESCUE]}, headers=sup
    )
    assert field(r) == "body.reason"
    r = api.client.get(f"/v1/incidents/{incident_id}/channel?limit=0", headers=api.h())
    assert field(r) == "query.limit"
    # Involving an agency already involved, or one that does not exist, is refused too.
    r = api.client.post(
        f"/v1/incidents/{incident_id}/agencies",
        json={"agencies": [POLICE], "reason": "again"},
        headers=sup,
    )
    assert r.status_code == 409
    r = api.client.post(
        f"/v1/incidents/{incident_id}/agencies",
        json={"agencies": ["nobody"], "reason": "x"},
        headers=sup,
    )
    assert r.status_code == 404


def test_channels_appear_in_the_openapi_document(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    paths = doc["paths"]
    for path in (
        "/v1/incidents/{incident_id}/channel",
        "/v1/incidents/{incident_id}/channel/messages",
        "/v1/incidents/{incident_id}/agencies",
        "/v1/channels",
        "/v1/channels/{channel_id}/messages",
        "/v1/channels/{channel_id}/close",
        "/v1/messages/{message_id}/ack",
    ):
        assert path in paths, path
    schemas = doc["components"]["schemas"]
    assert {"ChannelView", "ChannelMessage", "Receipt", "PostBody"} <= set(schemas)
