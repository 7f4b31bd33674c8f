"""The MQTT transport: subscribe to a broker and hand every message to the platform.

Delivery is at least once. A QoS 1/2 message is acknowledged to the broker only after the sink
returned, so what was not processed (a crash, a restart, a lost connection) is sent again by the
broker: the session is persistent (fixed client id, ``clean_session`` false). Messages are
handed over in the order they arrived, one at a time; a bounded queue sits between paho's
network thread and the asyncio loop, and when it is full the network thread waits, so the
broker (which caps unacknowledged messages in flight) holds the rest.

paho-mqtt is imported here only; the rest of the platform sees :class:`MqttConnector` and the
:class:`Sink` it calls.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import paho.mqtt.client as paho
from paho.mqtt.reasoncodes import ReasonCode

from safecity.adapters.base import ConnectorContext
from safecity.adapters.mqtt.client import new_client
from safecity.adapters.mqtt.commands import MqttCommander
from safecity.adapters.mqtt.config import MqttConfig, Subscription
from safecity.adapters.mqtt.mapping import topic_matches
from safecity.core.actuators import ActuatorCommand, CommandOutcome, CommandResult

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where messages go: normally the platform's adapter intake, bound to a principal
    (:class:`safecity.adapters.base.InboundSink` is one)."""

    async def __call__(
        self, adapter: str, raw: bytes, *, content_type: str | None, origin: str
    ) -> object: ...


class BatchSink(Protocol):
    """Several messages for one adapter at once (one store transaction for all of them)."""

    async def __call__(
        self,
        adapter: str,
        messages: Sequence[tuple[bytes, str | None]],
        *,
        content_type: str | None,
    ) -> object: ...


class MqttInstance:
    """A configured broker: its subscriptions (inbound) and, when configured, the command
    channel to actuators reached through it."""

    def __init__(self, context: ConnectorContext) -> None:
        config = context.config
        if not isinstance(config, MqttConfig):
            raise TypeError(f"adapter instance {context.name!r} has no MQTT settings")
        self.inbound = (
            MqttConnector(config, context.receive, batch_sink=context.receive_batch)
            if config.subscriptions
            else None
        )
        self.commands = MqttCommander(config, context.clock) if config.commands else None

    async def start(self) -> None:
        if self.inbound is not None:
            await self.inbound.start()
        if self.commands is not None:
            await self.commands.start()

    async def stop(self) -> None:
        if self.commands is not None:
            await self.commands.stop()
        if self.inbound is not None:
            await self.inbound.stop()

    def handles(self, device_id: str) -> bool:
        return self.commands is not None and self.commands.handles(device_id)

    async def send(self, command: ActuatorCommand) -> CommandResult:
        if self.commands is None:
            return CommandResult(command, CommandOutcome.UNREACHABLE, "no command channel")
        return await self.commands.send(command)


def connector(context: ConnectorContext) -> MqttInstance:
    """The runtime's factory: one per configured ``mqtt`` instance."""
    return MqttInstance(context)


class MqttConnectError(Exception):
    """The broker could not be reached, or refused this client (e.g. a wrong password)."""


@dataclass(frozen=True)
class _Item:
    generation: int
    topic: str
    payload: bytes
    mid: int
    qos: int


@dataclass
class Stats:
    received: int = 0
    delivered: int = 0
    #: The sink raised and the message was tried again.
    retries: int = 0
    #: Messages of a lost connection left for the broker to send again.
    left_for_redelivery: int = 0
    connects: int = 0


class MqttConnector:
    """One broker connection. ``await start()`` then ``await stop()``; see the module doc."""

    def __init__(
        self,
        config: MqttConfig,
        sink: Sink,
        *,
        handled: tuple[type[BaseException], ...] = (),
        batch_sink: BatchSink | None = None,
        max_batch: int = 500,
    ) -> None:
        """``handled``: exceptions of the sink that mean "refused and already recorded" (the
        intake dead-letters what it refuses): the message is acknowledged, not retried.
        ``batch_sink``: when given, messages waiting together go to it in runs of up to
        ``max_batch`` per subscription, each run acknowledged after it returned."""
        self.config = config
        self._sink = sink
        self._batch_sink = batch_sink
        self._max_batch = max_batch
        self._handled = handled
        self.stats = Stats()
        self.last_error: str | None = None
        # Messages from paho's thread, handed over in batches: one loop wake-up per batch.
        self._pending: collections.deque[_Item] = collections.deque()
        self._pending_lock = threading.Lock()
        self._wake_scheduled = False
        self._ready: asyncio.Event | None = None
        self._closing = False
        self._slots = threading.Semaphore(config.queue_size)
        self._stopping = threading.Event()
        self._generation = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: paho.Client | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._connected: asyncio.Event | None = None
        self._refused: asyncio.Event | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background (retrying with backoff) and start handing messages on."""
        if self._client is not None:
            raise RuntimeError("already started")
        self._loop = asyncio.get_running_loop()
        self._ready = asyncio.Event()
        self._closing = False
        self._pending.clear()
        self._wake_scheduled = False
        self._slots = threading.Semaphore(self.config.queue_size)
        self._connected = asyncio.Event()
        self._refused = asyncio.Event()
        self._stopping.clear()
        client = new_client(
            self.config,
            client_id=self.config.client_id,
            clean_session=self.config.clean_session,
            manual_ack=True,
        )
        client.reconnect_delay_set(
            max(1, math.ceil(self.config.reconnect_min_s)),
            max(1, math.ceil(self.config.reconnect_max_s)),
        )
        client.max_inflight_messages_set(self.config.queue_size)
        client.enable_logger(logging.getLogger(f"{__name__}.paho"))
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        self._consumer = asyncio.create_task(self._consume(), name="mqtt-consumer")
        client.connect_async(self.config.host, self.config.port, self.config.keepalive)
        client.loop_start()

    async def stop(self, grace_s: float = 5.0) -> None:
        """Disconnect and stop. A message in the sink is let finish (up to ``grace_s``);
        messages not yet handed on are left unacknowledged, for the broker to send again."""
        client = self._client
        if client is None:
            return
        self._stopping.set()
        self._generation += 1  # nothing queued may be acknowledged any more
        await asyncio.to_thread(self._shutdown, client)
        self._closing = True
        if self._ready is not None:
            self._ready.set()
        if self._consumer is not None:
            try:
                await asyncio.wait_for(self._consumer, grace_s)
            except TimeoutError:
                log.warning("MQTT %s: the sink did not finish in %.1f s", self._name, grace_s)
        self._client = None
        self._consumer = None

    @staticmethod
    def _shutdown(client: paho.Client) -> None:
        client.disable_logger()  # paho reports its own closed socket as an error on the way out
        client.disconnect()
        client.loop_stop()

    async def wait_connected(self, within_s: float = 10.0) -> None:
        """Wait for the first successful connection; raise :class:`MqttConnectError` with the
        broker's reason when it refused this client, or on timeout."""
        if self._connected is None or self._refused is None:
            raise RuntimeError("not started")
        waits = [
            asyncio.create_task(self._connected.wait()),
            asyncio.create_task(self._refused.wait()),
        ]
        _, pending = await asyncio.wait(
            waits, timeout=within_s, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        if self._connected.is_set():
            return
        reason = self.last_error or f"no connection within {within_s:.0f} s"
        raise MqttConnectError(f"MQTT broker {self._name}: {reason}")

    @property
    def connected(self) -> bool:
        return self._connected is not None and self._connected.is_set()

    @property
    def _name(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    # --- paho's network thread ------------------------------------------------------------

    def _call(self, callback: Any, *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(callback, *args)

    def _on_connect(
        self,
        client: paho.Client,
        _userdata: Any,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        if reason.is_failure:
            self.last_error = f"connection refused: {reason}"
            log.error("MQTT %s: %s", self._name, self.last_error)
            if self._refused is not None:
                self._call(self._refused.set)
            return
        self.stats.connects += 1
        self.last_error = None
        log.info("MQTT %s connected (session present: %s)", self._name, flags.session_present)
        subscriptions: list[tuple[str, int]] = [(s.topic, s.qos) for s in self.config.subscriptions]
        if subscriptions:
            client.subscribe(subscriptions)
        if self._connected is not None:
            self._call(self._connected.set)

    def _on_connect_fail(self, _client: paho.Client, _userdata: Any) -> None:
        self.last_error = "could not connect (network, name or TLS handshake failure)"
        log.warning("MQTT %s: %s; retrying", self._name, self.last_error)

    def _on_disconnect(
        self,
        _client: paho.Client,
        _userdata: Any,
        _flags: paho.DisconnectFlags,
        reason: ReasonCode,
        _properties: Any,
    ) -> None:
        # Whatever is queued from this connection can no longer be acknowledged on it: the
        # broker sends those messages again once reconnected.
        self._generation += 1
        refused = (self.last_error or "").startswith("connection refused")
        if not self._stopping.is_set() and not refused:  # keep the broker's reason
            self.last_error = f"disconnected: {reason}"
            log.warning("MQTT %s %s; reconnecting", self._name, self.last_error)
        if self._connected is not None:
            self._call(self._connected.clear)

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        item = _Item(
            self._generation, message.topic, bytes(message.payload), message.mid, message.qos
        )
        while not self._slots.acquire(timeout=0.2):  # the queue is full: hold the broker back
            if self._stopping.is_set():
                return
        self.stats.received += 1
        with self._pending_lock:
            self._pending.append(item)
            wake = not self._wake_scheduled
            self._wake_scheduled = True
        if wake and self._ready is not None:
            self._call(self._ready.set)

    # --- the asyncio side -----------------------------------------------------------------

    def _route(self, topic: str) -> Subscription | None:
        for subscription in self.config.subscriptions:
            if topic_matches(subscription.topic, topic):
                return subscription
        return None

    async def _consume(self) -> None:
        assert self._ready is not None
        while True:
            await self._ready.wait()
            with self._pending_lock:
                batch = list(self._pending)
                self._pending.clear()
                self._wake_scheduled = False
                self._ready.clear()
            if self._batch_sink is not None:
                try:
                    await self._handle_runs(batch)
                finally:
                    for _ in batch:
                        self._slots.release()
            else:
                for item in batch:
                    try:
                        await self._handle(item)
                    finally:
                        self._slots.release()
            if self._closing:
                return

    def _current(self, item: _Item) -> bool:
        return item.qos == 0 or item.generation == self._generation

    async def _handle(self, item: _Item) -> None:
        if not self._current(item):
            self.stats.left_for_redelivery += 1
            return
        subscription = self._route(item.topic)
        if subscription is not None:
            delivered = await self._deliver(subscription, item)
            if not delivered:
                return
        if self._current(item) and self._client is not None:
            self._client.ack(item.mid, item.qos)
        else:
            self.stats.left_for_redelivery += 1

    async def _handle_runs(self, items: list[_Item]) -> None:
        """Consecutive messages of one subscription go to the batch sink together; order and
        the acknowledge-after-handling rule are kept."""
        runs: list[tuple[Subscription | None, list[_Item]]] = []
        for item in items:
            if not self._current(item):
                self.stats.left_for_redelivery += 1
                continue
            subscription = self._route(item.topic)
            if runs and runs[-1][0] is subscription and len(runs[-1][1]) < self._max_batch:
                runs[-1][1].append(item)
            else:
                runs.append((subscription, [item]))
        for position, (subscription, run) in enumerate(runs):
            if subscription is not None and not await self._deliver_run(subscription, run):
                # Stopped or disconnected first: the rest stays unacknowledged, in order.
                self.stats.left_for_redelivery += sum(len(r) for _, r in runs[position:])
                return
            for item in run:
                if self._current(item) and self._client is not None:
                    self._client.ack(item.mid, item.qos)
                else:
                    self.stats.left_for_redelivery += 1

    async def _deliver_run(self, subscription: Subscription, run: list[_Item]) -> bool:
        assert self._batch_sink is not None
        delay = self.config.sink_retry_s
        while True:
            try:
                await self._batch_sink(
                    subscription.adapter,
                    [(item.payload, item.topic) for item in run],
                    content_type=subscription.content_type,
                )
            except self._handled:
                pass
            except Exception:
                self.stats.retries += 1
                log.exception(
                    "MQTT %s: the platform failed on %d message(s); retrying in %.1f s",
                    self._name,
                    len(run),
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.reconnect_max_s)
                if self._stopping.is_set() or not all(self._current(i) for i in run):
                    return False
                continue
            self.stats.delivered += len(run)
            return True

    async def _deliver(self, subscription: Subscription, item: _Item) -> bool:
        """Hand one message to the sink, trying again with backoff while it fails. False when
        stopped (or disconnected, for QoS > 0) before the sink took it."""
        delay = self.config.sink_retry_s
        while True:
            try:
                await self._sink(
                    subscription.adapter,
                    item.payload,
                    content_type=subscription.content_type,
                    origin=item.topic,
                )
            except self._handled:
                pass  # refused and recorded by the sink: done with it
            except Exception:
                self.stats.retries += 1
                log.exception(
                    "MQTT %s: the platform failed on a message from %s; retrying in %.1f s",
                    self._name,
                    item.topic,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.reconnect_max_s)
                if self._stopping.is_set() or not self._current(item):
                    self.stats.left_for_redelivery += 1
                    return False
                continue
            self.stats.delivered += 1
            return True
