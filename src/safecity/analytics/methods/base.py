"""The one interface every forecasting method implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt

from safecity.analytics.data import DailyCounts

FloatArray = npt.NDArray[np.float64]


class Forecaster(ABC):
    """Place-based forecaster over the active cells of one grid.

    ``fit(counts)`` estimates the method's parameters from ``counts`` (days ``0..n_days-1`` of a
    :class:`DailyCounts`, i.e. everything before the forecast origin); ``update(counts)`` gives
    the method newer history without re-estimating parameters (it defaults to ``fit``); and
    ``predict(day)`` returns a non-negative risk per active cell for day index ``day`` (on the
    same day axis, ``day >= counts.n_days``). Risks rank cells; only some methods (SEPP, the
    learned model) return calibrated expected counts.
    """

    name: ClassVar[str] = "forecaster"

    def __init__(self) -> None:
        self._history: DailyCounts | None = None

    @property
    def history(self) -> DailyCounts:
        if self._history is None:
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        return self._history

    def fit(self, counts: DailyCounts) -> Self:
        self._history = counts
        self._fit(counts)
        return self

    def update(self, counts: DailyCounts) -> Self:
        """Condition on newer history; parameters stay as last fitted."""
        if self._history is None:
            return self.fit(counts)
        self._history = counts
        self._update(counts)
        return self

    def _fit(self, counts: DailyCounts) -> None:  # noqa: B027 - optional hook
        """Estimate parameters (default: nothing to estimate)."""

    def _update(self, counts: DailyCounts) -> None:
        self._fit(counts)

    @abstractmethod
    def predict(self, day: int) -> FloatArray:
        """Risk per active cell for day index ``day``."""

    def predict_window(self, start: int, length: int) -> FloatArray:
        """Risk per cell summed over days ``start .. start+length-1``."""
        total = np.zeros(self.history.grid.n_cells, dtype=np.float64)
        for d in range(start, start + length):
            total += self.predict(d)
        return total

    def _check_day(self, day: int) -> None:
        if day < self.history.n_days:
            raise ValueError(f"{self.name}: day {day} is inside the fitted history")


def window_sum(counts: DailyCounts, days: int) -> FloatArray:
    """Per-cell event count over the last ``days`` days of the history."""
    lo = max(0, counts.n_days - days)
    return np.asarray(counts.counts[lo:].sum(axis=0, dtype=np.float64), dtype=np.float64)
