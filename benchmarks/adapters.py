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
import re
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
from safecity.benchmarking import free_port, machine

ROOT = Path(__file__).resolve().parents[1]
INTEROP = ROOT.parent / "shared" / "data" / "interop"
TOPIC = "city/bench/noise/station-1"
#: Concurrent senders in the one-document-per-call measurements.
SENDERS = 4


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
        port = free_port()
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


# --- raw payload to stored event ---------------------------------------------------------------


def _variants() -> dict[str, tuple[str, Callable[[int], bytes], str | None, str | None]]:
    """Per adapter: one real message, made unique per copy (else the second copy would be a
    duplicate and cost nothing), with its content type and origin."""
    cap = INTEROP / "cap" / "oasis-cap-1.2-spec-examples" / "Oasis_ThunderstormWarning.xml"
    cap_raw = cap.read_bytes()
    cap_id = re.search(rb"<identifier>([^<]+)</identifier>", cap_raw)
    assert cap_id is not None
    frigate = (INTEROP / "frigate" / "mqtt" / "00-frigate-events.json").read_bytes()
    noise = (
        INTEROP
        / "ngsi-ld"
        / "smart-data-models"
        / "Environment"
        / "NoiseLevelObserved"
        / "examples"
        / "example-normalized.jsonld"
    ).read_bytes()
    noise_doc = json.loads(noise)
    alert_xml = re.sub(rb"^<\?xml[^>]*>\s*", b"", cap_raw.strip())

    def cap_feed(i: int, per_feed: int = 50) -> bytes:
        """An Atom feed embedding ``per_feed`` alerts, as national alert hubs publish them."""
        entries = b"".join(
            b"<entry><id>urn:bench:%d</id><title>Alert</title><updated>2003-06-17T21:57:00Z"
            b'</updated><content type="text/xml">%s</content></entry>'
            % (
                i * per_feed + k,
                alert_xml.replace(
                    cap_id.group(0), b"<identifier>bench-%d</identifier>" % (i * per_feed + k)
                ),
            )
            for k in range(per_feed)
        )
        return (
            b'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            b"<id>urn:bench:feed</id><title>Bench</title><updated>2003-06-17T21:57:00Z</updated>"
            + entries
            + b"</feed>"
        )

    return {
        "cap_feed_50": ("cap", cap_feed, "application/atom+xml", None),
        "cap": (
            "cap",
            lambda i: cap_raw.replace(cap_id.group(0), b"<identifier>bench-%d</identifier>" % i),
            "application/cap+xml",
            None,
        ),
        "frigate": (
            "frigate",
            lambda i: frigate.replace(b"1607123955.475377-mxklsc", b"1607123955.475377-b%07d" % i),
            "application/json",
            "frigate/events",
        ),
        "ngsi_ld": (
            "ngsi_ld",
            lambda i: json.dumps(
                {**noise_doc, "id": f"urn:ngsi-ld:NoiseLevelObserved:bench-{i}"}
            ).encode(),
            "application/ld+json",
            None,
        ),
        "open311": (
            "open311",
            lambda i: (
                b"service_code=streetlight&lat=60.1699&long=24.9384&description=lamp+out+%d" % i
            ),
            "application/x-www-form-urlencoded",
            None,
        ),
    }


async def _sender(
    runtime: Any,
    queue: list[bytes],
    adapter: str,
    content_type: str | None,
    origin: str | None,
    principal: Any,
) -> None:
    """Like an HTTP client: one document at a time; several of these send at once."""
    while queue:
        await runtime.adapters.receive(
            adapter,
            queue.pop(),
            principal=principal,
            channel="bench",
            content_type=content_type,
            origin=origin,
        )


async def stored_throughput(count: int) -> dict[str, Any]:
    """Messages/s from raw payload to stored event, one document per call as HTTP delivers
    them, through SQLite with correlation on."""
    from safecity.core.identity import Principal, Purpose, Role
    from safecity.runtime import build_runtime
    from safecity.settings import Settings

    principal = Principal("bench", "bench", Role.INTEGRATOR, Purpose.SYSTEM_OPERATIONS)
    frigate = {
        "type": "frigate",
        "name": "frigate",
        "cameras": {"front_door": {"lon": 24.94, "lat": 60.17}},
    }
    results: dict[str, Any] = {}
    for name, (adapter, make, content_type, origin) in _variants().items():
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(adapters=[frigate])
            settings.store.path = Path(tmp) / "a.db"
            settings.max_future_skew_s = 86_400.0 * 3650  # archived samples carry old times
            runtime = build_runtime(settings)
            await runtime.start()
            messages = [make(i) for i in range(count if name != "cap_feed_50" else count // 50)]
            started = time.perf_counter()
            queue = list(reversed(messages))
            await asyncio.gather(
                *(
                    _sender(runtime, queue, adapter, content_type, origin, principal)
                    for _ in range(SENDERS)
                )
            )
            await runtime.settle(120)
            elapsed = time.perf_counter() - started
            stored = runtime.store.count_events()
            await runtime.stop()
        results[name] = {
            "messages": len(messages),
            "events_stored": stored,
            "messages_per_s": round(len(messages) / elapsed, 1),
            "events_per_s": round(stored / elapsed, 1),
        }
    return results


async def mqtt_to_store(count: int) -> dict[str, Any]:
    """From a device's publish through mosquitto, the connector (batched hand-over) and the
    mqtt JSON mapping to events committed in SQLite, correlation on."""
    from safecity.runtime import build_runtime
    from safecity.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        broker = _start_broker(Path(tmp), port)
        try:
            settings = Settings(
                adapters=[
                    {
                        "type": "mqtt",
                        "name": "bench-broker",
                        "host": "127.0.0.1",
                        "port": port,
                        "client_id": "bench-safecity-store",
                        "queue_size": 5000,
                        "subscriptions": [{"topic": "city/+/noise/#", "adapter": "bench-broker"}],
                        "mappings": [
                            {
                                "topic": "city/+/noise/#",
                                "event_type": "noise.level",
                                "time": "$.ts",
                                "id": "$.n",
                                "data": {"sensor_id": "topic[3]", "laeq_db": "$.level"},
                            }
                        ],
                    }
                ]
            )
            settings.store.path = Path(tmp) / "m.db"
            settings.max_future_skew_s = 86_400.0 * 3650
            runtime = build_runtime(settings)
            await runtime.start()
            await asyncio.sleep(1.0)  # connected and subscribed
            publisher = multiprocessing.get_context("spawn").Process(
                target=_publisher, args=(port, count)
            )
            started = time.perf_counter()
            publisher.start()
            while runtime.ingest.accepted < count:
                if time.perf_counter() - started > 300:
                    break
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - started
            publisher.join(30)
            stored = runtime.store.count_events()
            await runtime.stop()
        finally:
            broker.terminate()
            broker.wait(10)
    return {
        "messages": count,
        "events_stored": stored,
        "seconds": round(elapsed, 3),
        "messages_per_s": round(count / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--mappings", type=int, default=10_000)
    parser.add_argument("--stored", type=int, default=2000)
    args = parser.parse_args()
    from safecity.benchmarking import library_ingest

    ceiling = asyncio.run(library_ingest(50_000, 1000))["events_per_s"]
    to_store = asyncio.run(stored_throughput(args.stored))
    mqtt_store = asyncio.run(mqtt_to_store(args.messages))
    result = {
        "benchmark": "adapters",
        "machine": machine(),
        "core_ingest_ceiling_events_per_s": ceiling,
        "mqtt_to_store": {
            **mqtt_store,
            "ratio_to_core": round(mqtt_store["messages_per_s"] / ceiling, 3),
        },
        "stored": {
            name: {**r, "ratio_to_core": round(r["events_per_s"] / ceiling, 3)}
            for name, r in to_store.items()
        },
        "mqtt_to_sink": asyncio.run(mqtt_throughput(args.messages)),
        "mapping_only": mappings(args.mappings),
        "targets": {"mqtt_messages_per_s": 10_000, "cap_alerts_per_s": 1_000},
        "notes": "stored.*: raw payload -> mapping -> SQLite commit, correlation on, one "
        "document per call; cap_feed_50 is an Atom feed embedding 50 alerts (events_per_s is "
        "alerts/s); mqtt_to_store: device publish -> mosquitto -> connector -> stored events",
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
