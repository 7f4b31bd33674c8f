"""Dispatch: recommend units by drive time on the road network; a person decides.

The recommendation ranks every eligible unit (available, positioned, reachable) by free-flow
drive time and proposes the fastest team that covers the capabilities the incident's procedure
requires. Nothing moves until a person confirms; the decision is stored with the
recommendation that was on screen, so a review can see the alternatives and whether the
machine's proposal was followed.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import timedelta
from functools import partial

from safecity.core.clock import Clock
from safecity.core.errors import Conflict, NotFound, PermissionDenied
from safecity.core.identity import Permission, Principal, Role
from safecity.core.ids import new_id
from safecity.core.incidents import Incident
from safecity.core.operations import (
    COMMITTED,
    DispatchDecision,
    DispatchRecommendation,
    ExcludedUnit,
    RankedUnit,
    Unit,
)
from safecity.core.payloads import UnitState
from safecity.core.ports import Store
from safecity.governance.access import require
from safecity.governance.audit import AuditLog
from safecity.governance.identity import system_principal
from safecity.incidents.service import IncidentService
from safecity.operations.procedures import ProcedureService
from safecity.operations.units import UnitService
from safecity.routing.network import RoadNetwork
from safecity.routing.recommend import UnitCandidate, recommend

#: A recommendation older than this is computed again when the decision is recorded.
_FRESH = timedelta(minutes=5)
_CACHE = 1000


class DispatchService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        audit: AuditLog,
        incidents: IncidentService,
        units: UnitService,
        procedures: ProcedureService,
        network: RoadNetwork | None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._audit = audit
        self._incidents = incidents
        self._units = units
        self._procedures = procedures
        self.network = network
        self._recent: OrderedDict[str, DispatchRecommendation] = OrderedDict()

    async def recommend(
        self, principal: Principal, incident_id: str, *, limit: int = 10
    ) -> DispatchRecommendation:
        """Who could go, fastest first; kept for the decision that follows."""
        require(principal, Permission.INCIDENTS_READ)
        require(principal, Permission.UNITS_READ)
        incident = await self._incidents.get(principal, incident_id)
        if incident.location is None:
            raise Conflict("the incident has no location, so no drive times can be computed")
        if self.network is None:
            raise Conflict("no road network is configured (settings: routing.network)")
        units = await asyncio.to_thread(self._store.list_units)
        result = await asyncio.to_thread(
            self._compute, incident, units, self._procedures.required_capabilities(incident), limit
        )
        self._recent[incident_id] = result
        self._recent.move_to_end(incident_id)
        while len(self._recent) > _CACHE:
            self._recent.popitem(last=False)
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "dispatch.recommend",
            "incident",
            incident_id,
            details={"ranked": len(result.ranked), "team": list(result.team)},
        )
        return result

    def _compute(
        self,
        incident: Incident,
        units: Sequence[Unit],
        required: Sequence[str],
        limit: int,
    ) -> DispatchRecommendation:
        assert self.network is not None
        assert incident.location is not None
        started = time.perf_counter()
        by_id = {u.id: u for u in units}
        candidates = [_candidate(u) for u in units]
        found = recommend(
            self.network,
            incident.location.lon,
            incident.location.lat,
            candidates,
            required_capabilities=frozenset(required),
            limit=limit,
        )
        ranked = tuple(
            RankedUnit(
                unit_id=r.unit_id,
                callsign=by_id[r.unit_id].callsign,
                agency_id=r.agency_id,
                kind=r.kind,
                drive_time_s=round(r.drive_time_s, 1),
                straight_m=round(r.straight_line_m, 1),
                capabilities_matched=r.matched,
                capabilities_missing=r.missing,
            )
            for r in found.ranked
        )
        return DispatchRecommendation(
            incident_id=incident.id,
            at=self._clock.now(),
            required_capabilities=tuple(required),
            ranked=ranked,
            team=tuple(m.unit.unit_id for m in found.team),
            uncovered=found.uncovered,
            excluded=tuple(
                ExcludedUnit(unit_id=e.unit_id, reason=e.reason) for e in found.excluded
            ),
            network=found.network,
            computed_ms=round((time.perf_counter() - started) * 1000, 2),
        )

    async def confirm(
        self,
        principal: Principal,
        incident_id: str,
        unit_ids: Sequence[str],
        *,
        note: str | None = None,
        expected_version: int | None = None,
        reassign: bool = False,
    ) -> tuple[Incident, DispatchDecision]:
        """A person sends these units. Each unit's status and the incident change together;
        the recommendation on screen is stored with the decision."""
        require(principal, Permission.INCIDENTS_WRITE)
        require(principal, Permission.UNITS_WRITE)
        wanted = list(dict.fromkeys(unit_ids))
        if not wanted:
            raise Conflict("dispatch needs at least one unit")
        current = await self._incidents.get(principal, incident_id)
        units: list[Unit] = []
        for unit_id in wanted:
            unit = await asyncio.to_thread(self._store.get_unit, unit_id)
            if unit is None:
                raise NotFound("unit", unit_id)
            if (
                unit.status in COMMITTED
                and unit.incident_id not in (None, incident_id)
                and not reassign
            ):
                raise Conflict(
                    f"unit {unit.callsign} is committed to incident {unit.incident_id}; "
                    "send reassign=true to take it off that incident"
                )
            if unit.agency_id != principal.agency_id and unit.agency_id not in current.agencies:
                # In a joint control room any involved agency's units may be sent; an agency
                # not on the incident is asked first (involve it), never sent silently.
                raise PermissionDenied(
                    f"unit {unit.callsign} belongs to agency {unit.agency_id!r}, which is not "
                    f"involved in incident {incident_id}"
                )
            units.append(unit)
        shown = self._recent.get(incident_id)
        now = self._clock.now()
        if shown is None or now - shown.at > _FRESH:
            try:
                shown = await self.recommend(principal, incident_id)
            except Conflict:
                shown = None  # no location or no network: the decision stands on its own
        incident = await self._incidents.dispatch(
            principal, incident_id, units=wanted, note=note, expected_version=expected_version
        )
        # The person's decision moves the units, whichever agency they belong to; the audit
        # and the unit log name the person.
        acting = system_principal(role=Role.ADMIN, acting_as=principal.actor)
        for unit in units:
            await self._units.set_status(
                acting,
                unit.id,
                UnitState.DISPATCHED,
                incident_id=incident_id,
                note=note,
            )
        decision = DispatchDecision(
            id=new_id("dsp", now),
            incident_id=incident_id,
            at=now,
            actor=principal.actor,
            units=tuple(wanted),
            recommendation=shown,
            followed_recommendation=(
                set(wanted) == set(shown.team) if shown is not None and shown.team else None
            ),
            note=note,
        )
        await asyncio.to_thread(self._store.add_dispatch_decision, decision)
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "dispatch.confirmed",
            "incident",
            incident_id,
            details={
                "units": wanted,
                "recommended_team": list(shown.team) if shown else None,
                "followed": decision.followed_recommendation,
            },
        )
        latest = await self._incidents.get(principal, incident_id)
        return latest if latest.version >= incident.version else incident, decision

    async def decisions(self, principal: Principal, incident_id: str) -> list[DispatchDecision]:
        await self._incidents.get(principal, incident_id)
        return await asyncio.to_thread(partial(self._store.dispatch_decisions, incident_id))


def _candidate(unit: Unit) -> UnitCandidate:
    # A unit with no live fix is placed at its home station: the dispatcher's own assumption.
    where = unit.location or unit.home
    return UnitCandidate(
        unit_id=unit.id,
        agency_id=unit.agency_id,
        kind=unit.kind,
        capabilities=frozenset(unit.capabilities),
        status=unit.status.value,
        lon=where.lon if where else None,
        lat=where.lat if where else None,
    )
