"""Every forecasting method finds a planted hotspot; the SEPP recovers its parameters."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy.ndimage import correlate

from safecity.analytics.data import DailyCounts, Grid
from safecity.analytics.evaluation import top_cells
from safecity.analytics.methods import (
    KDE,
    SEPP,
    Forecaster,
    Learned,
    Naive,
    Prospective,
    Retrospective,
)
from safecity.analytics.methods.seppp import lag_kernel, space_kernel


def planted(days: int = 120, seed: int = 1) -> tuple[DailyCounts, int]:
    """A 20 x 20 grid with a low uniform rate and one hot cell at (row 12, col 7)."""
    rng = np.random.default_rng(seed)
    grid = Grid.from_bbox(0.0, 0.0, 3000.0, 3000.0, 150.0)
    rate = np.full(grid.n_cells, 0.005)
    hot = 12 * grid.nx + 7
    rate[hot] = 0.6
    counts = rng.poisson(rate, size=(days, grid.n_cells)).astype(np.int32)
    return DailyCounts(grid, 0, counts), hot


FACTORIES: dict[str, Callable[[], Forecaster]] = {
    "naive": lambda: Naive(7),
    "retrospective": lambda: Retrospective(90),
    "kde": lambda: KDE(150.0, 90),
    "prospective": lambda: Prospective(400.0, 8),
    "sepp": lambda: SEPP(window=120, max_lag=30),
    "sepp_smoothed": lambda: SEPP(window=120, max_lag=30, background_bandwidth_m=150.0),
    "learned": lambda: Learned(train_days=60, max_iter=50),
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_planted_hotspot_is_top_cell(name: str) -> None:
    counts, hot = planted()
    model: Forecaster = FACTORIES[name]()
    model.fit(counts.head(100))
    risk = model.predict(100)
    assert risk.shape == (counts.grid.n_cells,)
    assert np.all(np.isfinite(risk)) and np.all(risk >= 0)
    assert int(top_cells(risk, 1)[0]) == hot
    window = model.predict_window(100, 7)
    assert int(np.argmax(window)) == hot


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_cannot_predict_inside_history(name: str) -> None:
    counts, _ = planted()
    model = FACTORIES[name]().fit(counts.head(100))
    with pytest.raises(ValueError, match="inside the fitted history"):
        model.predict(50)


def test_predict_before_fit_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="fit"):
        Naive().predict(0)


def test_naive_is_last_period_and_retrospective_is_window_mean() -> None:
    grid = Grid.from_bbox(0, 0, 300, 150, 150)  # 2 cells
    counts = DailyCounts(grid, 0, np.array([[1, 0], [0, 2], [3, 0]], dtype=np.int32))
    assert Naive(1).fit(counts).predict(3).tolist() == [3.0, 0.0]
    assert Naive(2).fit(counts).predict(3).tolist() == [3.0, 2.0]
    assert Retrospective(3).fit(counts).predict(3).tolist() == pytest.approx([4 / 3, 2 / 3])


def test_prospective_weights_decay_with_weeks_and_distance() -> None:
    grid = Grid.from_bbox(0, 0, 5 * 150, 150, 150)  # 1 row of 5 cells
    counts = np.zeros((14, 5), dtype=np.int32)
    counts[13, 0] = 1  # yesterday, cell 0
    counts[2, 4] = 1  # second week back, cell 4
    risk = Prospective(bandwidth_m=150.0, weeks=2).fit(DailyCounts(grid, 0, counts)).predict(14)
    # cell 0: 1/(1+0) from this week's event; cell 1: 1/(1+1) of it; cell 4: 1/(1+1) of last
    # week's; cell 3: 1/2 * 1/2
    assert risk.tolist() == pytest.approx([1.0, 0.5, 0.0, 0.25, 0.5])


def test_update_keeps_parameters_but_sees_new_days() -> None:
    counts, _hot = planted()
    model = SEPP(window=100, max_lag=30).fit(counts.head(80))
    params = model.params
    model.update(counts.head(100))
    assert model.params is params
    assert model.history.n_days == 100


def simulate_sepp(
    grid: Grid, days: int, mu: np.ndarray, theta: float, omega: float, sigma: float, seed: int
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    max_lag = 60
    h = lag_kernel(math.exp(-omega), max_lag)
    g = space_kernel(sigma, grid.cell_size, 3)
    counts = np.zeros((days, grid.n_cells), dtype=np.int32)
    for t in range(days):
        lo = max(0, t - max_lag)
        excite = (h[t - np.arange(lo, t)][:, None] * counts[lo:t]).sum(axis=0)
        trig = grid.from_raster(correlate(grid.to_raster(excite), g, mode="constant"))
        counts[t] = rng.poisson(mu + theta * trig)
    return counts


def test_sepp_recovers_background_and_triggering() -> None:
    grid = Grid.from_bbox(0.0, 0.0, 16 * 150.0, 16 * 150.0, 150.0)
    rng = np.random.default_rng(7)
    mu = rng.gamma(2.0, 0.03, grid.n_cells)
    theta, omega, sigma = 0.4, 0.3, 150.0
    days = 730
    counts = simulate_sepp(grid, days, mu, theta, omega, sigma, seed=3)
    model = SEPP(window=days, max_lag=60, trigger_radius_m=450.0)
    model.fit(DailyCounts(grid, 0, counts))
    p = model.params
    assert p is not None
    assert p.theta == pytest.approx(theta, abs=0.08)
    assert p.background_share == pytest.approx(1 - theta, abs=0.08)
    assert p.omega == pytest.approx(omega, rel=0.3)
    assert p.sigma_m == pytest.approx(sigma, rel=0.25)
    # the background rate is recovered in total
    assert p.mu.sum() == pytest.approx(mu.sum(), rel=0.15)


def test_sepp_finds_no_triggering_in_a_poisson_process() -> None:
    grid = Grid.from_bbox(0.0, 0.0, 10 * 150.0, 10 * 150.0, 150.0)
    rng = np.random.default_rng(2)
    counts = rng.poisson(0.1, size=(365, grid.n_cells)).astype(np.int32)
    p = SEPP(window=365, max_lag=30).fit(DailyCounts(grid, 0, counts)).params
    assert p is not None
    assert p.theta < 0.05
