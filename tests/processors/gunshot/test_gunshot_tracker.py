"""Streaming tracker: bursts settle, then are located within 1 s; time is injected."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from gunshot_synthetic import SENSORS, SOURCE, arrivals
from pyproj import Transformer

from safecity.processors.gunshot.tracker import DEFAULT_SETTLE_S, GunshotTracker

LON0, LAT0 = -79.9959, 40.4406  # Pittsburgh
EPOCH = datetime(2018, 12, 19, 0, 49, tzinfo=UTC)
LATENCY = timedelta(milliseconds=80)
_TO_WGS84 = Transformer.from_crs(
    f"+proj=aeqd +lat_0={LAT0} +lon_0={LON0} +datum=WGS84 +units=m", "EPSG:4326", always_xy=True
)
_TO_LOCAL = Transformer.from_crs(
    "EPSG:4326", f"+proj=aeqd +lat_0={LAT0} +lon_0={LON0} +datum=WGS84 +units=m", always_xy=True
)


def _feed(tracker: GunshotTracker, sensors: set[str] | None = None, t0: float = 0.0) -> datetime:
    """Send one synthetic shot's pulses in arrival order; returns the last ``received``."""
    last = EPOCH
    for p in sorted(arrivals(t0=t0), key=lambda p: p.arrival_s):
        if sensors is not None and p.sensor_id not in sensors:
            continue
        lon, lat = _TO_WGS84.transform(p.x_m, p.y_m)
        arrival = EPOCH + timedelta(seconds=p.arrival_s)
        last = arrival + LATENCY
        tracker.add(p.sensor_id, lon, lat, p.z_m, arrival, p.snr_db, last)
    return last


def test_burst_is_located_only_after_the_settle_period_and_within_one_second() -> None:
    tracker = GunshotTracker(-1.0)
    last = _feed(tracker)
    assert tracker.due(last) == []
    assert tracker.due(last + timedelta(seconds=DEFAULT_SETTLE_S / 2)) == []
    now = last + timedelta(seconds=DEFAULT_SETTLE_S)
    started = datetime.now(UTC)
    (burst,) = tracker.due(now)
    compute = (datetime.now(UTC) - started).total_seconds()
    assert burst.latency_s + compute <= 1.0
    assert burst.reason is None
    assert burst.rounds == 1
    assert burst.pulse_count == len(SENSORS)
    assert set(burst.sensors) == set(SENSORS)
    (shot,) = burst.shots
    x, y = _TO_LOCAL.transform(shot.lon, shot.lat)
    assert math.hypot(x - SOURCE[0], y - SOURCE[1]) < 0.05
    assert burst.first_shot_time == shot.time
    assert abs((shot.time - EPOCH).total_seconds()) < 1e-3
    assert shot.ellipse.semi_major_m < 5.0
    assert tracker.pending_pulses == 0
    assert tracker.due(now + timedelta(seconds=10)) == []


def test_temperature_may_be_a_callable() -> None:
    calls: list[int] = []

    def temperature() -> float:
        calls.append(1)
        return -1.0

    tracker = GunshotTracker(temperature, settle_s=0.5)
    last = _feed(tracker)
    (burst,) = tracker.due(last + timedelta(seconds=0.5))
    assert burst.rounds == 1 and calls


def test_two_sensors_give_no_fix_and_say_why() -> None:
    tracker = GunshotTracker(-1.0)
    last = _feed(tracker, sensors={"s1", "s2"})
    (burst,) = tracker.due(last + timedelta(seconds=1))
    assert burst.shots == ()
    assert burst.rounds == 0
    assert burst.reason is not None and "3 are needed" in burst.reason


def test_shots_far_apart_in_time_are_separate_bursts() -> None:
    tracker = GunshotTracker(-1.0)
    _feed(tracker)
    last = _feed(tracker, t0=30.0)
    bursts = tracker.due(last + timedelta(seconds=1))
    assert [b.rounds for b in bursts] == [1, 1]
    assert bursts[0].first_arrival < bursts[1].first_arrival


def test_memory_stays_bounded() -> None:
    tracker = GunshotTracker(-1.0, max_pulses=10)
    for k in range(5):
        _feed(tracker, t0=30.0 * k)
    assert tracker.pending_pulses <= 10
    assert tracker.dropped_pulses == 5 * len(SENSORS) - tracker.pending_pulses


def test_naive_times_and_bad_coordinates_are_refused() -> None:
    tracker = GunshotTracker(-1.0)
    naive = datetime(2018, 12, 19, 0, 49)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone"):
        tracker.add("s1", LON0, LAT0, None, naive, None, EPOCH)
    with pytest.raises(ValueError, match="out of range"):
        tracker.add("s1", 200.0, LAT0, None, EPOCH, None, EPOCH)
