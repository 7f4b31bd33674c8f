"""Runs the correlation engine on the bus: events in, incident changes stored and announced."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

import orjson

from safecity.core.clock import Clock
from safecity.core.errors import Conflict
from safecity.core.events import Event, parse_event
from safecity.core.incidents import Incident, IncidentWrite
from safecity.core.messages import decode_incident_change, incident_change_messages
from safecity.core.ports import BusMessage, EventBus, Store, Subscription
from safecity.core.records import EventQuery
from safecity.processors.correlation.engine import CorrelationPlan, Correlator

log = logging.getLogger(__name__)

_MAX_REPLANS = 5
#: The processor's name in the store's checkpoint table.
CHECKPOINT = "correlation"
_REPLAY_PAGE = 2000
#: Correlation costs mostly per batch (one transaction); waiting this long for more events
#: makes batches of a trickle of single pushes, for a few milliseconds of latency.
_LINGER_S = 0.004


class _Hooks(Protocol):
    """Called (in a worker thread) after a batch's incident changes are stored, e.g. to audit."""

    def __call__(self, events: int, plan: CorrelationPlan) -> None: ...


class CorrelationProcessor:
    """Subscribes to ``events.>``; each batch is planned, stored in one transaction, then
    announced as ``incidents.<action>`` messages. Also follows ``incidents.>`` so changes people
    make (closing, moving) reach the engine."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        correlator: Correlator,
        clock: Clock,
        *,
        on_batch: _Hooks | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._engine = correlator
        self._clock = clock
        self._on_batch = on_batch
        self._subs: list[Subscription] = []
        self.events_seen = 0
        self.batches = 0
        self.replayed = 0

    async def start(self) -> None:
        since = self._clock.now() - self._engine.config.max_window
        open_incidents = await asyncio.to_thread(self._store.open_incidents_since, since)
        self._engine.warm(open_incidents)
        self.replayed = await asyncio.to_thread(self._replay)
        self._subs.append(
            await self._bus.subscribe(
                "events.>",
                self._on_events,
                durable="correlation",
                max_batch=2000,
                linger_s=_LINGER_S,
            )
        )
        self._subs.append(
            await self._bus.subscribe(
                "incidents.>",
                self._on_incident_changes,
                durable="correlation-follow",
                max_batch=500,
            )
        )

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.stop()
        self._subs.clear()

    def _replay(self) -> int:
        """Correlate what was accepted after the last checkpoint but never correlated (the
        process stopped first). Events already in an incident are skipped, so this is safe to
        repeat."""
        after = self._store.get_checkpoint(CHECKPOINT)
        replayed = 0
        while True:
            page = self._store.query_events(EventQuery(after_seq=after, limit=_REPLAY_PAGE))
            if not page:
                return replayed
            fresh = [stored.event for stored in page if stored.incident_id is None]
            self._apply(fresh, page[-1].seq)
            replayed += len(fresh)
            after = page[-1].seq

    async def _on_events(self, batch: Sequence[BusMessage]) -> None:
        events = [_event_of(m) for m in batch]
        last_seq = max(int(m.headers.get("seq", "0")) for m in batch)
        plan = await asyncio.to_thread(self._apply, events, last_seq)
        self.events_seen += len(events)
        self.batches += 1
        if plan.writes:
            await self._bus.publish(
                incident_change_messages(
                    plan.writes,
                    opened=set(plan.opened),
                    actor=self._engine.config.actor,
                )
            )

    def _apply(self, events: list[Event], last_seq: int) -> CorrelationPlan:
        for _attempt in range(_MAX_REPLANS):
            plan = self._engine.plan(events)
            try:
                # The checkpoint commits with the writes: after a crash, replay starts exactly
                # after the last batch whose incidents were stored.
                self._store.save_incidents(plan.writes, checkpoint=(CHECKPOINT, last_seq))
            except Conflict:
                # Someone changed one of these incidents since we last heard; learn the
                # current versions and plan again.
                self._refresh(plan.writes)
                continue
            self._engine.commit(plan)
            if plan.writes and self._on_batch is not None:
                self._on_batch(len(events), plan)
            return plan
        raise Conflict("correlation could not settle after repeated concurrent changes")

    def _refresh(self, writes: Sequence[IncidentWrite]) -> None:
        for write in writes:
            if write.expected_version is None:
                continue
            current = self._store.get_incident(write.incident.id)
            if current is not None:
                self._engine.observe(current)

    async def _on_incident_changes(self, batch: Sequence[BusMessage]) -> None:
        for message in batch:
            change = decode_incident_change(message)
            if change.actor != self._engine.config.actor:
                self._engine.observe(change.incident)

    def observe(self, incident: Incident) -> None:
        self._engine.observe(incident)


def _event_of(message: BusMessage) -> Event:
    if isinstance(message.local, Event):
        return message.local
    return parse_event(orjson.loads(message.data))
