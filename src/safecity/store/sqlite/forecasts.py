"""SQLite table for published forecasts: one JSON document per local day (portable SQL)."""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Protocol

from safecity.core.clock import to_micros


class _Connections(Protocol):
    def _writing(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def _reading(self) -> AbstractContextManager[sqlite3.Connection]: ...


class ForecastTables:
    """Mixed into :class:`SqliteStore`; uses its connections and write lock."""

    def save_forecast(self: _Connections, day: date, published_at: datetime, document: str) -> None:
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO forecasts (day, published_us, doc_json) VALUES (?, ?, ?) "
                "ON CONFLICT (day) DO UPDATE SET published_us = excluded.published_us, "
                "doc_json = excluded.doc_json",
                (day.isoformat(), to_micros(published_at), document),
            )

    def get_forecast(self: _Connections, day: date) -> str | None:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT doc_json FROM forecasts WHERE day = ?", (day.isoformat(),)
            ).fetchall()
        return str(rows[0][0]) if rows else None

    def latest_forecast(self: _Connections) -> str | None:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT doc_json FROM forecasts ORDER BY day DESC LIMIT 1"
            ).fetchall()
        return str(rows[0][0]) if rows else None

    def forecast_days(self: _Connections, *, limit: int = 100) -> list[date]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT day FROM forecasts ORDER BY day DESC LIMIT ?", (limit,)
            ).fetchall()
        return [date.fromisoformat(str(r[0])) for r in rows]
