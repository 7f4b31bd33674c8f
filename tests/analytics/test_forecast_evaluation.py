"""Metrics on hand-made examples, the backtest's no-peeking rule, NIJ scoring."""

from __future__ import annotations

import math

import numpy as np
import pytest

from safecity.analytics.data import DailyCounts, Grid
from safecity.analytics.evaluation import (
    backtest,
    bootstrap_mean,
    nij_score,
    score,
    top_cells,
)
from safecity.analytics.methods import Forecaster, Naive

FT = 0.3048


def test_hit_rate_pai_pei_star_by_hand() -> None:
    # 10 cells, 10 % coverage = 1 cell, 20 % = 2 cells
    risk = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0], dtype=float)
    observed = np.array([1, 0, 3, 0, 0, 0, 0, 0, 0, 1])
    s = score(risk, observed, 0.10)
    assert (s.cells, s.hits, s.events, s.best_hits) == (1, 1.0, 5.0, 3.0)
    assert s.hit_rate == pytest.approx(0.2)
    assert s.pai == pytest.approx(2.0)  # 0.2 / 0.1
    assert s.pei_star == pytest.approx(1 / 3)
    s2 = score(risk, observed, 0.20)
    assert s2.hit_rate == pytest.approx(0.2)
    assert s2.pai == pytest.approx(1.0)
    assert s2.pei_star == pytest.approx(1 / 4)  # best two cells hold 3 + 1


def test_perfect_forecast_has_pei_star_one_and_empty_period_is_nan() -> None:
    observed = np.array([0, 2, 0, 5])
    s = score(observed.astype(float), observed, 0.5)
    assert s.pei_star == 1.0 and s.hit_rate == 1.0 and s.pai == 2.0
    empty = score(np.ones(4), np.zeros(4), 0.5)
    assert math.isnan(empty.hit_rate) and math.isnan(empty.pai) and math.isnan(empty.pei_star)


def test_ties_are_broken_by_the_given_order_not_the_cell_number() -> None:
    risk = np.zeros(4)
    assert top_cells(risk, 2).tolist() == [0, 1]
    tie = np.array([0.1, 0.9, 0.5, 0.7])
    assert top_cells(risk, 2, tie).tolist() == [1, 3]


def test_bootstrap_interval_contains_mean_and_skips_nan() -> None:
    iv = bootstrap_mean([0.1, 0.2, 0.3, math.nan, 0.4], reps=500)
    assert iv.mean == pytest.approx(0.25)
    assert iv.low <= iv.mean <= iv.high
    assert iv.low >= 0.1 and iv.high <= 0.4
    assert math.isnan(bootstrap_mean([math.nan]).mean)


class Spy(Forecaster):
    """Records what it was shown; forecasts the cell that will be hit tomorrow if it peeks."""

    name = "spy"
    seen: list[int]

    def __init__(self) -> None:
        super().__init__()
        self.seen = []

    def _fit(self, counts: DailyCounts) -> None:
        self.seen.append(counts.n_days)

    def predict(self, day: int) -> np.ndarray:
        self._check_day(day)
        return np.asarray(self.history.counts[-1], dtype=np.float64)


def test_backtest_rolls_origins_and_never_shows_the_future() -> None:
    grid = Grid.from_bbox(0, 0, 300, 300, 150)
    counts = DailyCounts(grid, 0, np.eye(4, dtype=np.int32)[np.arange(20) % 4])
    spy = Spy()
    res = backtest(lambda: spy, counts, 10, 19, horizon=1, refit_every=1, coverages=(0.25,))
    assert res.origins == list(range(10, 20))
    assert spy.seen == list(range(10, 20))
    # yesterday's cell is never today's cell here, so a non-peeking naive forecast misses
    assert np.nansum(res.hit_rates(0.25)) == 0.0
    weekly = backtest(lambda: Naive(4), counts, 4, 19, horizon=4, coverages=(0.25,))
    assert weekly.origins == [4, 8, 12, 16]
    assert weekly.hit_rates(0.25).tolist() == [0.25] * 4
    summary = weekly.summary((0.25,))
    assert summary["periods"] == 4


def test_nij_score_by_hand() -> None:
    cell = 600 * FT  # 360,000 ft² cells; 0.75 mi² holds 58 of them
    n = 1000
    risk = np.arange(n, 0, -1, dtype=float)
    observed = np.zeros(n)
    observed[:10] = 1  # 10 events in the 10 top cells
    observed[500:520] = 1  # 20 elsewhere
    area = 147.7 * 1609.344**2
    s = nij_score(risk, observed, cell, area, 0.75)
    assert s.cells == 58
    assert s.hits == 10 and s.events == 30 and s.best_hits == 30
    a = 58 * (600 * FT) ** 2 / 1609.344**2
    assert s.pai == pytest.approx((10 / 30) / (a / 147.7))
    assert s.pei == pytest.approx(1 / 3)


def test_nij_rules_are_enforced() -> None:
    with pytest.raises(ValueError, match="62,500"):
        nij_score(np.ones(3), np.ones(3), 50.0, 1e8)
    with pytest.raises(ValueError, match=r"0\.25-0\.75"):
        nij_score(np.ones(3), np.ones(3), 500 * FT, 1e8, forecast_area_mi2=1.0)
