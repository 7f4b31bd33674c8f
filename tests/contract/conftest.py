"""Fixtures that run the store contract suite against every storage backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from safecity.core.clock import Clock, ManualClock
from safecity.core.ports import Store
from safecity.store.sqlite import SqliteStore


@dataclass(frozen=True)
class Backend:
    """How to open one backend. ``open`` must reach the same database for the same ``place``,
    so a test can close a store and open it again."""

    name: str
    dialect: str
    open: Callable[[Path, Clock], Store]


def _open_sqlite(place: Path, clock: Clock) -> Store:
    return SqliteStore(place / "safecity.db", clock=clock)


# A PostgreSQL backend joins by adding its Backend here (skipping when no server is configured).
BACKENDS = {backend.name: backend for backend in [Backend("sqlite", "sqlite", _open_sqlite)]}

START = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: checks SQLite specifics through a raw connection to its file"
    )


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]


@pytest.fixture
def dialect(backend: Backend) -> str:
    return backend.dialect


# Its own clock, so the suite needs nothing from the application-level fixtures above it.
@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def open_store(
    backend: Backend, tmp_path: Path, clock: ManualClock
) -> Iterator[Callable[[], Store]]:
    """Opens (unmigrated) stores on this test's database; all are closed at teardown."""
    opened: list[Store] = []

    def open_() -> Store:
        store = backend.open(tmp_path, clock)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Callable[[], Store]) -> Store:
    store = open_store()
    store.migrate()
    return store
