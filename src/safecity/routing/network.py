"""A directed road network with free-flow travel times, and drive times over it.

The network is a compressed sparse row (CSR) matrix of edge travel times in seconds plus its
transpose. Points given as lon/lat are snapped to the nearest network node (a KD-tree on local
equirectangular metres about the network centre, accurate to well under 1 % at city scale).
The stretch between a point and its snapped node is the *off-network leg*; it is costed as a
straight line at :data:`OFF_NETWORK_SPEED_KMH` (a slow crawl through a car park, a courtyard or
a pedestrian street), at both ends of a trip.

``drive_times_to`` answers "how long would each of these vehicles take to get here?" with one
*reverse* single-source Dijkstra: from the target node over the transposed graph, which gives
every node's drive time *to* the target in one pass, then one array lookup per origin.

Packaged networks (``load("monaco")``, ``load("helsinki")``) are derived from OpenStreetMap,
© OpenStreetMap contributors, ODbL 1.0 — see ``data/ATTRIBUTION.md`` and ``data/LICENSE-DATA.md``.
They are rebuilt by ``scripts/build_road_networks.py``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from safecity.core.geo import EARTH_RADIUS_M, BBox

#: Names accepted by :meth:`RoadNetwork.load`.
PACKAGED: tuple[str, ...] = ("monaco", "helsinki")

#: Speed of the straight-line legs between a point and its nearest network node.
OFF_NETWORK_SPEED_KMH = 15.0
#: Edges are given at least this travel time, so a zero-length segment stays a real edge.
MIN_EDGE_SECONDS = 0.01

_METRES_PER_DEGREE = math.pi / 180.0 * EARTH_RADIUS_M

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Route:
    """One trip for display: total seconds and metres, and the path as (lon, lat) points.

    The path starts at the origin point and ends at the destination point (the off-network
    legs included; repeated consecutive points are dropped). An unreachable destination gives
    ``inf`` seconds and metres and no path.
    """

    seconds: float
    metres: float
    path: tuple[tuple[float, float], ...]

    @property
    def reachable(self) -> bool:
        """Whether the destination can be reached at all."""
        return math.isfinite(self.seconds)


@dataclass(frozen=True)
class Snap:
    """Points snapped to the network: node indices and the straight-line metres to them."""

    nodes: IntArray
    metres: FloatArray


@dataclass(frozen=True)
class Arrivals:
    """Drive times from many origins to one point, and how far off the network each end was."""

    seconds: FloatArray
    origin_off_network_m: FloatArray
    target_off_network_m: float


def _float_array(values: Any, name: str) -> FloatArray:
    array = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def _index_array(values: Any, name: str, size: int) -> IntArray:
    array = np.ascontiguousarray(values)
    if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} must be a one-dimensional integer array")
    array = array.astype(np.intp, copy=False)
    if array.size and (array.min() < 0 or array.max() >= size):
        raise ValueError(f"{name} must index the node arrays (0 <= index < {size})")
    return array


def _frozen(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.setflags(write=False)
    return array


class RoadNetwork:
    """A directed road network: nodes at lon/lat, edges with travel seconds and metres.

    Build one with :meth:`load` (a packaged network), :meth:`from_file` (an ``.npz`` in the
    packaged format) or :meth:`from_arrays`. Instances are immutable and safe to share
    between threads.
    """

    def __init__(
        self,
        *,
        lon: FloatArray,
        lat: FloatArray,
        edge_u: IntArray,
        edge_v: IntArray,
        travel_time_s: FloatArray,
        length_m: FloatArray,
        osm_ids: npt.NDArray[np.int64] | None,
        name: str,
        metadata: Mapping[str, Any],
    ) -> None:
        """Use :meth:`from_arrays`; this takes already validated, de-duplicated arrays."""
        n = int(lon.size)
        self.name = name
        self.metadata: Mapping[str, Any] = dict(metadata)
        self.lon: FloatArray = _frozen(lon)
        self.lat: FloatArray = _frozen(lat)
        self.osm_ids = None if osm_ids is None else _frozen(osm_ids)
        self.edge_u: IntArray = _frozen(edge_u)
        self.edge_v: IntArray = _frozen(edge_v)
        self.travel_time_s: FloatArray = _frozen(travel_time_s)
        self.length_m: FloatArray = _frozen(length_m)
        self._edge_keys = edge_u.astype(np.int64) * n + edge_v
        self.off_network_speed_mps = OFF_NETWORK_SPEED_KMH / 3.6
        cost = np.maximum(travel_time_s, MIN_EDGE_SECONDS)
        self.graph = csr_array((cost, (edge_u, edge_v)), shape=(n, n))
        self.reverse_graph = csr_array((cost, (edge_v, edge_u)), shape=(n, n))
        self.bbox = BBox(float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
        self._lon0 = (self.bbox.min_lon + self.bbox.max_lon) / 2
        self._lat0 = (self.bbox.min_lat + self.bbox.max_lat) / 2
        self._kx = _METRES_PER_DEGREE * math.cos(math.radians(self._lat0))
        self._tree = cKDTree(self._project(lon, lat))

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_arrays(
        cls,
        *,
        lon: Sequence[float] | npt.ArrayLike,
        lat: Sequence[float] | npt.ArrayLike,
        edge_u: Sequence[int] | npt.ArrayLike,
        edge_v: Sequence[int] | npt.ArrayLike,
        travel_time_s: Sequence[float] | npt.ArrayLike,
        length_m: Sequence[float] | npt.ArrayLike,
        osm_ids: Sequence[int] | npt.ArrayLike | None = None,
        name: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> RoadNetwork:
        """A network from node coordinates and directed edges ``edge_u[i] -> edge_v[i]``.

        Self-loops are dropped; of parallel edges the fastest is kept (with its length).
        Raises ``ValueError`` on mismatched lengths, bad indices or non-finite values.
        """
        lon_a = _float_array(lon, "lon")
        lat_a = _float_array(lat, "lat")
        n = lon_a.size
        if n == 0 or lat_a.size != n:
            raise ValueError("lon and lat must be non-empty and of equal length")
        if np.any(np.abs(lon_a) > 180) or np.any(np.abs(lat_a) > 90):
            raise ValueError("lon must be within ±180 and lat within ±90")
        u = _index_array(edge_u, "edge_u", n)
        v = _index_array(edge_v, "edge_v", n)
        time = _float_array(travel_time_s, "travel_time_s")
        length = _float_array(length_m, "length_m")
        if not (u.size == v.size == time.size == length.size):
            raise ValueError("edge_u, edge_v, travel_time_s and length_m must be of equal length")
        if np.any(time < 0) or np.any(length < 0):
            raise ValueError("travel_time_s and length_m must be non-negative")
        ids: npt.NDArray[np.int64] | None = None
        if osm_ids is not None:
            ids = np.ascontiguousarray(osm_ids, dtype=np.int64)
            if ids.shape != (n,):
                raise ValueError("osm_ids must have one id per node")
        keep = u != v
        u, v, time, length = u[keep], v[keep], time[keep], length[keep]
        order = np.lexsort((time, v, u))  # by (u, v), fastest first
        u, v, time, length = u[order], v[order], time[order], length[order]
        first = np.ones(u.size, dtype=bool)
        first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        return cls(
            lon=lon_a,
            lat=lat_a,
            edge_u=u[first],
            edge_v=v[first],
            travel_time_s=time[first],
            length_m=length[first],
            osm_ids=ids,
            name=name,
            metadata=metadata or {},
        )

    @classmethod
    def from_file(cls, path: str | Path) -> RoadNetwork:
        """A network from an ``.npz`` in the packaged format (see ``build_road_networks.py``)."""
        with np.load(path, allow_pickle=False) as data:
            meta: dict[str, Any] = json.loads(str(data["metadata"])) if "metadata" in data else {}
            return cls.from_arrays(
                lon=data["node_lon"],
                lat=data["node_lat"],
                osm_ids=data.get("node_osm_id"),
                edge_u=data["edge_u"],
                edge_v=data["edge_v"],
                travel_time_s=data["edge_travel_time_s"],
                length_m=data["edge_length_m"],
                name=str(meta.get("name", Path(path).name.split(".")[0])),
                metadata=meta,
            )

    @classmethod
    def load(cls, name: str) -> RoadNetwork:
        """A packaged network by name: one of :data:`PACKAGED`."""
        if name not in PACKAGED:
            raise ValueError(f"unknown road network {name!r}; packaged: {', '.join(PACKAGED)}")
        resource = resources.files("safecity.routing") / "data" / f"{name}.roads.npz"
        with resources.as_file(resource) as path:
            return cls.from_file(path)

    # -- geometry -----------------------------------------------------------------------------

    @property
    def node_count(self) -> int:
        """Number of nodes."""
        return int(self.lon.size)

    @property
    def edge_count(self) -> int:
        """Number of directed edges."""
        return int(self.edge_u.size)

    @property
    def attribution(self) -> str:
        """The attribution to show with anything drawn from this network (may be empty)."""
        return str(self.metadata.get("attribution", ""))

    def _project(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> FloatArray:
        """Local equirectangular metres about the network centre, shape (n, 2)."""
        x = (np.asarray(lon, dtype=np.float64) - self._lon0) * self._kx
        y = (np.asarray(lat, dtype=np.float64) - self._lat0) * _METRES_PER_DEGREE
        return np.column_stack((np.atleast_1d(x), np.atleast_1d(y)))

    def snap(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> Snap:
        """The nearest node to each point and the straight-line metres to it.

        Ties between equidistant nodes go to the lower node index (KD-tree order).
        """
        points = self._project(lon, lat)
        if not np.all(np.isfinite(points)):
            raise ValueError("coordinates must be finite")
        metres, nodes = self._tree.query(points, k=1)
        return Snap(
            nodes=np.asarray(nodes, dtype=np.intp), metres=np.asarray(metres, dtype=np.float64)
        )

    def nearest_node(self, lon: float, lat: float) -> tuple[int, float]:
        """The nearest node index to one point and its straight-line distance in metres."""
        snap = self.snap([lon], [lat])
        return int(snap.nodes[0]), float(snap.metres[0])

    def contains(self, lon: float, lat: float, margin_m: float = 0.0) -> bool:
        """Whether a point lies in the network's bounding box grown by ``margin_m`` metres.

        Points outside are still routed (snapped to the nearest node, with a long slow
        off-network leg), but their drive times mean little; callers should say so.
        """
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return False
        dlon = margin_m / self._kx
        dlat = margin_m / _METRES_PER_DEGREE
        box = self.bbox
        return (
            box.min_lon - dlon <= lon <= box.max_lon + dlon
            and box.min_lat - dlat <= lat <= box.max_lat + dlat
        )

    def straight_line_m(
        self, lon: npt.ArrayLike, lat: npt.ArrayLike, to_lon: float, to_lat: float
    ) -> FloatArray:
        """Straight-line metres (local projection) from each point to one point."""
        points = self._project(lon, lat)
        target = self._project([to_lon], [to_lat])[0]
        return np.asarray(np.hypot(*(points - target).T), dtype=np.float64)

    # -- drive times --------------------------------------------------------------------------

    def times_to_node(self, node: int, limit_s: float | None = None) -> FloatArray:
        """Network seconds from every node to ``node``: one reverse Dijkstra (inf = no route).

        With ``limit_s``, the search stops at that many seconds and farther nodes are inf.
        """
        limit = np.inf if limit_s is None else float(limit_s)
        times = dijkstra(self.reverse_graph, directed=True, indices=[int(node)], limit=limit)
        return np.asarray(times[0], dtype=np.float64)

    def arrivals(
        self,
        lon: float,
        lat: float,
        origins: Sequence[tuple[float, float]] | npt.ArrayLike,
        *,
        limit_s: float | None = None,
    ) -> Arrivals:
        """Seconds from each ``(lon, lat)`` origin to the point, with the snapping distances.

        Total = off-network leg at the origin + network time between the snapped nodes +
        off-network leg at the target, legs at :data:`OFF_NETWORK_SPEED_KMH`. When origin and
        target snap to the same node the direct straight line is used if shorter. No route
        gives inf. With ``limit_s``, totals above it are inf (and the search stops early).
        """
        points = np.asarray(origins, dtype=np.float64).reshape(-1, 2)
        target, target_m = self.nearest_node(lon, lat)
        if points.shape[0] == 0:
            empty = np.empty(0, dtype=np.float64)
            return Arrivals(
                seconds=empty, origin_off_network_m=empty, target_off_network_m=target_m
            )
        origin = self.snap(points[:, 0], points[:, 1])
        network = self.times_to_node(target, limit_s)
        speed = self.off_network_speed_mps
        total = origin.metres / speed + network[origin.nodes] + target_m / speed
        same = origin.nodes == target
        if np.any(same):
            direct = self.straight_line_m(points[same, 0], points[same, 1], lon, lat) / speed
            total[same] = np.minimum(total[same], direct)
        if limit_s is not None:
            total[total > limit_s] = np.inf
        return Arrivals(
            seconds=total, origin_off_network_m=origin.metres, target_off_network_m=target_m
        )

    def drive_times_to(
        self,
        lon: float,
        lat: float,
        origins: Sequence[tuple[float, float]] | npt.ArrayLike,
        *,
        limit_s: float | None = None,
    ) -> FloatArray:
        """Seconds from each ``(lon, lat)`` origin to the point ``(lon, lat)``; inf if none.

        One reverse Dijkstra from the target's node, then one lookup per origin; costed as
        described in :meth:`arrivals`.
        """
        return self.arrivals(lon, lat, origins, limit_s=limit_s).seconds

    def drive_time(self, from_lonlat: tuple[float, float], to_lonlat: tuple[float, float]) -> float:
        """Seconds from one point to another (inf if there is no route)."""
        return float(self.drive_times_to(to_lonlat[0], to_lonlat[1], [from_lonlat])[0])

    def _edge_lengths(self, u: IntArray, v: IntArray) -> FloatArray:
        """Metres of the edges ``u[i] -> v[i]`` (which must exist)."""
        keys = u.astype(np.int64) * self.node_count + v
        return self.length_m[np.searchsorted(self._edge_keys, keys)]

    def route(
        self,
        from_lonlat: tuple[float, float],
        to_lonlat: tuple[float, float],
        *,
        limit_s: float | None = None,
    ) -> Route:
        """The fastest route for display: seconds, metres and the (lon, lat) path.

        Costed exactly as :meth:`drive_times_to`, so ``route(a, b).seconds`` equals
        ``drive_times_to(*b, [a])[0]`` (up to float rounding).
        """
        (from_lon, from_lat), (to_lon, to_lat) = from_lonlat, to_lonlat
        source, source_m = self.nearest_node(from_lon, from_lat)
        target, target_m = self.nearest_node(to_lon, to_lat)
        speed = self.off_network_speed_mps
        limit = np.inf if limit_s is None else float(limit_s)
        times, predecessors = dijkstra(
            self.graph, directed=True, indices=[source], return_predecessors=True, limit=limit
        )
        network_s = float(times[0, target])
        seconds = source_m / speed + network_s + target_m / speed
        if source == target:
            direct_m = float(self.straight_line_m([from_lon], [from_lat], to_lon, to_lat)[0])
            if direct_m / speed <= seconds:
                return Route(direct_m / speed, direct_m, (from_lonlat, to_lonlat))
        if not math.isfinite(seconds) or (limit_s is not None and seconds > limit_s):
            return Route(math.inf, math.inf, ())
        nodes = [target]
        while nodes[-1] != source:
            nodes.append(int(predecessors[0, nodes[-1]]))
        nodes.reverse()
        path_nodes = np.asarray(nodes, dtype=np.intp)
        along = float(self._edge_lengths(path_nodes[:-1], path_nodes[1:]).sum())
        points = [
            (float(from_lon), float(from_lat)),
            *((float(self.lon[n]), float(self.lat[n])) for n in nodes),
            (float(to_lon), float(to_lat)),
        ]
        path = tuple(p for i, p in enumerate(points) if i == 0 or p != points[i - 1])
        return Route(seconds, source_m + along + target_m, path)

    def __repr__(self) -> str:
        return f"RoadNetwork({self.name!r}, nodes={self.node_count}, edges={self.edge_count})"
