"""Channels: one shared thread per incident (which is also the incident's log) and area channels
for ongoing operations, with per-agency delivery and acknowledgement receipts.

Sharing rule: a principal reads and posts in a channel only when its agency is one of the
channel's agencies (for an incident channel: the agencies involved in the incident and its lead
agency, recomputed from the current incident every time), or when its role is ADMIN. Every read,
post and acknowledgement is audited with the caller's declared purpose.

The incident log: a follower of ``incidents.>`` writes one LOG line per incident timeline entry
into the incident's channel, in timeline order, exactly once (each line remembers the timeline
sequence number it came from, so redelivery and restarts neither skip nor repeat lines).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from safecity.core.clock import Clock
from safecity.core.errors import Conflict, FieldError, InvalidInput, NotFound, PermissionDenied
from safecity.core.identity import Permission, Principal, Role
from safecity.core.ids import new_id
from safecity.core.incidents import Incident, TimelineEntry
from safecity.core.messages import decode_incident_change
from safecity.core.operations import (
    Channel,
    ChannelKind,
    ChannelMessage,
    MessageKind,
    Receipt,
)
from safecity.core.ports import BusMessage, EventBus, Store, Subscription
from safecity.governance.access import require
from safecity.governance.audit import AuditLog

log = logging.getLogger(__name__)

#: Who creates incident channels (on first use) in the channel's ``created_by``.
ACTOR = "system:channels"
MAX_BODY = 4000
MAX_NAME = 200
_PAGE = 500
_REMEMBERED = 10_000

#: Roles that may open and close area channels.
AREA_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})


def channel_subject(channel_id: str, what: str) -> str:
    """``channels.<channel_id>.message`` or ``channels.<channel_id>.receipt``."""
    return f"channels.{channel_id}.{what}"


@dataclass(frozen=True)
class ChannelNotice:
    """What crosses the bus on ``channels.>``: a new message, or a message whose receipts
    changed (``receipt`` names the agency's receipt that changed)."""

    what: str  # "message" | "receipt"
    channel_id: str
    agencies: tuple[str, ...]
    message: ChannelMessage
    receipt: Receipt | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "channel_id": self.channel_id,
            "agencies": list(self.agencies),
            "message": self.message.model_dump(mode="json"),
        }
        if self.receipt is not None:
            out["receipt"] = self.receipt.model_dump(mode="json")
        return out


def notice_message(notice: ChannelNotice) -> BusMessage:
    return BusMessage(
        channel_subject(notice.channel_id, notice.what),
        local=notice,
        encode=partial(_encode_notice, notice),
    )


def _encode_notice(notice: ChannelNotice) -> bytes:
    return orjson.dumps(notice.to_json())


def decode_channel_notice(message: BusMessage) -> ChannelNotice:
    if isinstance(message.local, ChannelNotice):
        return message.local
    body = orjson.loads(message.data)
    what = message.subject.rsplit(".", 1)[-1]
    receipt = body.get("receipt")
    return ChannelNotice(
        what=what,
        channel_id=body["channel_id"],
        agencies=tuple(body["agencies"]),
        message=ChannelMessage.model_validate(body["message"]),
        receipt=Receipt.model_validate(receipt) if receipt is not None else None,
    )


def may_see(principal: Principal, agencies: Sequence[str]) -> bool:
    """The sharing rule: the principal's agency is one of ``agencies``, or it is an ADMIN."""
    return principal.role is Role.ADMIN or principal.agency_id in agencies


def incident_agencies(incident: Incident) -> tuple[str, ...]:
    """An incident channel's agencies: those involved, and the lead agency when set."""
    lead = [incident.agency_id] if incident.agency_id else []
    return tuple(dict.fromkeys([*incident.agencies, *lead]))


# --- the incident log's lines ------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _with(text: str, extra: object) -> str:
    return f"{text}: {extra}" if extra else text


def _linked_line(details: dict[str, Any]) -> str:
    events = details.get("events") or []
    count = int(details.get("count", len(events)))
    reasons: list[str] = []
    for item in events:
        why = item.get("reason") if isinstance(item, dict) else None
        if not isinstance(why, dict) or not why.get("rule"):
            continue
        rule = str(why["rule"])
        label = f"fusion: {why.get('fusion_rule')}" if rule == "fusion" else rule.replace("_", " ")
        if label not in reasons:
            reasons.append(label)
    text = f"{_plural(count, 'event')} linked"
    return f"{text} ({', '.join(reasons)})" if reasons else text


def _assigned(e: TimelineEntry) -> str:
    d = e.details
    parts = []
    if d.get("agency_id"):
        parts.append(f"agency {d['agency_id']}")
    if d.get("assignee"):
        parts.append(f"user:{d['assignee']}")
    return f"Assigned to {' and '.join(parts) or 'nobody'} by {e.actor}"


def _merged(e: TimelineEntry) -> str:
    d = e.details
    sources = ", ".join(map(str, d.get("from", [])))
    return _with(
        f"Merged in {sources} ({_plural(int(d.get('events', 0)), 'event')})", d.get("reason")
    )


def _names(values: object) -> str:
    return ", ".join(map(str, values)) if isinstance(values, list | tuple) else str(values or "")


_Line = Callable[[TimelineEntry], str]

#: One readable line per timeline action; anything else reads "<Action> by <actor>".
LINES: dict[str, _Line] = {
    "opened": lambda e: (
        f"Opened: {e.details.get('title', 'incident')} (priority {e.details.get('priority', '?')})"
    ),
    "events_linked": lambda e: _linked_line(e.details),
    "reclassified": lambda e: f"Reclassified from {e.details.get('from')} to {e.details.get('to')}",
    "priority_changed": lambda e: (
        f"Priority changed from {e.details.get('from')} to {e.details.get('to')}"
    ),
    "acknowledged": lambda e: _with(f"Acknowledged by {e.actor}", e.details.get("note")),
    "dispatched": lambda e: _with(
        f"Units dispatched: {_names(e.details.get('units', []))}", e.details.get("note")
    ),
    "on_scene": lambda e: f"On scene (marked by {e.actor})",
    "assigned": _assigned,
    "updated": lambda e: f"Updated {', '.join(sorted(e.details)) or 'nothing'} by {e.actor}",
    "closed": lambda e: _with("Closed", e.details.get("reason")),
    "reopened": lambda e: _with("Reopened", e.details.get("reason")),
    "priority_overridden": lambda e: _with(
        f"Priority overridden to {e.details.get('priority')}", e.details.get("reason")
    ),
    "priority_override_cleared": lambda e: _with(
        "Priority override cleared", e.details.get("reason")
    ),
    "merged": _merged,
    "merged_into": lambda e: _with(f"Merged into {e.details.get('into')}", e.details.get("reason")),
    "split": lambda e: _with(
        f"Split: {_plural(len(e.details.get('events', [])), 'event')} moved to "
        f"{e.details.get('into')}",
        e.details.get("reason"),
    ),
    "split_from": lambda e: _with(f"Split from {e.details.get('from')}", e.details.get("reason")),
    "unit_status": lambda e: (
        f"Unit {e.details.get('callsign') or e.details.get('unit_id')} "
        f"{str(e.details.get('status', '?')).replace('_', ' ')}"
    ),
    "procedure_attached": lambda e: (
        f"Procedure attached: {e.details.get('name') or e.details.get('procedure')}"
    ),
    "checklist_step_done": lambda e: _with(
        f"Checklist step done: {e.details.get('step')}", e.details.get("note")
    ),
    "checklist_step_undone": lambda e: f"Checklist step undone: {e.details.get('step')}",
    "agencies_involved": lambda e: _with(
        f"Agencies involved: {_names(e.details.get('agencies', []))}", e.details.get("reason")
    ),
}


def log_line(entry: TimelineEntry) -> str:
    """One line a person can read for one timeline entry."""
    render = LINES.get(entry.action)
    line = (
        render(entry)
        if render is not None
        else f"{entry.action.replace('_', ' ').capitalize()} by {entry.actor}"
    )
    return line if len(line) <= MAX_BODY else line[: MAX_BODY - 1] + "…"


# --- the service -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelPage:
    channel: Channel
    messages: list[ChannelMessage]


class ChannelService:
    """Incident and area channels: sharing, posting, receipts and the incident log."""

    def __init__(self, store: Store, bus: EventBus, clock: Clock, audit: AuditLog) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._audit = audit
        self._sub: Subscription | None = None
        #: incident id -> timeline seq up to which its log is written (a bounded memo; the
        #: channel itself is the truth, read again after eviction or restart).
        self._logged: OrderedDict[str, int] = OrderedDict()
        self._log_lock = threading.Lock()
        self.lines_written = 0

    # --- lifecycle: the incident log follower ---------------------------------------------------

    async def start(self) -> None:
        self._sub = await self._bus.subscribe(
            "incidents.>", self._on_changes, durable="channel-log", max_batch=200
        )

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.stop()
            self._sub = None

    async def _on_changes(self, batch: Sequence[BusMessage]) -> None:
        touched = list(dict.fromkeys(decode_incident_change(m).incident.id for m in batch))
        for incident_id in touched:
            await self._write_log(incident_id)

    async def _write_log(self, incident_id: str) -> Channel | None:
        written = await asyncio.to_thread(self._write_log_sync, incident_id)
        if written is None:
            return None
        channel, lines = written
        if lines:
            await self._bus.publish(
                [
                    notice_message(ChannelNotice("message", channel.id, channel.agencies, m))
                    for m in lines
                ]
            )
        return channel

    def _write_log_sync(self, incident_id: str) -> tuple[Channel, list[ChannelMessage]] | None:
        with self._log_lock:
            incident = self._store.get_incident(incident_id)
            if incident is None:
                return None
            channel = self._ensure_channel(incident)
            last = self._logged.get(incident_id)
            if last is None:
                last = self._last_logged(channel.id)
            now = self._clock.now()
            lines: list[ChannelMessage] = []
            for entry in self._store.incident_timeline(incident_id):
                if entry.seq is None or entry.seq <= last:
                    continue
                message = ChannelMessage(
                    id=new_id("msg", now),
                    channel_id=channel.id,
                    at=entry.at,
                    author=entry.actor,
                    kind=MessageKind.LOG,
                    body=log_line(entry),
                    details={**entry.details, "action": entry.action, "timeline_seq": entry.seq},
                )
                self._store.add_message(message)
                lines.append(message)
                last = entry.seq
            self._logged[incident_id] = last
            self._logged.move_to_end(incident_id)
            while len(self._logged) > _REMEMBERED:
                self._logged.popitem(last=False)
            self.lines_written += len(lines)
            return channel, lines

    def _last_logged(self, channel_id: str) -> int:
        last, after = 0, None
        while True:
            page = self._store.list_messages(channel_id, after_id=after, limit=_PAGE)
            for m in page:
                if m.kind is MessageKind.LOG:
                    seq = m.details.get("timeline_seq")
                    if isinstance(seq, int) and seq > last:
                        last = seq
            if len(page) < _PAGE:
                return last
            after = page[-1].id

    # --- incident channels --------------------------------------------------------------------

    def _ensure_channel(self, incident: Incident) -> Channel:
        """The incident's channel, created on first use; its agencies and name follow the
        incident."""
        agencies = incident_agencies(incident)
        name = incident.title[:MAX_NAME] or incident.id
        channel = self._store.incident_channel(incident.id)
        if channel is None:
            fresh = Channel(
                id=new_id("chn", self._clock.now()),
                kind=ChannelKind.INCIDENT,
                name=name,
                incident_id=incident.id,
                agencies=agencies,
                created_at=self._clock.now(),
                created_by=ACTOR,
            )
            try:
                self._store.add_channel(fresh)
            except Conflict:
                channel = self._store.incident_channel(incident.id)  # made meanwhile
                if channel is None:
                    raise
            else:
                return fresh
        if channel.agencies != agencies or channel.name != name:
            channel = channel.model_copy(update={"agencies": agencies, "name": name})
            self._store.save_channel(channel)
        return channel

    async def channel_for_incident(self, incident_id: str) -> Channel:
        """The incident's channel (created on first use), with its log brought up to date.
        No access check: callers check (see :meth:`incident_channel`)."""
        channel = await self._write_log(incident_id)
        if channel is None:
            raise NotFound("incident", incident_id)
        return channel

    async def incident_channel(
        self,
        principal: Principal,
        incident_id: str,
        *,
        after: str | None = None,
        limit: int = 200,
    ) -> ChannelPage:
        """The incident's channel and its messages (oldest first, after ``after``)."""
        require(principal, Permission.INCIDENTS_READ)
        channel = await self.channel_for_incident(incident_id)
        return await self._read(principal, channel, after=after, limit=limit)

    async def post_to_incident(
        self, principal: Principal, incident_id: str, body: str, *, requires_ack: bool = False
    ) -> ChannelMessage:
        require(principal, Permission.INCIDENTS_WRITE)
        channel = await self._incident_channel(incident_id)
        return await self._post(principal, channel, body, requires_ack=requires_ack)

    # --- any channel ----------------------------------------------------------------------------

    async def read(
        self,
        principal: Principal,
        channel_id: str,
        *,
        after: str | None = None,
        limit: int = 200,
    ) -> ChannelPage:
        require(principal, Permission.INCIDENTS_READ)
        channel = await self._channel(channel_id)
        if channel.incident_id is not None:
            channel = await self.channel_for_incident(channel.incident_id)
        return await self._read(principal, channel, after=after, limit=limit)

    async def _read(
        self, principal: Principal, channel: Channel, *, after: str | None, limit: int
    ) -> ChannelPage:
        channel = await self._admit(principal, channel, "read")
        messages = await asyncio.to_thread(
            partial(self._store.list_messages, channel.id, after_id=after, limit=limit)
        )
        messages = await self._delivered(principal.agency_id, channel, messages)
        await self._record(
            principal,
            channel,
            "read",
            details={"count": len(messages), "after": after},
        )
        return ChannelPage(channel, messages)

    async def post(
        self, principal: Principal, channel_id: str, body: str, requires_ack: bool = False
    ) -> ChannelMessage:
        """A person's message: one receipt per agency of the channel; the author's agency has
        it delivered and acknowledged at once."""
        require(principal, Permission.INCIDENTS_WRITE)
        channel = await self._current(channel_id)
        return await self._post(principal, channel, body, requires_ack=requires_ack)

    async def _post(
        self, principal: Principal, channel: Channel, body: str, *, requires_ack: bool
    ) -> ChannelMessage:
        text = body.strip()
        if not text:
            raise InvalidInput([FieldError("body", "must not be empty")])
        if len(text) > MAX_BODY:
            raise InvalidInput([FieldError("body", f"longer than {MAX_BODY} characters")])
        channel = await self._admit(principal, channel, "post")
        if channel.closed_at is not None:
            await self._record(principal, channel, "post", outcome="refused")
            raise Conflict(f"channel {channel.id} is closed")
        now = self._clock.now()
        receipts = [
            Receipt(agency_id=agency)
            for agency in channel.agencies
            if agency != principal.agency_id
        ]
        receipts.append(
            Receipt(
                agency_id=principal.agency_id,
                delivered_at=now,
                acknowledged_at=now,
                acknowledged_by=principal.actor,
            )
        )
        message = ChannelMessage(
            id=new_id("msg", now),
            channel_id=channel.id,
            at=now,
            author=principal.actor,
            agency_id=principal.agency_id,
            kind=MessageKind.MESSAGE,
            body=text,
            requires_ack=requires_ack,
            receipts=tuple(sorted(receipts, key=lambda r: r.agency_id)),
        )
        await asyncio.to_thread(self._store.add_message, message)
        await self._record(
            principal,
            channel,
            "post",
            details={
                "message_id": message.id,
                "requires_ack": requires_ack,
                "length": len(text),
            },
        )
        await self._bus.publish(
            [notice_message(ChannelNotice("message", channel.id, channel.agencies, message))]
        )
        return message

    async def acknowledge(self, principal: Principal, message_id: str) -> ChannelMessage:
        """The principal's agency has read and accepted the message (by ``principal.actor``)."""
        require(principal, Permission.INCIDENTS_WRITE)
        message = await asyncio.to_thread(self._store.get_message, message_id)
        if message is None:
            raise NotFound("message", message_id)
        channel = await self._admit(principal, await self._current(message.channel_id), "ack")
        if message.kind is MessageKind.LOG:
            raise Conflict("log lines need no acknowledgement")
        mine = next((r for r in message.receipts if r.agency_id == principal.agency_id), None)
        if mine is None:
            raise Conflict(
                f"agency {principal.agency_id!r} has no receipt for message {message_id}: "
                "it was posted before the agency joined the channel"
            )
        now = self._clock.now()
        changed = await asyncio.to_thread(
            partial(
                self._store.mark_receipts,
                [message_id],
                principal.agency_id,
                acknowledged_at=now,
                acknowledged_by=principal.actor,
            )
        )
        updated = await asyncio.to_thread(self._store.get_message, message_id)
        assert updated is not None
        await self._record(
            principal,
            channel,
            "ack",
            details={"message_id": message_id, "changed": changed > 0},
        )
        if changed:
            receipt = next(r for r in updated.receipts if r.agency_id == principal.agency_id)
            await self._bus.publish(
                [
                    notice_message(
                        ChannelNotice("receipt", channel.id, channel.agencies, updated, receipt)
                    )
                ]
            )
        return updated

    async def mark_delivered(
        self, agency_id: str, messages: Sequence[ChannelMessage], agencies: Sequence[str] = ()
    ) -> int:
        """Messages reached a session of ``agency_id`` (the live stream): mark them delivered
        for that agency and announce the receipts that changed. ``agencies``: the channel's,
        for the announcement."""
        result = await self._delivered_for(agency_id, list(messages), tuple(agencies))
        return sum(1 for before, after in zip(messages, result, strict=True) if before != after)

    async def _delivered(
        self, agency_id: str, channel: Channel, messages: list[ChannelMessage]
    ) -> list[ChannelMessage]:
        return await self._delivered_for(agency_id, messages, channel.agencies)

    async def _delivered_for(
        self, agency_id: str, messages: list[ChannelMessage], agencies: tuple[str, ...]
    ) -> list[ChannelMessage]:
        """Mark undelivered receipts of ``agency_id`` delivered; the messages as they are now."""
        pending = {
            m.id
            for m in messages
            for r in m.receipts
            if r.agency_id == agency_id and r.delivered_at is None
        }
        if not pending:
            return messages
        now = self._clock.now()
        changed = await asyncio.to_thread(
            partial(self._store.mark_receipts, sorted(pending), agency_id, delivered_at=now)
        )
        # Another reader or session may have marked some first: then read them back.
        raced = changed != len(pending)
        out: list[ChannelMessage] = []
        notices: list[BusMessage] = []
        for m in messages:
            if m.id not in pending:
                out.append(m)
                continue
            if raced:
                stored = await asyncio.to_thread(self._store.get_message, m.id)
                updated = stored or m
            else:
                updated = m.model_copy(
                    update={
                        "receipts": tuple(
                            r.model_copy(update={"delivered_at": now})
                            if r.agency_id == agency_id
                            else r
                            for r in m.receipts
                        )
                    }
                )
            out.append(updated)
            receipt = next(r for r in updated.receipts if r.agency_id == agency_id)
            if raced and receipt.delivered_at != now:
                continue  # not ours to announce
            notices.append(
                notice_message(ChannelNotice("receipt", m.channel_id, agencies, updated, receipt))
            )
        if notices:
            await self._bus.publish(notices)
        return out

    # --- area channels ------------------------------------------------------------------------

    async def create_area_channel(
        self,
        principal: Principal,
        name: str,
        agencies: Sequence[str],
        area: str | None = None,
    ) -> Channel:
        """A channel for an ongoing operation (an event, a search, a storm), shared by
        ``agencies`` and the creator's agency. Supervisors and admins only."""
        if principal.role not in AREA_ROLES:
            raise PermissionDenied(
                f"role {principal.role.value!r} may not open area channels; "
                "a supervisor or an admin may"
            )
        title = name.strip()
        if not title:
            raise InvalidInput([FieldError("name", "must not be empty")])
        if len(title) > MAX_NAME:
            raise InvalidInput([FieldError("name", f"longer than {MAX_NAME} characters")])
        members = tuple(dict.fromkeys([principal.agency_id, *agencies]))
        for agency in members:
            if await asyncio.to_thread(self._store.get_agency, agency) is None:
                raise NotFound("agency", agency)
        now = self._clock.now()
        channel = Channel(
            id=new_id("chn", now),
            kind=ChannelKind.AREA,
            name=title,
            area=area,
            agencies=members,
            created_at=now,
            created_by=principal.actor,
        )
        await asyncio.to_thread(self._store.add_channel, channel)
        await self._record(
            principal,
            channel,
            "create",
            details={"name": title, "agencies": list(members), "area": area},
        )
        return channel

    async def close_channel(
        self, principal: Principal, channel_id: str, *, reason: str | None = None
    ) -> Channel:
        """Close an area channel: it stays readable, nobody can post any more."""
        channel = await self._channel(channel_id)
        if channel.kind is ChannelKind.INCIDENT:
            raise Conflict("an incident's channel follows its incident; close the incident")
        if principal.role not in AREA_ROLES:
            raise PermissionDenied(
                f"role {principal.role.value!r} may not close area channels; "
                "a supervisor or an admin may"
            )
        channel = await self._admit(principal, channel, "close")
        if channel.closed_at is not None:
            return channel
        closed = channel.model_copy(update={"closed_at": self._clock.now()})
        await asyncio.to_thread(self._store.save_channel, closed)
        await self._record(principal, closed, "close", details={"reason": reason})
        return closed

    async def list_channels(
        self,
        principal: Principal,
        *,
        kind: ChannelKind | None = None,
        include_closed: bool = False,
    ) -> list[Channel]:
        """Channels the principal's agency is in (all of them for an admin)."""
        require(principal, Permission.INCIDENTS_READ)
        found = await asyncio.to_thread(
            partial(
                self._store.list_channels,
                kind=kind.value if kind else None,
                open_only=not include_closed,
            )
        )
        visible = [c for c in found if may_see(principal, c.agencies)]
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "channels.list",
            "channel",
            None,
            details={"count": len(visible)},
        )
        return visible

    # --- internals ------------------------------------------------------------------------------

    async def _channel(self, channel_id: str) -> Channel:
        channel = await asyncio.to_thread(self._store.get_channel, channel_id)
        if channel is None:
            raise NotFound("channel", channel_id)
        return channel

    async def _current(self, channel_id: str) -> Channel:
        """The channel, an incident channel with its agencies taken from the incident now."""
        channel = await self._channel(channel_id)
        if channel.incident_id is None:
            return channel
        return await self._incident_channel(channel.incident_id)

    async def _incident_channel(self, incident_id: str) -> Channel:
        """The incident's channel (created on first use) with its current agencies; unlike
        :meth:`channel_for_incident` it leaves writing the log to the follower."""
        incident = await asyncio.to_thread(self._store.get_incident, incident_id)
        if incident is None:
            raise NotFound("incident", incident_id)
        return await asyncio.to_thread(self._ensure_channel_locked, incident)

    def _ensure_channel_locked(self, incident: Incident) -> Channel:
        with self._log_lock:
            return self._ensure_channel(incident)

    async def _admit(self, principal: Principal, channel: Channel, verb: str) -> Channel:
        """The channel when the principal may use it; else audited and refused."""
        if may_see(principal, channel.agencies):
            return channel
        await self._record(principal, channel, verb, outcome="denied")
        if channel.incident_id is not None:
            raise PermissionDenied(
                f"agency {principal.agency_id!r} is not involved in incident "
                f"{channel.incident_id}; its channel is shared only with the agencies involved"
            )
        raise PermissionDenied(
            f"agency {principal.agency_id!r} is not a member of channel {channel.id} "
            f"({channel.name})"
        )

    async def _record(
        self,
        principal: Principal,
        channel: Channel,
        verb: str,
        *,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
    ) -> None:
        if channel.incident_id is not None:
            action, kind, object_id = f"incidents.channel.{verb}", "incident", channel.incident_id
        else:
            action, kind, object_id = f"channels.{verb}", "channel", channel.id
        await asyncio.to_thread(
            self._audit.record,
            principal,
            action,
            kind,
            object_id,
            outcome=outcome,
            details={"channel_id": channel.id, **(details or {})},
        )
