"""Incidents: what operators act on. A lifecycle, linked events and a timeline of every change."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from safecity.core.errors import Conflict
from safecity.core.events import Event, Severity
from safecity.core.geo import Location
from safecity.core.priority import PriorityAssessment


class IncidentStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    CLOSED = "closed"


S = IncidentStatus

#: Allowed status changes. Closing is possible from any open state (false alarm, duplicate);
#: a closed incident can only be reopened, which makes it acknowledged (a person reopened it).
TRANSITIONS: dict[IncidentStatus, frozenset[IncidentStatus]] = {
    S.NEW: frozenset({S.ACKNOWLEDGED, S.DISPATCHED, S.CLOSED}),
    S.ACKNOWLEDGED: frozenset({S.DISPATCHED, S.CLOSED}),
    S.DISPATCHED: frozenset({S.ON_SCENE, S.ACKNOWLEDGED, S.CLOSED}),
    S.ON_SCENE: frozenset({S.CLOSED}),
    S.CLOSED: frozenset({S.ACKNOWLEDGED}),
}


def check_transition(current: IncidentStatus, target: IncidentStatus) -> None:
    """Raise :class:`Conflict` unless ``current -> target`` is allowed."""
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(t.value for t in TRANSITIONS[current])) or "none"
        raise Conflict(f"cannot go from {current.value} to {target.value}; allowed: {allowed}")


class IncidentSignals(BaseModel):
    """What the linked events say, kept so priority and fusion survive a restart."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    classified_priority: int = Field(default=5, ge=1, le=5)
    max_severity: Severity = Severity.UNKNOWN
    max_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    #: Distinct event sources (devices, systems, channels); capped, the count is what matters.
    sources: tuple[str, ...] = ()
    #: Distinct event types linked, for fusion rules that ask "does it hold a gunshot?".
    event_types: tuple[str, ...] = ()

    def with_event(self, event: Event, classified_priority: int | None) -> IncidentSignals:
        """These signals once ``event`` is linked (``classified_priority``: what the catalogue
        makes of it, None when it classifies it as nothing)."""
        sources = self.sources
        if event.source not in sources and len(sources) < MAX_SOURCES:
            sources = (*sources, event.source)
        types = self.event_types
        if event.type not in types:
            types = (*types, event.type)
        severity = self.max_severity
        if _SEVERITY_RANK[event.severity] > _SEVERITY_RANK[severity]:
            severity = event.severity
        priority = self.classified_priority
        if classified_priority is not None:
            priority = min(priority, classified_priority)
        return IncidentSignals(
            classified_priority=priority,
            max_severity=severity,
            max_confidence=max(self.max_confidence, event.confidence),
            sources=sources,
            event_types=types,
        )


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


def location_weight(event: Event) -> float:
    """How much an event pulls its incident's position: its confidence, never quite nothing."""
    return max(event.confidence, 0.05)


MAX_SOURCES = 100


class ChecklistItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    text: str
    agency_kind: str | None = Field(default=None, description="Which kind of agency does it")
    done_at: datetime | None = None
    done_by: str | None = None
    note: str | None = None


class ProcedureState(BaseModel):
    """The procedure for this incident's type, and how far through its checklist we are."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    procedure_id: str
    name: str
    required_capabilities: tuple[str, ...] = ()
    items: tuple[ChecklistItem, ...] = ()

    @property
    def done(self) -> int:
        return sum(1 for item in self.items if item.done_at is not None)


class Incident(BaseModel):
    """The current state of one incident. Every change makes a new version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    type: str
    title: str
    priority: int = Field(ge=1, le=5, description="1 is the most urgent")
    status: IncidentStatus = IncidentStatus.NEW
    location: Location | None = None
    opened_at: datetime
    updated_at: datetime
    first_event_at: datetime
    last_event_at: datetime
    closed_at: datetime | None = None
    closure_reason: str | None = None
    event_count: int = Field(default=0, ge=0)
    agency_id: str | None = Field(default=None, description="Lead agency, once assigned")
    assignee: str | None = Field(default=None, description="Responsible user, once assigned")
    units: tuple[str, ...] = ()
    summary: str = ""
    version: int = Field(default=1, ge=1)
    signals: IncidentSignals = IncidentSignals()
    assessment: PriorityAssessment | None = None
    area: str | None = Field(default=None, description="Named operational area it lies in")
    agencies: tuple[str, ...] = Field(
        default=(), description="Agencies involved: they see the incident and its channel"
    )
    procedure: ProcedureState | None = None
    merged_into: str | None = Field(
        default=None, description="Set when an operator merged it into another incident"
    )

    @property
    def is_open(self) -> bool:
        return self.status is not IncidentStatus.CLOSED


class TimelineEntry(BaseModel):
    """One change to an incident, who made it and when. Append-only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    incident_id: str
    at: datetime
    actor: str
    action: str
    details: dict[str, Any] = Field(default_factory=dict)
    seq: int | None = None


class IncidentWrite(BaseModel):
    """One atomic change to store: the new state, the version it replaces, links and timeline.

    ``expected_version`` is None for a new incident; otherwise the store refuses the write with
    :class:`Conflict` when someone else changed the incident first.
    """

    model_config = ConfigDict(frozen=True)

    incident: Incident
    expected_version: int | None
    link_events: tuple[tuple[str, str], ...] = ()
    #: Why each event in ``link_events`` was linked (same order), e.g. the fusion rule, the
    #: distance and the time gap. Empty means "no reason recorded" for all of them.
    link_reasons: tuple[dict[str, Any], ...] = ()
    #: Events moved here from another incident by a person (merge, split), as (source, id,
    #: incident it is in now); the store checks each is still there before moving it.
    move_events: tuple[tuple[str, str, str], ...] = ()
    move_reason: dict[str, Any] = Field(default_factory=dict)
    #: Events another event was derived from (the pulses a shot was located from), linked
    #: with ``evidence_reason`` unless already in an incident (then left where they are).
    evidence_events: tuple[tuple[str, str], ...] = ()
    evidence_reason: dict[str, Any] = Field(default_factory=dict)
    timeline: tuple[TimelineEntry, ...] = ()

    @model_validator(mode="after")
    def _reasons_match_links(self) -> IncidentWrite:
        if self.link_reasons and len(self.link_reasons) != len(self.link_events):
            raise ValueError("link_reasons must be empty or give one reason per linked event")
        return self
