"""Commands to actuators through a real mosquitto: acknowledged, refused, timed out, audited."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest
from fastapi.testclient import TestClient
from mqtt_broker import Broker
from paho.mqtt.enums import CallbackAPIVersion

from factories import sensor_record
from safecity.core.identity import Agency, Role, User
from safecity.core.registry import Sensor
from safecity.runtime import build_runtime
from safecity.settings import Settings


class Device:
    """Plays the lamps and bollards: answers commands on the ack topic, except for ``silent``."""

    def __init__(self, port: int, *, refuse: set[str], silent: set[str]) -> None:
        self.received: list[dict[str, object]] = []
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id="field-device")
        self.ready = threading.Event()

        def on_connect(client: paho.Client, *_: object) -> None:
            client.subscribe("safecity/actuators/+/set", qos=1)

        def on_subscribe(*_: object) -> None:
            self.ready.set()

        def on_message(client: paho.Client, _u: object, message: paho.MQTTMessage) -> None:
            command = orjson.loads(message.payload)
            self.received.append(command)
            device = message.topic.split("/")[2]
            if device in silent:
                return
            status = "error" if device in refuse else "ok"
            client.publish(
                f"safecity/actuators/{device}/ack",
                orjson.dumps(
                    {
                        "id": command["id"],
                        "status": status,
                        "detail": "bollard jammed" if status == "error" else "done",
                    }
                ),
                qos=1,
            )

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def control_room(
    broker: Broker, tmp_path: Path
) -> Iterator[tuple[TestClient, dict[Role, str], Device]]:
    settings = Settings(
        adapters=[
            {
                "type": "mqtt",
                "name": "city-broker",
                "host": "127.0.0.1",
                "port": broker.port,
                "client_id": "safecity-commands-test",
                "commands": {"timeout_s": 0.5, "devices": ["lamp-*", "bollard-*"]},
            }
        ]
    )
    settings.store.path = tmp_path / "c.db"
    runtime = build_runtime(settings)
    runtime.identity.add_agency(Agency(id="helsinki-police", name="Helsinki Police"))
    tokens = {}
    for role in (Role.OPERATOR, Role.ANALYST, Role.INTEGRATOR, Role.AUDITOR):
        runtime.identity.add_user(
            User(id=role.value, agency_id="helsinki-police", display_name=role.value, role=role)
        )
        tokens[role] = runtime.identity.issue_token(role.value).secret
    for sensor in (
        sensor_record(id="lamp-17", kind="lamppost", measures=["light_level"]),
        sensor_record(id="lamp-99", kind="lamppost", measures=["light_level"]),
        sensor_record(id="bollard-3", kind="bollard", measures=["position"]),
        sensor_record(id="cam-1", kind="camera"),
    ):
        runtime.store.upsert_sensor(Sensor.model_validate(sensor))
    device = Device(broker.port, refuse={"bollard-3"}, silent={"lamp-99"})
    try:
        with TestClient(runtime.api()) as client:
            yield client, tokens, device
    finally:
        device.close()


def post(client: TestClient, token: str, device: str, body: dict[str, object]) -> object:
    return client.post(
        f"/v1/actuators/{device}/commands", json=body, headers={"Authorization": f"Bearer {token}"}
    )


def test_a_command_is_sent_acknowledged_and_audited(
    control_room: tuple[TestClient, dict[Role, str], Device],
) -> None:
    client, tokens, device = control_room
    r = post(client, tokens[Role.OPERATOR], "lamp-17", {"command": "light_level", "value": 100})
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    answer = r.json()  # type: ignore[attr-defined]
    assert (answer["outcome"], answer["detail"], answer["value"]) == ("acknowledged", "done", 100)
    assert device.received[-1]["issued_by"] == "user:operator"
    assert device.received[-1]["id"] == answer["id"]
    trail = client.get(
        "/v1/audit?object_type=sensor", headers={"Authorization": f"Bearer {tokens[Role.AUDITOR]}"}
    ).json()
    (record,) = [i for i in trail["items"] if i["action"] == "actuators.command"]
    assert (record["actor"], record["outcome"], record["object_id"]) == (
        "user:operator",
        "acknowledged",
        "lamp-17",
    )
    assert record["details"]["command_id"] == answer["id"]


def test_refusal_and_silence_are_reported_not_hidden(
    control_room: tuple[TestClient, dict[Role, str], Device],
) -> None:
    client, tokens, _ = control_room
    refused = post(
        client, tokens[Role.OPERATOR], "bollard-3", {"command": "bollard", "value": "up"}
    )
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert refused.json()["detail"] == "bollard jammed"  # type: ignore[attr-defined]
    started = time.monotonic()
    silent = post(client, tokens[Role.OPERATOR], "lamp-99", {"command": "light_level", "value": 30})
    assert silent.status_code == 504  # type: ignore[attr-defined]
    assert 0.4 < time.monotonic() - started < 5
    assert "may or may not have carried it out" in silent.json()["detail"]  # type: ignore[attr-defined]


def test_commands_are_checked_before_anything_is_sent(
    control_room: tuple[TestClient, dict[Role, str], Device],
) -> None:
    client, tokens, device = control_room
    before = len(device.received)
    assert (
        post(
            client, tokens[Role.ANALYST], "lamp-17", {"command": "light_level", "value": 50}
        ).status_code
        == 403
    )  # type: ignore[attr-defined]
    assert (
        post(
            client, tokens[Role.INTEGRATOR], "lamp-17", {"command": "light_level", "value": 50}
        ).status_code
        == 403
    )  # type: ignore[attr-defined]
    bad = post(client, tokens[Role.OPERATOR], "lamp-17", {"command": "light_level", "value": 150})
    assert bad.status_code == 422  # type: ignore[attr-defined]
    assert bad.json()["errors"][0]["field"] == "value"  # type: ignore[attr-defined]
    wrong = post(client, tokens[Role.OPERATOR], "cam-1", {"command": "bollard", "value": "up"})
    assert wrong.json()["errors"][0]["reason"] == "'bollard' does not apply to a camera"  # type: ignore[attr-defined]
    assert (
        post(
            client, tokens[Role.OPERATOR], "lamp-404", {"command": "light_level", "value": 1}
        ).status_code
        == 404
    )  # type: ignore[attr-defined]
    assert len(device.received) == before
