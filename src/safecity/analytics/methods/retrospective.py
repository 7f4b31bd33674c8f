"""Retrospective hotspotting: counts over a recent window, all days weighted equally."""

from __future__ import annotations

from safecity.analytics.methods.base import FloatArray, Forecaster, window_sum


class Retrospective(Forecaster):
    """Risk = events in each cell over the last ``window`` days (Bowers et al. 2004's
    retrospective baseline; a grid "thematic" hotspot map)."""

    name = "retrospective"

    def __init__(self, window: int = 365) -> None:
        super().__init__()
        self.window = window

    def predict(self, day: int) -> FloatArray:
        self._check_day(day)
        return window_sum(self.history, self.window) / float(self.window)

    def predict_window(self, start: int, length: int) -> FloatArray:
        return self.predict(start) * float(length)
