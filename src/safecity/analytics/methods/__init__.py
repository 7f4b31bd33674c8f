"""Forecasting methods, one module each, all behind :class:`Forecaster`."""

from safecity.analytics.methods.base import Forecaster
from safecity.analytics.methods.ensemble import Ensemble
from safecity.analytics.methods.kde import KDE
from safecity.analytics.methods.learned import Learned
from safecity.analytics.methods.naive import Naive
from safecity.analytics.methods.prospective import Prospective
from safecity.analytics.methods.retrospective import Retrospective
from safecity.analytics.methods.seppp import SEPP

__all__ = [
    "KDE",
    "SEPP",
    "Ensemble",
    "Forecaster",
    "Learned",
    "Naive",
    "Prospective",
    "Retrospective",
]
