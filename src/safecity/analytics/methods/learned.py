"""A learned forecaster: gradient-boosted trees on lagged counts of each cell."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.ndimage import uniform_filter

from safecity.analytics.data import DailyCounts
from safecity.analytics.methods.base import FloatArray, Forecaster

LAGS = (1, 7, 28, 91, 365)
FEATURES = (
    *(f"cell_{k}d" for k in LAGS),
    *(f"near_{k}d" for k in LAGS[:4]),
    "days_since_last",
    "day_of_week",
    "day_of_year_sin",
    "day_of_year_cos",
)


class Learned(Forecaster):
    """Poisson-loss ``HistGradientBoostingRegressor`` predicting a cell's count on a day from:
    the cell's counts over the previous 1, 7, 28, 91 and 365 days; the counts in the
    surrounding 3 x 3 cells over 1, 7, 28 and 91 days (near repeats); days since the cell's
    last event; and day of week / season of the target day. Training rows are every
    (cell, day) of the last ``train_days`` days with an event plus a uniform sample of the
    rest (``negatives_per_positive`` per event-row), weighted back to the full population."""

    name = "learned"

    def __init__(
        self,
        train_days: int = 180,
        negatives_per_positive: float = 10.0,
        max_iter: int = 200,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.train_days = train_days
        self.negatives_per_positive = negatives_per_positive
        self.max_iter = max_iter
        self.seed = seed
        self.model: Any = None  # sklearn's HistGradientBoostingRegressor once fitted

    def _features(self, counts: DailyCounts, days: npt.NDArray[np.int64]) -> FloatArray:
        """Feature rows for every cell on each target day, from the days before it only:
        shape (len(days) * n_cells, n_features)."""
        grid = counts.grid
        n_cells = grid.n_cells
        c = counts.counts
        rows: list[FloatArray] = []
        for d in days:
            top = min(int(d), c.shape[0])
            sums = [c[max(0, top - k) : top].sum(axis=0, dtype=np.float64) for k in LAGS]
            near = [
                grid.from_raster(
                    np.asarray(uniform_filter(grid.to_raster(s_), size=3, mode="constant")) * 9.0
                )
                for s_ in sums[:4]
            ]
            recent = c[max(0, top - 365) : top] > 0
            if recent.shape[0] > 0:
                back = np.argmax(recent[::-1], axis=0).astype(np.float64) + 1.0
                since = np.where(recent.any(axis=0), back + (int(d) - top), 366.0)
            else:
                since = np.full(n_cells, 366.0)
            date = np.datetime64(counts.start + int(d), "D")
            doy = float((date - date.astype("datetime64[Y]")).astype(np.int64)) / 365.25
            dow = float((int(d) + counts.start + 3) % 7)  # 1970-01-01 was a Thursday
            cols = [
                *sums,
                *near,
                since,
                np.full(n_cells, dow),
                np.full(n_cells, np.sin(2 * np.pi * doy)),
                np.full(n_cells, np.cos(2 * np.pi * doy)),
            ]
            rows.append(np.column_stack(cols))
        return np.vstack(rows)

    def _fit(self, counts: DailyCounts) -> None:
        # scikit-learn is imported only when this method is used
        from sklearn.ensemble import HistGradientBoostingRegressor  # type: ignore[import-untyped]

        rng = np.random.default_rng(self.seed)
        n = counts.n_days
        days = np.arange(max(1, n - self.train_days), n, dtype=np.int64)
        x = self._features(counts, days)
        y = counts.counts[days].reshape(-1).astype(np.float64)
        pos = y > 0
        n_neg = int(min((~pos).sum(), max(1.0, self.negatives_per_positive * pos.sum())))
        neg_idx = rng.choice(np.flatnonzero(~pos), size=n_neg, replace=False)
        idx = np.concatenate([np.flatnonzero(pos), neg_idx])
        weight = np.ones(len(idx))
        weight[int(pos.sum()) :] = float((~pos).sum()) / max(n_neg, 1)
        model = HistGradientBoostingRegressor(
            loss="poisson", max_iter=self.max_iter, learning_rate=0.05, random_state=self.seed
        )
        model.fit(x[idx], y[idx], sample_weight=weight)
        self.model = model

    def _update(self, counts: DailyCounts) -> None:
        if self.model is None:
            self._fit(counts)

    def predict(self, day: int) -> FloatArray:
        self._check_day(day)
        assert self.model is not None
        x = self._features(self.history, np.asarray([day], dtype=np.int64))
        return np.asarray(self.model.predict(x), dtype=np.float64)
