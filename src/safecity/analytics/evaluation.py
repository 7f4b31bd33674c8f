"""Scoring place-based forecasts: hit rate, PAI, PEI*, rolling-origin backtests, NIJ 2017.

Definitions (per scored period, cells of equal area, ``k = round(coverage * n_cells)`` cells
flagged as the top-``k`` by forecast risk; ties broken by a fixed random order so that no
method gains from the order of cell numbers):

* hit rate ``HR = n / N`` — share of the period's events that fall in flagged cells
  (Chainey, Tompson & Uhlig 2008, "hit rate");
* PAI ``= HR / (a / A)`` with ``a / A = k / n_cells`` the flagged share of the area
  (Chainey et al. 2008, predictive accuracy index);
* PEI* ``= HR / HR*`` with ``HR*`` the best hit rate any ``k`` cells could have had (the
  ``k`` cells with most events) — Hunt (2016)'s predictive efficiency index at equal area,
  i.e. PAI / max PAI; 1 means no better forecast of that size existed.

Periods without events have no hit rate; they are skipped (and counted).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from safecity.analytics.data import DailyCounts
from safecity.analytics.methods.base import Forecaster

FloatArray = npt.NDArray[np.float64]
COVERAGES = (0.01, 0.05, 0.10)
#: Forecast horizons in days used across the module and its docs.
HORIZONS = {"day": 1, "week": 7, "quarter": 91}


def tie_breaker(n_cells: int, seed: int = 20170301) -> FloatArray:
    """A fixed random order of cells in [0, 1), used to break ties in risk."""
    return np.random.default_rng(seed).permutation(n_cells).astype(np.float64) / n_cells


def top_cells(risk: FloatArray, k: int, tie: FloatArray | None = None) -> npt.NDArray[np.int64]:
    """Indices of the ``k`` highest-risk cells (ties by ``tie``, then by index)."""
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    t = tie if tie is not None else np.zeros(len(risk))
    order = np.lexsort((-t, -np.asarray(risk, dtype=np.float64)))
    return order[:k].astype(np.int64)


@dataclass(frozen=True)
class Score:
    coverage: float
    cells: int
    events: float
    hits: float
    best_hits: float

    @property
    def hit_rate(self) -> float:
        return self.hits / self.events if self.events > 0 else math.nan

    @property
    def area_share(self) -> float:
        return self.coverage

    @property
    def pai(self) -> float:
        return self.hit_rate / self.area_share if self.events > 0 else math.nan

    @property
    def pei_star(self) -> float:
        return self.hits / self.best_hits if self.best_hits > 0 else math.nan


def score(
    risk: FloatArray,
    observed: npt.NDArray[np.integer] | FloatArray,
    coverage: float,
    tie: FloatArray | None = None,
) -> Score:
    """Hit rate / PAI / PEI* of one forecast against the events of one period."""
    obs = np.asarray(observed, dtype=np.float64)
    n_cells = len(obs)
    k = max(1, round(coverage * n_cells))
    flagged = top_cells(risk, k, tie)
    best = np.sort(obs)[::-1][:k].sum()
    return Score(k / n_cells, k, float(obs.sum()), float(obs[flagged].sum()), float(best))


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float


def bootstrap_mean(
    values: Sequence[float] | FloatArray, reps: int = 2000, level: float = 0.95, seed: int = 0
) -> Interval:
    """Mean of per-period values with a percentile bootstrap interval (periods resampled with
    replacement); NaNs (periods without events) are left out."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Interval(math.nan, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(reps, v.size))].mean(axis=1)
    a = (1.0 - level) / 2.0
    return Interval(float(v.mean()), float(np.quantile(means, a)), float(np.quantile(means, 1 - a)))


@dataclass
class BacktestResult:
    method: str
    horizon: int
    origins: list[int] = field(default_factory=list)
    scores: dict[float, list[Score]] = field(default_factory=dict)
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0

    def hit_rates(self, coverage: float) -> FloatArray:
        return np.asarray([s.hit_rate for s in self.scores[coverage]], dtype=np.float64)

    def pais(self, coverage: float) -> FloatArray:
        return np.asarray([s.pai for s in self.scores[coverage]], dtype=np.float64)

    def pei_stars(self, coverage: float) -> FloatArray:
        return np.asarray([s.pei_star for s in self.scores[coverage]], dtype=np.float64)

    def pooled_hit_rate(self, coverage: float) -> float:
        """Events in flagged cells over all periods / all events."""
        sc = self.scores[coverage]
        total = sum(s.events for s in sc)
        return sum(s.hits for s in sc) / total if total > 0 else math.nan

    def summary(self, coverages: Sequence[float] = COVERAGES) -> dict[str, object]:
        out: dict[str, object] = {
            "method": self.method,
            "horizon_days": self.horizon,
            "periods": len(self.origins),
            "fit_seconds": round(self.fit_seconds, 2),
            "predict_seconds": round(self.predict_seconds, 2),
        }
        for cov in coverages:
            pct = f"{cov * 100:g}%"
            hr = bootstrap_mean(self.hit_rates(cov))
            pai = bootstrap_mean(self.pais(cov))
            pei = bootstrap_mean(self.pei_stars(cov))
            out[pct] = {
                "hit_rate": round(hr.mean, 4),
                "hit_rate_ci95": [round(hr.low, 4), round(hr.high, 4)],
                "pooled_hit_rate": round(self.pooled_hit_rate(cov), 4),
                "pai": round(pai.mean, 3),
                "pai_ci95": [round(pai.low, 3), round(pai.high, 3)],
                "pei_star": round(pei.mean, 3),
            }
        return out


def backtest(
    make: Callable[[], Forecaster],
    counts: DailyCounts,
    first_origin: int,
    last_origin: int,
    horizon: int = 1,
    step: int | None = None,
    refit_every: int | None = None,
    coverages: Sequence[float] = COVERAGES,
) -> BacktestResult:
    """Rolling-origin evaluation: for each origin ``o`` in ``first_origin..last_origin`` (day
    indices, every ``step`` days, default = ``horizon``) the forecaster sees only days ``< o``
    and forecasts days ``o .. o+horizon-1``, scored against their summed counts. Parameters
    are estimated at the first origin and again every ``refit_every`` days (``None`` = never);
    in between the forecaster is only updated with the new days."""
    step = step or horizon
    model = make()
    tie = tie_breaker(counts.grid.n_cells)
    result = BacktestResult(model.name, horizon, scores={c: [] for c in coverages})
    last_fit: int | None = None
    for origin in range(first_origin, last_origin + 1, step):
        if origin + horizon > counts.n_days:
            break
        history = counts.head(origin)
        t0 = time.perf_counter()
        if last_fit is None or (refit_every is not None and origin - last_fit >= refit_every):
            model.fit(history)
            last_fit = origin
            result.fit_seconds += time.perf_counter() - t0
        else:
            model.update(history)
            result.predict_seconds += time.perf_counter() - t0
        t1 = time.perf_counter()
        risk = model.predict_window(origin, horizon)
        result.predict_seconds += time.perf_counter() - t1
        observed = counts.counts[origin : origin + horizon].sum(axis=0)
        result.origins.append(origin)
        for cov in coverages:
            result.scores[cov].append(score(risk, observed, cov, tie))
    return result


# --------------------------------------------------------------------------- NIJ 2017

FT = 0.3048  # metres per international foot
SQ_MILE_M2 = 1609.344**2
NIJ_CELL_FT2 = (62_500.0, 360_000.0)  # 250 x 250 ft .. 600 x 600 ft
NIJ_AREA_MI2 = (0.25, 0.75)
NIJ_HORIZONS = {"1 week": 7, "2 weeks": 14, "1 month": 31, "2 months": 61, "3 months": 92}


@dataclass(frozen=True)
class NijScore:
    cells: int
    forecast_area_mi2: float
    study_area_mi2: float
    events: int
    hits: int
    best_hits: int
    pai: float
    pei: float


def nij_score(
    risk: FloatArray,
    observed: npt.NDArray[np.integer] | FloatArray,
    cell_size_m: float,
    study_area_m2: float,
    forecast_area_mi2: float = 0.75,
    tie: FloatArray | None = None,
) -> NijScore:
    """NIJ Real-Time Crime Forecasting Challenge scoring of one forecast.

    Rules as documented with the data (``SOURCE.md``): cells of 250–600 ft a side (62,500 to
    360,000 ft²), a forecast (hotspot) area of 0.25–0.75 mi², PAI = (n/N)/(a/A) with ``A`` the
    jurisdiction's area (≈147.7 mi² for Portland), PEI = n/n* with n* the most events any set of
    cells of the same area could have caught. The flagged set is the largest number of top-risk
    cells whose total area stays within ``forecast_area_mi2``."""
    cell_ft2 = (cell_size_m / FT) ** 2
    if not (NIJ_CELL_FT2[0] - 1e-6 <= cell_ft2 <= NIJ_CELL_FT2[1] + 1e-6):
        raise ValueError(f"NIJ cells must be 62,500-360,000 ft², got {cell_ft2:,.0f} ft²")
    if not (NIJ_AREA_MI2[0] <= forecast_area_mi2 <= NIJ_AREA_MI2[1]):
        raise ValueError("NIJ forecast area must be 0.25-0.75 mi²")
    obs = np.asarray(observed, dtype=np.float64)
    cell_mi2 = cell_size_m**2 / SQ_MILE_M2
    k = math.floor(forecast_area_mi2 / cell_mi2 + 1e-9)
    flagged = top_cells(risk, k, tie)
    n = float(obs[flagged].sum())
    big_n = float(obs.sum())
    best = float(np.sort(obs)[::-1][:k].sum())
    a = k * cell_mi2
    big_a = study_area_m2 / SQ_MILE_M2
    pai = (n / big_n) / (a / big_a) if big_n > 0 else math.nan
    pei = n / best if best > 0 else math.nan
    return NijScore(k, a, big_a, int(big_n), int(n), int(best), pai, pei)
