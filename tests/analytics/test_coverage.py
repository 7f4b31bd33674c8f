"""Camera coverage: walls cast shadows, blind spots are where nothing sees, and the placement
of new cameras covers the most risk (greedy close to the exact optimum)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from safecity.analytics.coverage import (
    Camera,
    CoverageModel,
    Site,
    coverage,
    event_density,
    place,
    place_mobile,
)

LON0, LAT0 = 24.94, 60.17
M_LAT = 111_320.0
M_LON = 111_320.0 * math.cos(math.radians(LAT0))


def at(east: float, north: float) -> tuple[float, float]:
    return LON0 + east / M_LON, LAT0 + north / M_LAT


def square(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [at(x0, y0), at(x1, y0), at(x1, y1), at(x0, y1), at(x0, y0)]


AREA = square(0, 0, 200, 200)
#: A building in the middle of the square: 40 x 40 m.
BUILDING = square(80, 80, 120, 120)


def test_a_camera_sees_its_wedge_and_a_building_casts_a_shadow() -> None:
    open_model = CoverageModel.build(AREA, spacing_m=5.0)
    built = CoverageModel.build(AREA, [BUILDING], spacing_m=5.0)
    # Looking east along y=100 from x=20, straight at the building 60 m away.
    cam = Camera("c1", *at(20, 100), direction_deg=90.0, fov_deg=60.0, range_m=150.0)
    free = coverage(open_model, [cam])
    shadowed = coverage(built, [cam])
    wedge_m2 = math.pi * 150.0**2 * 60.0 / 360.0
    assert free.covered_m2 == pytest.approx(wedge_m2, rel=0.03)
    assert shadowed.covered_m2 < free.covered_m2 * 0.75  # the far side is hidden
    assert built.outdoor is not None
    assert built.outdoor.area == pytest.approx(200 * 200 - 40 * 40, rel=0.01)
    # A point behind the building is a blind spot; a point in front of it is seen.
    behind = at(150, 100)
    front = at(60, 100)
    blind = {(round(lon, 5), round(lat, 5)) for lon, lat in shadowed.blind_spots}

    def near_blind(p: tuple[float, float]) -> bool:
        return any(
            abs(lon - p[0]) * M_LON < 4 and abs(lat - p[1]) * M_LAT < 4 for lon, lat in blind
        )

    assert near_blind(behind)
    assert not near_blind(front)


def test_placement_covers_the_most_risk_and_greedy_is_near_exact() -> None:
    model = CoverageModel.build(AREA, [BUILDING], spacing_m=10.0)
    sites = [
        Site(f"lamp-{i}-{j}", *at(25 + 50 * i, 25 + 50 * j), range_m=40.0)
        for i in range(4)
        for j in range(4)
    ]
    # Risk concentrated in the north-east (the model's frame is centred on the square): the
    # best single site is the north-east lamp.
    risk = np.where((model.samples[:, 0] > 30) & (model.samples[:, 1] > 30), 10.0, 1.0)
    one = place(model, sites, 1, risk=risk)
    assert one.sites == ["lamp-3-3"]
    greedy = place(model, sites, 3, risk=risk, method="greedy")
    exact = place(model, sites, 3, risk=risk, method="exact", time_limit_s=10)
    assert exact.optimal
    assert exact.upper_bound == pytest.approx(exact.covered_risk, rel=1e-4)
    assert exact.covered_risk >= greedy.covered_risk - 1e-6
    assert greedy.covered_risk >= (1 - 1 / math.e) * exact.covered_risk
    assert len(set(greedy.sites)) == 3
    assert greedy.gains == sorted(greedy.gains, reverse=True)


def test_existing_cameras_are_not_counted_twice() -> None:
    model = CoverageModel.build(AREA, spacing_m=10.0)
    existing = [Camera("c", *at(100, 100), fov_deg=360.0, range_m=60.0)]
    sites = [Site("same-place", *at(100, 100), range_m=60.0), Site("corner", *at(20, 20))]
    chosen = place(model, sites, 1, existing=existing)
    assert chosen.sites == ["corner"]
    assert chosen.existing_risk > 0
    with pytest.raises(ValueError, match="one weight per sample"):
        place(model, sites, 1, risk=np.ones(3))


def test_a_mobile_camera_goes_to_the_new_hotspot_no_fixed_camera_sees() -> None:
    model = CoverageModel.build(AREA, spacing_m=10.0)
    cx, cy = model.to_metric(*at(100, 100))
    # Four 100 m quadrants as the forecast's cells: 0 south-west, 1 south-east, 2 north-west,
    # 3 north-east.
    quadrant = (model.samples[:, 0] > cx).astype(int) + 2 * (model.samples[:, 1] > cy)
    fixed = [Camera("fixed-ne", *at(150, 150), fov_deg=360.0, range_m=80.0)]
    sites = [
        Site("lamp-ne", *at(150, 150), range_m=80.0),
        Site("lamp-mid", *at(100, 100), range_m=40.0),
        Site("lamp-sw", *at(50, 50), range_m=80.0),
    ]
    # Two emerging cells: the north-east one is already watched by the fixed camera.
    hotspots = {3: 5.0, 0: 3.0}
    plan = place_mobile(model, sites, hotspots, quadrant, existing=fixed)
    assert [s.id for s in plan.sites] == ["lamp-sw"]
    assert [c for c, _ in plan.sites[0].cells] == [0]
    assert plan.sites[0].cells[0][1] == pytest.approx(3.0, rel=0.02)
    assert plan.excess == pytest.approx(8.0)
    assert plan.fixed_share == pytest.approx(5 / 8, rel=0.02)
    assert plan.covered_share == pytest.approx(3 / 8, rel=0.02)
    assert plan.reason == ""
    # A second mobile camera has nothing left to see: it is not placed for nothing.
    two = place_mobile(model, sites, hotspots, quadrant, existing=fixed, mobile=2)
    assert [s.id for s in two.sites] == ["lamp-sw"]
    # Without the fixed camera the bigger cluster comes first.
    bare = place_mobile(model, sites, hotspots, quadrant)
    assert bare.sites[0].id == "lamp-ne" and bare.sites[0].excess == pytest.approx(5.0, rel=0.02)


def test_no_emerging_hotspot_means_no_mobile_site() -> None:
    model = CoverageModel.build(AREA, spacing_m=20.0)
    sites = [Site("lamp", *at(100, 100))]
    none = np.full(len(model.samples), -1)
    empty = place_mobile(model, sites, {}, none)
    assert empty.sites == [] and "no emerging hotspot" in empty.reason
    assert empty.covered_share == 0.0
    away = place_mobile(model, sites, {42: 4.0}, none)
    assert away.sites == [] and away.outside == [42] and "no outdoor point" in away.reason
    seen = place_mobile(
        model,
        sites,
        {1: 4.0},
        np.ones(len(model.samples), dtype=int),
        existing=[Camera("all", *at(100, 100), fov_deg=360.0, range_m=500.0)],
    )
    assert seen.sites == [] and "already see" in seen.reason
    with pytest.raises(ValueError, match="one cell per sample"):
        place_mobile(model, sites, {1: 1.0}, np.ones(3, dtype=int))


def test_the_excess_follows_where_the_recent_events_fell_inside_the_cell() -> None:
    model = CoverageModel.build(AREA, spacing_m=10.0)
    one_cell = np.zeros(len(model.samples), dtype=int)  # the whole square is one cell
    sites = [Site("lamp-sw", *at(40, 40), range_m=40.0), Site("lamp-ne", *at(160, 160))]
    events = [at(150 + d, 155 - d) for d in range(5)]  # all near the north-east lamp
    density = event_density(model, events)
    plan = place_mobile(model, sites, {0: 5.0}, one_cell, within=density)
    assert plan.sites[0].id == "lamp-ne"
    assert plan.covered_share > 0.8
    even = place_mobile(model, sites, {0: 5.0}, one_cell)
    assert even.covered_share < 0.4  # spread over the whole square, one lamp sees a part
    with pytest.raises(ValueError, match="within needs"):
        place_mobile(model, sites, {0: 5.0}, one_cell, within=np.ones(2))


def circle(east: float, north: float, radius: float, n: int = 16) -> list[tuple[float, float]]:
    ring = [
        at(
            east + radius * math.cos(2 * math.pi * i / n),
            north + radius * math.sin(2 * math.pi * i / n),
        )
        for i in range(n)
    ]
    return [*ring, ring[0]]


def _seen(report_blind: list[tuple[float, float]], p: tuple[float, float]) -> bool:
    """Whether the sample point nearest ``p`` (within 4 m) is not a blind spot."""
    return not any(
        abs(lon - p[0]) * M_LON < 4 and abs(lat - p[1]) * M_LAT < 4 for lon, lat in report_blind
    )


def test_a_tree_in_leaf_hides_what_is_behind_it_and_bare_it_does_not() -> None:
    # A 6 m crown 30 m east of a camera looking east: the point 30 m behind it is hidden in
    # leaf; with the leaves fallen (foliage="bare" drops a deciduous crown) it is seen.
    crown = circle(80, 100, 3.0)
    cam = Camera("c1", *at(50, 100), direction_deg=90.0, fov_deg=60.0, range_m=100.0)
    leaf = CoverageModel.build(AREA, trees=[crown], spacing_m=5.0)
    bare = CoverageModel.build(AREA, trees=[], spacing_m=5.0)
    in_leaf = coverage(leaf, [cam])
    leafless = coverage(bare, [cam])
    behind, beside = at(110, 100), at(110, 130)
    assert not _seen(in_leaf.blind_spots, behind)
    assert _seen(leafless.blind_spots, behind)
    assert _seen(in_leaf.blind_spots, beside) and _seen(leafless.blind_spots, beside)
    # The crown is not a building: the ground under it stays outdoors.
    assert leaf.outdoor is not None and bare.outdoor is not None
    assert leaf.outdoor.area == pytest.approx(bare.outdoor.area)
    # The report says what the trees cost: the covered area without them is the bare one.
    assert in_leaf.trees == 1 and leafless.trees == 0
    assert in_leaf.covered_m2_without_trees == pytest.approx(leafless.covered_m2, rel=1e-6)
    assert in_leaf.covered_m2 < leafless.covered_m2
    assert in_leaf.trees_cost_share > 0 and leafless.trees_cost_share == 0
    # A camera inside a crown (a pole under a tree) still sees out of it.
    under = Camera("c2", *at(80, 100), direction_deg=90.0, fov_deg=60.0, range_m=50.0)
    assert coverage(leaf, [under]).covered_m2 > 0.9 * coverage(bare, [under]).covered_m2


def test_a_camera_the_control_room_cannot_access_is_a_blind_spot_reported_apart() -> None:
    model = CoverageModel.build(AREA, spacing_m=5.0)
    police = Camera("police", *at(40, 100), 270.0, 90.0, 30.0, owner="police")
    mall = Camera("mall-cctv", *at(160, 100), 90.0, 90.0, 30.0, owner="kamppi-mall")
    unknown = Camera("no-owner", *at(100, 40), 180.0, 90.0, 30.0)
    everyone = coverage(model, [police, mall, unknown])
    assert everyone.cameras == 3 and everyone.inaccessible_cameras == 0
    assert everyone.inaccessible_only_m2 == 0 and everyone.inaccessible_owners == {}
    report = coverage(model, [police, mall, unknown], accessible_owners={"police"})
    # The mall's camera does not count as seeing; a camera with no owner said still does.
    assert report.cameras == 2 and report.inaccessible_cameras == 1
    assert report.inaccessible_owners == {"kamppi-mall": 1}
    assert report.covered_m2 == pytest.approx(everyone.covered_m2 * 2 / 3, rel=0.02)
    wedge_m2 = math.pi * 30.0**2 / 4
    assert report.inaccessible_only_m2 == pytest.approx(wedge_m2, rel=0.03)
    assert report.inaccessible_only_share == pytest.approx(wedge_m2 / 40_000, rel=0.03)
    assert report.inaccessible_only_points > 0
    in_mall_view = at(175, 100)
    assert not _seen(report.blind_spots, in_mall_view)  # a blind spot for the control room
    assert _seen(everyone.blind_spots, in_mall_view)
    # What an accessible camera also sees is not "only" theirs.
    overlap = Camera("police-2", *at(160, 100), 90.0, 90.0, 30.0, owner="police")
    both = coverage(model, [police, mall, overlap], accessible_owners=["police"])
    assert both.inaccessible_only_m2 == pytest.approx(0.0, abs=1.0)
    assert both.inaccessible_only_points == 0
