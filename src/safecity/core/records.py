"""Records the platform keeps about itself: stored events, dead letters and audit entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from safecity.core.events import Event
from safecity.core.geo import BBox


@dataclass(frozen=True)
class StoredEvent:
    """An accepted event with the store's sequence number and the time it was received."""

    seq: int
    received_at: datetime
    event: Event
    incident_id: str | None = None
    #: Why it was linked to ``incident_id`` (rule, distance, time gap), when it is linked.
    link_reason: dict[str, Any] | None = None


@dataclass(frozen=True)
class AppendResult:
    """Outcome of storing one event: its sequence number and whether it had been seen before."""

    seq: int
    duplicate: bool


@dataclass(frozen=True)
class EventQuery:
    start: datetime | None = None
    end: datetime | None = None
    bbox: BBox | None = None
    types: tuple[str, ...] = ()
    source: str | None = None
    after_seq: int | None = None
    limit: int = 100


@dataclass(frozen=True)
class IncidentQuery:
    statuses: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    bbox: BBox | None = None
    updated_since: datetime | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True)
class DeadLetter:
    """Input that was refused, kept byte for byte with where it came from and why."""

    received_at: datetime
    channel: str
    source: str | None
    content_type: str | None
    raw: bytes
    errors: tuple[dict[str, str], ...]
    id: int | None = None


@dataclass(frozen=True)
class AuditRecord:
    """One read or change of protected data. ``hash`` chains each record to the one before."""

    at: datetime
    actor: str
    agency_id: str | None
    purpose: str
    action: str
    object_type: str
    object_id: str | None
    outcome: str = "ok"
    details: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None
    prev_hash: str = ""
    hash: str = ""
