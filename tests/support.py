"""Helpers for API tests: a client with a token per role, and waiting for correlation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from safecity.core.actuators import ActuatorCommand, CommandOutcome, CommandResult
from safecity.core.identity import Role
from safecity.runtime import Runtime

#: The shared interoperability test vectors (`../shared` beside the clone, in CI too).
INTEROP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "interop"


@dataclass
class Api:
    client: TestClient
    tokens: dict[Role, str]

    def h(self, role: Role = Role.OPERATOR, purpose: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        if purpose:
            headers["X-Safecity-Purpose"] = purpose
        return headers


def settle(api: Api, runtime: Runtime) -> None:
    """Wait (in the app's own loop) until correlation has processed every accepted event."""
    portal = api.client.portal
    assert portal is not None
    assert portal.call(runtime.settle, 10.0)


class DeviceChannel:
    """The devices' side of an actuator channel: the devices whose ids start with ``prefix``
    acknowledge what they are sent, except those in ``refusing`` (device id: the reason)."""

    def __init__(self, prefix: str, refusing: Mapping[str, str] | None = None) -> None:
        self.prefix = prefix
        self.refusing = dict(refusing or {})
        self.received: list[ActuatorCommand] = []

    def handles(self, device_id: str) -> bool:
        return device_id.startswith(self.prefix)

    async def send(self, command: ActuatorCommand) -> CommandResult:
        self.received.append(command)
        reason = self.refusing.get(command.device_id)
        if reason is not None:
            return CommandResult(command, CommandOutcome.REFUSED, reason)
        return CommandResult(command, CommandOutcome.ACKNOWLEDGED, "ok", command.issued_at)
