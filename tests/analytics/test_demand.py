"""Demand: the weekly profile beats the seasonal-naive baseline on seasonal data with noise;
Erlang C staffing gives the textbook figures."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from safecity.analytics.demand import (
    WEEK_H,
    HourlyCounts,
    agents_needed,
    area_forecast,
    backtest,
    erlang_c,
    mase,
    profile_forecast,
    seasonal_naive,
    staffing,
)

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


def seasonal(weeks: int, seed: int = 3) -> HourlyCounts:
    rng = np.random.default_rng(seed)
    hours = np.arange(weeks * WEEK_H)
    daily = 3.0 + 2.5 * np.sin(2 * math.pi * (hours % 24 - 9) / 24)
    weekend = np.where((hours // 24) % 7 >= 5, 1.4, 1.0)
    rates = np.vstack([daily * weekend, 0.5 * daily])
    return HourlyCounts(("centre", "harbour"), START, rng.poisson(np.clip(rates, 0.1, None)))


def test_the_profile_beats_seasonal_naive_on_noisy_seasonal_data() -> None:
    result = backtest(seasonal(14), horizon_h=72, history_weeks=8, step_h=24)
    assert result.origins >= 30
    assert result.mase_profile < result.mase_naive
    assert result.beats_baseline


def test_forecasts_continue_the_week_from_where_history_ends() -> None:
    data = seasonal(9)
    history = data.counts[:, : 8 * WEEK_H + 10]  # ends at 10:00 on a Monday
    naive = seasonal_naive(history, 24)
    assert np.array_equal(naive[:, 0], history[:, -WEEK_H])
    profile = profile_forecast(history, 48)
    assert profile.shape == (2, 48)
    # The busiest forecast hour is in the afternoon, as in the data (peak near 15:00).
    busiest = int(np.argmax(profile[0, :24]))
    assert 12 <= (10 + busiest) % 24 <= 18


def test_mase_is_one_for_the_naive_forecast_of_a_repeating_pattern_plus_its_own_error() -> None:
    data = seasonal(4)
    history = data.counts[:, : 3 * WEEK_H]
    actual = data.counts[:, 3 * WEEK_H :]
    assert mase(actual, actual, history) == 0.0
    with pytest.raises(ValueError, match="more than one week"):
        mase(actual, actual, history[:, :WEEK_H])


def test_erlang_c_textbook_values() -> None:
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9)
    assert erlang_c(2, 2.0) == 1.0  # overloaded: everyone waits
    # 100 calls an hour of 3 minutes each is 5 erlangs: 8 call takers answer 87.0 % within
    # 15 s, 9 answer 94.2 %, so 9 are needed for 90 %.
    assert agents_needed(100, 180, answer_within_s=15, service_level=0.9) == 9
    assert agents_needed(0, 180) == 0
    assert agents_needed(200, 180) > agents_needed(100, 180)


def test_staffing_per_shift_follows_the_forecast() -> None:
    forecast = np.array([[1.0] * 8 + [4.0] * 8 + [0.5] * 8])
    needs = staffing(forecast, ("centre",), START, shift_h=8, handling_s=1800, answer_within_s=600)
    assert [n.shift_start for n in needs] == [START + timedelta(hours=h) for h in (0, 8, 16)]
    staff = [n.staff for n in needs]
    assert staff[1] > staff[0] > 0 and staff[2] <= staff[0]
    assert needs[1].expected == 32.0


def test_hourly_counts_from_events() -> None:
    times = [START + timedelta(minutes=m) for m in (5, 50, 70, 200)]
    counts = HourlyCounts.from_events(
        times, ["a", "a", "b", "a"], start=START, end=START + timedelta(hours=4)
    )
    assert counts.areas == ("a", "b")
    assert counts.counts.tolist() == [[2, 0, 0, 1], [0, 1, 0, 0]]


def test_sparse_areas_are_flagged_and_the_summed_series_is_judged_too() -> None:
    rng = np.random.default_rng(9)
    hours = np.arange(14 * WEEK_H)
    daily = 0.04 * (1.0 + np.sin(2 * math.pi * (hours % 24 - 9) / 24))
    counts = rng.poisson(np.tile(daily, (20, 1)))  # 20 quiet districts
    result = backtest(HourlyCounts(tuple(f"d{i}" for i in range(20)), START, counts))
    assert result.sparse  # forecasting zero beats both per area: MAE favours it
    assert result.mase_zero < result.mase_profile
    # Summed over the districts the series is dense enough, and the profile wins there.
    assert result.beats_baseline_total


def _areas(rates: np.ndarray, seed: int) -> HourlyCounts:
    rng = np.random.default_rng(seed)
    names = tuple(f"area-{i}" for i in range(rates.shape[0]))
    return HourlyCounts(names, START, rng.poisson(rates).astype(float))


def test_sparse_areas_borrow_the_citys_weekly_shape() -> None:
    # Twenty areas sharing one daily rhythm at about one event an area a day: each area's own
    # hour-of-week profile is mostly noise, the city's is not.
    hours = np.arange(12 * WEEK_H)
    shape = 1.0 + 0.9 * np.sin(2 * math.pi * (hours % 24 - 9) / 24)
    share = np.linspace(0.5, 1.5, 20)[:, None]
    data = _areas(share * shape / 24, seed=5)
    history, actual = data.counts[:, : 11 * WEEK_H], data.counts[:, 11 * WEEK_H :]

    def rmse(forecast: np.ndarray) -> float:
        return float(np.sqrt(np.mean((actual - forecast) ** 2)))

    pooled = area_forecast(history, WEEK_H)
    own = profile_forecast(history, WEEK_H)
    assert rmse(pooled) < rmse(own)
    assert rmse(pooled) < rmse(np.zeros_like(actual)) < rmse(seasonal_naive(history, WEEK_H))
    result = backtest(data, horizon_h=72, history_weeks=8, step_h=24)
    assert result.rmse_profile < result.rmse_zero < result.rmse_naive
    assert result.beats_baseline_rmse


def test_a_busy_area_keeps_its_own_rhythm() -> None:
    # A night-life district among day-time ones, at forty events a day: its own shape wins.
    hours = np.arange(10 * WEEK_H)
    day = 1.0 + 0.9 * np.sin(2 * math.pi * (hours % 24 - 9) / 24)
    night = 1.0 + 0.9 * np.sin(2 * math.pi * (hours % 24 - 21) / 24)
    data = _areas(np.vstack([night, day, day, day]) * 40 / 24, seed=6)
    forecast = area_forecast(data.counts[:, : 9 * WEEK_H], 24)
    assert int(np.argmax(forecast[0])) in range(0, 7)  # busiest near 03:00, not 15:00
    assert int(np.argmax(forecast[1])) in range(12, 19)
