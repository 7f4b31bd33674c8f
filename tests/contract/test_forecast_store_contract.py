"""Contract: published forecasts, one JSON document per local day, on every store backend."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from safecity.core.ports import Store

START = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


def _doc(day: date, marker: str) -> str:
    return json.dumps({"forecast": {"date": day.isoformat(), "marker": marker}})


def test_no_forecast_until_one_is_published(store: Store) -> None:
    assert store.latest_forecast() is None
    assert store.get_forecast(date(2026, 11, 21)) is None
    assert store.forecast_days() == []


def test_a_forecast_is_kept_per_day_and_the_latest_day_wins(store: Store) -> None:
    day = date(2026, 11, 21)
    store.save_forecast(day, START, _doc(day, "a"))
    store.save_forecast(day - timedelta(days=1), START, _doc(day, "older"))
    assert json.loads(store.get_forecast(day) or "")["forecast"]["marker"] == "a"
    # The latest is the newest day, not the last one written.
    assert json.loads(store.latest_forecast() or "")["forecast"]["marker"] == "a"
    assert store.forecast_days() == [day, day - timedelta(days=1)]
    assert store.forecast_days(limit=1) == [day]


def test_publishing_a_day_again_replaces_it(store: Store) -> None:
    day = date(2026, 11, 21)
    store.save_forecast(day, START, _doc(day, "first"))
    store.save_forecast(day, START + timedelta(hours=2), _doc(day, "second"))
    assert json.loads(store.get_forecast(day) or "")["forecast"]["marker"] == "second"
    assert store.forecast_days() == [day]


def test_forecasts_survive_reopening(open_store: Callable[[], Store]) -> None:
    first = open_store()
    first.migrate()
    day = date(2026, 11, 21)
    document = _doc(day, "kept")
    first.save_forecast(day, START, document)
    first.close()
    again = open_store()
    again.migrate()
    assert again.get_forecast(day) == document
