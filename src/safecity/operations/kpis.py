"""Response-time KPIs computed from incident timelines, per agency, area, type or priority,
against configurable targets.

Every figure is measured between two timeline entries (their ``at``), so it can be checked by
reading the incident's timeline; see ``docs/kpis.md`` for each definition. The pure part
(:func:`incident_intervals`, :func:`summarise`) takes records and returns numbers; the
:class:`KpiService` loads the records, checks the caller's permission and audits the read.

The default targets are published **fire and EMS** norms (NENA call answering, NFPA 1225 alarm
processing, NFPA 1710 turnout and travel). They are defaults only: a police agency, or any
agency bound by other rules, sets its own in ``[kpis.targets]``.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from safecity.core.clock import Clock
from safecity.core.errors import FieldError, InvalidInput, NotFound
from safecity.core.identity import Permission, Principal
from safecity.core.incidents import Incident, TimelineEntry
from safecity.core.operations import UnitLogEntry
from safecity.core.ports import Store
from safecity.core.records import IncidentQuery
from safecity.governance.access import require
from safecity.governance.audit import AuditLog

GroupBy = Literal["agency", "area", "type", "priority"]

#: Unit statuses that tie a unit to an incident; any other status after them clears it.
_COMMITTED = frozenset({"dispatched", "en_route", "on_scene"})
#: Timeline actions that end an incident's first cycle (a merge closes it as a duplicate).
_CLOSING = frozenset({"closed", "merged_into"})


class Kpi(StrEnum):
    """The measured intervals, in the order reports list them."""

    DETECTION_TO_OPEN = "detection_to_open"
    TIME_TO_ACKNOWLEDGE = "time_to_acknowledge"
    TIME_TO_DISPATCH = "time_to_dispatch"
    TURNOUT = "turnout"
    TRAVEL = "travel"
    RESPONSE = "response"
    ON_SCENE_TIME = "on_scene_time"
    TOTAL = "total"


# --- intervals of one incident -----------------------------------------------------------------


class Milestones(BaseModel):
    """The moments the intervals are measured between (first cycle only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    first_event_at: datetime
    opened_at: datetime
    acknowledged_at: datetime | None = None
    dispatched_at: datetime | None = None
    en_route_at: datetime | None = None
    on_scene_at: datetime | None = None
    cleared_at: datetime | None = Field(
        default=None, description="Last unit on scene cleared (when every one of them has)"
    )
    closed_at: datetime | None = None


class UnitIntervals(BaseModel):
    """One unit's part in the incident's first cycle."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit_id: str
    agency_id: str | None = None
    dispatched_at: datetime | None = None
    en_route_at: datetime | None = None
    on_scene_at: datetime | None = None
    cleared_at: datetime | None = None
    turnout: float | None = Field(default=None, description="Dispatched → en route, seconds")
    travel: float | None = Field(
        default=None, description="En route (or dispatched) → on scene, seconds"
    )


class IncidentIntervals(BaseModel):
    """One incident's response-time intervals in seconds; None where a step was not reached
    (or its entries contradict each other, e.g. an end before its start)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    incident_id: str
    type: str
    priority: int
    agency_id: str | None = None
    area: str | None = None
    milestones: Milestones
    detection_to_open: float | None = None
    time_to_acknowledge: float | None = None
    time_to_dispatch: float | None = None
    turnout: float | None = None
    travel: float | None = None
    response: float | None = None
    on_scene_time: float | None = None
    total: float | None = None
    units: tuple[UnitIntervals, ...] = ()
    reopened: bool = Field(default=False, description="Reopened later; the first cycle counts")
    excluded: str | None = Field(
        default=None, description="Why reports leave it out (merged: a duplicate)"
    )

    def value(self, kpi: Kpi) -> float | None:
        result: float | None = getattr(self, kpi.value)
        return result


class _Track:
    """What one unit did, as first/last moments."""

    __slots__ = ("agency_id", "cleared", "dispatched", "en_route", "last_status", "on_scene")

    def __init__(self) -> None:
        self.agency_id: str | None = None
        self.dispatched: datetime | None = None
        self.en_route: datetime | None = None
        self.on_scene: datetime | None = None
        self.cleared: datetime | None = None
        self.last_status: str | None = None

    def see(self, status: str, at: datetime) -> None:
        if status == "dispatched":
            self.dispatched = _earliest(self.dispatched, at)
        elif status == "en_route":
            self.en_route = _earliest(self.en_route, at)
        elif status == "on_scene":
            self.on_scene = _earliest(self.on_scene, at)
        if status in _COMMITTED:
            self.cleared = None  # sent again: it has not cleared yet
        elif self.last_status in _COMMITTED:
            self.cleared = at
        self.last_status = status

    @property
    def committed_at(self) -> datetime | None:
        return _min(self.dispatched, self.en_route, self.on_scene)


def incident_intervals(
    incident: Incident,
    timeline: Sequence[TimelineEntry],
    unit_log: Sequence[UnitLogEntry] = (),
    *,
    unit_agencies: Mapping[str, str] | None = None,
) -> IncidentIntervals:
    """The intervals of ``incident``'s first cycle, from its timeline.

    Entries may come in any order (they are sorted by ``at``, then ``seq``); steps may be
    missing. Unit moves come from the timeline's ``unit_status`` entries; the unit log
    (entries for this incident) fills in units the timeline never mentions. ``unit_agencies``
    names the agency of units whose entries do not.
    """
    ordered = sorted(
        enumerate(timeline), key=lambda p: (p[1].at, p[1].seq if p[1].seq is not None else 0, p[0])
    )
    entries = [e for _, e in ordered]
    cut = next((i for i, e in enumerate(entries) if e.action == "reopened"), None)
    cycle = entries if cut is None else entries[:cut]
    reopened_at = None if cut is None else entries[cut].at
    merged = incident.merged_into is not None or any(e.action == "merged_into" for e in entries)

    def first(*actions: str) -> datetime | None:
        return next((e.at for e in cycle if e.action in actions), None)

    opened = first("opened", "split_from") or incident.opened_at
    acknowledged = first("acknowledged")
    closed = first(*_CLOSING)
    if closed is None and cut is None:
        closed = incident.closed_at  # closed, though its timeline lacks the entry

    tracks: dict[str, _Track] = {}
    for e in cycle:
        if e.action == "dispatched":
            sent = e.details.get("units")
            for unit_id in sent if isinstance(sent, list | tuple) else ():
                track = tracks.setdefault(str(unit_id), _Track())
                track.dispatched = _earliest(track.dispatched, e.at)
        elif e.action == "unit_status":
            unit_id = e.details.get("unit_id")
            status = e.details.get("status")
            if not isinstance(unit_id, str) or not isinstance(status, str):
                continue
            track = tracks.setdefault(unit_id, _Track())
            agency = e.details.get("agency_id")
            if isinstance(agency, str):
                track.agency_id = agency
            track.see(status, e.at)
    in_timeline = {str(e.details.get("unit_id")) for e in cycle if e.action == "unit_status"}
    for log in sorted(unit_log, key=lambda x: (x.at, x.id)):
        if log.incident_id != incident.id or log.unit_id in in_timeline:
            continue
        if reopened_at is not None and log.at >= reopened_at:
            continue
        tracks.setdefault(log.unit_id, _Track()).see(log.status.value, log.at)
    for unit_id, track in tracks.items():
        if track.agency_id is None and unit_agencies:
            track.agency_id = unit_agencies.get(unit_id)

    dispatched = _min(first("dispatched"), *(t.committed_at for t in tracks.values()))
    acknowledge = _min(acknowledged, dispatched)
    arrived = _min(first("on_scene"), *(t.on_scene for t in tracks.values()))
    en_route = _min(*(t.en_route for t in tracks.values()))
    travel_from = (
        en_route
        if en_route is not None and (arrived is None or en_route <= arrived)
        else dispatched
    )
    on_scene_units = [t for t in tracks.values() if t.on_scene is not None]
    cleared = None
    if on_scene_units and all(t.cleared is not None for t in on_scene_units):
        cleared = max(t.cleared for t in on_scene_units if t.cleared is not None)
    scene_end = _min(closed, cleared)

    units = tuple(
        UnitIntervals(
            unit_id=unit_id,
            agency_id=t.agency_id,
            dispatched_at=t.dispatched,
            en_route_at=t.en_route,
            on_scene_at=t.on_scene,
            cleared_at=t.cleared,
            turnout=_seconds(t.dispatched, t.en_route),
            travel=_seconds(t.en_route or t.dispatched, t.on_scene),
        )
        for unit_id, t in sorted(tracks.items())
    )
    return IncidentIntervals(
        incident_id=incident.id,
        type=incident.type,
        priority=incident.priority,
        agency_id=incident.agency_id,
        area=incident.area,
        milestones=Milestones(
            first_event_at=incident.first_event_at,
            opened_at=opened,
            acknowledged_at=acknowledge,
            dispatched_at=dispatched,
            en_route_at=en_route,
            on_scene_at=arrived,
            cleared_at=cleared,
            closed_at=closed,
        ),
        detection_to_open=_seconds(incident.first_event_at, opened),
        time_to_acknowledge=_seconds(opened, acknowledge),
        time_to_dispatch=_seconds(opened, dispatched),
        turnout=_seconds(dispatched, en_route),
        travel=_seconds(travel_from, arrived),
        response=_seconds(opened, arrived),
        on_scene_time=_seconds(arrived, scene_end),
        total=_seconds(opened, closed),
        units=units,
        reopened=cut is not None,
        excluded="merged" if merged else None,
    )


def _earliest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at < current else current


def _min(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None or end < start:
        return None
    return (end - start).total_seconds()


# --- targets -----------------------------------------------------------------------------------


class KpiTarget(BaseModel):
    """``share`` of incidents must have the KPI within ``threshold_s`` seconds (inclusive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold_s: float = Field(gt=0, le=7 * 86_400)
    share: float = Field(gt=0, le=1, description="0.9 means 90 %")
    source: str = Field(default="", max_length=200, description="Where the norm comes from")


class KpiTargetSet(BaseModel):
    """A target per KPI. In an override, None keeps the target it would otherwise have."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    detection_to_open: KpiTarget | None = None
    time_to_acknowledge: KpiTarget | None = None
    time_to_dispatch: KpiTarget | None = None
    turnout: KpiTarget | None = None
    travel: KpiTarget | None = None
    response: KpiTarget | None = None
    on_scene_time: KpiTarget | None = None
    total: KpiTarget | None = None

    def get(self, kpi: Kpi) -> KpiTarget | None:
        found: KpiTarget | None = getattr(self, kpi.value)
        return found


NENA_CALL_ANSWERING = KpiTarget(
    threshold_s=15, share=0.90, source="NENA STA-020 call answering: 90 % within 15 s"
)
NFPA_1225_ALARM_PROCESSING = KpiTarget(
    threshold_s=64,
    share=0.90,
    source="NFPA 1225 (2022) alarm processing, highest-priority calls: 90 % within 64 s",
)
NFPA_1710_TURNOUT_EMS = KpiTarget(
    threshold_s=60, share=0.90, source="NFPA 1710 turnout, EMS: 90 % within 60 s"
)
NFPA_1710_TURNOUT_FIRE = KpiTarget(
    threshold_s=80, share=0.90, source="NFPA 1710 turnout, fire: 90 % within 80 s"
)
NFPA_1710_TRAVEL = KpiTarget(
    threshold_s=240, share=0.90, source="NFPA 1710 travel, first unit: 90 % within 240 s"
)


class KpiTargets(KpiTargetSet):
    """The targets incidents are judged against.

    The defaults are fire/EMS norms (NENA call answering for acknowledging, NFPA 1225 for
    dispatching, NFPA 1710 for turnout and travel); police agencies set their own. For an
    incident, a KPI's target is the lead agency's override if it sets one, else its priority's
    override, else the default here.
    """

    time_to_acknowledge: KpiTarget | None = NENA_CALL_ANSWERING
    time_to_dispatch: KpiTarget | None = NFPA_1225_ALARM_PROCESSING
    turnout: KpiTarget | None = NFPA_1710_TURNOUT_EMS
    travel: KpiTarget | None = NFPA_1710_TRAVEL
    priorities: dict[int, KpiTargetSet] = Field(
        default_factory=dict, description="Overrides per incident priority (1-5)"
    )
    agencies: dict[str, KpiTargetSet] = Field(
        default_factory=dict, description="Overrides per lead agency id"
    )

    @field_validator("priorities")
    @classmethod
    def _priorities_in_range(cls, value: dict[int, KpiTargetSet]) -> dict[int, KpiTargetSet]:
        bad = sorted(p for p in value if not 1 <= p <= 5)
        if bad:
            raise ValueError(f"priorities are 1 (most urgent) to 5, not {bad}")
        return value

    def resolve(self, kpi: Kpi, *, agency_id: str | None, priority: int) -> KpiTarget | None:
        """The target for one KPI of an incident with this lead agency and priority."""
        for override in (
            self.agencies.get(agency_id) if agency_id is not None else None,
            self.priorities.get(priority),
        ):
            if override is not None and (found := override.get(kpi)) is not None:
                return found
        return self.get(kpi)


# --- reports -----------------------------------------------------------------------------------


class KpiStat(BaseModel):
    """One KPI over one group of incidents."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kpi: Kpi
    count: int = Field(description="Incidents where the interval was measured")
    median_s: float | None = None
    p90_s: float | None = Field(default=None, description="Nearest-rank 90th percentile")
    mean_s: float | None = None
    threshold_s: float | None = Field(
        default=None, description="The threshold, when every incident here has the same one"
    )
    target_share: float | None = Field(
        default=None, description="Share that must meet it (the highest, when targets differ)"
    )
    targets_mixed: bool = Field(
        default=False, description="Incidents here are judged against different targets"
    )
    judged: int = Field(default=0, description="Measured incidents that have a target")
    within: int = Field(default=0, description="Of those, how many met their threshold")
    share_within: float | None = None
    met: bool | None = Field(default=None, description="share_within ≥ target_share")


class KpiGroup(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str | None = Field(description="Agency, area, type or priority; null: none set")
    incidents: int
    kpis: tuple[KpiStat, ...]


class KpiReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    group_by: GroupBy | None = None
    since: datetime | None = None
    until: datetime | None = None
    incidents: int = Field(description="Incidents counted (merged ones left out)")
    excluded: int = Field(default=0, description="Incidents left out (merged duplicates)")
    truncated: bool = Field(default=False, description="More incidents than the service reads")
    groups: tuple[KpiGroup, ...] = ()
    targets: KpiTargets = Field(default_factory=KpiTargets)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``q`` % of values at or
    below it, so ``percentile(v, 90) <= t`` exactly when 90 % of ``v`` are within ``t``."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered) - 1e-9))
    return ordered[rank - 1]


def _group_key(item: IncidentIntervals, group_by: GroupBy | None) -> str | None:
    if group_by is None:
        return "all"
    if group_by == "agency":
        return item.agency_id
    if group_by == "area":
        return item.area
    if group_by == "type":
        return item.type
    return str(item.priority)


def _stat(kpi: Kpi, items: Sequence[IncidentIntervals], targets: KpiTargets) -> KpiStat:
    measured = [(i, v) for i in items if (v := i.value(kpi)) is not None]
    values = [v for _, v in measured]
    judged = [
        (v, t)
        for i, v in measured
        if (t := targets.resolve(kpi, agency_id=i.agency_id, priority=i.priority)) is not None
    ]
    # Targets that would apply, measured or not: a group's target does not vanish because
    # no incident reached the step.
    applicable = {
        t
        for i in items
        if (t := targets.resolve(kpi, agency_id=i.agency_id, priority=i.priority)) is not None
    }
    thresholds = {t.threshold_s for t in applicable}
    within = sum(1 for v, t in judged if v <= t.threshold_s)
    share = within / len(judged) if judged else None
    target_share = max((t.share for t in applicable), default=None)
    return KpiStat(
        kpi=kpi,
        count=len(values),
        median_s=statistics.median(values) if values else None,
        p90_s=percentile(values, 90) if values else None,
        mean_s=statistics.fmean(values) if values else None,
        threshold_s=next(iter(thresholds)) if len(thresholds) == 1 else None,
        target_share=target_share,
        targets_mixed=len(applicable) > 1,
        judged=len(judged),
        within=within,
        share_within=share,
        met=None if share is None or target_share is None else share >= target_share - 1e-12,
    )


def summarise(
    intervals: Iterable[IncidentIntervals],
    group_by: GroupBy | None = None,
    targets: KpiTargets | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    truncated: bool = False,
) -> KpiReport:
    """Count, median, p90, mean and the share meeting its target, per group and KPI.

    Merged incidents (duplicates) are left out. Groups come sorted by key (priorities
    numerically), the group without a key (no agency or area set) last; KPIs in
    :class:`Kpi` order.
    """
    targets = targets or KpiTargets()
    counted: list[IncidentIntervals] = []
    excluded = 0
    for item in intervals:
        if item.excluded is not None:
            excluded += 1
        else:
            counted.append(item)
    groups: dict[str | None, list[IncidentIntervals]] = {}
    for item in sorted(counted, key=lambda i: i.incident_id):
        groups.setdefault(_group_key(item, group_by), []).append(item)

    def order(key: str | None) -> tuple[int, int, str]:
        if key is None:
            return (1, 0, "")
        if group_by == "priority":
            return (0, int(key), key)
        return (0, 0, key)

    return KpiReport(
        group_by=group_by,
        since=since,
        until=until,
        incidents=len(counted),
        excluded=excluded,
        truncated=truncated,
        targets=targets,
        groups=tuple(
            KpiGroup(
                key=key,
                incidents=len(groups[key]),
                kpis=tuple(_stat(kpi, groups[key], targets) for kpi in Kpi),
            )
            for key in sorted(groups, key=order)
        ),
    )


# --- the service -------------------------------------------------------------------------------

#: The default reporting window, when the caller gives no ``since``.
DEFAULT_WINDOW = timedelta(days=30)
_PAGE = 1000


class KpiService:
    """Response-time reports, read with ``incidents:read`` and audited."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        audit: AuditLog,
        *,
        targets: KpiTargets | None = None,
        max_incidents: int = 50_000,
    ) -> None:
        self._store = store
        self._clock = clock
        self._audit = audit
        self.targets = targets or KpiTargets()
        self._max = max_incidents

    async def report(
        self,
        principal: Principal,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        group_by: GroupBy | None = None,
        targets: KpiTargets | None = None,
    ) -> KpiReport:
        """KPIs of the incidents opened in ``[since, until)`` (default: the last 30 days)."""
        require(principal, Permission.INCIDENTS_READ)
        for name, value in (("since", since), ("until", until)):
            if value is not None and value.tzinfo is None:
                raise InvalidInput([FieldError(f"query.{name}", "needs a time zone")])
        end = until or self._clock.now()
        start = since or end - DEFAULT_WINDOW
        if start >= end:
            raise InvalidInput([FieldError("query.since", "must be before until")])
        found, truncated = await asyncio.to_thread(self._load, start, end)
        report = summarise(
            found,
            group_by,
            targets or self.targets,
            since=start,
            until=end,
            truncated=truncated,
        )
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "kpis.report",
            "incident",
            None,
            details={
                "since": start.isoformat(),
                "until": end.isoformat(),
                "group_by": group_by,
                "incidents": report.incidents,
            },
        )
        return report

    async def incident(self, principal: Principal, incident_id: str) -> IncidentIntervals:
        """One incident's intervals (its first cycle), with each unit's turnout and travel."""
        require(principal, Permission.INCIDENTS_READ)
        incident = await asyncio.to_thread(self._store.get_incident, incident_id)
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "kpis.incident",
            "incident",
            incident_id,
            outcome="ok" if incident is not None else "not_found",
        )
        if incident is None:
            raise NotFound("incident", incident_id)
        return await asyncio.to_thread(self._intervals, incident)

    # --- internals (worker thread) -------------------------------------------------------------

    def _load(self, start: datetime, end: datetime) -> tuple[list[IncidentIntervals], bool]:
        seen: set[str] = set()
        out: list[IncidentIntervals] = []
        offset = 0
        while True:
            page = self._store.list_incidents(
                IncidentQuery(updated_since=start, limit=_PAGE, offset=offset)
            )
            for incident in page:
                if incident.id in seen or not start <= incident.opened_at < end:
                    continue
                seen.add(incident.id)
                out.append(self._intervals(incident))
                if len(out) >= self._max:
                    return out, True
            if len(page) < _PAGE:
                return out, False
            offset += len(page)

    def _intervals(self, incident: Incident) -> IncidentIntervals:
        timeline = self._store.incident_timeline(incident.id)
        log = self._store.unit_log(incident_id=incident.id, limit=10_000)
        named = {
            str(e.details.get("unit_id"))
            for e in timeline
            if e.action == "unit_status" and isinstance(e.details.get("agency_id"), str)
        }
        agencies: dict[str, str] = {}
        for unit_id in {e.unit_id for e in log} - named:
            unit = self._store.get_unit(unit_id)
            if unit is not None:
                agencies[unit_id] = unit.agency_id
        return incident_intervals(incident, timeline, log, unit_agencies=agencies)
