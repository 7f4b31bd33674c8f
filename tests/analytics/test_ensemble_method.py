"""The empirical-Bayes ensemble: stable places beat one-off bursts, and fitting never looks past
its cut-off."""

from __future__ import annotations

import math

import numpy as np
import pytest

from safecity.analytics.data import DailyCounts, Grid
from safecity.analytics.evaluation import top_cells
from safecity.analytics.methods import Ensemble, Forecaster
from safecity.analytics.methods.ensemble import BANDWIDTHS_M, HALF_LIVES, KAPPAS

DAYS = 730
GRID = Grid.from_bbox(0.0, 0.0, 3000.0, 3000.0, 150.0)  # 20 x 20 cells
HOT = 12 * GRID.nx + 7  # stable hotspot
BURST = 4 * GRID.nx + 15  # one day of many events
NEW = 17 * GRID.nx + 2  # a hotspot that appears only after the cut-off


def synthetic(seed: int = 3, after: int = 0) -> DailyCounts:
    """Two years of a low background, a stable hotspot and a one-off burst 120 days before the
    end; ``after`` extra days in which a new, very hot cell appears (after the cut-off)."""
    rng = np.random.default_rng(seed)
    rate = np.full(GRID.n_cells, 0.002)
    rate[HOT] = 0.04
    counts = rng.poisson(rate, size=(DAYS + after, GRID.n_cells)).astype(np.int32)
    counts[DAYS - 120, BURST] += 10
    if after:
        counts[DAYS:, NEW] += 5
    return DailyCounts(GRID, 0, counts)


def test_stable_hotspot_ranks_above_one_off_burst() -> None:
    counts = synthetic()
    hist = counts.counts
    assert hist[:, BURST].sum() < hist[:, HOT].sum()  # the premise: the burst is one-off
    model = Ensemble().fit(counts)
    risk = model.predict(DAYS)
    assert np.all(np.isfinite(risk)) and np.all(risk >= 0)
    assert int(top_cells(risk, 1)[0]) == HOT
    assert risk[HOT] > risk[BURST]
    choice = model.choice
    assert choice is not None
    assert choice.half_life in HALF_LIVES
    assert choice.bandwidth_m in BANDWIDTHS_M
    assert choice.kappa in KAPPAS
    assert choice.events > 0 and 0.0 < choice.hit_rate <= 1.0


def test_fit_never_reads_after_the_cut_off() -> None:
    plain = synthetic()
    changed = synthetic(after=200)  # same first DAYS days, a new hotspot afterwards
    assert np.array_equal(plain.counts, changed.counts[:DAYS])
    a = Ensemble().fit(plain)
    b = Ensemble().fit(changed.head(DAYS))
    assert a.choice == b.choice
    np.testing.assert_array_equal(a.predict(DAYS), b.predict(DAYS))
    rank_new = int(np.argsort(-b.predict(DAYS)).tolist().index(NEW))
    assert rank_new > 20  # the future hotspot is invisible at the cut-off
    # updating with the new days moves the data, never the frozen hyper-parameters
    before = b.choice
    b.update(changed.head(DAYS + 100))
    assert b.choice == before
    assert int(top_cells(b.predict(DAYS + 100), 1)[0]) == NEW


def test_fixed_hyper_parameters_give_the_posterior_mean() -> None:
    counts = synthetic()
    model = Ensemble(half_life=math.inf, bandwidth_m=150.0, kappa=0.0, memory=365).fit(counts)
    np.testing.assert_allclose(
        model.predict(DAYS), counts.counts[-365:].sum(axis=0) / 365.0, rtol=1e-12
    )
    assert model.predict_window(DAYS, 7) == pytest.approx(model.predict(DAYS) * 7.0)
    smooth = Ensemble(half_life=math.inf, bandwidth_m=150.0, kappa=math.inf, memory=365)
    shrunk = Ensemble(half_life=math.inf, bandwidth_m=150.0, kappa=365.0, memory=365)
    own = model.predict(DAYS)
    kde = smooth.fit(counts).predict(DAYS)
    np.testing.assert_allclose(shrunk.fit(counts).predict(DAYS), (own + kde) / 2.0, rtol=1e-9)


def test_predict_needs_a_fit_and_a_future_day() -> None:
    model: Forecaster = Ensemble()
    with pytest.raises(RuntimeError):
        model.predict(0)
    model.fit(synthetic().head(400))
    with pytest.raises(ValueError, match="inside the fitted history"):
        model.predict(399)


def test_short_history_falls_back_to_defaults() -> None:
    model = Ensemble().fit(synthetic().head(20))
    assert model.choice is not None
    assert (model.choice.half_life, model.choice.bandwidth_m, model.choice.kappa) == (
        365.0,
        300.0,
        100.0,
    )
    assert math.isnan(model.choice.hit_rate)
    assert model.predict(20).shape == (GRID.n_cells,)
