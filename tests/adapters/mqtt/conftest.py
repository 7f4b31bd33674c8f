"""A real mosquitto broker per test (see mqtt_broker.py); nothing is mocked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_broker import MOSQUITTO, Broker


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if not Path(MOSQUITTO).exists():
        pytest.fail("mosquitto is not installed: run scripts/install-system-packages.sh")
    found = Broker(tmp_path)
    found.configure()
    found.start()
    try:
        yield found
    finally:
        found.stop()
