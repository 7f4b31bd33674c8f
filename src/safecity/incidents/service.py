"""Operators' actions on incidents, each checked, versioned, timelined, audited and announced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from safecity.core.areas import AreaMap
from safecity.core.clock import Clock
from safecity.core.errors import Conflict, NotFound
from safecity.core.geo import Location
from safecity.core.identity import Permission, Principal, Role
from safecity.core.ids import new_id
from safecity.core.incidents import (
    Incident,
    IncidentStatus,
    IncidentWrite,
    TimelineEntry,
    check_transition,
)
from safecity.core.messages import incident_change_messages
from safecity.core.operations import COMMITTED, Unit
from safecity.core.payloads import UnitState
from safecity.core.ports import EventBus, Store
from safecity.core.priority import PriorityModel, PriorityOverride
from safecity.core.records import IncidentQuery, StoredEvent
from safecity.governance.access import require
from safecity.governance.audit import AuditLog
from safecity.governance.identity import system_principal
from safecity.incidents.composition import Composition, compose, reassess


@dataclass(frozen=True)
class IncidentEdit:
    """Fields an operator may change directly (status has its own verbs)."""

    title: str | None = None
    summary: str | None = None
    location: Location | None = None


class IncidentService:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        clock: Clock,
        audit: AuditLog,
        *,
        priority: PriorityModel | None = None,
        areas: AreaMap | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._audit = audit
        self._priority = priority or PriorityModel()
        self._areas = areas or AreaMap()

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

    async def involve_agencies(
        self,
        principal: Principal,
        incident_id: str,
        agencies: Sequence[str],
        *,
        reason: str,
        expected_version: int | None = None,
    ) -> Incident:
        """Bring more agencies into the incident: they see it and share its channel."""
        wanted = list(dict.fromkeys(agencies))
        if not wanted:
            raise Conflict("name at least one agency to involve")
        if not reason.strip():
            raise Conflict("involving an agency needs a reason")
        for agency in wanted:
            if await asyncio.to_thread(self._store.get_agency, agency) is None:
                raise NotFound("agency", agency)

        def update(inc: Incident) -> dict[str, Any]:
            if not inc.is_open:
                raise Conflict("a closed incident cannot involve more agencies; reopen it first")
            fresh = [a for a in wanted if a not in inc.agencies]
            if not fresh:
                raise Conflict(f"already involved: {', '.join(wanted)}")
            return {"agencies": (*inc.agencies, *fresh)}

        return await self._change(
            principal,
            incident_id,
            expected_version,
            "agencies_involved",
            update,
            {"agencies": wanted, "reason": reason},
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

    async def override_priority(
        self,
        principal: Principal,
        incident_id: str,
        *,
        priority: int,
        reason: str,
        expected_version: int | None = None,
    ) -> Incident:
        """A person sets the priority, with a reason; the computed score stays visible."""
        if not reason.strip():
            raise Conflict("a priority override needs a reason")
        now = self._clock.now()
        override = PriorityOverride(priority=priority, reason=reason, by=principal.actor, at=now)

        def update(inc: Incident) -> dict[str, Any]:
            if not inc.is_open:
                raise Conflict("a closed incident's priority cannot change; reopen it first")
            if inc.assessment is None:
                raise Conflict("the incident has no priority assessment to override yet")
            return {
                "priority": priority,
                "assessment": inc.assessment.model_copy(update={"override": override}),
            }

        return await self._change(
            principal,
            incident_id,
            expected_version,
            "priority_overridden",
            update,
            {"priority": priority, "reason": reason},
        )

    async def clear_priority_override(
        self,
        principal: Principal,
        incident_id: str,
        *,
        reason: str,
        expected_version: int | None = None,
    ) -> Incident:
        """Hand the priority back to the score."""

        def update(inc: Incident) -> dict[str, Any]:
            if inc.assessment is None or inc.assessment.override is None:
                raise Conflict("the priority is not overridden")
            cleared = inc.assessment.model_copy(update={"override": None})
            return {"priority": cleared.priority, "assessment": cleared}

        return await self._change(
            principal,
            incident_id,
            expected_version,
            "priority_override_cleared",
            update,
            {"reason": reason},
        )

    async def merge(
        self, principal: Principal, target_id: str, source_ids: Sequence[str], *, reason: str
    ) -> Incident:
        """Fold other incidents into ``target_id``: their events move, they close as merged."""
        require(principal, Permission.INCIDENTS_WRITE)
        sources_wanted = list(dict.fromkeys(source_ids))
        if not sources_wanted:
            raise Conflict("merge needs at least one other incident")
        if target_id in sources_wanted:
            raise Conflict("an incident cannot be merged into itself")
        if not reason.strip():
            raise Conflict("a merge needs a reason")
        for _ in range(5):
            target = await self._current(principal, "merged", target_id)
            sources = [await self._current(principal, "merged", i) for i in sources_wanted]
            for inc in (target, *sources):
                if not inc.is_open:
                    raise Conflict(f"incident {inc.id} is closed; reopen it before merging")
            kept = await asyncio.to_thread(self._store.incident_events, target_id)
            moved = {
                inc.id: await asyncio.to_thread(self._store.incident_events, inc.id)
                for inc in sources
            }
            every = [s.event for s in kept] + [s.event for v in moved.values() for s in v]
            if not every:
                raise Conflict("the incidents to merge hold no events")
            comp = compose(every)
            now = self._clock.now()
            assessment = reassess(self._priority, target, comp)
            new_target = self._recomposed(target, comp, now).model_copy(
                update={
                    "assessment": assessment,
                    "priority": assessment.priority,
                    "units": tuple(
                        dict.fromkeys([*target.units, *(u for s in sources for u in s.units)])
                    ),
                    "agencies": tuple(
                        dict.fromkeys([*target.agencies, *(a for s in sources for a in s.agencies)])
                    ),
                }
            )
            details = {
                "from": [inc.id for inc in sources],
                "events": sum(len(v) for v in moved.values()),
                "reason": reason,
            }
            writes = [
                IncidentWrite(
                    incident=new_target,
                    expected_version=target.version,
                    move_events=tuple(
                        (s.event.source, s.event.id, iid) for iid, v in moved.items() for s in v
                    ),
                    move_reason={"rule": "operator_merge", "by": principal.actor, "reason": reason},
                    timeline=(self._entry(target_id, principal, now, "merged", details),),
                )
            ]
            for inc in sources:
                closed = inc.model_copy(
                    update={
                        "status": _to(inc, IncidentStatus.CLOSED),
                        "closed_at": now,
                        "closure_reason": f"merged into {target_id}: {reason}",
                        "merged_into": target_id,
                        "event_count": 0,
                        "updated_at": now,
                        "version": inc.version + 1,
                    }
                )
                writes.append(
                    IncidentWrite(
                        incident=closed,
                        expected_version=inc.version,
                        timeline=(
                            self._entry(
                                inc.id,
                                principal,
                                now,
                                "merged_into",
                                {"into": target_id, "reason": reason},
                            ),
                        ),
                    )
                )
            try:
                await asyncio.to_thread(self._store.save_incidents, writes)
            except Conflict:
                continue
            await self._log(principal, "incidents.merged", target_id, details=details)
            await self._bus.publish(
                incident_change_messages(
                    writes[:1], opened=set(), actor=principal.actor, action="merged"
                )
                + incident_change_messages(
                    writes[1:], opened=set(), actor=principal.actor, action="closed"
                )
            )
            return new_target
        raise Conflict("the incidents kept changing; try again")

    async def split(
        self,
        principal: Principal,
        incident_id: str,
        events: Sequence[tuple[str, str]],
        *,
        reason: str,
        title: str | None = None,
    ) -> tuple[Incident, Incident]:
        """Move ``events`` out into a new incident; returns (what is left, the new incident)."""
        require(principal, Permission.INCIDENTS_WRITE)
        if not reason.strip():
            raise Conflict("a split needs a reason")
        wanted = set(events)
        if not wanted:
            raise Conflict("split needs at least one event to move")
        for _ in range(5):
            current = await self._current(principal, "split", incident_id)
            if not current.is_open:
                raise Conflict("a closed incident cannot be split; reopen it first")
            stored = await asyncio.to_thread(self._store.incident_events, incident_id)
            have = {s.event.key for s in stored}
            missing = sorted(wanted - have)
            if missing:
                raise Conflict(
                    f"not in incident {incident_id}: "
                    + ", ".join(f"{src} {eid}" for src, eid in missing)
                )
            moving = [s.event for s in stored if s.event.key in wanted]
            staying = [s.event for s in stored if s.event.key not in wanted]
            if not staying:
                raise Conflict("a split must leave at least one event in the incident")
            now = self._clock.now()
            out_comp, in_comp = compose(moving), compose(staying)
            leading = out_comp.leading
            new_id_ = new_id("inc", now)
            fresh = self._recomposed(
                Incident(
                    id=new_id_,
                    type=leading.incident_type if leading else current.type,
                    title=title or (leading.title if leading else current.title),
                    priority=5,
                    opened_at=now,
                    updated_at=now,
                    first_event_at=out_comp.first_event_at.time,
                    last_event_at=out_comp.last_event_at.time,
                    agencies=current.agencies,
                ),
                out_comp,
                now,
            )
            fresh_score = reassess(self._priority, fresh, out_comp)
            fresh = fresh.model_copy(
                update={"assessment": fresh_score, "priority": fresh_score.priority, "version": 1}
            )
            left = self._recomposed(current, in_comp, now)
            left_score = reassess(self._priority, left, in_comp)
            left = left.model_copy(
                update={"assessment": left_score, "priority": left_score.priority}
            )
            keys = [[src, eid] for src, eid in sorted(wanted)]
            writes = [
                IncidentWrite(
                    incident=fresh,
                    expected_version=None,
                    move_events=tuple((src, eid, incident_id) for src, eid in sorted(wanted)),
                    move_reason={"rule": "operator_split", "by": principal.actor, "reason": reason},
                    timeline=(
                        self._entry(
                            new_id_,
                            principal,
                            now,
                            "split_from",
                            {"from": incident_id, "events": keys, "reason": reason},
                        ),
                    ),
                ),
                IncidentWrite(
                    incident=left,
                    expected_version=current.version,
                    timeline=(
                        self._entry(
                            incident_id,
                            principal,
                            now,
                            "split",
                            {"into": new_id_, "events": keys, "reason": reason},
                        ),
                    ),
                ),
            ]
            try:
                await asyncio.to_thread(self._store.save_incidents, writes)
            except Conflict:
                continue
            await self._log(
                principal,
                "incidents.split",
                incident_id,
                details={"into": new_id_, "events": len(keys), "reason": reason},
            )
            await self._bus.publish(
                incident_change_messages(
                    writes, opened={new_id_}, actor=principal.actor, action="split"
                )
            )
            return left, fresh
        raise Conflict("the incident kept changing; try again")

    async def change(
        self,
        principal: Principal,
        incident_id: str,
        action: str,
        update: Callable[[Incident], dict[str, Any]],
        details: dict[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Incident:
        """A change made by another operations service (procedures, dispatch): checked,
        versioned, timelined under ``action``, audited and announced like the verbs above.
        ``update`` may raise :class:`Conflict` to refuse."""
        return await self._change(principal, incident_id, expected_version, action, update, details)

    async def record_unit_status(
        self, incident_id: str, unit: Unit, *, previous: UnitState, at: datetime, actor: str
    ) -> Incident:
        """A unit tied to the incident changed status: the timeline records it (response-time
        figures come from these entries), a unit on its way joins the incident, and the first
        unit on scene moves a dispatched incident on scene."""

        def update(inc: Incident) -> dict[str, Any]:
            out: dict[str, Any] = {}
            if unit.status in COMMITTED and unit.id not in inc.units:
                out["units"] = (*inc.units, unit.id)
            if unit.status in COMMITTED and unit.agency_id not in inc.agencies:
                out["agencies"] = (*inc.agencies, unit.agency_id)
            if inc.is_open and unit.status in COMMITTED:
                if inc.status in (IncidentStatus.NEW, IncidentStatus.ACKNOWLEDGED):
                    out["status"] = IncidentStatus.DISPATCHED
                if unit.status is UnitState.ON_SCENE and inc.status in (
                    IncidentStatus.NEW,
                    IncidentStatus.ACKNOWLEDGED,
                    IncidentStatus.DISPATCHED,
                ):
                    out["status"] = IncidentStatus.ON_SCENE
            return out

        return await self._change(
            system_principal(role=Role.ADMIN, acting_as=actor),
            incident_id,
            None,
            "unit_status",
            update,
            {
                "unit_id": unit.id,
                "callsign": unit.callsign,
                "agency_id": unit.agency_id,
                "status": unit.status.value,
                "previous": previous.value,
                "reported_at": at.isoformat(),
            },
        )

    # --- internals -----------------------------------------------------------------------------

    def _recomposed(self, incident: Incident, comp: Composition, now: datetime) -> Incident:
        """``incident`` made of the events in ``comp`` (count, span, position, signals)."""
        location = comp.location or incident.location
        return incident.model_copy(
            update={
                "event_count": comp.count,
                "signals": comp.signals,
                "location": location,
                "first_event_at": comp.first_event_at.time,
                "last_event_at": comp.last_event_at.time,
                "area": self._areas.locate(location.lon, location.lat)
                if location is not None and len(self._areas)
                else incident.area,
                "updated_at": now,
                "version": incident.version + 1,
            }
        )

    async def _current(self, principal: Principal, action: str, incident_id: str) -> Incident:
        current = await asyncio.to_thread(self._store.get_incident, incident_id)
        if current is None:
            await self._log(principal, f"incidents.{action}", incident_id, outcome="not_found")
            raise NotFound("incident", incident_id)
        return current

    @staticmethod
    def _entry(
        incident_id: str, principal: Principal, at: datetime, action: str, details: dict[str, Any]
    ) -> TimelineEntry:
        return TimelineEntry(
            incident_id=incident_id, at=at, actor=principal.actor, action=action, details=details
        )

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


def _union(*groups: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for group in groups for item in group))


def _to(incident: Incident, target: IncidentStatus) -> IncidentStatus:
    check_transition(incident.status, target)
    return target
