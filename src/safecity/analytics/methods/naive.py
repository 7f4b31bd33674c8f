"""Naive forecast: the last period's counts are next period's risk."""

from __future__ import annotations

from safecity.analytics.methods.base import FloatArray, Forecaster, window_sum


class Naive(Forecaster):
    """Risk = events in each cell over the last ``period`` days (1 = yesterday)."""

    name = "naive"

    def __init__(self, period: int = 1) -> None:
        super().__init__()
        self.period = period

    def predict(self, day: int) -> FloatArray:
        self._check_day(day)
        return window_sum(self.history, self.period)

    def predict_window(self, start: int, length: int) -> FloatArray:
        return self.predict(start) * float(length)
