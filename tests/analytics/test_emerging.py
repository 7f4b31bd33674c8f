"""Emerging hotspots: a new cluster is found, a steady hotspot is not new, and pure background
gives (almost) nothing, on synthetic Poisson counts with fixed seeds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import false_discovery_control

from safecity.analytics.data import DailyCounts, Grid
from safecity.analytics.emerging import emerging_hotspots

DAYS = 365 + 28


def _background(seed: int, side: int = 40) -> tuple[Grid, np.ndarray]:
    """Days x cells of Poisson counts with heterogeneous rates (mean 0.01 a day per cell)."""
    grid = Grid.from_bbox(0.0, 0.0, side * 150.0, side * 150.0, 150.0)
    rng = np.random.default_rng(seed)
    rate = rng.gamma(0.5, 0.02, grid.n_cells)
    return grid, rng.poisson(rate, (DAYS, grid.n_cells)).astype(np.int32)


def test_a_new_cluster_is_found_and_a_steady_hotspot_is_not_new() -> None:
    grid, counts = _background(1)
    rng = np.random.default_rng(2)
    new, steady = 345, 1210
    # A steady hotspot: about two events a week all year, the last four weeks included.
    counts[:, steady] = rng.poisson(0.3, DAYS)
    # A new cluster: nothing before, eight events in the last three weeks.
    counts[:, new] = 0
    for day in rng.integers(DAYS - 21, DAYS, 8):
        counts[day, new] += 1
    found = emerging_hotspots(DailyCounts(grid, 0, counts))
    assert found.recent_days == 28 and found.baseline_days == 365
    assert found.tested > 1000
    assert list(found.cells) == [new]
    assert found.recent[0] == 8
    # No history: expected = 28 days x the prior (1 event) / 365 days.
    assert found.expected[0] == pytest.approx(28 / 365)
    assert found.ratio[0] == pytest.approx(8 / (28 / 365))
    assert found.excess[0] == pytest.approx(8 - 28 / 365)
    assert found.p[0] < 1e-9 and found.q[0] < 0.05
    # The steady hotspot is busy, but no busier than its own long-run rate predicts.
    recent_steady = int(counts[-28:, steady].sum())
    assert recent_steady >= 3 and steady not in set(found.cells.tolist())


def test_min_events_and_the_multiple_testing_correction() -> None:
    grid, counts = _background(3)
    new = 100
    counts[:, new] = 0
    counts[-5, new] = 2  # two events in a cell with no history
    # With the default prior (one event a year) two events are not enough among 1,000 cells.
    assert new not in set(emerging_hotspots(DailyCounts(grid, 0, counts), min_events=2).cells)
    # A tiny prior makes an empty history very sure, and then min_events is what holds back.
    tiny = {"prior": 0.01}
    assert new not in set(emerging_hotspots(DailyCounts(grid, 0, counts), **tiny).cells)
    assert new in set(emerging_hotspots(DailyCounts(grid, 0, counts), min_events=2, **tiny).cells)
    # The q-values are Benjamini–Hochberg over every cell with an event in either window.
    counts[-20:-10, new] = 1
    found = emerging_hotspots(DailyCounts(grid, 0, counts), alpha=0.5, min_events=1)
    assert len(found) > 1
    assert np.all(np.diff(found.p) >= 0)
    recent = counts[-28:].sum(axis=0)
    base = counts[:-28].sum(axis=0)
    tested = np.flatnonzero(recent + base > 0)
    expected = 28 * (base[tested] + 1.0) / 365
    from scipy.stats import poisson

    p = poisson.sf(recent[tested] - 1, expected)
    q = false_discovery_control(p)
    where = {int(c): i for i, c in enumerate(tested)}
    for cell, got in zip(found.cells.tolist(), found.q.tolist(), strict=True):
        assert got == pytest.approx(q[where[cell]])
    assert found.tested == len(tested)


def test_no_cells_on_pure_background() -> None:
    """Twenty 40 x 40 grids of steady Poisson background: with q < 0.05 at most one run may
    report anything (the global null's false-positive rate is at most alpha)."""
    reported = []
    for seed in range(20):
        grid, counts = _background(seed)
        reported.append(len(emerging_hotspots(DailyCounts(grid, 0, counts))))
    assert sum(1 for n in reported if n) <= 1
    assert sum(reported) <= 1


def test_short_history_and_bad_arguments() -> None:
    grid, counts = _background(4, side=5)
    short = emerging_hotspots(DailyCounts(grid, 0, counts[:28]))
    assert len(short) == 0 and short.baseline_days == 0 and "no history" in short.reason
    # Less than a year before the recent days: the baseline is what there is.
    partial = emerging_hotspots(DailyCounts(grid, 0, counts[:128]))
    assert partial.baseline_days == 100 and partial.reason == ""
    empty = emerging_hotspots(DailyCounts(grid, 0, np.zeros_like(counts)))
    assert len(empty) == 0 and empty.tested == 0 and empty.reason
    for bad in ({"recent_days": 0}, {"prior": 0.0}, {"alpha": 1.0}, {"min_events": 0}):
        with pytest.raises(ValueError):
            emerging_hotspots(DailyCounts(grid, 0, counts), **bad)  # type: ignore[arg-type]
