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
from safecity.core.operations import ChannelMessage
from safecity.core.ports import BusMessage, Subscription
from safecity.operations.channels import decode_channel_notice, may_see

log = logging.getLogger(__name__)
router = APIRouter(tags=["stream"])

_QUEUE_LIMIT = 10_000


class _Client:
    def __init__(self, topics: frozenset[str], principal: Principal | None = None) -> None:
        self.topics = topics
        #: Who is listening: channel messages reach only sessions of the channel's agencies.
        self.principal = principal
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=_QUEUE_LIMIT)
        self.dropped = 0

    def offer(self, frame: bytes) -> bool:
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.dropped += 1  # a slow client loses frames, never the server its memory
            return False
        return True


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
        self._subs.append(
            await self._svc.bus.subscribe(
                "channels.>", self._fan_messages, durable=None, max_batch=500
            )
        )
        # Units' status and position for the live board; alerts drafted for approval.
        self._subs.append(
            await self._svc.bus.subscribe(
                "units.>", self._fan("unit"), durable=None, max_batch=1000
            )
        )
        self._subs.append(
            await self._svc.bus.subscribe(
                "alerts.>", self._fan("alert"), durable=None, max_batch=100
            )
        )
        # Street commands rules proposed, waiting for a person; and their decisions.
        self._subs.append(
            await self._svc.bus.subscribe(
                "proposals.>", self._fan("proposal"), durable=None, max_batch=100
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

    async def _fan_messages(self, batch: Sequence[BusMessage]) -> None:
        """Channel messages and receipts, only to sessions whose agency is in the channel (or
        admins); a message handed to a session counts as delivered to that session's agency."""
        listeners = [c for c in self._clients if "message" in c.topics and c.principal]
        if not listeners:
            return
        reached: dict[tuple[str, str], tuple[tuple[str, ...], dict[str, ChannelMessage]]] = {}
        for message in batch:
            try:
                notice = decode_channel_notice(message)
            except Exception:
                log.exception("undecodable channel notice on %s", message.subject)
                continue
            frame = b'{"topic":"message","subject":"%s","data":%s}' % (
                message.subject.encode(),
                message.data,
            )
            for client in listeners:
                principal = client.principal
                assert principal is not None
                if not may_see(principal, notice.agencies):
                    continue
                if client.offer(frame) and notice.what == "message":
                    key = (principal.agency_id, notice.channel_id)
                    agencies, found = reached.setdefault(key, (notice.agencies, {}))
                    found[notice.message.id] = notice.message
        channels = self._svc.channels
        if channels is None:
            return
        for (agency, _), (agencies, found) in reached.items():
            try:
                await channels.mark_delivered(agency, list(found.values()), agencies)
            except Exception:
                # The frames are out; a failed mark must not make the bus send them again.
                log.exception("could not mark channel messages delivered for %s", agency)

    def join(self, topics: frozenset[str], principal: Principal | None = None) -> _Client:
        client = _Client(topics, principal)
        self._clients.add(client)
        return client

    def leave(self, client: _Client) -> None:
        self._clients.discard(client)


def _topics(principal: Principal, requested: str) -> frozenset[str]:
    wanted = {t.strip() for t in requested.split(",") if t.strip()} or {"event", "incident"}
    needs = {
        "event": Permission.EVENTS_READ,
        "incident": Permission.INCIDENTS_READ,
        "message": Permission.INCIDENTS_READ,
        "unit": Permission.UNITS_READ,
        "alert": Permission.INCIDENTS_READ,
        "proposal": Permission.INCIDENTS_READ,
    }
    unknown = wanted - set(needs)
    if unknown:
        raise PermissionDenied(
            f"unknown topic(s) {sorted(unknown)}; use {', '.join(sorted(needs))}"
        )
    for topic in wanted:
        if not principal.can(needs[topic]):
            raise PermissionDenied(f"role {principal.role.value!r} may not stream {topic}s")
    return frozenset(wanted)


@router.websocket("/v1/stream")
async def stream(websocket: WebSocket) -> None:
    """Authenticate with ``Authorization: Bearer`` or ``?access_token=`` (browsers cannot set
    headers on WebSockets); choose ``?topics=event,incident,message,unit,alert,proposal``
    (``message``: channel messages and receipts of your agency's channels; ``unit``: units'
    status and position; ``alert``: warnings drafted, approved, rejected; ``proposal``: street
    commands rules proposed, confirmed, declined); declare ``?purpose=``."""
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
    client = hub.join(topics, principal)
    await asyncio.to_thread(
        svc.audit.record,
        principal,
        "stream.open",
        "stream",
        None,
        details={"topics": sorted(topics)},
    )
    sent = 0
    # A closed browser is noticed at once, not at the next frame: a quiet stream would
    # otherwise keep its handler (and a server's shutdown) waiting.
    closed = asyncio.create_task(_until_closed(websocket))
    try:
        await websocket.send_text(
            orjson.dumps({"topic": "hello", "topics": sorted(topics)}).decode()
        )
        while True:
            getting = asyncio.ensure_future(client.queue.get())
            done, _ = await asyncio.wait({getting, closed}, return_when=asyncio.FIRST_COMPLETED)
            if getting not in done:
                getting.cancel()
                break
            await websocket.send_text(getting.result().decode())
            sent += 1
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        closed.cancel()
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


async def _until_closed(websocket: WebSocket) -> None:
    """Returns when the client goes away (clients send nothing else on this stream)."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
