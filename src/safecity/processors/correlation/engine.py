"""The correlation engine: pure, in memory, deterministic given its clock and id factory.

Events join an open incident of the same incident type when they are within that type's radius
and time window (measured on event time, so replayed history correlates as it happened); events
of different kinds join when a fusion rule says they describe one situation (a gunshot, a fight
on camera and a call within 250 m and 3 minutes); and an event carrying the correlation id of an
event already in an incident joins that incident. Otherwise an event that may open an incident
opens one. Every link records why it was made.

The engine plans writes; it commits its own state only after the store has accepted them, so a
refused write (a person changed the incident meanwhile) can be re-planned. Each touched incident
is re-scored by the explainable priority model.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from safecity.core.areas import AreaMap
from safecity.core.catalogue import COMPATIBLE_PAIRS, Classification, IncidentType, classify
from safecity.core.clock import Clock
from safecity.core.events import Event
from safecity.core.geo import EARTH_RADIUS_M, Location, haversine_m
from safecity.core.ids import new_id
from safecity.core.incidents import (
    Incident,
    IncidentSignals,
    IncidentWrite,
    TimelineEntry,
    location_weight,
)
from safecity.core.priority import PriorityInputs, PriorityModel

T = IncidentType


@dataclass(frozen=True)
class CorrelationRule:
    """How far apart (metres) and how far apart in time events of one incident type may be."""

    radius_m: float
    window: timedelta

    def __post_init__(self) -> None:
        if not (0 < self.radius_m <= 50_000):
            raise ValueError("radius_m must be in (0, 50000]")
        if not (timedelta(0) < self.window <= timedelta(days=7)):
            raise ValueError("window must be positive and at most 7 days")


#: Defaults per incident type. Shots are heard far away and calls follow them for minutes;
#: a failed lamp or full bin keeps reporting the same fault for a day at the same spot.
DEFAULT_RULES: dict[str, CorrelationRule] = {
    T.SHOOTING: CorrelationRule(600.0, timedelta(minutes=10)),
    T.FIRE: CorrelationRule(300.0, timedelta(minutes=30)),
    T.VIOLENCE: CorrelationRule(200.0, timedelta(minutes=15)),
    T.HELP_REQUEST: CorrelationRule(150.0, timedelta(minutes=15)),
    T.MEDICAL: CorrelationRule(150.0, timedelta(minutes=15)),
    T.TRAFFIC: CorrelationRule(300.0, timedelta(minutes=20)),
    T.CROWD: CorrelationRule(300.0, timedelta(minutes=30)),
    T.PUBLIC_ORDER: CorrelationRule(200.0, timedelta(minutes=20)),
    T.PROPERTY_CRIME: CorrelationRule(200.0, timedelta(minutes=30)),
    T.NOISE: CorrelationRule(200.0, timedelta(hours=1)),
    T.INFRASTRUCTURE: CorrelationRule(30.0, timedelta(hours=24)),
    T.WASTE_COLLECTION: CorrelationRule(30.0, timedelta(hours=24)),
}


@dataclass(frozen=True)
class FusionRule:
    """Events of different kinds that describe one situation when this close in space and time.

    An event joins an open incident of another incident type under this rule when the rule
    admits the event (its type is in ``event_types`` and its classified incident type in
    ``incident_types``; an empty set admits any) and the incident already holds an event the
    rule admits. Incidents of the event's own type follow that type's rule instead, except
    under ``same_incident_type``, which is for duplicates (two citizen reports of one thing).
    """

    name: str
    radius_m: float
    window: timedelta
    event_types: frozenset[str] = frozenset()
    incident_types: frozenset[str] = frozenset()
    same_incident_type: bool = False

    def __post_init__(self) -> None:
        CorrelationRule(self.radius_m, self.window)  # the same bounds apply

    def admits(self, event_type: str, incident_type: str) -> bool:
        return (not self.event_types or event_type in self.event_types) and (
            not self.incident_types or incident_type in self.incident_types
        )

    def admits_incident(self, incident: Incident) -> bool:
        if self.incident_types and incident.type not in self.incident_types:
            return False
        if not self.event_types:
            return True
        return any(t in self.event_types for t in incident.signals.event_types)


#: The situations the issue names: shots with the fight, calls and reports around them; and
#: citizens reporting the same thing twice.
SHOTS_FIRED = FusionRule(
    "shots-fired",
    250.0,
    timedelta(minutes=3),
    event_types=frozenset(
        {
            "gunshot.located",
            "acoustic.pulse",
            "camera.abnormal",
            "call.emergency",
            "citizen.report",
            "lamp.emergency_button",
        }
    ),
    incident_types=frozenset({T.SHOOTING, T.VIOLENCE, T.HELP_REQUEST, T.MEDICAL, T.PUBLIC_ORDER}),
)
DUPLICATE_REPORTS = FusionRule(
    "duplicate-citizen-reports",
    50.0,
    timedelta(hours=24),
    event_types=frozenset({"citizen.report"}),
    same_incident_type=True,
)


def pair_rules(per_type: Mapping[str, CorrelationRule] = DEFAULT_RULES) -> tuple[FusionRule, ...]:
    """One fusion rule per compatible pair of incident types, from those types' own rules."""
    # Compatible incident types must be close by both types' rules: a fight 500 m from a
    # shooting is another situation even though shots are heard that far.
    rules = []
    for a, b in COMPATIBLE_PAIRS:
        ra, rb = per_type.get(a), per_type.get(b)
        if ra is None or rb is None:
            continue
        rules.append(
            FusionRule(
                f"{a}+{b}",
                min(ra.radius_m, rb.radius_m),
                min(ra.window, rb.window),
                incident_types=frozenset({a, b}),
            )
        )
    return tuple(rules)


DEFAULT_FUSION: tuple[FusionRule, ...] = (SHOTS_FIRED, DUPLICATE_REPORTS, *pair_rules())


@dataclass(frozen=True)
class CorrelationConfig:
    default: CorrelationRule = CorrelationRule(250.0, timedelta(minutes=15))
    per_type: Mapping[str, CorrelationRule] = field(default_factory=lambda: dict(DEFAULT_RULES))
    fusion: tuple[FusionRule, ...] = DEFAULT_FUSION
    priority: PriorityModel = field(default_factory=PriorityModel)
    areas: AreaMap = field(default_factory=AreaMap)
    actor: str = "system:correlation"

    def rule(self, incident_type: str) -> CorrelationRule:
        return self.per_type.get(incident_type, self.default)

    @property
    def max_window(self) -> timedelta:
        return max(
            [
                self.default.window,
                *(r.window for r in self.per_type.values()),
                *(f.window for f in self.fusion),
            ]
        )


@dataclass
class _Track:
    """What the engine knows of one open incident, beyond the incident itself."""

    incident: Incident
    lon_sum: float = 0.0
    lat_sum: float = 0.0
    weight: float = 0.0
    correlation_ids: set[str] = field(default_factory=set)
    cell: tuple[int, int] | None = None

    @classmethod
    def of(cls, incident: Incident) -> _Track:
        track = cls(incident)
        if incident.location is not None:
            w = float(max(incident.event_count, 1))
            track.lon_sum, track.lat_sum, track.weight = (
                incident.location.lon * w,
                incident.location.lat * w,
                w,
            )
        return track

    def copy(self) -> _Track:
        return replace(self, correlation_ids=set(self.correlation_ids))


@dataclass(frozen=True)
class CorrelationPlan:
    """The writes one batch of events causes, and what to tell the rest of the system."""

    writes: list[IncidentWrite]
    opened: list[str]
    _tracks: dict[str, _Track]


def _cell_size_deg(radius_m: float) -> float:
    return math.degrees(radius_m / EARTH_RADIUS_M)


class _Grid:
    """Square-degree cells of one incident type; a search covers the radius's bounding box."""

    def __init__(self, radius_m: float) -> None:
        self.size = _cell_size_deg(radius_m)
        self.cells: dict[tuple[int, int], set[str]] = defaultdict(set)

    def key(self, lon: float, lat: float) -> tuple[int, int]:
        return (math.floor(lon / self.size), math.floor(lat / self.size))

    def near(self, lon: float, lat: float, radius_m: float) -> list[str]:
        if not self.cells:
            return []
        dlat = math.degrees(radius_m / EARTH_RADIUS_M)
        dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
        size = self.size
        x0, x1 = math.floor((lon - dlon) / size), math.floor((lon + dlon) / size)
        y0, y1 = math.floor((lat - dlat) / size), math.floor((lat + dlat) / size)
        found: list[str] = []
        cells = self.cells
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                ids = cells.get((x, y))
                if ids:
                    found.extend(ids)
        return found


class Correlator:
    """Thread-safe; plan and commit may be called from worker threads."""

    def __init__(
        self,
        config: CorrelationConfig,
        clock: Clock,
        id_factory: Callable[[datetime], str] = lambda at: new_id("inc", at),
    ) -> None:
        self.config = config
        self._clock = clock
        self._new_id = id_factory
        self._lock = threading.RLock()
        self._tracks: dict[str, _Track] = {}
        self._grids: dict[str, _Grid] = {}
        self._by_correlation: dict[str, str] = {}
        self._newest_event: datetime | None = None
        self._since_prune = 0

    # --- state ---------------------------------------------------------------------------

    def warm(self, incidents: Iterable[Incident]) -> None:
        """Load open incidents (after a restart) so new events can still join them."""
        for incident in incidents:
            self.observe(incident)

    def observe(self, incident: Incident) -> None:
        """Learn of a change made elsewhere (a person closed, moved or reprioritised it)."""
        with self._lock:
            current = self._tracks.get(incident.id)
            if current is not None and current.incident.version >= incident.version:
                return
            if not incident.is_open:
                if current is not None:
                    self._drop(current)
                return
            track = _Track.of(incident)
            if current is not None:
                track.correlation_ids = current.correlation_ids
                if current.incident.location == incident.location:
                    track.lon_sum, track.lat_sum, track.weight = (
                        current.lon_sum,
                        current.lat_sum,
                        current.weight,
                    )
                self._drop(current)
            self._place(track)

    def open_incident_ids(self) -> list[str]:
        with self._lock:
            return list(self._tracks)

    def _grid(self, incident_type: str) -> _Grid:
        grid = self._grids.get(incident_type)
        if grid is None:
            grid = self._grids[incident_type] = _Grid(self.config.rule(incident_type).radius_m)
        return grid

    def _place(self, track: _Track) -> None:
        self._tracks[track.incident.id] = track
        loc = track.incident.location
        if loc is not None:
            grid = self._grid(track.incident.type)
            track.cell = grid.key(loc.lon, loc.lat)
            grid.cells[track.cell].add(track.incident.id)
        for cid in track.correlation_ids:
            self._by_correlation[cid] = track.incident.id

    def _drop(self, track: _Track) -> None:
        self._tracks.pop(track.incident.id, None)
        if track.cell is not None:
            cell = self._grid(track.incident.type).cells.get(track.cell)
            if cell is not None:
                cell.discard(track.incident.id)
                if not cell:
                    del self._grid(track.incident.type).cells[track.cell]
        for cid in track.correlation_ids:
            if self._by_correlation.get(cid) == track.incident.id:
                del self._by_correlation[cid]

    # --- planning --------------------------------------------------------------------------

    def plan(self, events: Sequence[Event]) -> CorrelationPlan:
        """Decide what ``events`` do to incidents, without changing the engine's state."""
        with self._lock:
            return _Planner(self).run(events)

    def commit(self, plan: CorrelationPlan) -> None:
        """Adopt a plan whose writes the store accepted."""
        with self._lock:
            for incident_id, track in plan._tracks.items():
                old = self._tracks.get(incident_id)
                if old is not None:
                    self._drop(old)
                if track.incident.is_open:
                    self._place(track)
                if self._newest_event is None or track.incident.last_event_at > self._newest_event:
                    self._newest_event = track.incident.last_event_at
            self._since_prune += len(plan.writes)
            if self._since_prune >= 1000:
                self._since_prune = 0
                self._prune()

    def _prune(self) -> None:
        # Incidents no new event can join any more need no place in memory (they stay open
        # in the store until a person closes them).
        if self._newest_event is None:
            return
        for track in list(self._tracks.values()):
            window = self.config.rule(track.incident.type).window
            if track.incident.last_event_at < self._newest_event - window:
                self._drop(track)

    def candidates(
        self, event: Event, incident_type: str, extra: Iterable[_Track]
    ) -> tuple[_Track, dict[str, Any]] | None:
        """The open incident ``event`` should join and why, or None."""
        extra = list(extra)
        cid = event.context.correlation_id
        if cid is not None:
            why = {"rule": "correlation_id", "correlation_id": cid}
            for track in extra:
                if cid in track.correlation_ids:
                    return track, why
            incident_id = self._by_correlation.get(cid)
            if incident_id is not None and incident_id in self._tracks:
                return self._tracks[incident_id], why
        loc = event.location
        if loc is None:
            return None
        own = self.config.rule(incident_type)
        # (score, incident id) orders candidates; same-type matches win over fused ones at a
        # similar distance, and the id breaks ties so the choice never depends on set order.
        best: tuple[float, str, _Track, dict[str, Any]] | None = None

        def consider(track: _Track, radius: float, window: timedelta, why: dict[str, Any]) -> None:
            nonlocal best
            inc = track.incident
            if inc.location is None or not inc.is_open:
                return
            if not (inc.first_event_at - window <= event.time <= inc.last_event_at + window):
                return
            d = haversine_m(loc.lon, loc.lat, inc.location.lon, inc.location.lat)
            if d > radius:
                return
            score = d if why["rule"] == "same_type" else d * 1.5
            if best is None or (score, inc.id) < best[:2]:
                gap = max(
                    (inc.first_event_at - event.time).total_seconds(),
                    (event.time - inc.last_event_at).total_seconds(),
                    0.0,
                )
                reason = {
                    **why,
                    "distance_m": round(d, 1),
                    "radius_m": radius,
                    "gap_s": round(gap, 1),
                    "window_s": window.total_seconds(),
                }
                best = (score, inc.id, track, reason)

        same = {"rule": "same_type", "incident_type": incident_type}
        for track in self._near(incident_type, loc, own.radius_m, extra):
            if track.incident.type == incident_type:
                consider(track, own.radius_m, own.window, same)
        for rule in self.config.fusion:
            if not rule.admits(event.type, incident_type):
                continue
            kinds = (
                {incident_type}
                if rule.same_incident_type
                else rule.incident_types or set(self._grids) | {t.incident.type for t in extra}
            )
            why = {"rule": "fusion", "fusion_rule": rule.name, "incident_type": incident_type}
            for kind in sorted(kinds):
                if kind == incident_type and not rule.same_incident_type:
                    continue  # same-type matches follow the type's own rule
                for track in self._near(kind, loc, rule.radius_m, extra):
                    if track.incident.type == kind and rule.admits_incident(track.incident):
                        consider(track, rule.radius_m, rule.window, why)
        return (best[2], best[3]) if best is not None else None

    def _near(
        self, incident_type: str, loc: Location, radius_m: float, extra: list[_Track]
    ) -> list[_Track]:
        grid = self._grids.get(incident_type)
        found = [self._tracks[i] for i in grid.near(loc.lon, loc.lat, radius_m)] if grid else []
        found.extend(t for t in extra if t.incident.type == incident_type)
        return found


class _Planner:
    """One planning pass: copies of touched tracks, the links and timeline they gain."""

    def __init__(self, engine: Correlator) -> None:
        self.engine = engine
        self.now = engine._clock.now()
        self.staged: dict[str, _Track] = {}
        self.base: dict[str, Incident | None] = {}
        self.links: dict[str, list[tuple[tuple[str, str], dict[str, Any]]]] = defaultdict(list)
        self.timeline: dict[str, list[TimelineEntry]] = defaultdict(list)
        self.opened: list[str] = []
        self.openers: dict[str, Event] = {}
        self.evidence: dict[str, list[tuple[str, str]]] = defaultdict(list)

    def run(self, events: Sequence[Event]) -> CorrelationPlan:
        for event in events:
            self._one(event)
        return self._finish()

    def _one(self, event: Event) -> None:
        verdict = classify(event)
        if verdict is None:
            return
        new_tracks = [self.staged[i] for i in self.opened]
        found = self.engine.candidates(event, verdict.incident_type, new_tracks)
        if found is None:
            if verdict.opens:
                self._open(event, verdict)
                self._add_evidence(self.staged[self.opened[-1]], event)
            return
        match, reason = found
        incident_id = match.incident.id
        track = self.staged.get(incident_id)
        if track is None:
            track = self.staged[incident_id] = match.copy()
            self.base[incident_id] = match.incident
        self._join(track, event, verdict, reason)
        self._add_evidence(track, event)

    def _add_evidence(self, track: _Track, event: Event) -> None:
        # A located gunshot names the pulses it was located from; they arrived before any
        # incident existed, so they are linked now, as its evidence.
        refs = getattr(event.data, "evidence", None)
        if not refs:
            return
        keys = [(r.source, r.id) for r in refs]
        self.evidence[track.incident.id].extend(keys)
        track.incident = track.incident.model_copy(
            update={"event_count": track.incident.event_count + len(keys)}
        )

    def _entry(self, incident_id: str, action: str, details: dict[str, Any]) -> TimelineEntry:
        return TimelineEntry(
            incident_id=incident_id,
            at=self.now,
            actor=self.engine.config.actor,
            action=action,
            details=details,
        )

    def _open(self, event: Event, verdict: Classification) -> None:
        incident_id = self.engine._new_id(self.now)
        incident = Incident(
            id=incident_id,
            type=verdict.incident_type,
            title=verdict.title,
            priority=verdict.priority,
            location=event.location,
            opened_at=self.now,
            updated_at=self.now,
            first_event_at=event.time,
            last_event_at=event.time,
            event_count=1,
            signals=IncidentSignals().with_event(event, verdict.priority),
        )
        track = _Track(incident)
        self._absorb(track, event)
        self.staged[incident_id] = track
        self.base[incident_id] = None
        self.opened.append(incident_id)
        self.openers[incident_id] = event
        self.links[incident_id].append((event.key, {"rule": "opened", "event_type": event.type}))

    @staticmethod
    def _absorb(track: _Track, event: Event) -> None:
        if event.context.correlation_id is not None:
            track.correlation_ids.add(event.context.correlation_id)
        if event.location is not None:
            w = location_weight(event)
            track.lon_sum += event.location.lon * w
            track.lat_sum += event.location.lat * w
            track.weight += w

    def _join(
        self, track: _Track, event: Event, verdict: Classification, reason: dict[str, Any]
    ) -> None:
        self._absorb(track, event)
        inc = track.incident
        update: dict[str, object] = {
            "event_count": inc.event_count + 1,
            "first_event_at": min(inc.first_event_at, event.time),
            "last_event_at": max(inc.last_event_at, event.time),
            "signals": inc.signals.with_event(event, verdict.priority),
        }
        if verdict.priority < inc.signals.classified_priority and verdict.incident_type != inc.type:
            # The most urgent view of the situation names it: a help request that turns out to
            # be a shooting becomes a shooting incident.
            update["title"] = verdict.title
            update["type"] = verdict.incident_type
            self.timeline[inc.id].append(
                self._entry(
                    inc.id,
                    "reclassified",
                    {
                        "from": inc.type,
                        "to": verdict.incident_type,
                        "because_of": {"source": event.source, "id": event.id, "type": event.type},
                    },
                )
            )
        track.incident = inc.model_copy(update=update)
        self.links[inc.id].append((event.key, {**reason, "event_type": event.type}))

    def _finish(self) -> CorrelationPlan:
        config = self.engine.config
        writes: list[IncidentWrite] = []
        for incident_id, track in self.staged.items():
            base = self.base[incident_id]
            inc = track.incident
            update: dict[str, object] = {
                "updated_at": self.now,
                "version": (base.version if base else 0) + 1,
            }
            location = inc.location
            if track.weight > 0:
                location = Location(
                    lon=track.lon_sum / track.weight, lat=track.lat_sum / track.weight
                )
                update["location"] = location
            if location is not None and len(config.areas):
                update["area"] = config.areas.locate(location.lon, location.lat)
            assessment = config.priority.assess(
                PriorityInputs(
                    incident_type=inc.type,
                    classified_priority=inc.signals.classified_priority,
                    max_severity=inc.signals.max_severity,
                    max_confidence=inc.signals.max_confidence,
                    sources=len(inc.signals.sources),
                    lon=location.lon if location else None,
                    lat=location.lat if location else None,
                    at=inc.last_event_at,
                )
            )
            if inc.assessment is not None and inc.assessment.override is not None:
                assessment = assessment.model_copy(update={"override": inc.assessment.override})
            update["assessment"] = assessment
            update["priority"] = assessment.priority
            track.incident = inc.model_copy(update=update)
            links = self.links[incident_id]
            timeline: list[TimelineEntry] = []
            factors = [f.model_dump() for f in assessment.factors]
            if base is None:
                opener = self.openers[incident_id]
                timeline.append(
                    self._entry(
                        incident_id,
                        "opened",
                        {
                            "by_event": {
                                "source": opener.source,
                                "id": opener.id,
                                "type": opener.type,
                            },
                            "priority": assessment.priority,
                            "score": assessment.score,
                            "factors": factors,
                            "title": track.incident.title,
                        },
                    )
                )
            timeline.extend(self.timeline[incident_id])
            if base is not None and base.priority != assessment.priority:
                timeline.append(
                    self._entry(
                        incident_id,
                        "priority_changed",
                        {
                            "from": base.priority,
                            "to": assessment.priority,
                            "score": assessment.score,
                            "factors": factors,
                        },
                    )
                )
            joined = links[1:] if base is None else links
            if joined:
                timeline.append(
                    self._entry(
                        incident_id,
                        "events_linked",
                        {
                            "count": len(joined),
                            "events": [
                                {"source": s, "id": i, "reason": why} for (s, i), why in joined[:50]
                            ],
                        },
                    )
                )
            writes.append(
                IncidentWrite(
                    incident=track.incident,
                    expected_version=base.version if base else None,
                    link_events=tuple(key for key, _ in links),
                    link_reasons=tuple(why for _, why in links),
                    evidence_events=tuple(self.evidence.get(incident_id, ())),
                    evidence_reason={"rule": "evidence", "of": "gunshot.located"},
                    timeline=tuple(timeline),
                )
            )
        return CorrelationPlan(writes=writes, opened=list(self.opened), _tracks=self.staged)
