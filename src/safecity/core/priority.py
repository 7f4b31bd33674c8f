"""Explainable incident priority: a points score from named factors, and an operator override.

Every factor an operator sees is one line with its points and a plain reason, so "why is this a
priority 1?" has an answer on screen. The score is about the situation and the place (what
happened, how sure we are, how many independent sources agree, what is nearby, when), never
about a person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from safecity.core.catalogue import IncidentType
from safecity.core.events import Severity
from safecity.core.places import CHILDREN, PlaceIndex, PlaceKind

T = IncidentType

#: Points for what the most urgent linked event says (its kind and detail, as the catalogue
#: classifies it). Each lies mid-band, so on its own it keeps the catalogue's priority.
TYPE_POINTS: dict[int, float] = {1: 85.0, 2: 65.0, 3: 45.0, 4: 25.0, 5: 8.0}
#: Score at or above which each priority applies (1 is the most urgent).
BANDS: tuple[tuple[float, int], ...] = ((80.0, 1), (60.0, 2), (40.0, 3), (20.0, 4))
SEVERITY_POINTS: dict[Severity, float] = {
    Severity.EXTREME: 8.0,
    Severity.SEVERE: 5.0,
    Severity.MODERATE: 2.0,
}
#: Situations where people may be hurt: time of day and vulnerable places bear on these.
PERSON_SAFETY = frozenset(
    {T.SHOOTING, T.VIOLENCE, T.HELP_REQUEST, T.MEDICAL, T.PUBLIC_ORDER, T.CROWD, T.FIRE, T.TRAFFIC}
)


class PriorityFactor(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="type, severity, confidence, corroboration, places, time_of_day")
    points: float
    detail: str


class PriorityOverride(BaseModel):
    """A person set the priority; the score keeps being computed and shown beside it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    priority: int = Field(ge=1, le=5)
    reason: str = Field(min_length=1, max_length=500)
    by: str
    at: datetime


class PriorityAssessment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    score: float
    computed_priority: int = Field(ge=1, le=5)
    factors: tuple[PriorityFactor, ...] = ()
    override: PriorityOverride | None = None

    @property
    def priority(self) -> int:
        """The priority in force: the override when a person set one."""
        return self.override.priority if self.override is not None else self.computed_priority


@dataclass(frozen=True)
class PriorityInputs:
    """What the score looks at; all of it is kept on the incident, so a restart rebuilds it."""

    incident_type: str
    classified_priority: int
    max_severity: Severity
    max_confidence: float
    sources: int
    lon: float | None
    lat: float | None
    at: datetime


@dataclass(frozen=True)
class PriorityConfig:
    timezone: str = "UTC"
    vulnerable_radius_m: float = 200.0
    kind_points: Mapping[PlaceKind, float] = field(
        default_factory=lambda: {
            PlaceKind.SCHOOL: 8.0,
            PlaceKind.KINDERGARTEN: 8.0,
            PlaceKind.HOSPITAL: 6.0,
            PlaceKind.CLINIC: 4.0,
            PlaceKind.CARE_HOME: 6.0,
            PlaceKind.COLLEGE: 3.0,
        }
    )
    #: Children's places weigh this much more on weekdays within school hours.
    school_hours: tuple[time, time] = (time(7, 0), time(17, 0))
    school_hours_extra: float = 4.0
    places_cap: float = 15.0
    night: tuple[time, time] = (time(22, 0), time(6, 0))
    night_points: float = 5.0
    corroboration_per_source: float = 5.0
    corroboration_cap: float = 15.0


def band(score: float) -> int:
    for threshold, priority in BANDS:
        if score >= threshold:
            return priority
    return 5


class PriorityModel:
    def __init__(self, config: PriorityConfig | None = None, places: PlaceIndex | None = None):
        self.config = config or PriorityConfig()
        self.places = places or PlaceIndex()
        self._zone = ZoneInfo(self.config.timezone)

    def assess(self, inputs: PriorityInputs) -> PriorityAssessment:
        factors = [
            self._type(inputs),
            *self._severity(inputs),
            self._confidence(inputs),
            *self._corroboration(inputs),
            *self._places(inputs),
            *self._time_of_day(inputs),
        ]
        score = round(max(0.0, min(100.0, sum(f.points for f in factors))), 1)
        return PriorityAssessment(
            score=score, computed_priority=band(score), factors=tuple(factors)
        )

    @staticmethod
    def _type(i: PriorityInputs) -> PriorityFactor:
        return PriorityFactor(
            name="type",
            points=TYPE_POINTS[i.classified_priority],
            detail=f"{i.incident_type}: the catalogue rates its most urgent event "
            f"priority {i.classified_priority}",
        )

    @staticmethod
    def _severity(i: PriorityInputs) -> list[PriorityFactor]:
        points = SEVERITY_POINTS.get(i.max_severity)
        if points is None:
            return []
        return [PriorityFactor(name="severity", points=points, detail=f"{i.max_severity} reported")]

    @staticmethod
    def _confidence(i: PriorityInputs) -> PriorityFactor:
        # Neutral at 0.7: a sure sensor adds a little, a doubtful one takes off more.
        points = round((i.max_confidence - 0.7) * 20.0, 1)
        return PriorityFactor(
            name="confidence", points=points, detail=f"best confidence {i.max_confidence:.2f}"
        )

    def _corroboration(self, i: PriorityInputs) -> list[PriorityFactor]:
        if i.sources <= 1:
            return []
        c = self.config
        points = min(c.corroboration_cap, (i.sources - 1) * c.corroboration_per_source)
        return [
            PriorityFactor(
                name="corroboration",
                points=points,
                detail=f"{i.sources} independent sources agree",
            )
        ]

    def _places(self, i: PriorityInputs) -> list[PriorityFactor]:
        if i.lon is None or i.lat is None or i.incident_type not in PERSON_SAFETY:
            return []
        c = self.config
        nearest: dict[PlaceKind, tuple[str, float]] = {}
        for hit in self.places.near(i.lon, i.lat, c.vulnerable_radius_m):
            nearest.setdefault(hit.place.kind, (hit.place.name, hit.distance_m))
        if not nearest:
            return []
        local = i.at.astimezone(self._zone)
        school_time = local.weekday() < 5 and _within(local.time(), c.school_hours)
        points = 0.0
        parts = []
        for kind, (name, d) in sorted(nearest.items(), key=lambda kv: kv[1][1]):
            extra = c.school_hours_extra if kind in CHILDREN and school_time else 0.0
            points += c.kind_points.get(kind, 0.0) + extra
            when = " (school hours)" if extra else ""
            parts.append(f"{kind} {name or 'unnamed'} {d:.0f} m{when}")
        return [
            PriorityFactor(
                name="places",
                points=min(c.places_cap, points),
                detail="within " + f"{c.vulnerable_radius_m:.0f} m: " + "; ".join(parts),
            )
        ]

    def _time_of_day(self, i: PriorityInputs) -> list[PriorityFactor]:
        if i.incident_type not in PERSON_SAFETY:
            return []
        local = i.at.astimezone(self._zone)
        if not _within(local.time(), self.config.night):
            return []
        return [
            PriorityFactor(
                name="time_of_day",
                points=self.config.night_points,
                detail=f"night ({local:%H:%M} local): fewer people about to help",
            )
        ]


def _within(t: time, window: tuple[time, time]) -> bool:
    start, end = window
    if start <= end:
        return start <= t < end
    return t >= start or t < end
