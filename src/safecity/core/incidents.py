"""Incidents: what operators act on. A lifecycle, linked events and a timeline of every change."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from safecity.core.errors import Conflict
from safecity.core.geo import Location


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
    timeline: tuple[TimelineEntry, ...] = ()
