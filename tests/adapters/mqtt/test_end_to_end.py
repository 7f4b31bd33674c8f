"""End to end: a device publishes to a real broker; the runtime's MQTT connector feeds the
platform; events are queryable and refusals dead-lettered. Also the mqtt mapping over HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from mqtt_broker import Broker
from paho.mqtt.enums import CallbackAPIVersion

from safecity.core.identity import Role
from safecity.settings import Settings
from support import INTEROP, Api


@pytest.fixture
def settings(tmp_path: Path, broker: Broker) -> Settings:
    s = Settings(
        adapters=[
            {
                "type": "mqtt",
                "name": "city-broker",
                "host": "127.0.0.1",
                "port": broker.port,
                "client_id": "safecity-e2e",
                "subscriptions": [
                    {"topic": "frigate/events", "adapter": "frigate"},
                    {"topic": "city/+/noise/#", "adapter": "city-broker"},
                    {"topic": "v1.1/#", "adapter": "sensorthings"},
                ],
                "mappings": [
                    {
                        "topic": "city/+/noise/#",
                        "event_type": "noise.level",
                        "time": "$.ts",
                        "data": {"sensor_id": "topic[3]", "laeq_db": "$.level"},
                    }
                ],
            }
        ]
    )
    s.store.path = tmp_path / "safecity.db"
    return s


def publish(port: int, topic: str, raw: bytes) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="device-e2e")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, raw, qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def wait_for_events(
    api: Api, event_type: str, count: int, within_s: float = 15.0
) -> list[dict[str, object]]:
    deadline = time.monotonic() + within_s
    while True:
        r = api.client.get("/v1/events", params={"type": event_type}, headers=api.h(Role.OPERATOR))
        assert r.status_code == 200, r.text
        items: list[dict[str, object]] = r.json()["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return items
        time.sleep(0.05)


def test_broker_to_events(api: Api, broker: Broker) -> None:
    frigate = (INTEROP / "frigate" / "mqtt" / "00-frigate-events.json").read_bytes()
    # The connector subscribes once connected; until then the broker has nowhere to route a
    # message, so the device publishes again until the first one is through.
    for _ in range(20):
        publish(broker.port, "frigate/events", frigate)
        if wait_for_events(api, "camera.motion", 1, within_s=0.5):
            break
    [motion] = wait_for_events(api, "camera.motion", 1)
    event = motion["event"]
    assert isinstance(event, dict)
    assert event["id"] == "1607123955.475377-mxklsc:update:1607123962.082975"
    assert event["data"] == {"camera_id": "front_door", "zone": "yard"}

    noise = json.dumps({"ts": "2026-11-21T11:59:00Z", "level": 64.5}).encode()
    publish(broker.port, "city/kallio/noise/station-12", noise)
    [level] = wait_for_events(api, "noise.level", 1)
    event = level["event"]
    assert isinstance(event, dict)
    assert event["source"] == "mqtt/city/kallio/noise/station-12"
    assert event["data"] == {"sensor_id": "station-12", "laeq_db": 64.5, "window_s": 60.0}

    # A refused message is dead-lettered with the connector's channel, and acknowledged.
    publish(broker.port, "city/kallio/noise/station-12", b"{broken")
    deadline = time.monotonic() + 10
    letters: list[dict[str, object]] = []
    while not letters and time.monotonic() < deadline:
        r = api.client.get("/v1/dead-letters", headers=api.h(Role.SUPERVISOR))
        assert r.status_code == 200, r.text
        letters = [
            item
            for item in r.json()["items"]
            if "connector:city-broker" in str(item.get("channel"))
        ]
        time.sleep(0.05)
    assert letters


def test_mqtt_mapping_over_http(api: Api) -> None:
    h = {
        **api.h(Role.INTEGRATOR),
        "Content-Type": "application/json",
        "X-Safecity-Origin": "city/vallila/noise/station-7",
    }
    raw = json.dumps({"ts": "2026-11-21T11:58:00Z", "level": 58.0}).encode()
    r = api.client.post("/v1/adapters/city-broker/messages", content=raw, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    again = api.client.post("/v1/adapters/city-broker/messages", content=raw, headers=h)
    assert again.json()["duplicates"] == 1
    bad = api.client.post("/v1/adapters/city-broker/messages", content=b'{"ts": 1}', headers=h)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["dead_letter_id"]


def test_sensorthings_observations_over_mqtt(api: Api, broker: Broker) -> None:
    # FROST-Server's own example Observation, published as SensorThings MQTT clients do.
    raw = (
        INTEROP
        / "sensorthings"
        / "frost-server"
        / "docs-examples"
        / "4_ExampleEntities__03_observation.json"
    ).read_bytes()
    for _ in range(20):
        publish(broker.port, "v1.1/Datastreams(7)/Observations", raw)
        if wait_for_events(api, "sensor.observation", 1, within_s=0.5):
            break
    [observation] = wait_for_events(api, "sensor.observation", 1)
    event = observation["event"]
    assert isinstance(event, dict)
    data = event["data"]
    assert isinstance(data, dict)
    assert (data["datastream_id"], data["result"]) == ("7", 49)
    assert event["time"] == "2020-10-11T10:13:14Z"
