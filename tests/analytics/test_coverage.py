"""Camera coverage: walls cast shadows, blind spots are where nothing sees, and the placement
of new cameras covers the most risk (greedy close to the exact optimum)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from safecity.analytics.coverage import Camera, CoverageModel, Site, coverage, place

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
