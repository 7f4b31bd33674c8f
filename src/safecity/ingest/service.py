"""The ingest path every entry point shares: validate, persist (committed before the caller
hears back), publish; refused input goes to the dead-letter store byte for byte."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NoReturn

import orjson

from safecity.core.clock import Clock
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.events import Event, parse_event
from safecity.core.identity import Permission, Principal
from safecity.core.messages import event_messages
from safecity.core.ports import EventBus, Store
from safecity.core.records import AppendResult, DeadLetter, StoredEvent
from safecity.governance.access import require
from safecity.governance.audit import AuditLog

MAX_BATCH = 10_000


@dataclass(frozen=True)
class IngestLimits:
    max_future_skew: timedelta = timedelta(minutes=5)
    max_batch: int = MAX_BATCH


@dataclass(frozen=True)
class ItemResult:
    index: int
    status: str  # accepted | duplicate | rejected
    seq: int | None = None
    source: str | None = None
    id: str | None = None
    errors: tuple[FieldError, ...] = ()
    dead_letter_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.seq is not None:
            out["seq"] = self.seq
        if self.source is not None:
            out.update(source=self.source, id=self.id)
        if self.errors:
            out["errors"] = [e.as_dict() for e in self.errors]
        if self.dead_letter_id is not None:
            out["dead_letter_id"] = self.dead_letter_id
        return out


@dataclass(frozen=True)
class BatchResult:
    items: list[ItemResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)


class Rejected(InvalidInput):
    """Input refused as a whole; it has been dead-lettered under ``dead_letter_id``."""

    def __init__(self, errors: list[FieldError], dead_letter_id: int) -> None:
        super().__init__(errors)
        self.dead_letter_id = dead_letter_id


class IngestService:
    """Accepts events from any channel. Thread-compatible: store calls run in worker threads."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        clock: Clock,
        audit: AuditLog,
        limits: IngestLimits | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._audit = audit
        self.limits = limits or IngestLimits()
        self.accepted = 0
        self.duplicates = 0
        self.rejected = 0
        self._order = asyncio.Lock()

    # --- entry points ------------------------------------------------------------------------

    async def ingest_body(
        self,
        raw: bytes,
        *,
        principal: Principal,
        channel: str,
        content_type: str | None,
        batch: bool,
        atomic: bool = False,
    ) -> BatchResult:
        """Decode a JSON body (one event, or a list / ``{"events": [...]}`` for a batch)."""
        require(principal, Permission.EVENTS_INGEST)
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            reason = f"not valid UTF-8 JSON: {exc.msg} at byte {exc.pos}"
            await self._reject_whole(
                raw, channel, principal, content_type, [FieldError("body", reason)]
            )
        items = (
            (decoded.get("events") if isinstance(decoded, dict) else decoded)
            if batch
            else [decoded]
        )
        shape = _shape_error(decoded, items, batch=batch, max_batch=self.limits.max_batch)
        if shape is not None:
            await self._reject_whole(raw, channel, principal, content_type, [shape])
        assert isinstance(items, list)  # the shape check guarantees it
        return await self.ingest_objects(
            items,
            principal=principal,
            channel=channel,
            atomic=atomic or not batch,
            raw_whole=raw,
            content_type=content_type,
            where_single=not batch,
        )

    async def ingest_objects(
        self,
        items: Sequence[Any],
        *,
        principal: Principal,
        channel: str,
        atomic: bool = False,
        raw_whole: bytes | None = None,
        content_type: str | None = None,
        where_single: bool = False,
        labels: Sequence[str] | None = None,
    ) -> BatchResult:
        """Validate decoded items; store the valid ones; dead-letter the rest.

        With ``atomic`` any invalid item refuses the whole batch (nothing stored). ``labels``
        names each item in error fields (default ``events[i]``; a file uses ``line n``).
        """
        require(principal, Permission.EVENTS_INGEST)
        now = self._clock.now()
        horizon = now + self.limits.max_future_skew
        valid: list[tuple[int, Event]] = []
        invalid: list[tuple[int, list[FieldError]]] = []
        for index, item in enumerate(items):
            where = "" if where_single else labels[index] if labels else f"events[{index}]"
            try:
                event = parse_event(item, where=where)
            except InvalidInput as exc:
                invalid.append((index, exc.errors))
                continue
            too_early = self._future(event, where, now, horizon)
            if too_early is not None:
                invalid.append((index, [too_early]))
                continue
            valid.append((index, event))
        if invalid and atomic:
            errors = [e for _, errs in invalid for e in errs]
            raw = raw_whole if raw_whole is not None else orjson.dumps(list(items))
            await self._reject_whole(raw, channel, principal, content_type, errors)
        results: dict[int, ItemResult] = {}
        for index, errors in invalid:
            raw_item = (
                _reencode(items[index]) if not where_single or raw_whole is None else raw_whole
            )
            letter_id = await self._dead_letter(
                raw_item,
                channel,
                principal,
                content_type,
                errors,
                source=_claimed_source(items[index]),
            )
            results[index] = ItemResult(
                index, "rejected", errors=tuple(errors), dead_letter_id=letter_id
            )
        results.update(await self._store_valid(valid, principal, channel))
        self.rejected += len(invalid)
        return BatchResult([results[i] for i in sorted(results)])

    async def ingest_events(
        self,
        events: Sequence[Event],
        *,
        principal: Principal,
        channel: str,
        labels: Sequence[str] | None = None,
    ) -> BatchResult:
        """Events an adapter's mapping already built. Only the clock check remains; an event
        refused by it is dead-lettered as its JSON form."""
        require(principal, Permission.EVENTS_INGEST)
        now = self._clock.now()
        horizon = now + self.limits.max_future_skew
        results: dict[int, ItemResult] = {}
        valid: list[tuple[int, Event]] = []
        for index, event in enumerate(events):
            where = labels[index] if labels else ""
            too_early = self._future(event, where, now, horizon)
            if too_early is None:
                valid.append((index, event))
                continue
            letter = await self._dead_letter(
                orjson.dumps(event.to_json_dict()),
                channel,
                principal,
                "application/json",
                [too_early],
                source=event.source,
            )
            self.rejected += 1
            results[index] = ItemResult(
                index,
                "rejected",
                source=event.source,
                id=event.id,
                errors=(too_early,),
                dead_letter_id=letter,
            )
        results.update(await self._store_valid(valid, principal, channel))
        return BatchResult([results[i] for i in sorted(results)])

    # --- internals -----------------------------------------------------------------------------

    async def _store_valid(
        self, valid: list[tuple[int, Event]], principal: Principal, channel: str
    ) -> dict[int, ItemResult]:
        """Store the valid items of an input; their results by input position."""
        if not valid:
            return {}
        stored = await self._persist([e for _, e in valid], principal, channel)
        return {
            index: ItemResult(
                index,
                "duplicate" if duplicate else "accepted",
                seq=seq,
                source=event.source,
                id=event.id,
            )
            for (index, event), (seq, duplicate) in zip(valid, stored, strict=True)
        }

    def _future(
        self, event: Event, where: str, now: datetime, horizon: datetime
    ) -> FieldError | None:
        if event.time <= horizon:
            return None
        return FieldError(
            f"{where}.time" if where else "time",
            f"is {(event.time - now).total_seconds():.0f} s in the future; at most "
            f"{self.limits.max_future_skew.total_seconds():.0f} s of clock skew is allowed",
        )

    async def _persist(
        self,
        events: list[Event],
        principal: Principal,
        channel: str,
    ) -> list[tuple[int, bool]]:
        # Publish order must equal commit (seq) order, so a subscriber's checkpoint "all events
        # up to seq N are done" holds; the store serialises appends anyway.
        async with self._order:
            received = self._clock.now()
            # One worker-thread trip for the commit and its audit record.
            results = await asyncio.to_thread(
                self._append_and_audit, events, received, principal, channel
            )
            fresh = [
                StoredEvent(seq=r.seq, received_at=received, event=e)
                for e, r in zip(events, results, strict=True)
                if not r.duplicate
            ]
            self.accepted += len(fresh)
            self.duplicates += len(events) - len(fresh)
            if fresh:
                # Published only after the commit: a subscriber never sees an event the store
                # lost.
                await self._bus.publish(event_messages(fresh))
        return [(r.seq, r.duplicate) for r in results]

    def _append_and_audit(
        self, events: list[Event], received: datetime, principal: Principal, channel: str
    ) -> list[AppendResult]:
        results = self._store.append_events(events, received)
        fresh = [r.seq for r in results if not r.duplicate]
        self._audit.record(
            principal,
            "events.ingest",
            "event",
            None,
            details={
                "channel": channel,
                "accepted": len(fresh),
                "duplicates": len(results) - len(fresh),
                "first_seq": fresh[0] if fresh else None,
                "last_seq": fresh[-1] if fresh else None,
            },
        )
        return results

    async def _dead_letter(
        self,
        raw: bytes,
        channel: str,
        principal: Principal | None,
        content_type: str | None,
        errors: list[FieldError],
        *,
        source: str | None = None,
    ) -> int:
        letter = DeadLetter(
            received_at=self._clock.now(),
            channel=channel,
            source=source or (principal.actor if principal else None),
            content_type=content_type,
            raw=raw,
            errors=tuple(e.as_dict() for e in errors),
        )
        return await asyncio.to_thread(self._store.add_dead_letter, letter)

    async def _reject_whole(
        self,
        raw: bytes,
        channel: str,
        principal: Principal | None,
        content_type: str | None,
        errors: list[FieldError],
    ) -> NoReturn:
        letter_id = await self._dead_letter(raw, channel, principal, content_type, errors)
        self.rejected += 1
        raise Rejected(errors, letter_id)

    async def dead_letter_raw(
        self,
        raw: bytes,
        *,
        channel: str,
        content_type: str | None,
        errors: list[FieldError],
        source: str | None = None,
    ) -> int:
        """Keep input refused before it reached a service (too large, unauthenticated...)."""
        self.rejected += 1
        return await self._dead_letter(raw, channel, None, content_type, errors, source=source)


def _shape_error(decoded: Any, items: Any, *, batch: bool, max_batch: int) -> FieldError | None:
    """Why a decoded body is not an event (or a batch of them), or None when it has the shape."""
    if not batch:
        if isinstance(decoded, list):
            return FieldError(
                "body", "a single event is a JSON object; send arrays to the batch endpoint"
            )
        return None
    if not isinstance(items, list):
        return FieldError("body", 'a batch is a JSON array of events or {"events": [...]}')
    if not items:
        return FieldError("events", "a batch needs at least one event")
    if len(items) > max_batch:
        return FieldError("events", f"at most {max_batch} events per batch, got {len(items)}")
    return None


def _reencode(item: Any) -> bytes:
    try:
        return orjson.dumps(item)
    except TypeError:
        return repr(item).encode("utf-8", "backslashreplace")


def _claimed_source(item: Any) -> str | None:
    if isinstance(item, dict):
        source = item.get("source")
        if isinstance(source, str):
            return source[:512]
    return None
