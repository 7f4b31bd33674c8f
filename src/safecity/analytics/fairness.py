"""The fairness and feedback card published with every place-based forecast.

A forecast flags the top ``coverage`` share of cells. The card asks who carries that attention
and whether the forecast is as good for every area:

* **exposure** — per group of cells (a police district, or any demographic layer a city
  supplies): the share of the flagged cells that lie in the group and the share of the group's
  own area that is flagged, set against the group's share of the whole area and of the events;
* **calibration** — per group, predicted against observed events. The prediction is rescaled
  to the observed total first (most methods only rank cells), so a ratio above 1 means the
  group had more events than its share of the forecast said;
* **accuracy parity** — the hit rate inside each group (events in its flagged cells / its
  events), with the largest gap and the lowest/highest ratio;
* **concentration** — the Gini coefficient of predicted risk over cells and the share of the
  risk in the top 1 % of cells;
* **persistence** — the Jaccard overlap of the flagged sets of consecutive forecasts: near 1
  means the same places are flagged again and again;
* **feedback-loop check** — events found by patrols are recorded where patrols go, and patrols
  go where the forecast points (Ensign et al. 2018, *Runaway feedback loops in predictive
  policing*). When the data say how each event was discovered, the card gives the share found
  by patrol against the share reported by the public, overall and per group; with ``ipw`` each
  patrol-found event in group *g* is weighted by ``π / π_g``, the overall probability of patrol
  discovery over the group's (an inverse-probability weight), which gives the event shares a
  patrol presence equal everywhere would have produced. When the data have no such flag the
  card says so; it never guesses one.

Every cell has the same area (one grid), so area shares are cell shares. Pure numpy.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

NO_FLAG = (
    "no discovery flag in the data: the share of events found by patrols cannot be told "
    "apart from those reported by the public, so the feedback loop is not checked"
)


@dataclass(frozen=True)
class GroupRow:
    group: str
    cells: int
    area_share: float  # the group's share of all cells
    event_share: float  # the group's share of the observed events
    flagged_cells: int
    flagged_share: float  # share of the flagged cells lying in the group
    flagged_area_share: float  # share of the group's own cells that are flagged
    exposure_ratio: float  # flagged_share / area_share
    predicted: float  # predicted events, rescaled to the observed total
    observed: float
    calibration_ratio: float  # observed / predicted (nan when nothing predicted)
    hits: float
    hit_rate: float  # events in the group's flagged cells / the group's events


@dataclass(frozen=True)
class FeedbackGroup:
    group: str
    events: int
    by_patrol: int
    by_public: int
    patrol_share: float
    event_share: float
    event_share_ipw: float | None = None


@dataclass(frozen=True)
class FeedbackCheck:
    available: bool
    message: str
    events: int = 0
    patrol_share: float = math.nan
    public_share: float = math.nan
    ipw: bool = False
    groups: list[FeedbackGroup] = field(default_factory=list)


@dataclass(frozen=True)
class FairnessCard:
    coverage: float
    cells: int
    flagged_cells: int
    events: float
    groups: list[GroupRow]
    hit_rate_gap: float  # largest minus smallest group hit rate (groups with events)
    hit_rate_ratio: float  # smallest / largest group hit rate
    gini: float
    top1_share: float
    persistence: list[float]
    persistence_mean: float
    feedback: FeedbackCheck

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _clean(asdict(self))
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null, floats are rounded."""
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def flag_cells(
    risk: npt.NDArray[np.float64], coverage: float, tie: npt.NDArray[np.float64] | None = None
) -> npt.NDArray[np.int64]:
    """The top ``round(coverage * cells)`` cells (at least one) by risk, ties by ``tie``."""
    r = np.asarray(risk, dtype=np.float64)
    k = max(1, round(coverage * len(r)))
    t = tie if tie is not None else np.zeros(len(r))
    return np.lexsort((-t, -r))[:k].astype(np.int64)


def gini(values: npt.NDArray[np.float64]) -> float:
    """Gini coefficient of non-negative values (0: all equal; near 1: all in one cell)."""
    v = np.sort(np.clip(np.asarray(values, dtype=np.float64), 0.0, None))
    n = v.size
    total = float(v.sum())
    if n == 0 or total <= 0:
        return math.nan
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float((2.0 * (ranks * v).sum()) / (n * total) - (n + 1.0) / n)


def top_share(values: npt.NDArray[np.float64], share: float = 0.01) -> float:
    """Share of the total held by the top ``share`` of cells (at least one cell)."""
    v = np.sort(np.asarray(values, dtype=np.float64))[::-1]
    total = float(v.sum())
    if v.size == 0 or total <= 0:
        return math.nan
    k = max(1, math.ceil(share * v.size))
    return float(v[:k].sum() / total)


def jaccard(a: set[int], b: set[int]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 1.0


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


@dataclass(frozen=True)
class PooledParity:
    """Accuracy parity over many forecasts: per group, all hits / all events (windows with few
    events per group make one forecast's per-group hit rates mostly noise)."""

    windows: int
    groups: list[str]
    hits: list[float]
    events: list[float]
    hit_rates: list[float]
    gap: float
    ratio: float

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _clean(asdict(self))
        return out


class ParityAccumulator:
    """Adds up hits and events per group over the windows of a backtest."""

    def __init__(self, groups: npt.NDArray[np.str_] | Sequence[str]) -> None:
        grp = np.asarray(groups).astype(str)
        self.names, codes = np.unique(grp, return_inverse=True)
        self.codes = codes.astype(np.int64)
        self.hits = np.zeros(len(self.names))
        self.events = np.zeros(len(self.names))
        self.windows = 0

    def add(
        self,
        flagged: npt.NDArray[np.int64],
        actual: npt.NDArray[np.float64] | npt.NDArray[np.integer],
    ) -> None:
        obs = np.asarray(actual, dtype=np.float64)
        k = len(self.names)
        self.events += np.bincount(self.codes, weights=obs, minlength=k)
        self.hits += np.bincount(self.codes[flagged], weights=obs[flagged], minlength=k)
        self.windows += 1

    def result(self) -> PooledParity:
        rates = [_ratio(h, e) for h, e in zip(self.hits, self.events, strict=True)]
        ok = [r for r in rates if math.isfinite(r)]
        return PooledParity(
            windows=self.windows,
            groups=[str(n) for n in self.names],
            hits=[float(h) for h in self.hits],
            events=[float(e) for e in self.events],
            hit_rates=rates,
            gap=max(ok) - min(ok) if ok else math.nan,
            ratio=_ratio(min(ok), max(ok)) if ok else math.nan,
        )


def feedback_check(
    discovered_by_patrol: npt.NDArray[np.bool_] | None,
    event_groups: npt.NDArray[np.str_] | None = None,
    *,
    ipw: bool = False,
) -> FeedbackCheck:
    """Share of events found by patrol vs reported by the public (see the module notes)."""
    if discovered_by_patrol is None:
        return FeedbackCheck(False, NO_FLAG, ipw=ipw)
    flag = np.asarray(discovered_by_patrol, dtype=bool)
    n = int(flag.size)
    if n == 0:
        return FeedbackCheck(True, "no events in the scored period", 0, ipw=ipw)
    patrol = int(flag.sum())
    pi = patrol / n
    groups: list[FeedbackGroup] = []
    if event_groups is not None:
        eg = np.asarray(event_groups).astype(str)
        if eg.shape != flag.shape:
            raise ValueError("event_groups needs one group per event")
        names = sorted(set(eg.tolist()))
        weighted: dict[str, float] = {}
        for name in names:
            m = eg == name
            ev = int(m.sum())
            pat = int(flag[m].sum())
            pi_g = pat / ev if ev else 0.0
            # patrol-found events weighted by pi / pi_g: as if patrols were everywhere alike
            weighted[name] = (ev - pat) + (pat * pi / pi_g if pi_g > 0 else 0.0)
        total_w = sum(weighted.values())
        for name in names:
            m = eg == name
            ev = int(m.sum())
            pat = int(flag[m].sum())
            groups.append(
                FeedbackGroup(
                    group=name,
                    events=ev,
                    by_patrol=pat,
                    by_public=ev - pat,
                    patrol_share=_ratio(pat, ev),
                    event_share=ev / n,
                    event_share_ipw=(weighted[name] / total_w if total_w > 0 else math.nan)
                    if ipw
                    else None,
                )
            )
    message = (
        f"{patrol} of {n} events ({pi:.1%}) were discovered by patrol, "
        f"{n - patrol} ({1 - pi:.1%}) reported by the public"
    )
    if ipw:
        message += "; event shares reweighted by the inverse probability of patrol discovery"
    return FeedbackCheck(True, message, n, pi, 1.0 - pi, ipw, groups)


def fairness_card(
    predicted: npt.NDArray[np.float64],
    actual: npt.NDArray[np.float64] | npt.NDArray[np.integer],
    groups: npt.NDArray[np.str_] | Sequence[str],
    *,
    coverage: float = 0.05,
    history: Sequence[set[int] | frozenset[int]] = (),
    discovered_by_patrol: npt.NDArray[np.bool_] | None = None,
    event_groups: npt.NDArray[np.str_] | None = None,
    ipw: bool = False,
    tie: npt.NDArray[np.float64] | None = None,
) -> FairnessCard:
    """The card for one forecast (``predicted`` risk per cell) against the events that followed
    (``actual`` count per cell); ``groups`` names each cell's group; ``history`` holds the
    flagged-cell sets of the previous forecasts (oldest first) for persistence;
    ``discovered_by_patrol`` is one flag per event (``event_groups`` the group of each event)."""
    pred = np.asarray(predicted, dtype=np.float64)
    obs = np.asarray(actual, dtype=np.float64)
    grp = np.asarray(groups).astype(str)
    if not (pred.shape == obs.shape == grp.shape) or pred.ndim != 1:
        raise ValueError("predicted, actual and groups need one value per cell")
    n = pred.size
    flagged = flag_cells(pred, coverage, tie)
    is_flagged = np.zeros(n, dtype=bool)
    is_flagged[flagged] = True
    total_obs = float(obs.sum())
    total_pred = float(np.clip(pred, 0.0, None).sum())
    scale = total_obs / total_pred if total_pred > 0 else 0.0
    rows: list[GroupRow] = []
    for name in sorted(set(grp.tolist())):
        m = grp == name
        cells = int(m.sum())
        fl = int((m & is_flagged).sum())
        events = float(obs[m].sum())
        hits = float(obs[m & is_flagged].sum())
        p = float(np.clip(pred[m], 0.0, None).sum()) * scale
        area_share = cells / n
        flagged_share = fl / len(flagged)
        rows.append(
            GroupRow(
                group=name,
                cells=cells,
                area_share=area_share,
                event_share=_ratio(events, total_obs),
                flagged_cells=fl,
                flagged_share=flagged_share,
                flagged_area_share=fl / cells,
                exposure_ratio=_ratio(flagged_share, area_share),
                predicted=p,
                observed=events,
                calibration_ratio=_ratio(events, p),
                hits=hits,
                hit_rate=_ratio(hits, events),
            )
        )
    rates = [r.hit_rate for r in rows if math.isfinite(r.hit_rate)]
    gap = max(rates) - min(rates) if rates else math.nan
    ratio = _ratio(min(rates), max(rates)) if rates else math.nan
    sets = [set(h) for h in history] + [set(flagged.tolist())]
    pers = [jaccard(a, b) for a, b in itertools.pairwise(sets)]
    return FairnessCard(
        coverage=coverage,
        cells=n,
        flagged_cells=len(flagged),
        events=total_obs,
        groups=rows,
        hit_rate_gap=gap,
        hit_rate_ratio=ratio,
        gini=gini(pred),
        top1_share=top_share(pred, 0.01),
        persistence=pers,
        persistence_mean=float(np.mean(pers)) if pers else math.nan,
        feedback=feedback_check(discovered_by_patrol, event_groups, ipw=ipw),
    )


__all__ = [
    "NO_FLAG",
    "FairnessCard",
    "FeedbackCheck",
    "FeedbackGroup",
    "GroupRow",
    "ParityAccumulator",
    "PooledParity",
    "fairness_card",
    "feedback_check",
    "flag_cells",
    "gini",
    "jaccard",
    "top_share",
]
