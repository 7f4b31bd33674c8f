"""What a set of events amounts to as an incident: used when a person merges or splits.

Correlation builds these figures one event at a time; a merge or split starts again from the
events themselves, so the result is the same as if correlation had grouped them that way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from safecity.core.catalogue import Classification, classify
from safecity.core.events import Event
from safecity.core.geo import Location
from safecity.core.incidents import Incident, IncidentSignals, location_weight
from safecity.core.priority import PriorityAssessment, PriorityInputs, PriorityModel


@dataclass(frozen=True)
class Composition:
    count: int
    signals: IncidentSignals
    location: Location | None
    first_event_at: Event
    last_event_at: Event
    leading: Classification | None


def compose(events: Sequence[Event]) -> Composition:
    """Signals, weighted position, time span and leading classification of ``events``."""
    if not events:
        raise ValueError("an incident needs at least one event")
    signals = IncidentSignals()
    leading: Classification | None = None
    lon = lat = weight = 0.0
    for event in events:
        verdict = classify(event)
        signals = signals.with_event(event, verdict.priority if verdict else None)
        if verdict is not None and (leading is None or verdict.priority < leading.priority):
            leading = verdict
        if event.location is not None:
            w = location_weight(event)
            lon += event.location.lon * w
            lat += event.location.lat * w
            weight += w
    return Composition(
        count=len(events),
        signals=signals,
        location=Location(lon=lon / weight, lat=lat / weight) if weight else None,
        first_event_at=min(events, key=lambda e: e.time),
        last_event_at=max(events, key=lambda e: e.time),
        leading=leading,
    )


def reassess(
    model: PriorityModel, incident: Incident, composition: Composition
) -> PriorityAssessment:
    """The score for ``incident`` made of ``composition``; a person's override is kept."""
    loc = composition.location
    assessment = model.assess(
        PriorityInputs(
            incident_type=incident.type,
            classified_priority=composition.signals.classified_priority,
            max_severity=composition.signals.max_severity,
            max_confidence=composition.signals.max_confidence,
            sources=len(composition.signals.sources),
            lon=loc.lon if loc else None,
            lat=loc.lat if loc else None,
            at=composition.last_event_at.time,
        )
    )
    if incident.assessment is not None and incident.assessment.override is not None:
        assessment = assessment.model_copy(update={"override": incident.assessment.override})
    return assessment
