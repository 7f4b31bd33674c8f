"""Kernel density estimation on the grid."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from safecity.analytics.methods.base import FloatArray, Forecaster, window_sum


class KDE(Forecaster):
    """Gaussian kernel density of the events of the last ``window`` days, bandwidth in metres
    (the standard deviation of the kernel), evaluated at cell centres.

    Events are binned to their cells first and the binned surface is convolved with the
    discretised Gaussian (the usual "binned KDE"; the binning error is at most half a cell).
    Density outside the study area is not renormalised (cells at the edge lose some mass, as
    in a plain KDE)."""

    name = "kde"

    def __init__(self, bandwidth_m: float = 300.0, window: int = 365) -> None:
        super().__init__()
        self.bandwidth_m = bandwidth_m
        self.window = window

    def predict(self, day: int) -> FloatArray:
        self._check_day(day)
        grid = self.history.grid
        raster = grid.to_raster(window_sum(self.history, self.window) / float(self.window))
        sigma = self.bandwidth_m / grid.cell_size
        smooth = np.asarray(gaussian_filter(raster, sigma=sigma, mode="constant"), np.float64)
        return grid.from_raster(smooth)

    def predict_window(self, start: int, length: int) -> FloatArray:
        return self.predict(start) * float(length)
