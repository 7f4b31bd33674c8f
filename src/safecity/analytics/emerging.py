"""Emerging hotspots: cells whose last few weeks are far above their own long-run rate.

A long-window map (the retrospective forecast, the ensemble) flags the same places every day:
that is what makes it accurate, and it is also why it is slow to notice a place that has only
just become busy. A new cluster is exactly what should be checked, with a mobile camera or a
look on the ground, *before* patrols or fixed cameras are moved to follow it: a few weeks of
events can be a real change or chance, and sending attention there first would itself create
the records that make it look real (the feedback loop the fairness card watches).

The test is per cell and place-based only. For each cell, the events of the last
``recent_days`` days are compared with what the cell's rate over the ``baseline_days`` before
them predicts, by a one-sided Poisson test::

    expected = recent_days * (baseline count + prior) / baseline days
    p        = P(X >= recent count),  X ~ Poisson(expected)

``prior`` (pseudo-events added to the baseline) keeps a cell with no history from being
infinitely surprising. Cells with fewer than ``min_events`` recent events are not reported;
the p-values of all cells with any event in the two windows are corrected for multiple testing
with Benjamini–Hochberg, and the cells with q below ``alpha`` are the emerging hotspots. A
steady hotspot has a high long-run rate, so its busy weeks are expected and it is not new.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.stats import poisson

from safecity.analytics.data import DailyCounts

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _empty_int() -> IntArray:
    return np.zeros(0, dtype=np.int64)


def _empty_float() -> FloatArray:
    return np.zeros(0, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class EmergingHotspots:
    """The emerging hotspot cells, most significant first (all arrays are aligned).

    ``cells`` are active-cell indices of the counts' grid; ``recent`` the events in the last
    ``recent_days``; ``expected`` what the cell's long-run rate predicts for that period;
    ``ratio`` = recent / expected; ``p`` the one-sided Poisson p-value and ``q`` the
    Benjamini–Hochberg adjusted one. ``tested`` is the number of cells corrected over.
    ``reason`` says why nothing could be tested (empty otherwise)."""

    recent_days: int
    baseline_days: int
    tested: int
    cells: IntArray = field(default_factory=_empty_int)
    recent: IntArray = field(default_factory=_empty_int)
    expected: FloatArray = field(default_factory=_empty_float)
    ratio: FloatArray = field(default_factory=_empty_float)
    p: FloatArray = field(default_factory=_empty_float)
    q: FloatArray = field(default_factory=_empty_float)
    reason: str = ""

    def __len__(self) -> int:
        return len(self.cells)

    @property
    def excess(self) -> FloatArray:
        """Recent events above the expected count, per cell (positive for every cell)."""
        return np.asarray(self.recent - self.expected, dtype=np.float64)


def emerging_hotspots(
    counts: DailyCounts,
    *,
    recent_days: int = 28,
    baseline_days: int = 365,
    prior: float = 1.0,
    min_events: int = 3,
    alpha: float = 0.05,
) -> EmergingHotspots:
    """Cells whose last ``recent_days`` of ``counts`` are significantly above their long-run
    rate over the ``baseline_days`` before (or as many days as there are).

    See the module docstring for the test. Cells are tested only on their own history; the
    result lists places (cells), never anything about people."""
    if recent_days < 1:
        raise ValueError("recent_days must be >= 1")
    if baseline_days < 1:
        raise ValueError("baseline_days must be >= 1")
    if prior <= 0:
        raise ValueError("prior must be positive")
    if min_events < 1:
        raise ValueError("min_events must be >= 1")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be between 0 and 1")
    n = counts.n_days
    base_days = min(baseline_days, n - recent_days)
    if base_days < 1:
        return EmergingHotspots(
            recent_days,
            0,
            0,
            reason=f"{n} days of counts: no history before the last {recent_days} days",
        )
    data = counts.counts
    recent = data[n - recent_days :].sum(axis=0, dtype=np.int64)
    baseline = data[n - recent_days - base_days : n - recent_days].sum(axis=0, dtype=np.int64)
    tested = np.flatnonzero((recent + baseline) > 0)
    if not len(tested):
        return EmergingHotspots(
            recent_days, base_days, 0, reason="no events in the recent or baseline days"
        )
    expected = recent_days * (baseline[tested] + prior) / base_days
    observed = recent[tested]
    # P(X >= k) = sf(k - 1).
    p = np.asarray(poisson.sf(observed - 1, expected), dtype=np.float64)
    q = _benjamini_hochberg(p)
    keep = (observed >= min_events) & (q < alpha)
    order = np.lexsort((tested[keep], -observed[keep], p[keep]))
    sel = np.flatnonzero(keep)[order]
    return EmergingHotspots(
        recent_days=recent_days,
        baseline_days=base_days,
        tested=len(tested),
        cells=tested[sel].astype(np.int64),
        recent=observed[sel].astype(np.int64),
        expected=expected[sel],
        ratio=observed[sel] / expected[sel],
        p=p[sel],
        q=q[sel],
    )


def _benjamini_hochberg(p: FloatArray) -> FloatArray:
    """Benjamini–Hochberg adjusted p-values (q-values), in the order given."""
    m = len(p)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m, dtype=np.float64)
    q[order] = np.minimum(adjusted, 1.0)
    return q


__all__ = ["EmergingHotspots", "emerging_hotspots"]
