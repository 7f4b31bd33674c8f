"""The automation engine: pure, deterministic given its clock, and every evaluation traced.

For each enabled rule whose trigger matches what happened (an event of a listed type, or an
incident change of a listed kind and incident type) the engine returns one :class:`RuleTrace`:
every condition's result with a plain detail, whether the rule fired, one sentence saying why,
and the planned actions resolved to concrete values. Rules that are disabled or whose trigger
does not match produce no trace: a trace is the record of a rule that was *considered*.

Conditions are all evaluated, even after one failed, so a trace explains everything at once;
the reason names every failed condition, in rule order.

The engine performs no I/O. It plans; an executor elsewhere carries the plan out under the
platform's own checks (actuator commands audited, CAP warnings only drafted for a person to
approve, webhooks only to configured targets). Its only state is the cooldown memory, bounded,
keyed by rule and incident (or rule and a ~``place_radius_m`` cell when there is no incident),
timed by the injected clock.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from safecity.core.catalogue import classify
from safecity.core.clock import Clock
from safecity.core.events import Event, Severity
from safecity.core.geo import EARTH_RADIUS_M, haversine_m, locate_in_polygon
from safecity.core.incidents import Incident
from safecity.processors.automation.rules import (
    WEEKDAYS,
    Action,
    AutomationRule,
    BrightenLamps,
    CallWebhook,
    CapCertainty,
    CapUrgency,
    Condition,
    ConfidenceAtLeast,
    DraftCapWarning,
    EventTrigger,
    FieldCondition,
    FieldOp,
    IncidentTrigger,
    IncidentTypeIn,
    Notify,
    PriorityAtMost,
    RaiseBollards,
    SeverityAtLeast,
    SourcesAtLeast,
    StatusIn,
    TimeOfDay,
    WithinArea,
    WithinDistance,
    template_fields,
)

#: Context key for the number of independent sources corroborating the incident.
CONTEXT_SOURCES = "sources"

SEVERITY_RANK: dict[Severity, int] = {
    Severity.UNKNOWN: 0,
    Severity.MINOR: 1,
    Severity.MODERATE: 2,
    Severity.SEVERE: 3,
    Severity.EXTREME: 4,
}

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_NONE = "(none)"
_MAX_VALUE_CHARS = 200


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- what the engine returns -------------------------------------------------------------------


class TriggerInfo(_Frozen):
    """What the rule was evaluated on: an event (its key and type) or an incident change."""

    on: Literal["event", "incident"]
    event_source: str | None = None
    event_id: str | None = None
    event_type: str | None = None
    incident_id: str | None = None
    change: str | None = None


class ConditionResult(_Frozen):
    condition: str = Field(description="The condition's kind")
    passed: bool
    detail: str


class _Planned(_Frozen):
    rule_id: str
    incident_id: str | None = Field(description="The incident the action is for, if any")
    event_source: str | None = None
    event_id: str | None = None
    purpose: str = Field(description="For the audit trail: which rule, and its name")


class PlannedBrightenLamps(_Planned):
    kind: Literal["brighten_lamps"] = "brighten_lamps"
    lon: float
    lat: float
    radius_m: float
    level_pct: int
    duration_s: int
    until: datetime


class PlannedRaiseBollards(_Planned):
    """Raise = up = closed to vehicles. By place (lon, lat, radius) or by device ids. With
    ``confirm`` the executor only proposes the command, for a person to confirm within
    ``confirm_within_s`` seconds."""

    kind: Literal["raise_bollards"] = "raise_bollards"
    lon: float | None = None
    lat: float | None = None
    radius_m: float | None = None
    device_ids: tuple[str, ...] = ()
    confirm: bool = True
    confirm_within_s: int = 120


class PlannedNotify(_Planned):
    kind: Literal["notify"] = "notify"
    agencies: tuple[str, ...] = Field(description='Agency ids; ("*",) means every agency')
    message: str


class PlannedCapDraft(_Planned):
    """A CAP warning *draft*: a person reviews, edits and publishes it, or discards it."""

    kind: Literal["draft_cap_warning"] = "draft_cap_warning"
    status: Literal["draft"] = "draft"
    headline: str
    instruction: str | None
    severity: Severity
    urgency: CapUrgency
    certainty: CapCertainty
    lon: float
    lat: float
    radius_m: float
    expires_at: datetime


class PlannedWebhookCall(_Planned):
    """A call to the configured webhook ``target``, carrying only these whitelisted facts."""

    kind: Literal["call_webhook"] = "call_webhook"
    target: str
    event_type: str | None = None
    incident_type: str | None = None
    priority: int | None = None
    change: str | None = None
    lon: float | None = None
    lat: float | None = None
    at: datetime


PlannedAction = Annotated[
    PlannedBrightenLamps
    | PlannedRaiseBollards
    | PlannedNotify
    | PlannedCapDraft
    | PlannedWebhookCall,
    Field(discriminator="kind"),
]


class RuleTrace(_Frozen):
    """One rule's evaluation: what it was evaluated on, each condition, the outcome and why."""

    rule_id: str
    rule_name: str
    trigger: TriggerInfo
    evaluated_at: datetime
    fired: bool
    conditions: tuple[ConditionResult, ...]
    reason: str
    actions: tuple[PlannedAction, ...] = ()


# --- the engine --------------------------------------------------------------------------------


@dataclass
class _Subject:
    """What one evaluation looks at; JSON forms are computed once, on first use."""

    now: datetime
    event: Event | None
    incident: Incident | None
    change: str | None
    context: Mapping[str, Any]
    _json: dict[str, Any] = field(default_factory=dict)
    _classified: tuple[bool, tuple[str, int] | None] = (False, None)

    @property
    def location(self) -> tuple[float, float, str] | None:
        """(lon, lat, whose): the event's place, else the incident's."""
        if self.event is not None and self.event.location is not None:
            return (self.event.location.lon, self.event.location.lat, "the event")
        if self.incident is not None and self.incident.location is not None:
            return (self.incident.location.lon, self.incident.location.lat, "the incident")
        return None

    def classification(self) -> tuple[str, int] | None:
        """(incident type, priority) the event classifies as, when it opens or joins one."""
        if not self._classified[0]:
            result = None
            if self.event is not None:
                c = classify(self.event)
                result = (c.incident_type, c.priority) if c is not None else None
            self._classified = (True, result)
        return self._classified[1]

    def json_root(self, root: str) -> Any:
        if root not in self._json:
            value: Any = _MISSING
            if root == "data" and self.event is not None:
                value = self.event.data.model_dump(mode="json")
            elif root == "event" and self.event is not None:
                value = self.event.model_dump(mode="json")
            elif root == "incident" and self.incident is not None:
                value = self.incident.model_dump(mode="json")
            elif root == "context":
                value = self.context
            self._json[root] = value
        return self._json[root]


@dataclass(frozen=True)
class _Fired:
    at: datetime
    label: str
    lon: float | None = None
    lat: float | None = None


class _Unresolvable(Exception):
    pass


class AutomationEngine:
    """Evaluates rules against events and incident changes; see the module docstring.

    ``webhooks``: the names of the configured outbound webhooks; when given, a rule calling any
    other target is refused here (ValueError naming the rule). ``place_radius_m``: what "the
    same place" means for the cooldown of a rule fired without an incident. ``max_cooldowns``
    bounds the cooldown memory (oldest forgotten first).
    """

    def __init__(
        self,
        rules: Iterable[AutomationRule],
        clock: Clock,
        *,
        webhooks: Iterable[str] | None = None,
        place_radius_m: float = 100.0,
        max_cooldowns: int = 10_000,
    ) -> None:
        self._rules = tuple(rules)
        self._clock = clock
        if not 0 < place_radius_m <= 10_000:
            raise ValueError("place_radius_m must be in (0, 10000]")
        if max_cooldowns < 1:
            raise ValueError("max_cooldowns must be at least 1")
        seen: set[str] = set()
        for rule in self._rules:
            if rule.id in seen:
                raise ValueError(f"two rules have the id {rule.id!r}")
            seen.add(rule.id)
        if webhooks is not None:
            known = frozenset(webhooks)
            for rule in self._rules:
                for action in rule.actions:
                    if isinstance(action, CallWebhook) and action.target not in known:
                        raise ValueError(
                            f"rule {rule.id!r} calls webhook {action.target!r}, which is not "
                            f"configured; configured: {sorted(known) or 'none'}"
                        )
        self._place_radius_m = place_radius_m
        self._max_cooldowns = max_cooldowns
        self._max_cooldown = timedelta(seconds=max((r.cooldown_s for r in self._rules), default=0))
        self._fired: OrderedDict[tuple[str, str], _Fired] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def rules(self) -> tuple[AutomationRule, ...]:
        return self._rules

    def evaluate_event(
        self,
        event: Event,
        *,
        incident: Incident | None = None,
        context: Mapping[str, Any] = _EMPTY,
        dry_run: bool = False,
    ) -> list[RuleTrace]:
        """Traces for the enabled event-triggered rules listing ``event.type``, in rule order.

        ``incident`` is the incident the event joined or opened, if known; ``context`` holds
        extra facts (``"sources"``: corroborating source count). ``dry_run`` leaves the cooldown
        memory untouched (for "what would this rule do?" previews).
        """
        subject = _Subject(self._clock.now(), event, incident, None, context)
        trigger = TriggerInfo(
            on="event",
            event_source=event.source,
            event_id=event.id,
            event_type=event.type,
            incident_id=incident.id if incident is not None else None,
        )
        return [
            self._evaluate(rule, subject, trigger, dry_run=dry_run)
            for rule in self._rules
            if rule.enabled
            and isinstance(rule.trigger, EventTrigger)
            and rule.trigger.matches(event.type)
        ]

    def evaluate_incident_change(
        self,
        action: str,
        incident: Incident,
        *,
        context: Mapping[str, Any] = _EMPTY,
        dry_run: bool = False,
    ) -> list[RuleTrace]:
        """Traces for the enabled incident-triggered rules listing ``action`` (the change, e.g.
        ``"opened"``) and admitting ``incident.type``, in rule order."""
        subject = _Subject(self._clock.now(), None, incident, action, context)
        trigger = TriggerInfo(on="incident", incident_id=incident.id, change=action)
        return [
            self._evaluate(rule, subject, trigger, dry_run=dry_run)
            for rule in self._rules
            if rule.enabled
            and isinstance(rule.trigger, IncidentTrigger)
            and rule.trigger.matches(action, incident.type)
        ]

    def forget_cooldowns(self) -> None:
        """Clear the cooldown memory (e.g. after the rules were reloaded)."""
        with self._lock:
            self._fired.clear()

    # --- one rule ------------------------------------------------------------------------------

    def _evaluate(
        self, rule: AutomationRule, s: _Subject, trigger: TriggerInfo, *, dry_run: bool
    ) -> RuleTrace:
        results = tuple(_check(condition, s) for condition in rule.conditions)

        def trace(fired: bool, reason: str, actions: Sequence[PlannedAction] = ()) -> RuleTrace:
            return RuleTrace(
                rule_id=rule.id,
                rule_name=rule.name,
                trigger=trigger,
                evaluated_at=s.now,
                fired=fired,
                conditions=results,
                reason=reason,
                actions=tuple(actions),
            )

        failed = [r.detail for r in results if not r.passed]
        if failed:
            return trace(False, "not fired: " + "; ".join(failed))
        try:
            actions = [_resolve(action, rule, s) for action in rule.actions]
        except _Unresolvable as exc:
            return trace(False, f"not fired: {exc}")
        with self._lock:
            key, label, place = self._cooldown_key(rule, s)
            if rule.cooldown_s > 0:
                blocked = self._cooling(rule, key, place, s.now)
                if blocked is not None:
                    ago = (s.now - blocked.at).total_seconds()
                    return trace(
                        False,
                        f"not fired: cooldown, fired {ago:.0f} s ago {blocked.label} "
                        f"(cooldown {rule.cooldown_s:g} s)",
                    )
            if not dry_run and rule.cooldown_s > 0:
                self._remember(key, _Fired(s.now, label, *(place or (None, None))), s.now)
        n = len(results)
        if n == 0:
            held = "the rule has no conditions"
        elif n == 1:
            held = "its 1 condition held"
        else:
            held = f"all {n} conditions held"
        return trace(True, f"fired: {held}", actions)

    # --- cooldown ------------------------------------------------------------------------------

    def _cell(self, lon: float, lat: float) -> tuple[int, int]:
        row = math.floor(math.radians(lat) * EARTH_RADIUS_M / self._place_radius_m)
        return row, self._column(row, lon)

    def _column(self, row: int, lon: float) -> int:
        centre_lat = (row + 0.5) * self._place_radius_m / EARTH_RADIUS_M
        metres_per_rad = EARTH_RADIUS_M * max(math.cos(centre_lat), 1e-6)
        return math.floor(math.radians(lon) * metres_per_rad / self._place_radius_m)

    def _cooldown_key(
        self, rule: AutomationRule, s: _Subject
    ) -> tuple[tuple[str, str], str, tuple[float, float] | None]:
        if s.incident is not None:
            return (rule.id, f"incident:{s.incident.id}"), f"for incident {s.incident.id}", None
        where = s.location
        if where is not None:
            lon, lat, _ = where
            row, col = self._cell(lon, lat)
            label = f"at ({lon:.5f}, {lat:.5f}), within {self._place_radius_m:g} m of here"
            return (rule.id, f"cell:{row}:{col}"), label, (lon, lat)
        return (rule.id, "rule"), "with no incident and no place", None

    def _cooling(
        self,
        rule: AutomationRule,
        key: tuple[str, str],
        place: tuple[float, float] | None,
        now: datetime,
    ) -> _Fired | None:
        window = timedelta(seconds=rule.cooldown_s)
        if place is None:
            hit = self._fired.get(key)
            return hit if hit is not None and now - hit.at < window else None
        lon, lat = place
        row, _ = self._cell(lon, lat)
        best: _Fired | None = None
        for r in (row - 1, row, row + 1):
            col = self._column(r, lon)
            for c in (col - 1, col, col + 1):
                hit = self._fired.get((rule.id, f"cell:{r}:{c}"))
                if (
                    hit is not None
                    and hit.lon is not None
                    and hit.lat is not None
                    and now - hit.at < window
                    and haversine_m(lon, lat, hit.lon, hit.lat) <= self._place_radius_m
                    and (best is None or hit.at > best.at)
                ):
                    best = hit
        return best

    def _remember(self, key: tuple[str, str], fired: _Fired, now: datetime) -> None:
        self._fired[key] = fired
        self._fired.move_to_end(key)
        while self._fired:
            oldest = next(iter(self._fired.values()))
            if len(self._fired) > self._max_cooldowns or now - oldest.at >= self._max_cooldown:
                self._fired.popitem(last=False)
            else:
                break


# --- conditions --------------------------------------------------------------------------------


def _check(condition: Condition, s: _Subject) -> ConditionResult:
    passed, detail = _CHECKS[type(condition)](condition, s)
    return ConditionResult(condition=condition.kind, passed=passed, detail=detail)


def _listing(items: Iterable[str]) -> str:
    return ", ".join(items)


def _incident_type_in(c: Any, s: _Subject) -> tuple[bool, str]:
    assert isinstance(c, IncidentTypeIn)
    if s.incident is not None:
        kind, whose = s.incident.type, "incident type"
    else:
        classified = s.classification()
        if classified is None:
            event_type = s.event.type if s.event is not None else "?"
            return False, f"event type {event_type} belongs to no incident type"
        kind, whose = classified[0], "the event's incident type"
    if kind in c.types:
        return True, f"{whose} {kind} is one of {_listing(c.types)}"
    return False, f"{whose} {kind} is not one of {_listing(c.types)}"


def _priority_at_most(c: Any, s: _Subject) -> tuple[bool, str]:
    assert isinstance(c, PriorityAtMost)
    if s.incident is not None:
        priority = s.incident.priority
    else:
        classified = s.classification()
        if classified is None:
            return False, "no priority: no incident, and the event opens none"
        priority = classified[1]
    if priority <= c.priority:
        return True, f"priority {priority} ≤ {c.priority}"
    return False, f"priority {priority} is above {c.priority}"


def _severity_at_least(c: Any, s: _Subject) -> tuple[bool, str]:
    assert isinstance(c, SeverityAtLeast)
    if s.event is not None:
        severity = s.event.severity
        whose = "severity"
    else:
        assert s.incident is not None
        severity = s.incident.signals.max_severity
        whose = "highest linked severity"
    if SEVERITY_RANK[severity] >= SEVERITY_RANK[c.severity]:
        return True, f"{whose} {severity.value} ≥ {c.severity.value}"
    return False, f"{whose} {severity.value} is below {c.severity.value}"


def _confidence_at_least(c: Any, s: _Subject) -> tuple[bool, str]:
    assert isinstance(c, ConfidenceAtLeast)
    if s.event is not None:
        value, whose = s.event.confidence, "confidence"
    else:
        assert s.incident is not None
        value, whose = s.incident.signals.max_confidence, "highest linked confidence"
    if value >= c.confidence:
        return True, f"{whose} {value:.2f} ≥ {c.confidence:.2f}"
    return False, f"{whose} {value:.2f} is below {c.confidence:.2f}"


def _status_in(c: Any, s: _Subject) -> tuple[bool, str]:
    assert isinstance(c, StatusIn)
    wanted = _listing(status.value for status in c.statuses)
    if s.incident is None:
        return False, f"no incident, so no status to be one of {wanted}"
    status = s.incident.status
    if status in c.statuses:
        return True, f"status {status.value} is one of {wanted}"
    return False, f"status {status.value} is not one of {wanted}"


def _within_area(c: Any, s: _Subject) -> tuple[bool, str]:
    assert isinstance(c, WithinArea)
    where = s.location
    if where is None:
        return False, f"no location to test against {c.name}"
    lon, lat, whose = where
    verdict = locate_in_polygon(lon, lat, c.polygon)
    point = f"{whose} at ({lon:.5f}, {lat:.5f})"
    if verdict == "inside":
        return True, f"{point} is inside {c.name}"
    if verdict == "boundary":
        return True, f"{point} is on the boundary of {c.name} (counts as inside)"
    return False, f"{point} is outside {c.name}"


def _within_distance(c: Any, s: _Subject) -> tuple[bool, str]:
    assert isinstance(c, WithinDistance)
    target = f"{c.name} " if c.name else ""
    target += f"({c.lon:.5f}, {c.lat:.5f})"
    where = s.location
    if where is None:
        return False, f"no location to measure from {target}"
    lon, lat, whose = where
    metres = haversine_m(lon, lat, c.lon, c.lat)
    if metres <= c.distance_m:
        return True, f"{whose} is {metres:.0f} m from {target} ≤ {c.distance_m:g} m"
    return False, f"{whose} is {metres:.0f} m from {target}, beyond {c.distance_m:g} m"


def _time_of_day(c: Any, s: _Subject) -> tuple[bool, str]:
    assert isinstance(c, TimeOfDay)
    local = s.now.astimezone(ZoneInfo(c.timezone))
    t = local.time().replace(tzinfo=None, fold=0)
    crosses = c.start > c.end
    inside = (c.start <= t or t < c.end) if crosses else (c.start <= t < c.end)
    day = WEEKDAYS[local.weekday()]
    window = f"{c.start.strftime('%H:%M')}–{c.end.strftime('%H:%M')}"
    now = f"local time {day.value} {t.strftime('%H:%M')} ({c.timezone})"
    if not inside:
        return False, f"{now} is outside {window}"
    if c.weekdays:
        started = WEEKDAYS[(local.weekday() - 1) % 7] if crosses and t < c.end else day
        allowed = _listing(d.value for d in c.weekdays)
        if started not in c.weekdays:
            return False, (
                f"{now} is within {window}, but that window started on {started.value}, "
                f"not one of {allowed}"
            )
        return True, f"{now} is within {window} starting {started.value} (one of {allowed})"
    return True, f"{now} is within {window}"


def _sources_at_least(c: Any, s: _Subject) -> tuple[bool, str]:
    assert isinstance(c, SourcesAtLeast)
    raw = s.context.get(CONTEXT_SOURCES)
    if raw is not None:
        if isinstance(raw, bool) or not isinstance(raw, int):
            return False, f"context value {CONTEXT_SOURCES!r} is not a whole number"
        count, whence = raw, "context"
    elif s.incident is not None:
        count, whence = len(s.incident.signals.sources), "incident"
    else:
        return False, "no source count: no context value and no incident"
    noun = "source" if count == 1 else "sources"
    if count >= c.count:
        return True, f"{count} {noun} ({whence}) ≥ {c.count}"
    return False, f"{count} {noun} ({whence}) is below {c.count}"


class _Missing:
    pass


_MISSING = _Missing()

_OP_TEXT = {
    FieldOp.EQ: "=",
    FieldOp.NE: "≠",
    FieldOp.LT: "<",
    FieldOp.LE: "≤",
    FieldOp.GT: ">",
    FieldOp.GE: "≥",
    FieldOp.IN: "in",
    FieldOp.CONTAINS: "contains",
}


def _walk(value: Any, parts: Sequence[str]) -> Any:
    """Follow keys (and list indexes) through JSON-like data; never attributes."""
    for part in parts:
        if isinstance(value, Mapping):
            if part not in value:
                return _MISSING
            value = value[part]
        elif isinstance(value, list | tuple) and part.isdigit():
            index = int(part)
            if index >= len(value):
                return _MISSING
            value = value[index]
        else:
            return _MISSING
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    return "other"


def _same(a: Any, b: Any) -> bool:
    kind = _kind(a)
    return kind == _kind(b) and kind != "other" and bool(a == b)


def _compare(op: FieldOp, actual: Any, expected: Any) -> bool | None:
    """The comparison's outcome, or None when the values are not comparable."""
    if op is FieldOp.EQ:
        return _same(actual, expected)
    if op is FieldOp.NE:
        return not _same(actual, expected)
    if op is FieldOp.IN:
        return any(_same(actual, e) for e in expected)
    if op is FieldOp.CONTAINS:
        if isinstance(actual, str) and isinstance(expected, str):
            return expected in actual
        if isinstance(actual, list | tuple):
            return any(_same(item, expected) for item in actual)
        return None
    kind = _kind(actual)
    if kind not in ("number", "string") or kind != _kind(expected):
        return None
    if isinstance(actual, float) and math.isnan(actual):
        return None
    if op is FieldOp.LT:
        return bool(actual < expected)
    if op is FieldOp.LE:
        return bool(actual <= expected)
    if op is FieldOp.GT:
        return bool(actual > expected)
    return bool(actual >= expected)


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return repr(text)
    if isinstance(value, list | tuple):
        return (
            "["
            + ", ".join(_show(v) for v in value[:10])
            + (", ..." if len(value) > 10 else "")
            + "]"
        )
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return f"<{type(value).__name__}>"


def _field(c: Any, s: _Subject) -> tuple[bool, str]:
    assert isinstance(c, FieldCondition)
    root, *parts = c.path.split(".")
    base = s.json_root(root)
    if isinstance(base, _Missing):
        what = "context" if root == "context" else ("incident" if root == "incident" else "event")
        return False, f"{c.path}: there is no {what}"
    actual = _walk(base, parts)
    op = _OP_TEXT[c.op]
    if isinstance(actual, _Missing):
        return False, f"{c.path} is missing"
    outcome = _compare(c.op, actual, c.value)
    if outcome is None:
        return False, f"{c.path} {_show(actual)} cannot be compared by {op} with {_show(c.value)}"
    if outcome:
        return True, f"{c.path} {_show(actual)} {op} {_show(c.value)}"
    return False, f"{c.path} {_show(actual)} is not {op} {_show(c.value)}"


_CHECKS: dict[type[BaseModel], Callable[[Any, _Subject], tuple[bool, str]]] = {
    IncidentTypeIn: _incident_type_in,
    PriorityAtMost: _priority_at_most,
    SeverityAtLeast: _severity_at_least,
    ConfidenceAtLeast: _confidence_at_least,
    StatusIn: _status_in,
    WithinArea: _within_area,
    WithinDistance: _within_distance,
    TimeOfDay: _time_of_day,
    FieldCondition: _field,
    SourcesAtLeast: _sources_at_least,
}


# --- actions -----------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _pieces(template: str) -> tuple[tuple[str, str | None], ...]:
    return tuple(template_fields(template))


def _clean(text: str) -> str:
    out = "".join(ch if ch.isprintable() else " " for ch in text)
    return out if len(out) <= _MAX_VALUE_CHARS else out[: _MAX_VALUE_CHARS - 3] + "..."


def _placeholder(name: str, rule: AutomationRule, s: _Subject) -> str:
    incident, event, where = s.incident, s.event, s.location
    values: dict[str, Any] = {
        "rule.id": rule.id,
        "rule.name": rule.name,
        "change": s.change,
        "now": s.now.isoformat(),
    }
    if name in values:
        value = values[name]
    elif name.startswith("incident."):
        value = None
        if incident is not None:
            value = {
                "incident.id": incident.id,
                "incident.title": incident.title,
                "incident.type": incident.type,
                "incident.priority": incident.priority,
                "incident.status": incident.status.value,
                "incident.area": incident.area,
            }[name]
    elif name.startswith("event."):
        value = None
        if event is not None:
            value = {
                "event.id": event.id,
                "event.source": event.source,
                "event.type": event.type,
                "event.severity": event.severity.value,
                "event.time": event.time.isoformat(),
            }[name]
    else:  # location.lon / location.lat
        value = None
        if where is not None:
            value = f"{where[0] if name == 'location.lon' else where[1]:.6f}"
    return _NONE if value is None else _clean(str(value))


def _render(template: str, rule: AutomationRule, s: _Subject) -> str:
    """Fill a (load-checked) template with whitelisted values only."""
    return "".join(
        literal + ("" if name is None else _placeholder(name, rule, s))
        for literal, name in _pieces(template)
    )


def _place(action: Action, s: _Subject) -> tuple[float, float]:
    where = s.location
    if where is None:
        raise _Unresolvable(f"{action.kind} needs a location, and there is none")
    return where[0], where[1]


def _resolve(action: Action, rule: AutomationRule, s: _Subject) -> PlannedAction:
    common: dict[str, Any] = {
        "rule_id": rule.id,
        "incident_id": s.incident.id if s.incident is not None else None,
        "event_source": s.event.source if s.event is not None else None,
        "event_id": s.event.id if s.event is not None else None,
        "purpose": f"automation rule {rule.id}: {rule.name}",
    }
    if isinstance(action, BrightenLamps):
        lon, lat = _place(action, s)
        return PlannedBrightenLamps(
            **common,
            lon=lon,
            lat=lat,
            radius_m=action.radius_m,
            level_pct=action.level_pct,
            duration_s=action.duration_s,
            until=s.now + timedelta(seconds=action.duration_s),
        )
    if isinstance(action, RaiseBollards):
        confirm = {"confirm": action.confirm, "confirm_within_s": action.confirm_within_s}
        if action.device_ids:
            return PlannedRaiseBollards(**common, **confirm, device_ids=action.device_ids)
        lon, lat = _place(action, s)
        return PlannedRaiseBollards(**common, **confirm, lon=lon, lat=lat, radius_m=action.radius_m)
    if isinstance(action, Notify):
        return PlannedNotify(
            **common, agencies=action.agencies, message=_render(action.message, rule, s)
        )
    if isinstance(action, DraftCapWarning):
        lon, lat = _place(action, s)
        return PlannedCapDraft(
            **common,
            headline=_render(action.headline, rule, s),
            instruction=(
                _render(action.instruction, rule, s) if action.instruction is not None else None
            ),
            severity=action.severity,
            urgency=action.urgency,
            certainty=action.certainty,
            lon=lon,
            lat=lat,
            radius_m=action.radius_m,
            expires_at=s.now + timedelta(seconds=action.expires_s),
        )
    assert isinstance(action, CallWebhook)
    where = s.location
    return PlannedWebhookCall(
        **common,
        target=action.target,
        event_type=s.event.type if s.event is not None else None,
        incident_type=s.incident.type if s.incident is not None else None,
        priority=s.incident.priority if s.incident is not None else None,
        change=s.change,
        lon=where[0] if where is not None else None,
        lat=where[1] if where is not None else None,
        at=s.now,
    )
