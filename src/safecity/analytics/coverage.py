"""Camera coverage: what the cameras can see, where nothing can, and where new ones would help.

Visibility is computed in a local metric frame: each camera casts rays across its field of view
out to its range, and a ray stops at the first building or tree crown it meets, so walls and
foliage cast shadows (in plan: heights are not modelled, so a crown hides everything behind it,
the worst case for a camera in leaf). The covered area is the union of those visibility
polygons over the outdoor part of the study area (the ground under a crown is outdoors); the
blind spots are the outdoor sample points no camera sees. :func:`coverage` also says what the
trees cost (the covered area with and without them), and counts only the cameras whose owner
the control room can use: the area seen only by the others (private CCTV registered for
transparency) is reported apart, a blind spot for the control room that the public may think
is watched.

Recommending K new positions is a weighted maximum-coverage problem over candidate sites
(existing lamp posts and poles, where a camera can be mounted): each outdoor sample point carries
the forecast risk of its place, and a site covers the points its camera would see. The greedy
method (within 1 − 1/e of the optimum) answers at once; the exact method solves the integer
programme with OR-Tools CP-SAT within a time limit and says whether it proved optimality.

A mobile camera tests a new hotspot before fixed cameras or patrols follow it
(:func:`place_mobile`): the emerging cells' excess events (recent minus expected, from
``safecity.analytics.emerging``) are spread over their outdoor sample points, points a fixed
camera already sees count for nothing, and the same placement code picks the site(s) that see
the most of the rest.

Everything here is about places: it never looks at people.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from pyproj import Transformer
from shapely import (
    STRtree,
    contains_xy,
    get_coordinates,
    intersection,
    linestrings,
    points,
    prepare,
)
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from safecity.core.registry import Sensor

Ring = Sequence[tuple[float, float]]
#: Rays per degree of field of view: 2 keeps a 50 m edge error under 1 m.
RAYS_PER_DEGREE = 2


@dataclass(frozen=True)
class Camera:
    id: str
    lon: float
    lat: float
    direction_deg: float = 0.0
    fov_deg: float = 90.0
    range_m: float = 50.0
    #: The owner agency; ``None`` (not said) counts as one the control room can use.
    owner: str | None = None

    @classmethod
    def of(cls, sensor: Sensor) -> Camera:
        """A registered camera with a position, a view and its owner agency."""
        if sensor.location is None or sensor.view is None:
            raise ValueError(f"camera {sensor.id} needs a location and a view")
        view = sensor.view
        return cls(
            sensor.id,
            sensor.location.lon,
            sensor.location.lat,
            view.direction_deg,
            view.fov_deg,
            view.range_m,
            sensor.owner_agency,
        )

    def accessible(self, owners: Collection[str] | None) -> bool:
        """Whether the control room can use this camera's feed: every camera when ``owners``
        is None, else one with no owner said or an owner in ``owners``."""
        return owners is None or self.owner is None or self.owner in owners


def split_by_owner(
    cameras: Sequence[Camera], owners: Collection[str] | None
) -> tuple[list[Camera], list[Camera]]:
    """The cameras the control room can use (owner in ``owners``) and the others."""
    usable = [c for c in cameras if c.accessible(owners)]
    others = [c for c in cameras if not c.accessible(owners)]
    return usable, others


@dataclass(frozen=True)
class Site:
    """A place a camera could be mounted (a lamp post, a pole) and the camera it would take."""

    id: str
    lon: float
    lat: float
    fov_deg: float = 360.0
    range_m: float = 50.0
    direction_deg: float = 0.0

    @classmethod
    def of(cls, sensor: Sensor) -> Site:
        """A registered device (a lamp post, a pole) as a place a camera could go."""
        if sensor.location is None:
            raise ValueError(f"site {sensor.id} needs a location")
        return cls(sensor.id, sensor.location.lon, sensor.location.lat)


@dataclass(frozen=True)
class CoverageReport:
    """What the cameras the control room can use see (``cameras``, ``covered_m2``,
    ``blind_spots``), what the trees cost, and what only the other cameras see."""

    outdoor_m2: float
    covered_m2: float
    cameras: int
    blind_spots: list[tuple[float, float]]  # lon, lat of sample points no usable camera sees
    sample_spacing_m: float
    #: Tree crowns modelled as occluders, and the covered area if there were none.
    trees: int = 0
    covered_m2_without_trees: float = 0.0
    #: Cameras whose owner the control room cannot use, per owner; what only they see.
    inaccessible_cameras: int = 0
    inaccessible_owners: dict[str, int] = field(default_factory=dict)
    inaccessible_only_m2: float = 0.0
    inaccessible_only_points: int = 0

    @property
    def covered_share(self) -> float:
        return self.covered_m2 / self.outdoor_m2 if self.outdoor_m2 else 0.0

    @property
    def covered_share_without_trees(self) -> float:
        return self.covered_m2_without_trees / self.outdoor_m2 if self.outdoor_m2 else 0.0

    @property
    def trees_cost_share(self) -> float:
        """Share of the outdoor area the trees hide from the usable cameras."""
        return self.covered_share_without_trees - self.covered_share

    @property
    def inaccessible_only_share(self) -> float:
        """Share of the outdoor area seen only by cameras the control room cannot use."""
        return self.inaccessible_only_m2 / self.outdoor_m2 if self.outdoor_m2 else 0.0


@dataclass(frozen=True)
class Placement:
    method: str
    sites: list[str]
    gains: list[float]  # risk newly covered by each site, in the order chosen
    covered_risk: float  # risk covered by the existing cameras and the chosen sites
    total_risk: float
    optimal: bool
    seconds: float
    existing_risk: float = 0.0
    #: Exact method: the solver's proven upper bound on the covered risk (equal when optimal).
    upper_bound: float | None = None

    @property
    def covered_share(self) -> float:
        return self.covered_risk / self.total_risk if self.total_risk else 0.0


@dataclass(frozen=True)
class MobileSite:
    """A site chosen for a mobile camera and what it would newly see."""

    id: str
    lon: float
    lat: float
    excess: float  # excess events newly seen by this site, in the order chosen
    cells: tuple[tuple[int, float], ...]  # (hotspot cell, excess seen there), most first


@dataclass(frozen=True)
class MobilePlacement:
    """Where mobile camera(s) should go to test the emerging hotspots.

    ``excess`` is the emerging cells' total excess (recent - expected events); ``fixed_excess``
    the part at points the fixed cameras already see; ``covered_excess`` the part the chosen
    sites newly see. ``outside`` lists the cells with no outdoor sample point in the model
    (their excess cannot be seen from here). An empty ``sites`` comes with a ``reason``."""

    sites: list[MobileSite]
    excess: float
    fixed_excess: float
    covered_excess: float
    outside: list[int]
    reason: str = ""
    seconds: float = 0.0

    @property
    def covered_share(self) -> float:
        """Share of the excess the mobile site(s) newly see."""
        return self.covered_excess / self.excess if self.excess > 0 else 0.0

    @property
    def fixed_share(self) -> float:
        """Share of the excess the fixed cameras already see."""
        return self.fixed_excess / self.excess if self.excess > 0 else 0.0


@dataclass
class CoverageModel:
    """The study area, its buildings, tree crowns and sample points, in a local metric frame."""

    area: Polygon
    buildings: list[Polygon]
    to_metric: Callable[[float, float], tuple[float, float]]
    to_lonlat: Callable[[float, float], tuple[float, float]]
    spacing_m: float
    #: Tree crowns: they block views (rays) but the ground under them is outdoors.
    trees: list[Polygon] = field(default_factory=list)
    outdoor: BaseGeometry | None = None
    samples: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    _tree: STRtree | None = None
    _walls: np.ndarray | None = field(default=None, repr=False)
    #: Sample points seen from each view computed so far, so placing cameras again (K fixed
    #: ones, then a mobile one) does not cast the same rays twice.
    _seen: dict[tuple[float, float, float, float, float], np.ndarray] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def build(
        cls,
        area: Ring,
        buildings: Sequence[Ring] = (),
        *,
        trees: Sequence[Ring] = (),
        spacing_m: float = 10.0,
    ) -> CoverageModel:
        """``area``, ``buildings`` and tree crowns (``trees``, e.g.
        ``safecity.maps.tree_outlines``) as (lon, lat) rings; samples every ``spacing_m``."""
        if spacing_m <= 0:
            raise ValueError("spacing_m must be positive")
        lon0 = sum(p[0] for p in area) / len(area)
        lat0 = sum(p[1] for p in area) / len(area)
        local = f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m +no_defs"
        forward = Transformer.from_crs("EPSG:4326", local, always_xy=True)
        back = Transformer.from_crs(local, "EPSG:4326", always_xy=True)

        def to_metric(lon: float, lat: float) -> tuple[float, float]:
            x, y = forward.transform(lon, lat)
            return float(x), float(y)

        def to_lonlat(x: float, y: float) -> tuple[float, float]:
            lon, lat = back.transform(x, y)
            return float(lon), float(lat)

        def poly(ring: Ring) -> Polygon:
            return Polygon([to_metric(lon, lat) for lon, lat in ring]).buffer(0)

        study = poly(area)
        footprints = [p for p in (poly(r) for r in buildings) if not p.is_empty]
        # Crowns away from the study area cannot block a view inside it (range is short).
        near = study.buffer(500.0)
        crowns = [p for p in (poly(r) for r in trees) if not p.is_empty and p.intersects(near)]
        model = cls(study, footprints, to_metric, to_lonlat, spacing_m, crowns)
        blocked = unary_union(footprints) if footprints else Polygon()
        model.outdoor = study.difference(blocked)
        model._index()
        minx, miny, maxx, maxy = study.bounds
        xs = np.arange(minx + spacing_m / 2, maxx, spacing_m)
        ys = np.arange(miny + spacing_m / 2, maxy, spacing_m)
        grid = (
            np.array([(x, y) for y in ys for x in xs]) if len(xs) and len(ys) else np.zeros((0, 2))
        )
        if len(grid):
            outdoor = model.outdoor
            prepare(outdoor)
            inside = outdoor.contains(points(grid))
            model.samples = grid[inside]
        return model

    @property
    def occluders(self) -> list[Polygon]:
        """What stops a ray: the buildings, then the tree crowns."""
        return [*self.buildings, *self.trees]

    def _index(self) -> None:
        occluders = self.occluders
        self._tree = STRtree(occluders) if occluders else None
        self._walls = None
        self._seen = {}

    def without_trees(self) -> CoverageModel:
        """The same area, buildings and sample points with no tree crowns (itself when it has
        none): to measure what the trees cost."""
        if not self.trees:
            return self
        bare = CoverageModel(
            self.area,
            self.buildings,
            self.to_metric,
            self.to_lonlat,
            self.spacing_m,
            [],
            self.outdoor,
            self.samples,
        )
        bare._index()
        return bare

    def visibility(
        self, lon: float, lat: float, direction_deg: float, fov_deg: float, range_m: float
    ) -> BaseGeometry:
        """What a camera here sees: its wedge with the buildings' shadows cut out."""
        x0, y0 = self.to_metric(lon, lat)
        full = fov_deg >= 360.0
        start = 0.0 if full else direction_deg - fov_deg / 2.0
        steps = max(8, math.ceil(fov_deg * RAYS_PER_DEGREE))
        # Bearings are clockwise from north: x east, y north.
        bearings = np.radians(start + fov_deg * np.arange(steps + (0 if full else 1)) / steps)
        tips = np.column_stack([x0 + range_m * np.sin(bearings), y0 + range_m * np.cos(bearings)])
        ends = self._first_hits(x0, y0, tips)
        ring = ends if full else np.vstack([[x0, y0], ends])
        wedge = Polygon(ring).buffer(0)
        return wedge if self.outdoor is None else wedge.intersection(self.outdoor)

    def _first_hits(self, x0: float, y0: float, tips: np.ndarray) -> np.ndarray:
        """Where each ray from (x0, y0) to its tip first meets a building wall or a crown's edge
        (all rays at once); a camera on a facade sees out of its own building, and one inside a
        crown (on a pole under a tree: heights are not modelled) out of that crown."""
        if self._tree is None or not len(tips):
            return tips
        starts = np.broadcast_to(np.asarray([x0, y0], dtype=np.float64), tips.shape)
        rays = np.asarray(linestrings(np.stack([starts, tips], axis=1)), dtype=object)
        ray_of, building_of = self._tree.query(rays, predicate="intersects")
        own = self._tree.query(Point(x0, y0), predicate="within")
        keep = ~np.isin(building_of, own)
        ray_of, building_of = ray_of[keep], building_of[keep]
        best = tips.copy()
        if not len(ray_of):
            return best
        if self._walls is None:
            self._walls = np.asarray([b.exterior for b in self.occluders], dtype=object)
        hits = intersection(rays[ray_of], self._walls[building_of])
        coords, which = get_coordinates(hits, return_index=True)
        if not len(coords):
            return best
        ray = ray_of[which]
        d = np.hypot(coords[:, 0] - x0, coords[:, 1] - y0)
        best_d = np.hypot(tips[:, 0] - x0, tips[:, 1] - y0)
        np.minimum.at(best_d, ray, d)
        nearest = d <= best_d[ray]
        best[ray[nearest]] = coords[nearest]
        return best

    def sample_lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """The sample points' longitudes and latitudes."""
        pts = [self.to_lonlat(float(x), float(y)) for x, y in self.samples]
        lon = np.asarray([p[0] for p in pts], dtype=np.float64)
        lat = np.asarray([p[1] for p in pts], dtype=np.float64)
        return lon, lat

    def seen_by(
        self, lon: float, lat: float, direction_deg: float, fov_deg: float, range_m: float
    ) -> np.ndarray:
        """Indices of the sample points a camera here sees (cached per view)."""
        key = (lon, lat, direction_deg, fov_deg, range_m)
        found = self._seen.get(key)
        if found is None:
            view = self.visibility(lon, lat, direction_deg, fov_deg, range_m)
            found = np.flatnonzero(self.covered_mask([view]))
            self._seen[key] = found
        return found

    def covered_mask(self, polygons: Sequence[BaseGeometry]) -> np.ndarray:
        """Which sample points any of ``polygons`` contains."""
        mask = np.zeros(len(self.samples), dtype=bool)
        if not len(self.samples):
            return mask
        xs, ys = self.samples[:, 0], self.samples[:, 1]
        for poly in polygons:
            if poly.is_empty:
                continue
            minx, miny, maxx, maxy = poly.bounds
            near = np.flatnonzero((xs >= minx) & (xs <= maxx) & (ys >= miny) & (ys <= maxy))
            if not len(near):
                continue
            prepare(poly)
            mask[near] |= contains_xy(poly, xs[near], ys[near])
        return mask


def _union_of_views(model: CoverageModel, cameras: Sequence[Camera]) -> BaseGeometry:
    views = []
    for c in cameras:
        key = (c.lon, c.lat, c.direction_deg, c.fov_deg, c.range_m)
        view = model.visibility(*key)
        views.append(view)
        if key not in model._seen:
            model._seen[key] = np.flatnonzero(model.covered_mask([view]))
    return unary_union(views) if views else Polygon()


def coverage(
    model: CoverageModel,
    cameras: Sequence[Camera],
    *,
    accessible_owners: Collection[str] | None = None,
) -> CoverageReport:
    """Covered outdoor area and the blind spots of the cameras the control room can use.

    ``accessible_owners`` lists the owner agencies whose feeds the control room can use (None:
    every camera counts). The other cameras do not cover anything; they are counted per owner
    and the area (and sample points) only they see is reported: a blind spot for the control
    room. When the model has tree crowns, the covered area without them is computed too.
    """
    usable, others = split_by_owner(cameras, accessible_owners)
    union = _union_of_views(model, usable)
    outdoor_m2 = model.outdoor.area if model.outdoor is not None else 0.0
    seen = _seen_by_cameras(model, usable)
    blind = [model.to_lonlat(float(x), float(y)) for x, y in model.samples[~seen]]
    only_m2 = 0.0
    only_points = 0
    if others:
        theirs = _union_of_views(model, others)
        only_m2 = theirs.difference(union).area
        only_points = int((_seen_by_cameras(model, others) & ~seen).sum())
    without = union.area
    if model.trees:
        without = _union_of_views(model.without_trees(), usable).area
    return CoverageReport(
        outdoor_m2=round(outdoor_m2, 1),
        covered_m2=round(union.area, 1),
        cameras=len(usable),
        blind_spots=blind,
        sample_spacing_m=model.spacing_m,
        trees=len(model.trees),
        covered_m2_without_trees=round(without, 1),
        inaccessible_cameras=len(others),
        inaccessible_owners=dict(sorted(Counter(str(c.owner) for c in others).items())),
        inaccessible_only_m2=round(only_m2, 1),
        inaccessible_only_points=only_points,
    )


def _site_sets(model: CoverageModel, sites: Sequence[Site]) -> list[np.ndarray]:
    return [model.seen_by(s.lon, s.lat, s.direction_deg, s.fov_deg, s.range_m) for s in sites]


def _seen_by_cameras(model: CoverageModel, cameras: Sequence[Camera]) -> np.ndarray:
    mask = np.zeros(len(model.samples), dtype=bool)
    for c in cameras:
        mask[model.seen_by(c.lon, c.lat, c.direction_deg, c.fov_deg, c.range_m)] = True
    return mask


def place(
    model: CoverageModel,
    sites: Sequence[Site],
    k: int,
    *,
    risk: np.ndarray | None = None,
    existing: Sequence[Camera] = (),
    method: str = "greedy",
    time_limit_s: float = 20.0,
) -> Placement:
    """Choose ``k`` of ``sites`` to cover the most risk not already seen by ``existing``.

    ``risk`` weighs each sample point (e.g. the forecast risk of its grid cell); by default every
    outdoor point counts the same. ``method`` is ``greedy`` or ``exact`` (CP-SAT).
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    weights = np.ones(len(model.samples)) if risk is None else np.asarray(risk, dtype=float)
    if weights.shape != (len(model.samples),):
        raise ValueError(f"risk needs one weight per sample point ({len(model.samples)})")
    started = time.perf_counter()
    already = _seen_by_cameras(model, existing)
    sets = _site_sets(model, sites) if k > 0 else []  # nothing to place: no rays to cast
    total = float(weights.sum())
    base = float(weights[already].sum())
    bound: float | None = None
    if method == "greedy":
        chosen, gains = _greedy(sets, weights, already, k)
        optimal = False
    elif method == "exact":
        chosen, gains, optimal, bound = _exact(sets, weights, already, k, time_limit_s)
    else:
        raise ValueError("method must be 'greedy' or 'exact'")
    return Placement(
        method=method,
        sites=[sites[i].id for i in chosen],
        gains=[round(g, 6) for g in gains],
        covered_risk=base + float(sum(gains)),
        total_risk=total,
        optimal=optimal,
        seconds=round(time.perf_counter() - started, 3),
        existing_risk=base,
        upper_bound=None if bound is None else base + bound,
    )


def _greedy(
    sets: list[np.ndarray], weights: np.ndarray, already: np.ndarray, k: int
) -> tuple[list[int], list[float]]:
    covered = already.copy()
    chosen: list[int] = []
    gains: list[float] = []
    for _ in range(min(k, len(sets))):
        best, best_gain = -1, 0.0
        for i, members in enumerate(sets):
            if i in chosen:
                continue
            gain = float(weights[members[~covered[members]]].sum())
            if gain > best_gain + 1e-12:  # ties keep the earlier site: stable output
                best, best_gain = i, gain
        if best < 0:
            break
        chosen.append(best)
        gains.append(best_gain)
        covered[sets[best]] = True
    return chosen, gains


def _exact(
    sets: list[np.ndarray],
    weights: np.ndarray,
    already: np.ndarray,
    k: int,
    time_limit_s: float,
) -> tuple[list[int], list[float], bool, float | None]:
    from ortools.sat.python import cp_model

    # Only points some site could newly cover matter, and points covered by exactly the same
    # sites are interchangeable: one variable per distinct set of sites, with their summed
    # weight. Weights are scaled to integers for CP-SAT.
    coverers: dict[int, list[int]] = {}
    for i, members in enumerate(sets):
        for j in members[~already[members]]:
            coverers.setdefault(int(j), []).append(i)
    groups: dict[tuple[int, ...], float] = {}
    for j, sites in coverers.items():
        key = tuple(sites)
        groups[key] = groups.get(key, 0.0) + float(weights[j])
    top = max(groups.values(), default=1.0)
    scale = 1_000_000 / max(top, 1e-12)
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"site_{i}") for i in range(len(sets))]
    y = {key: model.new_bool_var(f"group_{n}") for n, key in enumerate(groups)}
    for key, var in y.items():
        model.add(var <= sum(x[i] for i in key))
    model.add(sum(x) <= k)
    model.maximize(sum(round(groups[key] * scale) * var for key, var in y.items()))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 2
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return [], [], False, None
    picked = [i for i in range(len(sets)) if solver.value(x[i])]
    # Report gains in the order a greedy pass over the picked sites would add them.
    order, gains = _greedy([sets[i] for i in picked], weights, already, len(picked))
    bound = float(solver.best_objective_bound) / scale
    return [picked[i] for i in order], gains, status == cp_model.OPTIMAL, bound


def event_density(
    model: CoverageModel, events: Sequence[tuple[float, float]], bandwidth_m: float = 25.0
) -> np.ndarray:
    """A Gaussian kernel density of ``events`` (lon, lat) at each sample point: where inside
    their cells the recent events fell (for :func:`place_mobile`'s ``within``)."""
    if bandwidth_m <= 0:
        raise ValueError("bandwidth_m must be positive")
    out = np.zeros(len(model.samples), dtype=np.float64)
    if not len(model.samples):
        return out
    reach = 4.0 * bandwidth_m
    for lon, lat in events:
        ex, ey = model.to_metric(lon, lat)
        d2 = (model.samples[:, 0] - ex) ** 2 + (model.samples[:, 1] - ey) ** 2
        near = d2 <= reach * reach
        out[near] += np.exp(-d2[near] / (2.0 * bandwidth_m * bandwidth_m))
    return out


def place_mobile(
    model: CoverageModel,
    sites: Sequence[Site],
    hotspots: Mapping[int, float],
    cell_of_sample: np.ndarray,
    *,
    mobile: int = 1,
    existing: Sequence[Camera] = (),
    within: np.ndarray | None = None,
) -> MobilePlacement:
    """Choose ``mobile`` of ``sites`` that see the most of the emerging hotspots' excess events
    not already seen by the fixed cameras ``existing``.

    ``hotspots`` maps each emerging cell (any integer id) to its excess events (recent minus
    expected); ``cell_of_sample`` gives the cell id of every sample point (-1 for none). Each
    cell's excess is spread over its outdoor sample points (events are taken to happen
    outdoors): in proportion to ``within`` (one weight per sample point, e.g.
    :func:`event_density` of the cells' recent events) where given and positive in the cell,
    else evenly. :func:`place` (greedy; for one site that is the optimum) chooses the sites.
    With no emerging cell the result is empty and says so: nothing is invented.
    """
    if mobile < 0:
        raise ValueError("mobile must be >= 0")
    cells = np.asarray(cell_of_sample, dtype=np.int64)
    if cells.shape != (len(model.samples),):
        raise ValueError(f"cell_of_sample needs one cell per sample point ({len(model.samples)})")
    shape = None if within is None else np.asarray(within, dtype=np.float64)
    if shape is not None and shape.shape != cells.shape:
        raise ValueError(f"within needs one weight per sample point ({len(model.samples)})")
    started = time.perf_counter()
    total = float(sum(max(0.0, float(v)) for v in hotspots.values()))
    if not hotspots:
        return MobilePlacement(
            [], 0.0, 0.0, 0.0, [], reason="no emerging hotspot: nothing for a mobile camera to test"
        )
    weights = np.zeros(len(model.samples), dtype=np.float64)
    outside: list[int] = []
    for cell, excess in hotspots.items():
        members = cells == int(cell)
        n = int(members.sum())
        if not n:
            outside.append(int(cell))
            continue
        share = np.full(n, 1.0 / n)
        if shape is not None:
            local = np.clip(shape[members], 0.0, None)
            if float(local.sum()) > 0:
                share = local / float(local.sum())
        weights[members] = max(0.0, float(excess)) * share
    placed = place(model, sites, mobile, risk=weights, existing=existing, method="greedy")
    where = {s.id: s for s in sites}
    covered = _seen_by_cameras(model, existing)
    chosen: list[MobileSite] = []
    for sid, gain in zip(placed.sites, placed.gains, strict=True):
        site = where[sid]
        members = model.seen_by(site.lon, site.lat, site.direction_deg, site.fov_deg, site.range_m)
        new = members[~covered[members] & (weights[members] > 0)]
        seen: dict[int, float] = {}
        for c, w in zip(cells[new].tolist(), weights[new].tolist(), strict=True):
            seen[c] = seen.get(c, 0.0) + w
        covered[members] = True
        ranked = sorted(seen.items(), key=lambda kv: (-kv[1], kv[0]))
        chosen.append(
            MobileSite(
                sid,
                site.lon,
                site.lat,
                round(gain, 6),
                tuple((c, round(v, 6)) for c, v in ranked),
            )
        )
    reason = ""
    if mobile == 0:
        reason = "no mobile camera asked for"
    elif not chosen:
        if placed.total_risk <= 0:
            reason = "the emerging cells have no outdoor point in the planning area"
        elif placed.existing_risk >= placed.total_risk - 1e-9:
            reason = "the fixed cameras already see every outdoor point of the emerging cells"
        else:
            reason = "no candidate site sees an emerging cell"
    return MobilePlacement(
        sites=chosen,
        excess=round(total, 6),
        fixed_excess=round(placed.existing_risk, 6),
        covered_excess=round(float(sum(placed.gains)), 6),
        outside=sorted(outside),
        reason=reason,
        seconds=round(time.perf_counter() - started, 3),
    )
