"""Patrol units that drive along the demo city's road graph on shortest (fastest) paths."""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

import networkx as nx

from safecity.core.payloads import UnitState
from safecity.sim.city import DemoCity
from safecity.sim.geometry import bearing_deg


@dataclass(frozen=True)
class UnitFix:
    """Where a unit is at one instant: on a road node or between two (on the edge joining them)."""

    lon: float
    lat: float
    heading_deg: float | None
    speed_kmh: float
    edge: tuple[int, int] | None
    node: int | None


class PatrolUnit:
    """One unit's plan: the road nodes it passes and when; positions are interpolated between.

    The plan is a list of (time, node) with consecutive nodes joined by a road edge, so every
    interpolated position lies on the road network.
    """

    def __init__(self, unit_id: str, city: DemoCity, node: int, at: datetime) -> None:
        self.id = unit_id
        self.city = city
        self.status = UnitState.AVAILABLE
        self.incident_id: str | None = None
        #: Bumped on every re-plan; scheduled callbacks of an older plan then do nothing.
        self.version = 0
        self.idle_until = at
        self._times: list[datetime] = [at]
        self._nodes: list[int] = [node]
        self._heading: float | None = None

    @property
    def end_time(self) -> datetime:
        return self._times[-1]

    @property
    def end_node(self) -> int:
        return self._nodes[-1]

    def plan_route(self, target: int, factor: float) -> datetime:
        """Extend the plan from its end to ``target`` on the fastest path; returns arrival.

        ``factor`` scales the free-flow ``travel_time_s`` (above 1 for patrolling, below 1 with
        blue lights).
        """
        start = self.end_node
        if target == start:
            return self.end_time
        path: list[int] = nx.shortest_path(self.city.roads, start, target, weight="travel_time_s")
        when = self.end_time
        for u, v in itertools.pairwise(path):
            seconds = float(self.city.roads.edges[u, v]["travel_time_s"]) * factor
            when += timedelta(seconds=max(seconds, 0.05))
            self._times.append(when)
            self._nodes.append(v)
        return when

    def stop_at_next_node(self, at: datetime) -> None:
        """Drop the plan after the node the unit reaches next (it cannot turn mid-edge)."""
        self._forget_before(at)
        if at >= self.end_time:
            self._times = [at]
            self._nodes = [self.end_node]
            return
        i = bisect.bisect_right(self._times, at) - 1
        self._times = self._times[i : i + 2]
        self._nodes = self._nodes[i : i + 2]

    def wait_until(self, at: datetime) -> None:
        """Stay at the plan's end node until ``at`` (a pause between two routes)."""
        if at > self.end_time:
            self._times = [at]
            self._nodes = [self.end_node]

    def fix(self, at: datetime) -> UnitFix:
        """Position, heading and speed at ``at`` (before the plan: at its start)."""
        if at >= self.end_time or len(self._times) == 1:
            lon, lat = self.city.node_position(self.end_node)
            return UnitFix(lon, lat, self._heading, 0.0, None, self.end_node)
        if at <= self._times[0]:
            lon, lat = self.city.node_position(self._nodes[0])
            return UnitFix(lon, lat, self._heading, 0.0, None, self._nodes[0])
        i = bisect.bisect_right(self._times, at) - 1
        u, v = self._nodes[i], self._nodes[i + 1]
        t0, t1 = self._times[i], self._times[i + 1]
        span = (t1 - t0).total_seconds()
        frac = (at - t0).total_seconds() / span
        (lon0, lat0), (lon1, lat1) = self.city.node_position(u), self.city.node_position(v)
        self._heading = bearing_deg(lon0, lat0, lon1, lat1)
        length_m = float(self.city.roads.edges[u, v]["length_m"])
        speed = min(400.0, round(length_m / span * 3.6, 1))
        return UnitFix(
            lon0 + frac * (lon1 - lon0),
            lat0 + frac * (lat1 - lat0),
            self._heading,
            speed,
            (u, v),
            None,
        )

    def _forget_before(self, at: datetime) -> None:
        # Keep the segment containing ``at``; everything earlier is history.
        i = bisect.bisect_right(self._times, at) - 1
        if i > 0:
            del self._times[:i]
            del self._nodes[:i]
