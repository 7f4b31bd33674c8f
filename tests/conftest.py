"""Shared fixtures: an injected clock, a runtime on a fresh SQLite file, an API client per role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from factories import T0
from safecity.core.clock import ManualClock
from safecity.core.identity import Agency, Role, User
from safecity.runtime import Runtime, build_runtime
from safecity.settings import Settings
from support import Api


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings()
    s.store.path = tmp_path / "safecity.db"
    s.routing.network = "helsinki"  # the test city (factories.LON0/LAT0) is Helsinki's centre
    return s


@pytest.fixture
def runtime(settings: Settings, clock: ManualClock) -> Runtime:
    rt = build_runtime(settings, clock=clock)
    rt.identity.add_agency(Agency(id="helsinki-police", name="Helsinki Police", kind="police"))
    rt.identity.add_agency(Agency(id="helsinki-rescue", name="Helsinki Rescue", kind="fire"))
    for role in Role:
        rt.identity.add_user(
            User(
                id=f"{role.value}-1",
                agency_id="helsinki-police",
                display_name=f"Test {role.value}",
                role=role,
            )
        )
    return rt


@pytest.fixture
def api(runtime: Runtime) -> Iterator[Api]:
    tokens = {role: runtime.identity.issue_token(f"{role.value}-1").secret for role in Role}
    with TestClient(runtime.api(), raise_server_exceptions=False) as client:
        yield Api(client, tokens)
