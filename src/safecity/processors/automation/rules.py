"""The automation rule format a city writes in its settings file (TOML or JSON).

Every model is frozen and refuses unknown keys, so a typo (``radius = 100`` for ``radius_m``)
fails at load naming the key. Conditions and actions are tagged unions on ``kind``; a trigger is
a tagged union on ``on``. Message templates are checked at load: only the placeholders in
:data:`PLACEHOLDERS` are allowed, never attribute access or format specs.

A rule never names a URL or a device protocol: webhooks are referred to by the name of a
configured outbound webhook, lamps and bollards by radius or by registered device id.
"""

from __future__ import annotations

import math
import string
from datetime import time
from enum import StrEnum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from safecity.core.catalogue import BASE_PRIORITY, CATALOGUE
from safecity.core.events import Severity
from safecity.core.incidents import IncidentStatus

#: Rule ids, webhook target names and agency ids: lower-case slugs (no URL can pass).
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]

#: The incident changes a trigger may name: the ``action`` of an incident change message.
#: ``priority_changed`` is for a publisher that reports a computed priority change; operators'
#: overrides arrive as ``priority_overridden``.
INCIDENT_CHANGES: frozenset[str] = frozenset(
    {
        "opened",
        "updated",
        "acknowledged",
        "dispatched",
        "on_scene",
        "assigned",
        "closed",
        "reopened",
        "priority_changed",
        "priority_overridden",
        "priority_override_cleared",
        "merged",
        "split",
        "reclassified",
        "procedure_attached",
        "unit_status",
        "checklist_step_done",
        "agencies_involved",
    }
)

#: Template placeholders, e.g. ``"{incident.title} at {location.lat}, {location.lon}"``.
PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "incident.id",
        "incident.title",
        "incident.type",
        "incident.priority",
        "incident.status",
        "incident.area",
        "event.id",
        "event.source",
        "event.type",
        "event.severity",
        "event.time",
        "rule.id",
        "rule.name",
        "change",
        "location.lon",
        "location.lat",
        "now",
    }
)

MAX_TEMPLATE = 1_000
MAX_RADIUS_M = 5_000.0
MAX_COOLDOWN_S = 7 * 86_400.0


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- templates ---------------------------------------------------------------------------------


def template_fields(template: str) -> list[tuple[str, str | None]]:
    """The template as (literal text, placeholder or None) pieces; ValueError when not allowed.

    ``{{`` and ``}}`` are literal braces. A placeholder is exactly one of :data:`PLACEHOLDERS`:
    no conversions (``!r``), no format specs (``:>10``), no indexing or attribute chains beyond
    the whitelisted names, so ``{incident.__class__}`` is refused at load.
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"malformed template: {exc}") from None
    pieces: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        if name is None:
            pieces.append((literal, None))
            continue
        if conversion is not None or spec:
            raise ValueError(
                f"placeholder {{{name}}} may not carry a conversion or format spec; "
                "write the bare name"
            )
        if name not in PLACEHOLDERS:
            raise ValueError(
                f"unknown placeholder {{{name}}}; allowed: "
                + ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            )
        pieces.append((literal, name))
    return pieces


def _check_template(value: str) -> str:
    template_fields(value)
    return value


Template = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEMPLATE), AfterValidator(_check_template)
]


# --- triggers ----------------------------------------------------------------------------------


def _check_event_type(value: str) -> str:
    if value.endswith(".*"):
        family = value[:-1]
        if not any(name.startswith(family) for name in CATALOGUE):
            raise ValueError(f"no event type in the family {value!r}; see GET /v1/event-types")
        return value
    if value not in CATALOGUE:
        raise ValueError(f"unknown event type {value!r}; see GET /v1/event-types")
    return value


def _check_incident_type(value: str) -> str:
    if value not in BASE_PRIORITY:
        raise ValueError(f"unknown incident type {value!r}; known: {sorted(BASE_PRIORITY)}")
    return value


def _check_change(value: str) -> str:
    if value not in INCIDENT_CHANGES:
        raise ValueError(f"unknown incident change {value!r}; known: {sorted(INCIDENT_CHANGES)}")
    return value


EventTypeName = Annotated[str, AfterValidator(_check_event_type)]
IncidentTypeName = Annotated[str, AfterValidator(_check_incident_type)]
ChangeName = Annotated[str, AfterValidator(_check_change)]


class EventTrigger(_Model):
    """Fires on an accepted event of one of ``event_types`` (``"camera.*"`` names a family)."""

    on: Literal["event"]
    event_types: tuple[EventTypeName, ...] = Field(min_length=1, max_length=100)

    def matches(self, event_type: str) -> bool:
        return any(
            event_type.startswith(t[:-1]) if t.endswith(".*") else event_type == t
            for t in self.event_types
        )


class IncidentTrigger(_Model):
    """Fires on an incident change; empty ``incident_types`` admits every incident type."""

    on: Literal["incident"]
    changes: tuple[ChangeName, ...] = Field(min_length=1, max_length=len(INCIDENT_CHANGES))
    incident_types: tuple[IncidentTypeName, ...] = ()

    def matches(self, change: str, incident_type: str) -> bool:
        return change in self.changes and (
            not self.incident_types or incident_type in self.incident_types
        )


Trigger = Annotated[EventTrigger | IncidentTrigger, Field(discriminator="on")]


# --- conditions --------------------------------------------------------------------------------


class IncidentTypeIn(_Model):
    """The incident's type (or, with no incident, the type the event classifies as) is listed."""

    kind: Literal["incident_type_in"]
    types: tuple[IncidentTypeName, ...] = Field(min_length=1)


class PriorityAtMost(_Model):
    """Priority (1 most urgent) is at most ``priority``: the incident's, else the event's."""

    kind: Literal["priority_at_most"]
    priority: int = Field(ge=1, le=5)


class SeverityAtLeast(_Model):
    """The event's severity (on an incident trigger: the highest linked) is at least this."""

    kind: Literal["severity_at_least"]
    severity: Severity


class ConfidenceAtLeast(_Model):
    """The event's confidence (on an incident trigger: the highest linked) is at least this."""

    kind: Literal["confidence_at_least"]
    confidence: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)


class StatusIn(_Model):
    """The incident's status is listed; fails when there is no incident."""

    kind: Literal["status_in"]
    statuses: tuple[IncidentStatus, ...] = Field(min_length=1)


Longitude = Annotated[float, Field(ge=-180.0, le=180.0, allow_inf_nan=False)]
Latitude = Annotated[float, Field(ge=-90.0, le=90.0, allow_inf_nan=False)]
Position = tuple[Longitude, Latitude]
PolygonRing = tuple[Position, ...]


class WithinArea(_Model):
    """The place lies in a polygon: GeoJSON order, ``[[lon, lat], ...]`` rings, the first the
    outline and any others holes. Rings may be closed (last = first) or open. A point on an
    edge or a vertex counts as inside (of the outline, and of the area when on a hole's edge).
    """

    kind: Literal["within_area"]
    name: Name = "the area"
    polygon: tuple[PolygonRing, ...] = Field(min_length=1, max_length=100)

    @field_validator("polygon")
    @classmethod
    def _rings(cls, value: tuple[PolygonRing, ...]) -> tuple[PolygonRing, ...]:
        out = []
        for index, ring in enumerate(value):
            points = ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring
            if len(set(points)) < 3:
                raise ValueError(f"ring {index} needs at least 3 distinct [lon, lat] positions")
            if len(points) > 10_000:
                raise ValueError(f"ring {index} has more than 10000 positions")
            out.append(tuple(points))
        return tuple(out)


class WithinDistance(_Model):
    """The place is within ``distance_m`` metres (great circle) of ``[lon, lat]``."""

    kind: Literal["within_distance"]
    name: Name | None = None
    lon: Longitude
    lat: Latitude
    distance_m: float = Field(gt=0, le=100_000, allow_inf_nan=False)


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAYS: tuple[Weekday, ...] = tuple(Weekday)


class TimeOfDay(_Model):
    """The engine's clock, in ``timezone``, is in ``[start, end)``; ``start > end`` crosses
    midnight (22:00–06:00). With ``weekdays``, the day is the one the window *started* on:
    Friday 22:00–06:00 includes 03:00 on Saturday morning.
    """

    kind: Literal["time_of_day"]
    start: time
    end: time
    timezone: str = Field(min_length=1, max_length=64)
    weekdays: tuple[Weekday, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}, e.g. Europe/Helsinki") from None
        return value

    @field_validator("start", "end")
    @classmethod
    def _naive(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("give a local time without offset; the zone is 'timezone'")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> TimeOfDay:
        if self.start == self.end:
            raise ValueError("start and end are equal: the window would be empty")
        return self


class FieldOp(StrEnum):
    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    IN = "in"
    CONTAINS = "contains"


Scalar = str | int | float | bool | None
#: ``data.<key>...`` (the event's payload), ``event.<key>...`` (its envelope), ``incident.<key>``
#: or ``context.<key>``; list items by index (``data.sensors_used.0``). Keys only, never
#: attributes: the engine walks the JSON form of the model.
FieldPath = Annotated[
    str,
    StringConstraints(
        max_length=200, pattern=r"^(data|event|incident|context)(\.[A-Za-z0-9][A-Za-z0-9_]*)+$"
    ),
]


class FieldCondition(_Model):
    """Compare a value at a dotted path with ``value``. A missing path or values of different
    kinds (a number against a string) make the condition false, never an error.
    """

    kind: Literal["field"]
    path: FieldPath
    op: FieldOp
    value: Scalar | tuple[Scalar, ...]

    @field_validator("value")
    @classmethod
    def _finite(cls, value: Scalar | tuple[Scalar, ...]) -> Scalar | tuple[Scalar, ...]:
        items = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, float) and not math.isfinite(v) for v in items):
            raise ValueError("numbers must be finite")
        return value

    @model_validator(mode="after")
    def _value_fits_op(self) -> FieldCondition:
        if self.op is FieldOp.IN:
            if not isinstance(self.value, tuple) or not self.value:
                raise ValueError("op 'in' needs a non-empty list as value")
        elif isinstance(self.value, tuple):
            raise ValueError(f"op {self.op.value!r} needs a single value, not a list")
        elif self.op in (FieldOp.LT, FieldOp.LE, FieldOp.GT, FieldOp.GE) and (
            self.value is None or isinstance(self.value, bool)
        ):
            raise ValueError(f"op {self.op.value!r} needs a number or a string as value")
        return self


class SourcesAtLeast(_Model):
    """At least ``count`` independent sources corroborate: ``context["sources"]`` when given,
    else the number of distinct sources linked to the incident."""

    kind: Literal["sources_at_least"]
    count: int = Field(ge=1, le=1_000)


Condition = Annotated[
    IncidentTypeIn
    | PriorityAtMost
    | SeverityAtLeast
    | ConfidenceAtLeast
    | StatusIn
    | WithinArea
    | WithinDistance
    | TimeOfDay
    | FieldCondition
    | SourcesAtLeast,
    Field(discriminator="kind"),
]


# --- actions -----------------------------------------------------------------------------------


DeviceRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
AgencyRef = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z0-9][a-z0-9_-]{0,63})$")]


class BrightenLamps(_Model):
    """Street lamps within ``radius_m`` of the place to ``level_pct`` for ``duration_s``."""

    kind: Literal["brighten_lamps"]
    radius_m: float = Field(gt=0, le=MAX_RADIUS_M, allow_inf_nan=False)
    level_pct: int = Field(ge=1, le=100)
    duration_s: int = Field(ge=1, le=86_400)


class RaiseBollards(_Model):
    """Raise retractable bollards, i.e. close the street to vehicles: those within
    ``radius_m`` of the place, or exactly the registered ``device_ids`` (give one of the two).

    A raised bollard can hurt someone standing or driving over it, so by default (``confirm``)
    the rule only *proposes* the command and a person confirms it within ``confirm_within_s``
    seconds, or nothing moves. ``confirm = false`` sends at once: only for bollards whose own
    interlocks sense a vehicle or person above them (hostile-vehicle-mitigation sites).
    """

    kind: Literal["raise_bollards"]
    radius_m: float | None = Field(default=None, gt=0, le=MAX_RADIUS_M, allow_inf_nan=False)
    device_ids: tuple[DeviceRef, ...] = Field(default=(), max_length=200)
    confirm: bool = Field(
        default=True, description="Propose and wait for a person's confirmation (default)"
    )
    confirm_within_s: int = Field(
        default=120, ge=1, le=3600, description="How long the proposal waits for a person"
    )

    @model_validator(mode="after")
    def _one_way_to_choose(self) -> RaiseBollards:
        if (self.radius_m is None) == (not self.device_ids):
            raise ValueError("give either radius_m or device_ids (not both, not neither)")
        return self


class Notify(_Model):
    """A message to agencies (``["*"]`` for every agency) about the incident or event."""

    kind: Literal["notify"]
    agencies: tuple[AgencyRef, ...] = Field(min_length=1, max_length=50)
    message: Template

    @field_validator("agencies")
    @classmethod
    def _star_alone(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "*" in value and len(value) > 1:
            raise ValueError("'*' means every agency and stands alone")
        return value


class CapUrgency(StrEnum):
    IMMEDIATE = "immediate"
    EXPECTED = "expected"
    FUTURE = "future"
    PAST = "past"
    UNKNOWN = "unknown"


class CapCertainty(StrEnum):
    OBSERVED = "observed"
    LIKELY = "likely"
    POSSIBLE = "possible"
    UNLIKELY = "unlikely"
    UNKNOWN = "unknown"


class DraftCapWarning(_Model):
    """Draft a CAP warning for people within ``radius_m``. Only ever a draft: a person reviews
    and publishes it; the engine and its executor never publish."""

    kind: Literal["draft_cap_warning"]
    headline: Template
    instruction: Template | None = None
    severity: Severity
    urgency: CapUrgency
    certainty: CapCertainty
    radius_m: float = Field(gt=0, le=50_000, allow_inf_nan=False)
    expires_s: int = Field(ge=60, le=7 * 86_400)


class CallWebhook(_Model):
    """Call the outbound webhook configured under ``target`` with the facts of the trace. The
    rule names a configured webhook, never a URL."""

    kind: Literal["call_webhook"]
    target: Slug


Action = Annotated[
    BrightenLamps | RaiseBollards | Notify | DraftCapWarning | CallWebhook,
    Field(discriminator="kind"),
]


# --- the rule ----------------------------------------------------------------------------------


class AutomationRule(_Model):
    """When ``trigger`` happens and every condition holds, plan ``actions``.

    ``cooldown_s``: once fired, the rule does not fire again within this time for the same
    incident (or, with no incident, near the same place).
    """

    id: Slug
    name: Name
    description: str = Field(default="", max_length=2_000)
    enabled: bool = True
    trigger: Trigger
    conditions: tuple[Condition, ...] = Field(default=(), max_length=50)
    actions: tuple[Action, ...] = Field(min_length=1, max_length=20)
    cooldown_s: float = Field(default=0.0, ge=0.0, le=MAX_COOLDOWN_S, allow_inf_nan=False)
    agencies: tuple[Slug, ...] = Field(
        min_length=1, max_length=20, description="Owner agencies: who answers for this rule"
    )


class AutomationConfig(_Model):
    """The ``[automations]`` table of a settings file: the rules, in evaluation order."""

    rules: tuple[AutomationRule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, value: tuple[AutomationRule, ...]) -> tuple[AutomationRule, ...]:
        seen: set[str] = set()
        for rule in value:
            if rule.id in seen:
                raise ValueError(f"two rules have the id {rule.id!r}")
            seen.add(rule.id)
        return value
