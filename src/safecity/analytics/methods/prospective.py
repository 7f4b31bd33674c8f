"""Prospective hotspotting (Bowers, Johnson & Pease 2004)."""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from safecity.analytics.methods.base import FloatArray, Forecaster


class Prospective(Forecaster):
    """Each past event within ``bandwidth_m`` and ``weeks`` weeks adds
    ``1 / (1 + d) * 1 / (1 + w)`` to a cell, with ``d`` the distance from the event's cell in
    cell widths and ``w`` the whole weeks elapsed since the event (0 = the last 7 days), as in
    Bowers, Johnson & Pease (2004), *Prospective hot-spotting: the future of crime mapping?*,
    Brit. J. Criminol. 44(5). Their burglary bandwidths were 400 m and two months."""

    name = "prospective"

    def __init__(self, bandwidth_m: float = 400.0, weeks: int = 8) -> None:
        super().__init__()
        self.bandwidth_m = bandwidth_m
        self.weeks = weeks

    def _kernel(self, cell_size: float) -> FloatArray:
        r = int(self.bandwidth_m // cell_size)
        off = np.arange(-r, r + 1, dtype=np.float64)
        d = np.hypot(off[:, None], off[None, :])
        return np.where(d * cell_size <= self.bandwidth_m, 1.0 / (1.0 + d), 0.0)

    def risk_at(self, origin: int) -> FloatArray:
        """Risk computed from the weeks before ``origin`` (a day index)."""
        h = self.history
        grid = h.grid
        weighted = np.zeros(grid.n_cells, dtype=np.float64)
        for w in range(self.weeks):
            hi = min(origin - 7 * w, h.n_days)
            lo = max(0, origin - 7 * (w + 1))
            if hi <= lo:
                continue
            weighted += h.counts[lo:hi].sum(axis=0, dtype=np.float64) / (1.0 + w)
        smooth = fftconvolve(grid.to_raster(weighted), self._kernel(grid.cell_size), mode="same")
        return np.clip(grid.from_raster(np.asarray(smooth, np.float64)), 0.0, None)

    def predict(self, day: int) -> FloatArray:
        self._check_day(day)
        return self.risk_at(self.history.n_days)

    def predict_window(self, start: int, length: int) -> FloatArray:
        return self.predict(start) * float(length)
