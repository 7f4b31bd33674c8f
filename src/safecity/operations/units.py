"""Responder units: register, status (clocking on and off is a status change), positions.

Status comes from three places, all through this service: the console and API (a person),
MQTT or an AVL/CAD feed (``unit.status`` / ``unit.position`` events, applied by
:class:`UnitFeedFollower`), and the platform when a person confirms a dispatch. Any status may
follow any other at any time: the board records what is true on the street (an officer may join
an incident before the shift starts), it does not police the roster.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from functools import partial

import orjson

from safecity.core.clock import Clock
from safecity.core.errors import Conflict, NotFound, PermissionDenied
from safecity.core.events import Event, parse_event
from safecity.core.geo import Location
from safecity.core.identity import Permission, Principal, Role
from safecity.core.ids import new_id
from safecity.core.operations import COMMITTED, Unit, UnitDefinition, UnitLogEntry
from safecity.core.payloads import UnitPosition, UnitState, UnitStatus
from safecity.core.ports import BusMessage, EventBus, Store, Subscription
from safecity.governance.access import require
from safecity.governance.audit import AuditLog
from safecity.governance.identity import system_principal
from safecity.incidents.service import IncidentService

log = logging.getLogger(__name__)


def unit_messages(unit: Unit, action: str) -> list[BusMessage]:
    """``units.<action>`` with the unit as JSON: the live board follows these."""
    return [
        BusMessage(
            f"units.{action}",
            local=unit,
            encode=partial(lambda u: orjson.dumps(u.model_dump(mode="json")), unit),
        )
    ]


class UnitService:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        clock: Clock,
        audit: AuditLog,
        incidents: IncidentService,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._audit = audit
        self._incidents = incidents

    # --- reads ---------------------------------------------------------------------------------

    async def list_units(
        self, principal: Principal, *, agency_id: str | None = None, statuses: Sequence[str] = ()
    ) -> list[Unit]:
        require(principal, Permission.UNITS_READ)
        return await asyncio.to_thread(
            partial(self._store.list_units, agency_id=agency_id, statuses=statuses)
        )

    async def get(self, principal: Principal, unit_id: str) -> Unit:
        require(principal, Permission.UNITS_READ)
        unit = await asyncio.to_thread(self._store.get_unit, unit_id)
        if unit is None:
            raise NotFound("unit", unit_id)
        return unit

    async def history(
        self, principal: Principal, unit_id: str, *, since: datetime | None = None
    ) -> list[UnitLogEntry]:
        await self.get(principal, unit_id)
        return await asyncio.to_thread(partial(self._store.unit_log, unit_id=unit_id, since=since))

    # --- changes -------------------------------------------------------------------------------

    async def register(self, principal: Principal, definition: UnitDefinition) -> Unit:
        """Create a unit (off duty) or update its definition (status and position are kept)."""
        require(principal, Permission.UNITS_WRITE)
        _own_agency(principal, definition.agency_id)
        if await asyncio.to_thread(self._store.get_agency, definition.agency_id) is None:
            raise NotFound("agency", definition.agency_id)
        now = self._clock.now()
        for _ in range(5):
            current = await asyncio.to_thread(self._store.get_unit, definition.id)
            if current is None:
                unit = Unit(**definition.model_dump(), status_since=now, updated_at=now, version=1)
                expected = None
            else:
                _own_agency(principal, current.agency_id)
                unit = current.model_copy(
                    update={
                        **definition.model_dump(),
                        "updated_at": now,
                        "version": current.version + 1,
                    }
                )
                expected = current.version
            try:
                await asyncio.to_thread(
                    partial(self._store.save_unit, unit, expected_version=expected)
                )
            except Conflict:
                continue
            await self._log(principal, "units.registered", unit.id, {"kind": unit.kind})
            await self._bus.publish(unit_messages(unit, "registered"))
            return unit
        raise Conflict("the unit kept changing; try again")

    async def set_status(
        self,
        principal: Principal,
        unit_id: str,
        status: UnitState,
        *,
        incident_id: str | None = None,
        note: str | None = None,
        at: datetime | None = None,
    ) -> Unit:
        """Change a unit's status. Leaving ``off_duty`` clocks the unit on; ``off_duty`` clocks
        it off. A committed status (dispatched, en route, on scene) ties it to an incident."""
        require(principal, Permission.UNITS_WRITE)
        who = principal.actor
        for _ in range(5):
            now = self._clock.now()
            when = at or now
            current = await asyncio.to_thread(self._store.get_unit, unit_id)
            if current is None:
                raise NotFound("unit", unit_id)
            _own_agency(principal, current.agency_id)
            target_incident = incident_id or (current.incident_id if status in COMMITTED else None)
            if status in COMMITTED and target_incident is None:
                raise Conflict(f"status {status.value} needs the incident the unit is going to")
            if status not in COMMITTED:
                target_incident = None
            if (
                target_incident is not None
                and target_incident != current.incident_id
                and await asyncio.to_thread(self._store.get_incident, target_incident) is None
            ):
                raise NotFound("incident", target_incident)
            shift = current.shift_started_at
            notes = [note] if note else []
            if status is UnitState.OFF_DUTY and current.status is not UnitState.OFF_DUTY:
                shift = None
                notes.append("clocked off")
            elif status is not UnitState.OFF_DUTY and current.status is UnitState.OFF_DUTY:
                shift = when
                notes.append("clocked on")
            unit = current.model_copy(
                update={
                    "status": status,
                    "status_since": when,
                    "incident_id": target_incident,
                    "shift_started_at": shift,
                    "updated_at": now,
                    "version": current.version + 1,
                }
            )
            entry = UnitLogEntry(
                id=new_id("ulog", when),
                unit_id=unit_id,
                at=when,
                status=status,
                incident_id=target_incident or current.incident_id,
                actor=who,
                note="; ".join(notes) or None,
            )
            try:
                await asyncio.to_thread(
                    partial(
                        self._store.save_unit, unit, expected_version=current.version, log=entry
                    )
                )
            except Conflict:
                continue
            await self._log(
                principal,
                "units.status",
                unit_id,
                {"status": status.value, "incident_id": entry.incident_id, "actor": who},
            )
            await self._bus.publish(unit_messages(unit, "status"))
            if entry.incident_id is not None and status is not current.status:
                await self._incidents.record_unit_status(
                    entry.incident_id, unit, previous=current.status, at=when, actor=who
                )
            return unit
        raise Conflict("the unit kept changing; try again")

    async def set_position(
        self,
        principal: Principal,
        unit_id: str,
        location: Location,
        *,
        heading_deg: float | None = None,
        speed_kmh: float | None = None,
        at: datetime | None = None,
    ) -> Unit:
        require(principal, Permission.UNITS_WRITE)
        for _ in range(5):
            current = await asyncio.to_thread(self._store.get_unit, unit_id)
            if current is None:
                raise NotFound("unit", unit_id)
            _own_agency(principal, current.agency_id)
            when = at or self._clock.now()
            if current.position_at is not None and when < current.position_at:
                return current  # a late fix never moves a unit back in time
            unit = current.model_copy(
                update={
                    "location": location,
                    "position_at": when,
                    "heading_deg": heading_deg,
                    "speed_kmh": speed_kmh,
                    "updated_at": self._clock.now(),
                    "version": current.version + 1,
                }
            )
            try:
                await asyncio.to_thread(
                    partial(self._store.save_unit, unit, expected_version=current.version)
                )
            except Conflict:
                continue
            await self._bus.publish(unit_messages(unit, "position"))
            return unit
        raise Conflict("the unit kept changing; try again")

    async def _log(
        self, principal: Principal, action: str, unit_id: str, details: dict[str, object]
    ) -> None:
        await asyncio.to_thread(
            self._audit.record, principal, action, "unit", unit_id, details=details
        )


def _own_agency(principal: Principal, agency_id: str) -> None:
    # Agencies manage their own units; the platform itself and administrators manage any.
    if principal.role is Role.ADMIN or principal.user_id == "system":
        return
    if principal.agency_id != agency_id:
        raise PermissionDenied(
            f"agency {principal.agency_id!r} may not change units of agency {agency_id!r}"
        )


class UnitFeedFollower:
    """Applies ``unit.status`` and ``unit.position`` events (MQTT, AVL, CAD) to the board.

    The events themselves are already stored; a status for a unit the register does not know
    is logged and left there (it stays queryable), not guessed into a new unit.
    """

    def __init__(self, units: UnitService, bus: EventBus) -> None:
        self._units = units
        self._bus = bus
        self._sub: Subscription | None = None
        self.applied = 0
        self.unknown = 0
        self._warned: set[str] = set()

    async def start(self) -> None:
        self._sub = await self._bus.subscribe(
            "events.unit.>", self._on_events, durable="unit-feed", max_batch=500
        )

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.stop()
            self._sub = None

    async def _on_events(self, batch: Sequence[BusMessage]) -> None:
        events = [
            message.local
            if isinstance(message.local, Event)
            else parse_event(orjson.loads(message.data))
            for message in batch
        ]
        # A tracker reports every few seconds: of a batch's fixes, only each unit's newest
        # moves it (statuses all count, in order). One write per unit instead of per fix.
        newest: dict[str, int] = {}
        for i, event in enumerate(events):
            if isinstance(event.data, UnitPosition):
                unit_id = event.data.unit_id
                if unit_id not in newest or events[newest[unit_id]].time <= event.time:
                    newest[unit_id] = i
        for i, event in enumerate(events):
            if isinstance(event.data, UnitPosition) and newest.get(event.data.unit_id) != i:
                self.applied += 1
                continue
            try:
                await self._apply(event)
                self.applied += 1
            except NotFound as exc:
                self.unknown += 1
                # Once per unknown unit: a tracker not yet registered reports every few seconds.
                if str(exc) not in self._warned and len(self._warned) < 10_000:
                    self._warned.add(str(exc))
                    log.warning("unit feed: %s (event %s %s)", exc, event.source, event.id)
            except Conflict as exc:
                log.warning("unit feed: %s (event %s %s)", exc, event.source, event.id)

    async def _apply(self, event: Event) -> None:
        actor = f"device:{event.source}"
        feed = system_principal(role=Role.ADMIN, acting_as=actor)
        data = event.data
        if isinstance(data, UnitStatus):
            await self._units.set_status(
                feed,
                data.unit_id,
                data.status,
                incident_id=data.incident_id,
                note=data.note,
                at=event.time,
            )
        elif isinstance(data, UnitPosition) and event.location is not None:
            await self._units.set_position(
                feed,
                data.unit_id,
                event.location,
                heading_deg=data.heading_deg,
                speed_kmh=data.speed_kmh,
                at=event.time,
            )
