"""Live stream over WebSocket: new events and incident changes as they happen."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from safecity.api.deps import ApiServices
from safecity.core.errors import PermissionDenied, Unauthenticated
from safecity.core.identity import Permission, Principal
from safecity.core.ports import BusMessage, Subscription

log = logging.getLogger(__name__)
router = APIRouter(tags=["stream"])

_QUEUE_LIMIT = 10_000


class _Client:
    def __init__(self, topics: frozenset[str]) -> None:
        self.topics = topics
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=_QUEUE_LIMIT)
        self.dropped = 0

    def offer(self, frame: bytes) -> None:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped += 1  # a slow client loses frames, never the server its memory


class LiveHub:
    """One bus subscription per topic, fanned out to every connected client."""

    def __init__(self, svc: ApiServices) -> None:
        self._svc = svc
        self._clients: set[_Client] = set()
        self._subs: list[Subscription] = []

    async def start(self) -> None:
        self._subs.append(
            await self._svc.bus.subscribe(
                "events.>", self._fan("event"), durable=None, max_batch=1000
            )
        )
        self._subs.append(
            await self._svc.bus.subscribe(
                "incidents.>", self._fan("incident"), durable=None, max_batch=1000
            )
        )

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.stop()
        self._subs.clear()

    def _fan(self, topic: str) -> Any:
        async def handle(batch: Sequence[BusMessage]) -> None:
            listeners = [c for c in self._clients if topic in c.topics]
            if not listeners:
                return
            for message in batch:
                frame = b'{"topic":"%s","subject":"%s","data":%s}' % (
                    topic.encode(),
                    message.subject.encode(),
                    message.data,
                )
                for client in listeners:
                    client.offer(frame)

        return handle

    def join(self, topics: frozenset[str]) -> _Client:
        client = _Client(topics)
        self._clients.add(client)
        return client

    def leave(self, client: _Client) -> None:
        self._clients.discard(client)


def _topics(principal: Principal, requested: str) -> frozenset[str]:
    wanted = {t.strip() for t in requested.split(",") if t.strip()} or {"event", "incident"}
    unknown = wanted - {"event", "incident"}
    if unknown:
        raise PermissionDenied(f"unknown topic(s) {sorted(unknown)}; use event, incident")
    needs = {"event": Permission.EVENTS_READ, "incident": Permission.INCIDENTS_READ}
    for topic in wanted:
        if not principal.can(needs[topic]):
            raise PermissionDenied(f"role {principal.role.value!r} may not stream {topic}s")
    return frozenset(wanted)


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    """Authenticate with ``Authorization: Bearer`` or ``?access_token=`` (browsers cannot set
    headers on WebSockets); choose ``?topics=event,incident``; declare ``?purpose=``."""
    svc: ApiServices = websocket.app.state.services
    hub: LiveHub = websocket.app.state.hub
    auth = websocket.headers.get("authorization", "")
    token = (
        auth[7:]
        if auth.lower().startswith("bearer ")
        else websocket.query_params.get("access_token", "")
    )
    try:
        principal = await asyncio.to_thread(
            svc.identity.authenticate, token, websocket.query_params.get("purpose")
        )
        topics = _topics(principal, websocket.query_params.get("topics", ""))
    except (Unauthenticated, PermissionDenied) as exc:
        await websocket.close(code=1008, reason=str(exc)[:120])
        return
    await websocket.accept()
    client = hub.join(topics)
    await asyncio.to_thread(
        svc.audit.record,
        principal,
        "stream.open",
        "stream",
        None,
        details={"topics": sorted(topics)},
    )
    sent = 0
    try:
        await websocket.send_text(
            orjson.dumps({"topic": "hello", "topics": sorted(topics)}).decode()
        )
        while True:
            frame = await client.queue.get()
            await websocket.send_text(frame.decode())
            sent += 1
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.leave(client)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(
                svc.audit.record,
                principal,
                "stream.close",
                "stream",
                None,
                details={"frames": sent, "dropped": client.dropped},
            )
