"""The MQTT connector against a real mosquitto: order, restarts, auth, TLS, failing sinks."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import paho.mqtt.client as paho
import pytest
from mqtt_broker import PASSWORD, USER, Broker
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import SecretStr

from safecity.adapters.mqtt.adapter import MqttConnectError, MqttConnector
from safecity.adapters.mqtt.config import MqttConfig, Subscription, Tls

pytestmark = pytest.mark.anyio


@dataclass
class Recorder:
    """A sink that records what it was given; optionally failing or slow."""

    seen: list[tuple[str, bytes, str | None, str]] = field(default_factory=list)
    fail: Callable[[bytes, int], bool] = lambda _raw, _attempt: False
    delay_s: float = 0.0
    attempts: dict[bytes, int] = field(default_factory=dict)

    async def __call__(
        self, adapter: str, raw: bytes, *, content_type: str | None, origin: str
    ) -> object:
        attempt = self.attempts.get(raw, 0) + 1
        self.attempts[raw] = attempt
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail(raw, attempt):
            raise RuntimeError(f"sink down for {raw!r}")
        self.seen.append((adapter, raw, content_type, origin))
        return None

    @property
    def payloads(self) -> list[bytes]:
        return [raw for _, raw, _, _ in self.seen]

    async def until(self, count: int, within_s: float = 20.0) -> None:
        deadline = time.monotonic() + within_s
        while len(set(self.payloads)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"sink saw {len(set(self.payloads))} of {count}")
            await asyncio.sleep(0.02)


async def eventually(condition: Callable[[], bool], within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def publish(port: int, messages: Sequence[tuple[str, bytes]], *, qos: int = 1) -> None:
    """Publish with a separate client, as a device would, and wait until the broker has them."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"device-{time.monotonic_ns()}")
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        infos = [client.publish(topic, raw, qos=qos) for topic, raw in messages]
        for info in infos:
            info.wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def config(port: int, **overrides: object) -> MqttConfig:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "client_id": "safecity-test",
        "reconnect_min_s": 1,
        "reconnect_max_s": 2,
        "sink_retry_s": 0.05,
        "subscriptions": [
            Subscription(topic="frigate/events", adapter="frigate"),
            Subscription(topic="city/+/noise/#", adapter="mqtt", content_type="application/json"),
        ],
    }
    values.update(overrides)
    return MqttConfig.model_validate(values)


def numbered(
    count: int, start: int = 0, topic: str = "city/kallio/noise/s1"
) -> list[tuple[str, bytes]]:
    return [(topic, f'{{"n": {i}}}'.encode()) for i in range(start, start + count)]


async def test_every_message_arrives_in_order_with_its_topic_and_mapping(broker: Broker) -> None:
    sink = Recorder()
    connector = MqttConnector(config(broker.port), sink)
    await connector.start()
    try:
        await connector.wait_connected()
        await asyncio.sleep(0.2)  # the subscription is acknowledged
        messages = numbered(300)
        await asyncio.to_thread(publish, broker.port, [*messages, ("frigate/events", b"{}")])
        await asyncio.to_thread(publish, broker.port, [("elsewhere/x", b"ignored")])
        await sink.until(301)
    finally:
        await connector.stop()
    assert sink.payloads[:300] == [raw for _, raw in messages]
    assert sink.seen[0] == ("mqtt", b'{"n": 0}', "application/json", "city/kallio/noise/s1")
    assert sink.seen[300][0] == "frigate"
    assert connector.stats.delivered == 301


async def test_broker_restart_mid_stream_loses_nothing(broker: Broker) -> None:
    sink = Recorder()
    connector = MqttConnector(config(broker.port), sink)
    await connector.start()
    try:
        await connector.wait_connected()
        await asyncio.sleep(0.2)
        await asyncio.to_thread(publish, broker.port, numbered(100))
        await sink.until(100)
        await asyncio.to_thread(broker.restart)
        # Published while the connector is still reconnecting: the broker keeps them for its
        # persistent session and sends them once it is back.
        await asyncio.to_thread(publish, broker.port, numbered(100, start=100))
        await sink.until(200)
    finally:
        await connector.stop()
    assert connector.stats.connects >= 2
    first_seen = list(dict.fromkeys(sink.payloads))
    assert first_seen == [raw for _, raw in numbered(200)]


async def test_username_and_password(broker: Broker) -> None:
    sink = Recorder()
    good = MqttConnector(
        config(broker.auth_port, username=USER, password=SecretStr(PASSWORD)), sink
    )
    await good.start()
    try:
        await good.wait_connected()
        await asyncio.sleep(0.2)
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id="device-auth")
        client.username_pw_set(USER, PASSWORD)
        client.connect("127.0.0.1", broker.auth_port)
        client.loop_start()
        client.publish("city/a/noise/x", b'{"ok": true}', qos=1).wait_for_publish(5)
        client.disconnect()
        client.loop_stop()
        await sink.until(1)
    finally:
        await good.stop()
    bad = MqttConnector(
        config(
            broker.auth_port,
            client_id="safecity-bad",
            username=USER,
            password=SecretStr("wrong"),
        ),
        Recorder(),
    )
    await bad.start()
    try:
        with pytest.raises(MqttConnectError) as refused:
            await bad.wait_connected(within_s=5)
    finally:
        await bad.stop()
    assert "refused" in str(refused.value)
    assert (
        "user name or password" in str(refused.value).lower()
        or "authori" in str(refused.value).lower()
    )


# paho leaves the socket of a failed TLS handshake to the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
async def test_tls_with_a_private_ca(broker: Broker) -> None:
    sink = Recorder()
    assert broker.ca_file is not None
    connector = MqttConnector(
        config(broker.tls_port, host="localhost", tls=Tls(ca_file=broker.ca_file)), sink
    )
    await connector.start()
    try:
        await connector.wait_connected()
    finally:
        await connector.stop()
    untrusted = MqttConnector(config(broker.tls_port, host="localhost", tls=Tls()), sink)
    await untrusted.start()
    try:
        with pytest.raises(MqttConnectError):
            await untrusted.wait_connected(within_s=2)
    finally:
        await untrusted.stop()
    assert "TLS handshake" in (untrusted.last_error or "")
    gc.collect()


async def test_a_slow_sink_behind_a_small_queue_loses_nothing(broker: Broker) -> None:
    sink = Recorder(delay_s=0.005)
    connector = MqttConnector(config(broker.port, queue_size=4), sink)
    await connector.start()
    try:
        await connector.wait_connected()
        await asyncio.sleep(0.2)
        await asyncio.to_thread(publish, broker.port, numbered(80))
        await sink.until(80)
    finally:
        await connector.stop()
    assert sink.payloads == [raw for _, raw in numbered(80)]


async def test_a_failing_sink_is_retried_in_order(broker: Broker) -> None:
    sink = Recorder(fail=lambda raw, attempt: raw == b'{"n": 3}' and attempt <= 2)
    connector = MqttConnector(config(broker.port), sink)
    await connector.start()
    try:
        await connector.wait_connected()
        await asyncio.sleep(0.2)
        await asyncio.to_thread(publish, broker.port, numbered(10))
        await sink.until(10)
    finally:
        await connector.stop()
    assert sink.payloads == [raw for _, raw in numbered(10)]
    assert connector.stats.retries == 2


async def test_what_the_sink_never_took_is_redelivered_after_reconnect(broker: Broker) -> None:
    down = Recorder(fail=lambda raw, _attempt: raw == b'{"n": 2}')
    first = MqttConnector(config(broker.port), down)
    await first.start()
    try:
        await first.wait_connected()
        await asyncio.sleep(0.2)
        await asyncio.to_thread(publish, broker.port, numbered(5))
        await eventually(lambda: down.attempts.get(b'{"n": 2}', 0) >= 2)
    finally:
        await first.stop()
    assert down.payloads == [b'{"n": 0}', b'{"n": 1}']
    # The same client id again: the broker still holds 2, 3 and 4 unacknowledged.
    up = Recorder()
    second = MqttConnector(config(broker.port), up)
    await second.start()
    try:
        await up.until(3)
    finally:
        await second.stop()
    assert up.payloads == [b'{"n": 2}', b'{"n": 3}', b'{"n": 4}']


async def test_refusals_the_sink_recorded_are_acknowledged(broker: Broker) -> None:
    class Refused(Exception):
        pass

    seen: list[bytes] = []

    async def refusing(adapter: str, raw: bytes, *, content_type: str | None, origin: str) -> None:
        seen.append(raw)
        raise Refused(raw)

    connector = MqttConnector(config(broker.port), refusing, handled=(Refused,))
    await connector.start()
    try:
        await connector.wait_connected()
        await asyncio.sleep(0.2)
        await asyncio.to_thread(publish, broker.port, numbered(3))
        await eventually(lambda: len(seen) >= 3)
    finally:
        await connector.stop()
    assert len(seen) == 3
    assert connector.stats.retries == 0
    again = Recorder()
    later = MqttConnector(config(broker.port), again)
    await later.start()
    try:
        await later.wait_connected()
        await asyncio.sleep(0.5)
    finally:
        await later.stop()
    assert again.payloads == []  # acknowledged: nothing comes back


@dataclass
class BatchRecorder:
    """A batch sink: records runs; fails the first ``failures`` calls."""

    runs: list[tuple[str, list[tuple[bytes, str | None]]]] = field(default_factory=list)
    failures: int = 0
    calls: int = 0

    async def __call__(
        self,
        adapter: str,
        messages: Sequence[tuple[bytes, str | None]],
        *,
        content_type: str | None,
    ) -> object:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("store busy")
        self.runs.append((adapter, list(messages)))
        return None

    @property
    def payloads(self) -> list[bytes]:
        return [raw for _, run in self.runs for raw, _ in run]


async def test_a_batch_sink_gets_runs_in_order_and_failed_runs_again(broker: Broker) -> None:
    batches = BatchRecorder(failures=1)
    connector = MqttConnector(config(broker.port), Recorder(), batch_sink=batches, max_batch=50)
    await connector.start()
    try:
        await connector.wait_connected()
        await asyncio.sleep(0.2)
        messages = numbered(400)
        await asyncio.to_thread(publish, broker.port, [*messages, ("frigate/events", b"{}")])
        await eventually(lambda: len(batches.payloads) >= 401)
    finally:
        await connector.stop()
    assert batches.payloads[:400] == [raw for _, raw in messages]
    assert all(len(run) <= 50 for _, run in batches.runs)
    assert batches.runs[-1] == ("frigate", [(b"{}", "frigate/events")])
    assert {adapter for adapter, _ in batches.runs[:-1]} == {"mqtt"}
    assert connector.stats.retries == 1 and connector.stats.delivered == 401
