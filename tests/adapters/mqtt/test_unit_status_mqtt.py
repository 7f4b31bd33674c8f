"""A patrol car's terminal reports its status over MQTT (a real mosquitto broker): the mapped
``unit.status`` event moves the unit on the board and clocks it on, with no other step."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from mqtt_broker import Broker
from test_end_to_end import publish

from safecity.settings import Settings
from support import Api


@pytest.fixture
def settings(tmp_path: Path, broker: Broker) -> Settings:
    s = Settings(
        adapters=[
            {
                "type": "mqtt",
                "name": "fleet",
                "host": "127.0.0.1",
                "port": broker.port,
                "client_id": "safecity-fleet",
                "subscriptions": [{"topic": "fleet/+/status", "adapter": "fleet"}],
                "mappings": [
                    {
                        "topic": "fleet/+/status",
                        "event_type": "unit.status",
                        "time": "$.ts",
                        "data": {"unit_id": "topic[1]", "status": "$.status"},
                    }
                ],
            }
        ]
    )
    s.store.path = tmp_path / "safecity.db"
    return s


def test_a_status_published_over_mqtt_changes_the_unit(api: Api, broker: Broker) -> None:
    unit = {"id": "P-21", "agency_id": "helsinki-police", "kind": "patrol_car", "callsign": "P-21"}
    assert api.client.put("/v1/units/P-21", json=unit, headers=api.h()).status_code == 200
    message = json.dumps({"status": "available", "ts": "2026-11-21T12:00:05Z"}).encode()
    deadline = time.monotonic() + 15
    got: dict[str, object] = {}
    while time.monotonic() < deadline:
        publish(broker.port, "fleet/P-21/status", message)
        got = api.client.get("/v1/units/P-21", headers=api.h()).json()
        if got["status"] == "available":
            break
        time.sleep(0.3)
    assert got["status"] == "available"
    assert got["shift_started_at"] is not None  # clocking on is this status change
    history = api.client.get("/v1/units/P-21/history", headers=api.h()).json()["items"]
    assert history[0]["actor"].startswith("device:")
    assert history[0]["note"] == "clocked on"
