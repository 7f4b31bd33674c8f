"""Empirical-Bayes multi-scale ensemble: shrunken, recency-weighted cell counts.

**What.** The risk of cell *c* is the posterior mean of its daily rate under a Poisson–gamma
model whose prior is centred on the cell's kernel-smoothed neighbourhood rate::

    y_c   = Σ_age w(age) · count(c, n − age),   w(age) = 2^(−age / half_life),  age ≤ memory
    E     = Σ_age w(age)                        (effective exposure, days)
    m_c   = (G_σ * y)_c / E                      (KDE-smoothed neighbourhood rate, the prior mean)
    λ̂_c  = (y_c + κ · m_c) / (E + κ)            (Gamma(κ m_c, κ) prior, Poisson counts)

so ``λ̂`` blends three scales: the cell's own long-window count (stable places, the
retrospective map), the same counts smoothed over a neighbourhood (the KDE map), and, through
the exponential weights, recent events more than old ones (the prospective idea, at the scale
of months rather than days). The prior strength κ is in days of exposure: with little history
(sparse data) the estimate leans on the neighbourhood; with much, on the cell itself
(κ = 0 is a recency-weighted retrospective map, κ → ∞ a recency-weighted KDE).

**Why.** Cell counts are noisy estimates of a persistent place effect (Weisburd et al. 2004;
Chainey, Tompson & Uhlig 2008), and at a small coverage the flagged set is decided among many
cells with the same few events. Shrinking each cell toward its neighbourhood (Poisson–gamma
empirical Bayes: Clayton & Kaldor 1987, *Biometrics* 43(3); the same structure as the
"smoothed background" of Mohler et al. 2011) removes part of that noise without giving up the
cell-level concentration that a plain KDE loses on dense, block-snapped data. Exponential
forgetting (a "long memory, recent emphasis" compromise; cf. Bowers, Johnson & Pease 2004 on
prospective mapping and Johnson et al. 2009 on the stability of hotspots) lets the map use more
than one year without over-weighting places that have cooled.

**How the hyper-parameters are chosen.** ``fit(counts)`` runs a rolling-origin validation on
the last ``validation_days`` of ``counts`` only: at origins every ``step`` days it builds the
map from the days before the origin for every (half-life, bandwidth, κ) on a small fixed grid,
and scores the events of the next ``step`` days at ``coverage`` (pooled hit rate). The best
triple is frozen; ``update`` only moves the data window. Nothing after ``counts.n_days`` is
read, so the scoring period of a benchmark is never seen. The grid is small and chosen in
advance (literature scales: 3–24 month memories, 75–600 m kernels), so the validation selects
a regime (how much memory, how much smoothing) rather than tuning decimals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from safecity.analytics.data import DailyCounts, Grid
from safecity.analytics.methods.base import FloatArray, Forecaster

#: Candidate grids, simplest first (ties in validation go to the first: a flat count, no
#: shrinkage, the narrowest kernel).
HALF_LIVES: tuple[float, ...] = (math.inf, 730.0, 365.0, 182.0, 91.0)
BANDWIDTHS_M: tuple[float, ...] = (75.0, 150.0, 300.0, 600.0)
KAPPAS: tuple[float, ...] = (0.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, math.inf)


@dataclass(frozen=True)
class Choice:
    """The hyper-parameters picked by the internal validation, and its score."""

    half_life: float
    bandwidth_m: float
    kappa: float
    hit_rate: float
    events: int


def _weights(n_ages: int, half_life: float) -> FloatArray:
    """w(age) for age = 1..n_ages (age 1 = the last day of the history)."""
    age = np.arange(1, n_ages + 1, dtype=np.float64)
    if math.isinf(half_life):
        return np.ones(n_ages, dtype=np.float64)
    return np.asarray(np.exp2(-(age - 1.0) / half_life), dtype=np.float64)


def _smooth(grid: Grid, values: FloatArray, bandwidth_m: float) -> FloatArray:
    raster = grid.to_raster(values)
    sm = gaussian_filter(raster, sigma=bandwidth_m / grid.cell_size, mode="constant")
    return grid.from_raster(np.asarray(sm, dtype=np.float64))


def _blend(own: FloatArray, smooth: FloatArray, exposure: float, kappa: float) -> FloatArray:
    """Posterior mean rate (y + κ m) / (E + κ) with m = smooth / E."""
    if math.isinf(kappa):
        return smooth / exposure
    return (own + kappa * smooth / exposure) / (exposure + kappa)


class Ensemble(Forecaster):
    """Empirical-Bayes blend of own, smoothed and recency-weighted counts (module docstring).

    Pass ``half_life``, ``bandwidth_m`` and ``kappa`` to fix the hyper-parameters; leave any of
    them ``None`` to choose it by the internal rolling-origin validation in ``fit``."""

    name = "ensemble"

    def __init__(
        self,
        half_life: float | None = None,
        bandwidth_m: float | None = None,
        kappa: float | None = None,
        memory: int = 1095,
        validation_days: int = 364,
        step: int = 28,
        coverage: float = 0.05,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.half_life = half_life
        self.bandwidth_m = bandwidth_m
        self.kappa = kappa
        self.memory = memory
        self.validation_days = validation_days
        self.step = step
        self.coverage = coverage
        self.seed = seed
        self.choice: Choice | None = None

    # ------------------------------------------------------------------ core map

    def _own(self, counts: DailyCounts, origin: int, half_lives: Sequence[float]) -> FloatArray:
        """Recency-weighted counts y from the days before ``origin``, one row per half-life:
        shape (len(half_lives), n_cells)."""
        lo = max(0, origin - self.memory)
        block = counts.counts[lo:origin]
        day, cell = np.nonzero(block)
        n = np.asarray(block[day, cell], dtype=np.float64)
        age = origin - lo - day  # 1 = the day before the origin
        out = np.zeros((len(half_lives), counts.grid.n_cells), dtype=np.float64)
        for i, h in enumerate(half_lives):
            w = _weights(origin - lo, h)
            out[i] = np.bincount(cell, weights=n * w[age - 1], minlength=counts.grid.n_cells)
        return out

    def _exposure(self, origin: int, half_life: float) -> float:
        return float(_weights(min(origin, self.memory), half_life).sum())

    def rate(self, counts: DailyCounts, origin: int, choice: Choice) -> FloatArray:
        """The posterior-mean daily rate per cell from the days before ``origin``."""
        if origin <= 0:
            return np.zeros(counts.grid.n_cells, dtype=np.float64)
        own = self._own(counts, origin, [choice.half_life])[0]
        smooth = _smooth(counts.grid, own, choice.bandwidth_m)
        return _blend(own, smooth, self._exposure(origin, choice.half_life), choice.kappa)

    # ------------------------------------------------------------------ validation

    def _grid(self) -> tuple[list[float], list[float], list[float]]:
        hs = [self.half_life] if self.half_life is not None else list(HALF_LIVES)
        bs = [self.bandwidth_m] if self.bandwidth_m is not None else list(BANDWIDTHS_M)
        ks = [self.kappa] if self.kappa is not None else list(KAPPAS)
        return hs, bs, ks

    def validate(self, counts: DailyCounts) -> Choice:
        """Rolling-origin validation inside ``counts`` (never beyond its last day)."""
        hs, bs, ks = self._grid()
        n = counts.n_days
        grid = counts.grid
        k = max(1, round(self.coverage * grid.n_cells))
        first = max(self.step, n - self.validation_days)
        origins = list(range(first, n - self.step + 1, self.step))
        # a fixed random order breaks ties in risk (as the evaluation does)
        tie = np.random.default_rng(self.seed).permutation(grid.n_cells) * (1e-9 / grid.n_cells)
        hits = np.zeros((len(hs), len(bs), len(ks)), dtype=np.float64)
        total = 0
        for o in origins:
            obs = counts.counts[o : o + self.step].sum(axis=0, dtype=np.float64)
            total += int(obs.sum())
            if obs.sum() == 0:
                continue
            own_all = self._own(counts, o, hs)
            for i, h in enumerate(hs):
                own = own_all[i]
                exposure = self._exposure(o, h)
                for j, b in enumerate(bs):
                    smooth = _smooth(grid, own, b)
                    for m, kap in enumerate(ks):
                        risk = _blend(own, smooth, exposure, kap)
                        risk = risk / max(float(risk.max()), 1e-300) + tie
                        top = np.argpartition(-risk, k - 1)[:k]
                        hits[i, j, m] += obs[top].sum()
        if total == 0 or not origins:
            # too little history to validate: one-year memory, moderate shrinkage at 300 m
            return Choice(
                hs[0] if self.half_life is not None else 365.0,
                bs[0] if self.bandwidth_m is not None else 300.0,
                ks[0] if self.kappa is not None else 100.0,
                math.nan,
                total,
            )
        # ties in validated hits go to the simplest map: the first in grid order
        a, b, c = (int(v) for v in np.unravel_index(int(np.argmax(hits)), hits.shape))
        return Choice(hs[a], bs[b], ks[c], float(hits[a, b, c]) / total, total)

    # ------------------------------------------------------------------ Forecaster

    def _fit(self, counts: DailyCounts) -> None:
        self.choice = self.validate(counts)

    def _update(self, counts: DailyCounts) -> None:
        """Newer data, same hyper-parameters."""

    def predict(self, day: int) -> FloatArray:
        self._check_day(day)
        if self.choice is None:
            raise RuntimeError("ensemble: call fit() before predict()")
        h = self.history
        return self.rate(h, h.n_days, self.choice)

    def predict_window(self, start: int, length: int) -> FloatArray:
        return self.predict(start) * float(length)
