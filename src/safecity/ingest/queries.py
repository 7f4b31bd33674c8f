"""Reading events and dead letters: permission-checked and written to the audit log."""

from __future__ import annotations

import asyncio

from safecity.core.errors import NotFound
from safecity.core.identity import Permission, Principal
from safecity.core.ports import Store
from safecity.core.records import DeadLetter, EventQuery, StoredEvent
from safecity.governance.access import require
from safecity.governance.audit import AuditLog

MAX_PAGE = 1000


class EventQueries:
    def __init__(self, store: Store, audit: AuditLog) -> None:
        self._store = store
        self._audit = audit

    async def query(self, principal: Principal, query: EventQuery) -> list[StoredEvent]:
        require(principal, Permission.EVENTS_READ)
        found = await asyncio.to_thread(self._store.query_events, query)
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "events.query",
            "event",
            None,
            details={
                "types": list(query.types),
                "count": len(found),
                "bbox": None if query.bbox is None else list(query.bbox.__dict__.values()),
                "start": query.start.isoformat() if query.start else None,
                "end": query.end.isoformat() if query.end else None,
            },
        )
        return found

    async def get(self, principal: Principal, source: str, event_id: str) -> StoredEvent:
        require(principal, Permission.EVENTS_READ)
        found = await asyncio.to_thread(self._store.get_event, source, event_id)
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "events.read",
            "event",
            f"{source} {event_id}",
            outcome="ok" if found else "not_found",
        )
        if found is None:
            raise NotFound("event", f"{source} {event_id}")
        return found

    async def dead_letters(
        self,
        principal: Principal,
        *,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[DeadLetter]:
        require(principal, Permission.DEAD_LETTERS_READ)
        letters = await asyncio.to_thread(
            self._store.list_dead_letters,
            limit=min(limit, MAX_PAGE),
            before_id=before_id,
        )
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "deadletters.list",
            "dead_letter",
            None,
            details={"count": len(letters)},
        )
        return letters

    async def dead_letter(self, principal: Principal, letter_id: int) -> DeadLetter:
        require(principal, Permission.DEAD_LETTERS_READ)
        letter = await asyncio.to_thread(self._store.get_dead_letter, letter_id)
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "deadletters.read",
            "dead_letter",
            str(letter_id),
            outcome="ok" if letter else "not_found",
        )
        if letter is None:
            raise NotFound("dead letter", str(letter_id))
        return letter

    def counts(self) -> tuple[int, int]:
        """(events stored, dead letters stored): for health and metrics, no personal data."""
        return self._store.count_events(), self._store.count_dead_letters()
