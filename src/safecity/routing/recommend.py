"""Rank responder units by drive time to an incident and propose a team that covers its needs.

The recommendation is advice for an operator, so it carries everything needed to see why a unit
was proposed and what the alternatives were:

- ``excluded``: every unit that was not considered, with the reason (``"other agency"``,
  ``"status off_duty"``, ``"no position"``, ``"unreachable"``), checked in that order;
- ``ranked``: the eligible units — right agency and status, a known position and a route to the
  incident — fastest first, each with its drive time, straight-line distance, how far it sits
  off the road network, and which required capabilities it has and lacks. Ranking is by drive
  time alone: the capability question is answered by the team, and an operator may still want
  the nearest unit of any kind (a police car first on scene to secure it);
- ``team``: the fastest set of eligible units that together cover every required capability.
  Units are taken in ranked order, each one kept if it brings a capability not yet covered, until
  nothing coverable is left; members made redundant by a later, more capable member are then
  dropped (slowest first), which never delays the moment the team is complete. Each member lists
  the capabilities it is the first team member to bring. No requirement → the single fastest
  unit;
- ``uncovered``: required capabilities no eligible unit has.

Ties (equal drive times) are broken by ``unit_id``, so the same input always gives the same
answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from safecity.routing.network import RoadNetwork

#: Default statuses a unit must have to be proposed.
AVAILABLE: frozenset[str] = frozenset({"available"})


@dataclass(frozen=True)
class UnitCandidate:
    """A unit as the recommender sees it: who, what it can do, its status and position."""

    unit_id: str
    agency_id: str
    kind: str
    capabilities: frozenset[str]
    status: str
    lon: float | None
    lat: float | None

    @property
    def has_position(self) -> bool:
        """Whether the unit has a usable (finite) position."""
        return (
            self.lon is not None
            and self.lat is not None
            and math.isfinite(self.lon)
            and math.isfinite(self.lat)
        )


@dataclass(frozen=True)
class RankedUnit:
    """An eligible unit with its drive time and how it matches the required capabilities."""

    rank: int
    unit_id: str
    agency_id: str
    kind: str
    status: str
    drive_time_s: float
    straight_line_m: float
    off_network_m: float
    matched: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class TeamMember:
    """A unit proposed for the team and the required capabilities it is first to bring."""

    unit: RankedUnit
    covers: tuple[str, ...]


@dataclass(frozen=True)
class Exclusion:
    """A unit that was not considered, and why."""

    unit_id: str
    reason: str


@dataclass(frozen=True)
class Recommendation:
    """Ranked units, a proposed team, uncovered capabilities and excluded units, with reasons.

    ``ranked`` holds at most ``limit`` units; ``eligible_count`` says how many there were.
    ``team_ready_s`` is when the last team member arrives (inf when there is no team).
    ``incident_off_network_m`` is how far the incident lies from the nearest road node, and
    ``incident_in_network_area`` whether it lies inside the network's bounding box.
    """

    lon: float
    lat: float
    network: str
    required_capabilities: tuple[str, ...]
    ranked: tuple[RankedUnit, ...]
    team: tuple[TeamMember, ...]
    uncovered: tuple[str, ...]
    excluded: tuple[Exclusion, ...]
    eligible_count: int
    incident_off_network_m: float
    incident_in_network_area: bool

    @property
    def team_ready_s(self) -> float:
        """Seconds until the whole team has arrived (inf when the team is empty)."""
        return max((m.unit.drive_time_s for m in self.team), default=math.inf)


def _exclusion_reason(
    unit: UnitCandidate, statuses: frozenset[str], agencies: frozenset[str] | None
) -> str | None:
    """Why a unit is not considered before any routing, or None if it may be."""
    if agencies is not None and unit.agency_id not in agencies:
        return "other agency"
    if unit.status not in statuses:
        return f"status {unit.status}"
    if not unit.has_position:
        return "no position"
    return None


@dataclass(frozen=True)
class _Order:
    """Positioned units in ranked order (indices into them) and their per-unit figures."""

    order: list[int]
    seconds: list[float]
    straight_m: list[float]
    off_network_m: list[float]
    unreachable: list[int]
    incident_off_network_m: float


def _order(network: RoadNetwork, lon: float, lat: float, units: Sequence[UnitCandidate]) -> _Order:
    """Drive times for positioned units; reachable ones sorted by (seconds, unit_id).

    ``units`` must already be sorted by ``unit_id``: a stable sort on seconds keeps that order
    among equal times.
    """
    points = np.array([(u.lon, u.lat) for u in units], dtype=np.float64).reshape(-1, 2)
    arrivals = network.arrivals(lon, lat, points)
    by_time = np.argsort(arrivals.seconds, kind="stable")
    reachable = by_time[np.isfinite(arrivals.seconds[by_time])]
    seconds = arrivals.seconds.tolist()
    return _Order(
        order=reachable.tolist(),
        seconds=seconds,
        straight_m=network.straight_line_m(points[:, 0], points[:, 1], lon, lat).tolist(),
        off_network_m=arrivals.origin_off_network_m.tolist(),
        unreachable=[i for i, t in enumerate(seconds) if not math.isfinite(t)],
        incident_off_network_m=arrivals.target_off_network_m,
    )


def cover(
    capabilities: Sequence[frozenset[str]], required: Iterable[str]
) -> tuple[list[tuple[int, tuple[str, ...]]], tuple[str, ...]]:
    """The fastest team covering ``required``, from units' capabilities in ranked order.

    Returns ``(position in the input, capabilities it covers)`` per member, fastest first, and
    the uncovered capabilities. Greedy in ranked order: a unit joins if it brings a capability
    not yet covered, until all coverable capabilities are covered. Then members whose
    capabilities the others already bring are dropped, slowest first (this never delays the
    last arrival). Each member covers the capabilities it is the fastest remaining member to
    bring. No requirement → the first unit alone, covering nothing.
    """
    need = frozenset(required)
    if not capabilities:
        return [], tuple(sorted(need))
    if not need:
        return [(0, ())], ()
    coverable = need & frozenset().union(*capabilities)
    members: list[int] = []
    covered: set[str] = set()
    for position, caps in enumerate(capabilities):
        if covered >= coverable:
            break
        if (caps & need) - covered:
            members.append(position)
            covered.update(caps & need)
    for position in reversed(members[:-1]):
        others = frozenset(c for m in members if m != position for c in capabilities[m])
        if others >= coverable:
            members.remove(position)
    team: list[tuple[int, tuple[str, ...]]] = []
    assigned: set[str] = set()
    for position in members:
        first = tuple(sorted((capabilities[position] & coverable) - assigned))
        assigned.update(first)
        team.append((position, first))
    return team, tuple(sorted(need - coverable))


def recommend(
    network: RoadNetwork,
    lon: float,
    lat: float,
    units: Iterable[UnitCandidate],
    *,
    required_capabilities: frozenset[str] = frozenset(),
    statuses: frozenset[str] = AVAILABLE,
    agencies: frozenset[str] | None = None,
    limit: int = 10,
) -> Recommendation:
    """Rank ``units`` by drive time to ``(lon, lat)`` and propose a team; see the module doc.

    ``agencies=None`` accepts every agency. Raises ``ValueError`` for a non-finite incident
    position, a negative ``limit`` or a repeated ``unit_id``.
    """
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise ValueError("the incident position must be finite")
    if limit < 0:
        raise ValueError("limit must be >= 0")
    all_units = list(units)
    ids = [u.unit_id for u in all_units]
    if len(set(ids)) != len(ids):
        raise ValueError("unit_id values must be unique")
    excluded: list[Exclusion] = []
    positioned: list[UnitCandidate] = []
    for unit in sorted(all_units, key=lambda u: u.unit_id):
        reason = _exclusion_reason(unit, statuses, agencies)
        if reason is None:
            positioned.append(unit)
        else:
            excluded.append(Exclusion(unit.unit_id, reason))
    ranking = _order(network, lon, lat, positioned)
    excluded.extend(Exclusion(positioned[i].unit_id, "unreachable") for i in ranking.unreachable)
    excluded.sort(key=lambda e: e.unit_id)  # both parts are in unit_id order; this merges them
    team_positions, uncovered = cover(
        [positioned[i].capabilities for i in ranking.order], required_capabilities
    )

    def ranked_unit(position: int) -> RankedUnit:
        i = ranking.order[position]
        unit = positioned[i]
        return RankedUnit(
            rank=position + 1,
            unit_id=unit.unit_id,
            agency_id=unit.agency_id,
            kind=unit.kind,
            status=unit.status,
            drive_time_s=ranking.seconds[i],
            straight_line_m=ranking.straight_m[i],
            off_network_m=ranking.off_network_m[i],
            matched=tuple(sorted(required_capabilities & unit.capabilities)),
            missing=tuple(sorted(required_capabilities - unit.capabilities)),
        )

    ranked = [ranked_unit(p) for p in range(min(limit, len(ranking.order)))]
    team = tuple(
        TeamMember(ranked[p] if p < len(ranked) else ranked_unit(p), covers)
        for p, covers in team_positions
    )
    return Recommendation(
        lon=lon,
        lat=lat,
        network=network.name,
        required_capabilities=tuple(sorted(required_capabilities)),
        ranked=tuple(ranked),
        team=team,
        uncovered=uncovered,
        excluded=tuple(excluded),
        eligible_count=len(ranking.order),
        incident_off_network_m=ranking.incident_off_network_m,
        incident_in_network_area=network.contains(lon, lat),
    )
