"""Commands to actuators over MQTT: publish, then wait for the device's acknowledgement."""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from typing import Any

import orjson
import paho.mqtt.client as paho

from safecity.adapters.mqtt.client import new_client
from safecity.adapters.mqtt.config import Commands, MqttConfig
from safecity.core.actuators import ActuatorCommand, CommandOutcome, CommandResult
from safecity.core.clock import Clock

log = logging.getLogger(__name__)


class MqttCommander:
    """One connection for commands. A command's answer is matched by its id; an answer that
    comes after the timeout is logged and otherwise ignored (the timeout was already told)."""

    def __init__(self, config: MqttConfig, clock: Clock) -> None:
        if config.commands is None:
            raise ValueError("this MQTT instance has no commands settings")
        self.config = config
        self.settings: Commands = config.commands
        self._clock = clock
        self._client: paho.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._connected = asyncio.Event()

    def handles(self, device_id: str) -> bool:
        return any(fnmatch.fnmatchcase(device_id, p) for p in self.settings.devices)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        client = new_client(self.config, client_id=f"{self.config.client_id}-commands")
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        self._client = client
        client.connect_async(self.config.host, self.config.port, self.config.keepalive)
        client.loop_start()

    async def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()

    def _ack_filter(self) -> str:
        return self.settings.ack_topic.replace("{device_id}", "+")

    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            client.subscribe(self._ack_filter(), qos=1)
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._connected.set)

    def _on_message(self, _client: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        try:
            answer = orjson.loads(message.payload)
            command_id = str(answer["id"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("unreadable actuator answer on %s", message.topic)
            return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._answer, command_id, answer)

    def _answer(self, command_id: str, answer: dict[str, Any]) -> None:
        future = self._waiting.get(command_id)
        if future is None or future.done():
            log.info("late or unknown actuator answer for %s", command_id)
            return
        future.set_result(answer)

    async def send(self, command: ActuatorCommand) -> CommandResult:
        if self._client is None or self._loop is None:
            return CommandResult(command, CommandOutcome.UNREACHABLE, "commands are not started")
        try:
            await asyncio.wait_for(self._connected.wait(), timeout=self.settings.timeout_s)
        except TimeoutError:
            return CommandResult(
                command,
                CommandOutcome.UNREACHABLE,
                f"broker {self.config.host}:{self.config.port} not connected",
            )
        future: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        self._waiting[command.id] = future
        body = orjson.dumps(
            {
                "id": command.id,
                "command": command.command.value,
                "value": command.value,
                "issued_at": command.issued_at.isoformat(),
                "issued_by": command.issued_by,
            }
        )
        topic = self.settings.topic.replace("{device_id}", command.device_id)
        try:
            self._client.publish(topic, body, qos=1)
            answer = await asyncio.wait_for(future, timeout=self.settings.timeout_s)
        except TimeoutError:
            return CommandResult(
                command,
                CommandOutcome.TIMEOUT,
                f"no acknowledgement within {self.settings.timeout_s:g} s; the device may or "
                "may not have carried it out",
            )
        finally:
            self._waiting.pop(command.id, None)
        ok = answer.get("status") == "ok"
        return CommandResult(
            command,
            CommandOutcome.ACKNOWLEDGED if ok else CommandOutcome.REFUSED,
            str(answer.get("detail", ""))[:500],
            self._clock.now(),
        )
