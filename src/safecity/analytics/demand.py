"""Demand forecasting: events or calls per area per hour for the coming days, and the staff a
shift needs to answer them.

The forecast is a weighted hour-of-week profile: for each area and each of the 168 hours of the
week, an exponentially weighted mean of that hour in the last ``weeks`` weeks (recent weeks
count more), scaled by the ratio of recent to older volume so a rising or falling level carries
forward. An area with few events borrows the city's weekly shape (:func:`area_forecast`). It is
judged against the seasonal-naive baseline (the same hour one week earlier) with the mean
absolute scaled error (MASE, Hyndman and Koehler 2006): below 1 beats the baseline; and with the
root mean squared error, which rewards the expected count (MASE on sparse series rewards
forecasting zero).

Staffing turns the forecast into people per shift with the Erlang C queue (the standard for call
centres and emergency call answering): the fewest call takers so that the share of calls
answered within the target time meets the service level (NENA: 90 % within 15 s), given the
arrival rate and the mean handling time. For field units the same formula with the time on a
job as handling time gives the units needed so that a call waits no longer than the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

WEEK_H = 168


@dataclass(frozen=True)
class HourlyCounts:
    """Counts per area (rows) per hour (columns), the first column starting at ``start``."""

    areas: tuple[str, ...]
    start: datetime
    counts: np.ndarray

    def __post_init__(self) -> None:
        if self.counts.ndim != 2 or self.counts.shape[0] != len(self.areas):
            raise ValueError("counts must be areas x hours")
        if self.start.minute or self.start.second or self.start.microsecond:
            raise ValueError("start must be on the hour")

    @property
    def hours(self) -> int:
        return int(self.counts.shape[1])

    @classmethod
    def from_events(
        cls,
        times: list[datetime],
        areas: list[str],
        *,
        start: datetime,
        end: datetime,
        names: tuple[str, ...] | None = None,
    ) -> HourlyCounts:
        """Bin events (their time and area name) into hours between ``start`` and ``end``."""
        start = start.replace(minute=0, second=0, microsecond=0)
        hours = int((end - start).total_seconds() // 3600)
        if hours <= 0:
            raise ValueError("end must be at least an hour after start")
        order = names or tuple(sorted(set(areas)))
        index = {name: i for i, name in enumerate(order)}
        counts = np.zeros((len(order), hours), dtype=float)
        for when, area in zip(times, areas, strict=True):
            h = int((when - start).total_seconds() // 3600)
            if 0 <= h < hours and area in index:
                counts[index[area], h] += 1
        return cls(order, start, counts)


def seasonal_naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """The same hour one week earlier, repeated over the horizon."""
    if history.shape[1] < WEEK_H:
        raise ValueError("the seasonal-naive baseline needs at least one week of history")
    last_week = history[:, -WEEK_H:]
    reps = math.ceil(horizon / WEEK_H)
    return np.tile(last_week, (1, reps))[:, :horizon]


def profile_forecast(
    history: np.ndarray, horizon: int, *, weeks: int = 8, decay: float = 0.8
) -> np.ndarray:
    """Weighted hour-of-week profile of the last ``weeks`` weeks, with a level adjustment."""
    if history.shape[1] < WEEK_H:
        raise ValueError("the profile needs at least one week of history")
    usable = min(weeks, history.shape[1] // WEEK_H)
    recent = history[:, -usable * WEEK_H :].reshape(history.shape[0], usable, WEEK_H)
    # Oldest week first; the newest week gets weight 1, each older one ``decay`` times less.
    w = decay ** np.arange(usable - 1, -1, -1, dtype=float)
    profile = np.tensordot(recent, w / w.sum(), axes=([1], [0]))
    if usable >= 2:
        # A level that rose or fell lately carries forward, bounded so one odd week cannot
        # double or halve the forecast.
        newest = recent[:, -1, :].sum(axis=1)
        older = recent[:, :-1, :].mean(axis=1).sum(axis=1)
        level = np.where(older > 0, newest / np.maximum(older, 1e-9), 1.0)
        profile = profile * np.clip(level, 0.67, 1.5)[:, None] ** 0.5
    # The weeks were cut back from the end of the history, so the profile's first hour is the
    # hour that follows the history: the forecast simply repeats it.
    reps = math.ceil(horizon / WEEK_H)
    return np.asarray(np.tile(profile, (1, reps))[:, :horizon])


#: Events an area needs in the profile's weeks before its own hour-of-week shape weighs as much
#: as the city's: about four per hour-of-week slot. Below that, an area's own shape is mostly
#: noise (on Chicago's districts and Vancouver's neighbourhoods, at up to four events an area a
#: day, the city's shape scaled to the area's share forecasts better on every measure).
OWN_SHAPE_EVENTS = 4 * WEEK_H


def area_forecast(
    history: np.ndarray,
    horizon: int,
    *,
    weeks: int = 8,
    decay: float = 0.8,
    own_shape_events: float = OWN_SHAPE_EVENTS,
) -> np.ndarray:
    """Expected events per area and hour: each area's own profile (:func:`profile_forecast`)
    shrunk towards the city's profile times the area's share of the events. An area with
    ``n`` events in the profile's weeks weighs its own shape ``n / (n + own_shape_events)``,
    so busy areas keep their own rhythm and sparse ones borrow the city's."""
    own = profile_forecast(history, horizon, weeks=weeks, decay=decay)
    usable = min(weeks, history.shape[1] // WEEK_H)
    events = history[:, -usable * WEEK_H :].sum(axis=1)
    total = float(events.sum())
    if history.shape[0] < 2 or total <= 0:
        return own
    city = profile_forecast(history.sum(axis=0, keepdims=True), horizon, weeks=weeks, decay=decay)
    pooled = (events / total)[:, None] * city
    weight = (events / (events + own_shape_events))[:, None]
    return np.asarray(weight * own + (1.0 - weight) * pooled)


def mase(actual: np.ndarray, forecast: np.ndarray, history: np.ndarray) -> float:
    """Mean absolute error scaled by the in-sample seasonal-naive error (period one week)."""
    if history.shape[1] <= WEEK_H:
        raise ValueError("MASE needs more than one week of history to scale by")
    scale = float(np.mean(np.abs(history[:, WEEK_H:] - history[:, :-WEEK_H])))
    error = float(np.mean(np.abs(actual - forecast)))
    return error / scale if scale > 0 else math.inf


@dataclass(frozen=True)
class DemandBacktest:
    horizon_h: int
    origins: int
    mase_profile: float
    mase_naive: float
    mae_profile: float
    mae_naive: float
    #: The same comparison on all areas summed (one series): sparse areas' hourly counts are
    #: mostly zeros, and there MAE, hence MASE, rewards forecasting nothing at all.
    mase_profile_total: float = math.nan
    mase_naive_total: float = math.nan
    #: MASE of forecasting zero everywhere: when it beats both, the per-area scores say more
    #: about sparsity than about either forecast.
    mase_zero: float = math.nan
    #: Root mean squared error per area and hour. Squared error is minimised by the mean, the
    #: expected count that staffing needs, so unlike MASE it does not reward forecasting zero
    #: on sparse series (Gneiting 2011, *Making and evaluating point forecasts*).
    rmse_profile: float = math.nan
    rmse_naive: float = math.nan
    rmse_zero: float = math.nan

    @property
    def beats_baseline(self) -> bool:
        return self.mase_profile < self.mase_naive

    @property
    def beats_baseline_total(self) -> bool:
        return self.mase_profile_total < self.mase_naive_total

    @property
    def beats_baseline_rmse(self) -> bool:
        return self.rmse_profile < self.rmse_naive

    @property
    def sparse(self) -> bool:
        return self.mase_zero < min(self.mase_profile, self.mase_naive)


def backtest(
    data: HourlyCounts,
    *,
    horizon_h: int = 72,
    history_weeks: int = 8,
    step_h: int = 24,
    weeks: int = 8,
) -> DemandBacktest:
    """Rolling-origin evaluation: forecast ``horizon_h`` hours ahead from an origin every
    ``step_h`` hours, each fitted on the ``history_weeks`` weeks before it."""
    need = history_weeks * WEEK_H
    if data.hours < need + horizon_h:
        raise ValueError(
            f"need at least {need + horizon_h} hours ({history_weeks} weeks + horizon); "
            f"got {data.hours}"
        )
    scores_p: list[float] = []
    scores_n: list[float] = []
    mae_p: list[float] = []
    mae_n: list[float] = []
    total_p: list[float] = []
    total_n: list[float] = []
    zero: list[float] = []
    squared: dict[str, list[float]] = {"profile": [], "naive": [], "zero": []}
    for origin in range(need, data.hours - horizon_h + 1, step_h):
        history = data.counts[:, origin - need : origin]
        actual = data.counts[:, origin : origin + horizon_h]
        fp = area_forecast(history, horizon_h, weeks=weeks)
        fn = seasonal_naive(history, horizon_h)
        scores_p.append(mase(actual, fp, history))
        scores_n.append(mase(actual, fn, history))
        mae_p.append(float(np.mean(np.abs(actual - fp))))
        mae_n.append(float(np.mean(np.abs(actual - fn))))
        zero.append(mase(actual, np.zeros_like(actual), history))
        squared["profile"].append(float(np.mean((actual - fp) ** 2)))
        squared["naive"].append(float(np.mean((actual - fn) ** 2)))
        squared["zero"].append(float(np.mean(actual**2)))
        h_all = history.sum(axis=0, keepdims=True)
        a_all = actual.sum(axis=0, keepdims=True)
        total_p.append(mase(a_all, profile_forecast(h_all, horizon_h, weeks=weeks), h_all))
        total_n.append(mase(a_all, seasonal_naive(h_all, horizon_h), h_all))
    return DemandBacktest(
        horizon_h=horizon_h,
        origins=len(scores_p),
        mase_profile=float(np.mean(scores_p)),
        mase_naive=float(np.mean(scores_n)),
        mae_profile=float(np.mean(mae_p)),
        mae_naive=float(np.mean(mae_n)),
        mase_profile_total=float(np.mean(total_p)),
        mase_naive_total=float(np.mean(total_n)),
        mase_zero=float(np.mean(zero)),
        rmse_profile=math.sqrt(float(np.mean(squared["profile"]))),
        rmse_naive=math.sqrt(float(np.mean(squared["naive"]))),
        rmse_zero=math.sqrt(float(np.mean(squared["zero"]))),
    )


# --- staffing -------------------------------------------------------------------------------


def erlang_c(agents: int, load_erlangs: float) -> float:
    """Probability that a call waits (Erlang C), for ``agents`` servers and offered load."""
    if agents <= load_erlangs:
        return 1.0
    # Stable recursion on the Erlang B formula, then C from B.
    b = 1.0
    for k in range(1, agents + 1):
        b = load_erlangs * b / (k + load_erlangs * b)
    rho = load_erlangs / agents
    return b / (1 - rho + rho * b)


def agents_needed(
    calls_per_hour: float,
    handling_s: float,
    *,
    answer_within_s: float = 15.0,
    service_level: float = 0.90,
    max_agents: int = 500,
) -> int:
    """Fewest agents so that ``service_level`` of calls wait at most ``answer_within_s``."""
    if calls_per_hour <= 0:
        return 0
    load = calls_per_hour * handling_s / 3600.0
    for n in range(max(1, math.floor(load)), max_agents + 1):
        if n <= load:
            continue
        waits = erlang_c(n, load)
        answered = 1.0 - waits * math.exp(-(n - load) * answer_within_s / handling_s)
        if answered >= service_level:
            return n
    raise ValueError("the load needs more agents than max_agents")


@dataclass(frozen=True)
class ShiftNeed:
    area: str
    shift_start: datetime
    expected: float  # events expected in the shift
    peak_per_hour: float
    staff: int


def staffing(
    forecast: np.ndarray,
    areas: tuple[str, ...],
    start: datetime,
    *,
    shift_h: int = 8,
    handling_s: float = 1800.0,
    answer_within_s: float = 600.0,
    service_level: float = 0.90,
) -> list[ShiftNeed]:
    """People (or units) per area per shift, sized for the shift's busiest hour."""
    if forecast.shape[0] != len(areas):
        raise ValueError("forecast rows must match areas")
    out: list[ShiftNeed] = []
    for s in range(0, forecast.shape[1] - shift_h + 1, shift_h):
        block = forecast[:, s : s + shift_h]
        for i, area in enumerate(areas):
            peak = float(block[i].max())
            out.append(
                ShiftNeed(
                    area=area,
                    shift_start=start + timedelta(hours=s),
                    expected=round(float(block[i].sum()), 2),
                    peak_per_hour=round(peak, 3),
                    staff=agents_needed(
                        peak,
                        handling_s,
                        answer_within_s=answer_within_s,
                        service_level=service_level,
                    ),
                )
            )
    return out
