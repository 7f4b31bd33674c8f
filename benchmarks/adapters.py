"""Adapter benchmark: MQTT messages/s from a device's publish through a real mosquitto broker to
the connector's sink (QoS 1, acknowledged after the sink), and pure mapping throughput of the
Frigate, ONVIF and mqtt mappings. Prints one JSON object.

    .venv/bin/python benchmarks/adapters.py [--messages N] [--mappings M]

Needs mosquitto (scripts/system-packages.txt). The publisher is a separate process, as a
device would be.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from safecity.adapters.base import MappingContext
from safecity.adapters.frigate.config import FrigateConfig
from safecity.adapters.frigate.mapping import parse as frigate_parse
from safecity.adapters.mqtt.adapter import MqttConnector
from safecity.adapters.mqtt.config import MqttConfig
from safecity.adapters.mqtt.mapping import parse as mqtt_parse
from safecity.adapters.onvif.config import OnvifConfig
from safecity.adapters.onvif.mapping import parse as onvif_parse
from safecity.benchmarking import machine

ROOT = Path(__file__).resolve().parents[1]
INTEROP = ROOT.parent / "shared" / "data" / "interop"
TOPIC = "city/bench/noise/station-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_broker(folder: Path, port: int) -> subprocess.Popen[bytes]:
    conf = folder / "mosquitto.conf"
    conf.write_text(
        "\n".join(
            [
                "user root",
                f"listener {port} 127.0.0.1",
                "allow_anonymous true",
                "max_inflight_messages 1000",
                "max_queued_messages 0",
                "log_dest none",
                "",
            ]
        )
    )
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    process = subprocess.Popen(
        [mosquitto, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise RuntimeError("mosquitto did not start")


def _publisher(port: int, count: int) -> None:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-device")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    payload = b'{"ts": "2026-11-21T11:59:00Z", "level": 64.5, "n": %d}'
    last = None
    for i in range(count):
        last = client.publish(TOPIC, payload % i, qos=1)
    if last is not None:
        last.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


async def mqtt_throughput(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        broker = _start_broker(Path(tmp), port)
        try:
            seen = 0
            done = asyncio.Event()

            async def sink(
                adapter: str, raw: bytes, *, content_type: str | None, origin: str
            ) -> None:
                nonlocal seen
                seen += 1
                if seen >= count:
                    done.set()

            config = MqttConfig.model_validate(
                {
                    "host": "127.0.0.1",
                    "port": port,
                    "client_id": "bench-safecity",
                    "queue_size": 1000,
                    "subscriptions": [{"topic": "city/+/noise/#", "qos": 1}],
                }
            )
            connector = MqttConnector(config, sink)
            await connector.start()
            await connector.wait_connected()
            await asyncio.sleep(0.3)
            publisher = multiprocessing.get_context("spawn").Process(
                target=_publisher, args=(port, count)
            )
            started = time.perf_counter()
            publisher.start()
            await asyncio.wait_for(done.wait(), timeout=300)
            elapsed = time.perf_counter() - started
            publisher.join(30)
            await connector.stop()
        finally:
            broker.terminate()
            broker.wait(10)
    return {
        "messages": count,
        "qos": 1,
        "seconds": round(elapsed, 3),
        "messages_per_s": round(count / elapsed),
        "note": "publish in a separate process -> mosquitto -> connector -> sink, acknowledged "
        "after the sink; includes the publisher's process start-up",
    }


def mapping_throughput(
    name: str,
    parse: Callable[[bytes, MappingContext], Any],
    raw: bytes,
    context: MappingContext,
    n: int,
) -> dict[str, Any]:
    events = len(parse(raw, context).events)
    started = time.perf_counter()
    for _ in range(n):
        parse(raw, context)
    elapsed = time.perf_counter() - started
    return {
        "input": name,
        "messages": n,
        "events_per_message": events,
        "messages_per_s": round(n / elapsed),
    }


def mappings(n: int) -> dict[str, Any]:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    frigate = FrigateConfig(cameras={"front_door": {"lon": 24.94, "lat": 60.17}})
    onvif = OnvifConfig(sources={"1": {"lon": 24.94, "lat": 60.17}})
    spec = INTEROP / "onvif" / "spec-examples"
    mqtt = MqttConfig.model_validate(
        {
            "mappings": [
                {
                    "topic": "city/+/noise/#",
                    "event_type": "noise.level",
                    "time": "$.ts",
                    "data": {"sensor_id": "topic[3]", "laeq_db": "$.level"},
                }
            ]
        }
    )
    return {
        "frigate": mapping_throughput(
            "frigate/mqtt/00-frigate-events.json",
            frigate_parse,
            (INTEROP / "frigate" / "mqtt" / "00-frigate-events.json").read_bytes(),
            MappingContext(received_at=now, config=frigate, origin="frigate/events"),
            n,
        ),
        "onvif_xml": mapping_throughput(
            "onvif/core-72 PullMessagesResponse (2 notifications)",
            onvif_parse,
            (spec / "core-72-SOAP-ENV_Envelope.xml").read_bytes(),
            MappingContext(received_at=now, config=onvif),
            n,
        ),
        "onvif_ej": mapping_throughput(
            "onvif/core-77 onvif-ej JSON",
            onvif_parse,
            (spec / "core-77-onvif-ej-payload.json").read_bytes(),
            MappingContext(
                received_at=now,
                config=onvif,
                origin=(spec / "core-76-onvif-ej-mqtt-topic.txt").read_text().strip(),
            ),
            n,
        ),
        "mqtt_json": mapping_throughput(
            "mqtt noise telemetry",
            mqtt_parse,
            b'{"ts": "2026-11-21T11:59:00Z", "level": 64.5}',
            MappingContext(received_at=now, config=mqtt, origin=TOPIC),
            n,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--mappings", type=int, default=10_000)
    args = parser.parse_args()
    result = {
        "benchmark": "adapters",
        "machine": machine(),
        "mqtt": asyncio.run(mqtt_throughput(args.messages)),
        "mapping": mappings(args.mappings),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
