"""Reading event tables, grids and counts; a smoke test on each shared dataset."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from safecity.analytics import data as d
from safecity.analytics.evaluation import backtest
from safecity.analytics.methods import KDE, SEPP, Naive

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "crime"
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"shared crime data not found at {SHARED}"
)


def test_csv_mapping_projects_filters_and_drops_missing(tmp_path: Path) -> None:
    path = tmp_path / "events.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write("when,lon,lat,kind\n")
        fh.write("2020-01-02 10:30,-87.63,41.88,a\n")
        fh.write("2020-01-01 23:59,-87.64,41.89,a\n")
        fh.write("2020-01-01 01:00,0,0,a\n")
        fh.write("2020-01-03 00:00,-87.65,41.90,b\n")
        fh.write("2020-01-03 00:00,,41.90,a\n")
    m = d.CsvMapping(
        time="when",
        x="lon",
        y="lat",
        crs="EPSG:4326",
        metric_crs="EPSG:26916",
        category="kind",
        categories=frozenset({"a"}),
    )
    ev = d.load_events(path, m)
    assert len(ev) == 2
    assert ev.days.tolist() == [d.day_number("2020-01-01"), d.day_number("2020-01-02")]
    assert 440_000 < ev.x[0] < 450_000 and 4_630_000 < ev.y[0] < 4_645_000  # UTM 16N metres
    assert ev.categories is not None and ev.categories.tolist() == ["a", "a"]
    assert len(ev.between("2020-01-02", "2020-01-03")) == 1


def test_split_time_columns(tmp_path: Path) -> None:
    path = tmp_path / "v.csv"
    path.write_text("YEAR,MONTH,DAY,HOUR,MINUTE,X,Y,TYPE\n2020,2,29,13,5,491000,5459000,Mischief\n")
    ev = d.load_events(path, d.VANCOUVER)
    assert ev.times.tolist() == [int(np.datetime64("2020-02-29T13:05", "s").astype(np.int64))]
    assert ev.x.tolist() == [491000.0]


def test_grid_indexes_counts_and_masks() -> None:
    ring = [(0.0, 0.0), (300.0, 0.0), (300.0, 300.0), (0.0, 300.0)]
    hole = [(150.0, 150.0), (300.0, 150.0), (300.0, 300.0), (150.0, 300.0)]
    g = d.Grid.from_polygon([ring, hole], cell_size=150.0)
    assert (g.nx, g.ny, g.n_cells) == (2, 2, 3)  # the hole removes the top-right cell
    assert g.cell_index(
        np.array([10.0, 160.0, 200.0, -5.0]), np.array([10.0, 10.0, 200.0, 0.0])
    ).tolist() == [0, 1, -1, -1]
    assert g.centres().tolist() == [[75.0, 75.0], [225.0, 75.0], [75.0, 225.0]]
    ev = d.EventTable(
        np.array([0, 3600, 86_400 + 5, 86_400 * 5], dtype=np.int64),
        np.array([10.0, 20.0, 160.0, 10.0]),
        np.array([10.0, 20.0, 10.0, 10.0]),
        "local",
    )
    c = g.counts(ev, 0, 3)
    assert c.counts.tolist() == [[2, 0, 0], [0, 1, 0], [0, 0, 0]]
    assert c.head(1).counts.tolist() == [[2, 0, 0]]
    assert g.from_raster(g.to_raster(np.array([1.0, 2.0, 3.0]))).tolist() == [1.0, 2.0, 3.0]


def _smoke(counts: d.DailyCounts, first: int, last: int, horizon: int = 1) -> None:
    for make in (lambda: Naive(7), lambda: KDE(300.0, 120), lambda: SEPP(window=180, max_lag=60)):
        res = backtest(make, counts, first, last, horizon=horizon)
        hr = res.hit_rates(0.05)
        assert len(res.origins) >= 1
        assert np.all((hr[np.isfinite(hr)] >= 0) & (hr[np.isfinite(hr)] <= 1))


@needs_shared
def test_chicago_slice() -> None:
    base = SHARED / "chicago"
    ev = d.load_events(base / "chicago_aggravated_assaults_2010_2017.csv.gz", d.CHICAGO)
    assert len(ev) == 117_875
    g = d.Grid.from_polygon(d.chicago_area(base / "chicago_police_districts_2018.kml"))
    assert 26_000 < g.n_cells < 28_500
    counts = g.counts(ev, "2017-01-01", 200)
    assert counts.counts.sum() > 0.99 * len(ev.between("2017-01-01", "2017-07-20"))
    _smoke(counts, 180, 194)


@needs_shared
def test_portland_slice() -> None:
    base = SHARED / "portland"
    ev = d.load_events(base / "nij_portland_burglary_cfs_2012-03_2017-02.csv.gz", d.PORTLAND_NIJ)
    assert len(ev) == 5_096
    g = d.Grid.from_polygon(
        d.portland_area(base / "portland_police_districts_shapefile.zip"), 600 * 0.3048
    )
    assert g.area_geometry is not None
    assert g.area_geometry.area / 1609.344**2 == pytest.approx(147.7, abs=0.5)
    counts = g.counts(ev, "2016-03-01", 365)
    assert counts.counts.sum() > 0.99 * len(ev.between("2016-03-01", "2017-03-01"))
    _smoke(counts, 330, 351, horizon=7)
    monthly = d.load_events(
        base / "nij_portland_all_cfs_2016-08.csv.gz", d.portland_all_cfs("BURGLARY")
    )
    assert len(monthly) == 87


@needs_shared
def test_vancouver_slice() -> None:
    base = SHARED / "vancouver"
    ev = d.load_events(
        base / "vancouver_crimes_2020.csv.gz", d.vancouver(["Theft from Vehicle", "Mischief"])
    )
    assert 16_000 < len(ev) <= 10_428 + 6_113
    g = d.Grid.from_polygon(d.vancouver_area(base / "vancouver_neighbourhoods.geojson"))
    counts = g.counts(ev, "2020-01-01", 366)
    assert counts.counts.sum() > 0.98 * len(ev)
    _smoke(counts, 274, 281)
