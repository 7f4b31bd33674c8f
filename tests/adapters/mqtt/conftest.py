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
    # Free ports are picked by binding and releasing; another process can take one in between,
    # and then mosquitto exits at start. A new set of ports is tried before giving up.
    for attempt in range(3):
        folder = tmp_path / f"broker-{attempt}"
        folder.mkdir()
        found = Broker(folder)
        found.configure()
        try:
            found.start()
            break
        except RuntimeError:
            found.stop()
            if attempt == 2:
                raise
    try:
        yield found
    finally:
        found.stop()
