"""The live stream pushes new events and incident changes to authorised clients."""

from __future__ import annotations

import orjson
import pytest
from starlette.websockets import WebSocketDisconnect

from factories import raw_event
from safecity.core.identity import Role
from support import Api


def test_stream_delivers_event_then_incident(api: Api) -> None:
    token = api.tokens[Role.OPERATOR]
    with api.client.websocket_connect(f"/v1/stream?access_token={token}") as ws:
        hello = orjson.loads(ws.receive_text())
        assert hello == {"topic": "hello", "topics": ["event", "incident"]}
        api.client.post("/v1/events", json=raw_event(id_="live-1"), headers=api.h())
        frames = [orjson.loads(ws.receive_text()) for _ in range(2)]
    topics = {f["topic"]: f for f in frames}
    assert topics["event"]["data"]["event"]["id"] == "live-1"
    assert topics["incident"]["subject"] == "incidents.opened"
    assert topics["incident"]["data"]["events"] == [{"source": "urn:test:camera", "id": "live-1"}]


def test_stream_refuses_bad_tokens_and_unpermitted_topics(api: Api) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as exc,
        api.client.websocket_connect("/v1/stream?access_token=nope") as ws,
    ):
        ws.receive_text()
    assert exc.value.code == 1008
    token = api.tokens[Role.INTEGRATOR]
    with (
        pytest.raises(WebSocketDisconnect),
        api.client.websocket_connect(f"/v1/stream?access_token={token}&topics=incident") as ws,
    ):
        ws.receive_text()
