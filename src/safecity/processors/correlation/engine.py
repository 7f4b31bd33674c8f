"""The correlation engine: pure, in memory, deterministic given its clock and id factory.

Events join an open incident of the same incident type when they are within that type's radius
and time window (measured on event time, so replayed history correlates as it happened), or when
they carry the correlation id of an event already in it. Otherwise an event that may open an
incident opens one. The engine plans writes; it commits its own state only after the store has
accepted them, so a refused write (a person changed the incident meanwhile) can be re-planned.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from safecity.core.catalogue import COMPATIBLE, IncidentType, classify
from safecity.core.clock import Clock
from safecity.core.events import Event
from safecity.core.geo import EARTH_RADIUS_M, Location, haversine_m
from safecity.core.ids import new_id
from safecity.core.incidents import Incident, IncidentWrite, TimelineEntry

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
class CorrelationConfig:
    default: CorrelationRule = CorrelationRule(250.0, timedelta(minutes=15))
    per_type: Mapping[str, CorrelationRule] = field(default_factory=lambda: dict(DEFAULT_RULES))
    actor: str = "system:correlation"

    def rule(self, incident_type: str) -> CorrelationRule:
        return self.per_type.get(incident_type, self.default)

    @property
    def max_window(self) -> timedelta:
        return max([self.default.window, *(r.window for r in self.per_type.values())])


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
    ) -> _Track | None:
        """The open incident ``event`` should join, or None."""
        cid = event.context.correlation_id
        if cid is not None:
            for track in extra:
                if cid in track.correlation_ids:
                    return track
            incident_id = self._by_correlation.get(cid)
            if incident_id is not None and incident_id in self._tracks:
                return self._tracks[incident_id]
        loc = event.location
        if loc is None:
            return None
        kinds = COMPATIBLE.get(incident_type, frozenset({incident_type}))
        own = self.config.rule(incident_type)
        pool: list[_Track] = []
        for kind in kinds:
            radius = (
                own.radius_m if kind == incident_type else _across(own, self.config.rule(kind))[0]
            )
            pool.extend(self._tracks[i] for i in self._grid(kind).near(loc.lon, loc.lat, radius))
        pool.extend(t for t in extra if t.incident.type in kinds)
        best: _Track | None = None
        best_d = math.inf
        for track in pool:
            inc = track.incident
            if inc.location is None or not inc.is_open:
                continue
            same = inc.type == incident_type
            radius, window = (
                (own.radius_m, own.window) if same else _across(own, self.config.rule(inc.type))
            )
            if not (inc.first_event_at - window <= event.time <= inc.last_event_at + window):
                continue
            d = haversine_m(loc.lon, loc.lat, inc.location.lon, inc.location.lat)
            # Same-type matches win over compatible ones at a similar distance.
            score = d if same else d * 1.5
            if d <= radius and score < best_d:
                best, best_d = track, score
        return best


def _across(a: CorrelationRule, b: CorrelationRule) -> tuple[float, timedelta]:
    # Different but compatible types must be close by both measures: a fight 500 m from a
    # shooting is another situation even though shots are heard that far.
    return min(a.radius_m, b.radius_m), min(a.window, b.window)


class _Planner:
    """One planning pass: copies of touched tracks, the links and timeline they gain."""

    def __init__(self, engine: Correlator) -> None:
        self.engine = engine
        self.now = engine._clock.now()
        self.staged: dict[str, _Track] = {}
        self.base_version: dict[str, int | None] = {}
        self.links: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.timeline: dict[str, list[TimelineEntry]] = defaultdict(list)
        self.opened: list[str] = []

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
                self._open(event, verdict.incident_type, verdict.priority, verdict.title)
            return
        incident_id = found.incident.id
        track = self.staged.get(incident_id)
        if track is None:
            track = self.staged[incident_id] = found.copy()
            self.base_version[incident_id] = found.incident.version
        self._join(track, event, verdict.incident_type, verdict.priority, verdict.title)

    def _open(self, event: Event, incident_type: str, priority: int, title: str) -> None:
        incident_id = self.engine._new_id(self.now)
        incident = Incident(
            id=incident_id,
            type=incident_type,
            title=title,
            priority=priority,
            location=event.location,
            opened_at=self.now,
            updated_at=self.now,
            first_event_at=event.time,
            last_event_at=event.time,
            event_count=1,
        )
        track = _Track(incident)
        self._absorb(track, event)
        self.staged[incident_id] = track
        self.base_version[incident_id] = None
        self.opened.append(incident_id)
        self.links[incident_id].append(event.key)
        self.timeline[incident_id].append(
            TimelineEntry(
                incident_id=incident_id,
                at=self.now,
                actor=self.engine.config.actor,
                action="opened",
                details={
                    "by_event": {"source": event.source, "id": event.id, "type": event.type},
                    "priority": priority,
                    "title": title,
                },
            )
        )

    @staticmethod
    def _absorb(track: _Track, event: Event) -> None:
        if event.context.correlation_id is not None:
            track.correlation_ids.add(event.context.correlation_id)
        if event.location is not None:
            w = max(event.confidence, 0.05)
            track.lon_sum += event.location.lon * w
            track.lat_sum += event.location.lat * w
            track.weight += w

    def _join(
        self, track: _Track, event: Event, incident_type: str, priority: int, title: str
    ) -> None:
        self._absorb(track, event)
        inc = track.incident
        update: dict[str, object] = {
            "event_count": inc.event_count + 1,
            "first_event_at": min(inc.first_event_at, event.time),
            "last_event_at": max(inc.last_event_at, event.time),
        }
        if priority < inc.priority:
            # The most urgent view of the situation names it: a help request that turns out to
            # be a shooting becomes a shooting incident.
            update["priority"] = priority
            update["title"] = title
            update["type"] = incident_type
            self.timeline[inc.id].append(
                TimelineEntry(
                    incident_id=inc.id,
                    at=self.now,
                    actor=self.engine.config.actor,
                    action="priority_changed",
                    details={
                        "from": inc.priority,
                        "to": priority,
                        "type": incident_type,
                        "because_of": {"source": event.source, "id": event.id, "type": event.type},
                    },
                )
            )
        track.incident = inc.model_copy(update=update)
        self.links[inc.id].append(event.key)

    def _finish(self) -> CorrelationPlan:
        writes: list[IncidentWrite] = []
        for incident_id, track in self.staged.items():
            base = self.base_version[incident_id]
            update: dict[str, object] = {"updated_at": self.now, "version": (base or 0) + 1}
            if track.weight > 0:
                update["location"] = Location(
                    lon=track.lon_sum / track.weight, lat=track.lat_sum / track.weight
                )
            track.incident = track.incident.model_copy(update=update)
            links = self.links[incident_id]
            joined = links[1:] if base is None else links
            timeline = list(self.timeline[incident_id])
            if joined:
                timeline.append(
                    TimelineEntry(
                        incident_id=incident_id,
                        at=self.now,
                        actor=self.engine.config.actor,
                        action="events_linked",
                        details={
                            "count": len(joined),
                            "events": [{"source": s, "id": i} for s, i in joined[:50]],
                        },
                    )
                )
            writes.append(
                IncidentWrite(
                    incident=track.incident,
                    expected_version=base,
                    link_events=tuple(links),
                    timeline=tuple(timeline),
                )
            )
        return CorrelationPlan(writes=writes, opened=list(self.opened), _tracks=self.staged)
