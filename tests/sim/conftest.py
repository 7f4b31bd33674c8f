"""Fixtures for the demo city simulator tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from safecity.sim.city import DemoCity

START = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def city() -> DemoCity:
    return DemoCity.load()


@pytest.fixture
def start() -> datetime:
    return START
