"""Operators' actions on incidents, each checked, versioned, timelined, audited and announced."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from safecity.core.clock import Clock
from safecity.core.errors import Conflict, NotFound
from safecity.core.geo import Location
from safecity.core.identity import Permission, Principal
from safecity.core.incidents import (
    Incident,
    IncidentStatus,
    IncidentWrite,
    TimelineEntry,
    check_transition,
)
from safecity.core.messages import incident_change_messages
from safecity.core.ports import EventBus, Store
from safecity.core.records import IncidentQuery, StoredEvent
from safecity.governance.access import require
from safecity.governance.audit import AuditLog


@dataclass(frozen=True)
class IncidentEdit:
    """Fields an operator may change directly (status has its own verbs)."""

    title: str | None = None
    priority: int | None = None
    summary: str | None = None
    location: Location | None = None


class IncidentService:
    def __init__(self, store: Store, bus: EventBus, clock: Clock, audit: AuditLog) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._audit = audit

    # --- reads -------------------------------------------------------------------------------

    async def list_incidents(self, principal: Principal, query: IncidentQuery) -> list[Incident]:
        require(principal, Permission.INCIDENTS_READ)
        found = await asyncio.to_thread(self._store.list_incidents, query)
        await self._log(
            principal,
            "incidents.list",
            None,
            details={
                "count": len(found),
                "statuses": list(query.statuses),
                "types": list(query.types),
            },
        )
        return found

    async def get(self, principal: Principal, incident_id: str) -> Incident:
        require(principal, Permission.INCIDENTS_READ)
        incident = await asyncio.to_thread(self._store.get_incident, incident_id)
        await self._log(
            principal, "incidents.read", incident_id, outcome="ok" if incident else "not_found"
        )
        if incident is None:
            raise NotFound("incident", incident_id)
        return incident

    async def timeline(self, principal: Principal, incident_id: str) -> list[TimelineEntry]:
        await self.get(principal, incident_id)
        return await asyncio.to_thread(self._store.incident_timeline, incident_id)

    async def events(self, principal: Principal, incident_id: str) -> list[StoredEvent]:
        require(principal, Permission.EVENTS_READ)
        await self.get(principal, incident_id)
        found = await asyncio.to_thread(self._store.incident_events, incident_id)
        await self._log(principal, "incidents.events", incident_id, details={"count": len(found)})
        return found

    # --- changes -------------------------------------------------------------------------------

    async def acknowledge(
        self,
        principal: Principal,
        incident_id: str,
        *,
        expected_version: int | None = None,
        note: str | None = None,
    ) -> Incident:
        return await self._transition(
            principal,
            incident_id,
            IncidentStatus.ACKNOWLEDGED,
            "acknowledged",
            expected_version,
            {"note": note} if note else {},
        )

    async def dispatch(
        self,
        principal: Principal,
        incident_id: str,
        *,
        units: Sequence[str],
        expected_version: int | None = None,
        note: str | None = None,
    ) -> Incident:
        """A person's decision to send units; safecity never dispatches on its own."""
        if not units:
            raise Conflict("dispatch needs at least one unit")
        return await self._change(
            principal,
            incident_id,
            expected_version,
            "dispatched",
            lambda inc: {
                "status": _to(inc, IncidentStatus.DISPATCHED),
                "units": tuple(dict.fromkeys([*inc.units, *units])),
            },
            {"units": list(units), **({"note": note} if note else {})},
        )

    async def on_scene(
        self,
        principal: Principal,
        incident_id: str,
        *,
        expected_version: int | None = None,
    ) -> Incident:
        return await self._transition(
            principal,
            incident_id,
            IncidentStatus.ON_SCENE,
            "on_scene",
            expected_version,
            {},
        )

    async def assign(
        self,
        principal: Principal,
        incident_id: str,
        *,
        agency_id: str | None = None,
        assignee: str | None = None,
        expected_version: int | None = None,
    ) -> Incident:
        if agency_id is None and assignee is None:
            raise Conflict("assign needs an agency_id or an assignee")
        if (
            agency_id is not None
            and await asyncio.to_thread(self._store.get_agency, agency_id) is None
        ):
            raise NotFound("agency", agency_id)
        if assignee is not None and await asyncio.to_thread(self._store.get_user, assignee) is None:
            raise NotFound("user", assignee)

        def update(inc: Incident) -> dict[str, Any]:
            if not inc.is_open:
                raise Conflict("a closed incident cannot be assigned; reopen it first")
            out: dict[str, Any] = {}
            if agency_id is not None:
                out["agency_id"] = agency_id
            if assignee is not None:
                out["assignee"] = assignee
            return out

        return await self._change(
            principal,
            incident_id,
            expected_version,
            "assigned",
            update,
            {"agency_id": agency_id, "assignee": assignee},
        )

    async def update(
        self,
        principal: Principal,
        incident_id: str,
        edit: IncidentEdit,
        *,
        expected_version: int | None = None,
    ) -> Incident:
        changes = {k: v for k, v in edit.__dict__.items() if v is not None}
        if not changes:
            raise Conflict("nothing to update")

        def update(inc: Incident) -> dict[str, Any]:
            return changes

        details = {
            k: (v.model_dump() if isinstance(v, Location) else v) for k, v in changes.items()
        }
        return await self._change(
            principal, incident_id, expected_version, "updated", update, details
        )

    async def close(
        self,
        principal: Principal,
        incident_id: str,
        *,
        reason: str,
        expected_version: int | None = None,
    ) -> Incident:
        now = self._clock.now()
        return await self._change(
            principal,
            incident_id,
            expected_version,
            "closed",
            lambda inc: {
                "status": _to(inc, IncidentStatus.CLOSED),
                "closed_at": now,
                "closure_reason": reason,
            },
            {"reason": reason},
        )

    async def reopen(
        self,
        principal: Principal,
        incident_id: str,
        *,
        reason: str,
        expected_version: int | None = None,
    ) -> Incident:
        return await self._change(
            principal,
            incident_id,
            expected_version,
            "reopened",
            lambda inc: {
                "status": _to(inc, IncidentStatus.ACKNOWLEDGED),
                "closed_at": None,
                "closure_reason": None,
            },
            {"reason": reason},
        )

    # --- internals -----------------------------------------------------------------------------

    async def _transition(
        self,
        principal: Principal,
        incident_id: str,
        target: IncidentStatus,
        action: str,
        expected_version: int | None,
        details: dict[str, Any],
    ) -> Incident:
        return await self._change(
            principal,
            incident_id,
            expected_version,
            action,
            lambda inc: {"status": _to(inc, target)},
            details,
        )

    async def _change(
        self,
        principal: Principal,
        incident_id: str,
        expected_version: int | None,
        action: str,
        update: Any,
        details: dict[str, Any],
    ) -> Incident:
        require(principal, Permission.INCIDENTS_WRITE)
        # Retry only when the caller did not pin a version: the correlator may have linked an
        # event in between, which should not make an operator's click fail.
        for _ in range(5):
            current = await asyncio.to_thread(self._store.get_incident, incident_id)
            if current is None:
                await self._log(principal, f"incidents.{action}", incident_id, outcome="not_found")
                raise NotFound("incident", incident_id)
            if expected_version is not None and current.version != expected_version:
                await self._log(principal, f"incidents.{action}", incident_id, outcome="conflict")
                raise Conflict(
                    f"incident is at version {current.version}, not {expected_version}; reload it"
                )
            try:
                fields = update(current)
            except Conflict:
                await self._log(principal, f"incidents.{action}", incident_id, outcome="refused")
                raise
            now = self._clock.now()
            new = current.model_copy(
                update={**fields, "updated_at": now, "version": current.version + 1}
            )
            new = Incident.model_validate(new.model_dump())
            entry = TimelineEntry(
                incident_id=incident_id,
                at=now,
                actor=principal.actor,
                action=action,
                details={k: v for k, v in details.items() if v is not None},
            )
            write = IncidentWrite(incident=new, expected_version=current.version, timeline=(entry,))
            try:
                await asyncio.to_thread(self._store.save_incidents, [write])
            except Conflict:
                if expected_version is not None:
                    raise
                continue
            await self._log(principal, f"incidents.{action}", incident_id, details=entry.details)
            await self._bus.publish(
                incident_change_messages(
                    [write],
                    opened=set(),
                    actor=principal.actor,
                    action=action,
                )
            )
            return new
        raise Conflict("the incident kept changing; try again")

    async def _log(
        self,
        principal: Principal,
        action: str,
        object_id: str | None,
        *,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
    ) -> None:
        await asyncio.to_thread(
            self._audit.record,
            principal,
            action,
            "incident",
            object_id,
            outcome=outcome,
            details=details,
        )


def _to(incident: Incident, target: IncidentStatus) -> IncidentStatus:
    check_transition(incident.status, target)
    return target
