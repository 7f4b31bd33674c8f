"""Operators' commands to actuators: checked against the register, sent, acknowledged, audited."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from safecity.core.actuators import (
    ALLOWED,
    ActuatorChannel,
    ActuatorCommand,
    CommandName,
    CommandOutcome,
    CommandResult,
    check_value,
)
from safecity.core.clock import Clock
from safecity.core.errors import FieldError, InvalidInput, NotFound
from safecity.core.identity import Permission, Principal
from safecity.core.ids import new_id
from safecity.core.ports import Store
from safecity.governance.access import require
from safecity.governance.audit import AuditLog


class ActuatorService:
    """Nothing is ever commanded automatically: every command names the person who sent it
    and why, and its outcome (acknowledged, refused, timed out) is in the audit log."""

    def __init__(self, store: Store, audit: AuditLog, clock: Clock) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock
        #: Filled by the runtime once the connectors that can reach devices are started.
        self.channels: list[ActuatorChannel] = []

    async def send(
        self,
        principal: Principal,
        device_id: str,
        command: CommandName,
        value: object,
        *,
        context: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """``context`` goes into the audit record beside the person: e.g. the automation rule
        and proposal a person's confirmation carries out."""
        require(principal, Permission.ACTUATORS_COMMAND)
        sensor = await asyncio.to_thread(self._store.get_sensor, device_id)
        if sensor is None:
            raise NotFound("device", device_id)
        if sensor.kind not in ALLOWED[command]:
            raise InvalidInput(
                [
                    FieldError(
                        "command", f"{command.value!r} does not apply to a {sensor.kind.value}"
                    )
                ]
            )
        checked = check_value(command, value)
        now = self._clock.now()
        order = ActuatorCommand(
            id=new_id("cmd", now),
            device_id=device_id,
            command=command,
            value=checked,
            issued_by=principal.actor,
            purpose=principal.purpose.value,
            issued_at=now,
        )
        channel = next((c for c in self.channels if c.handles(device_id)), None)
        if channel is None:
            result = CommandResult(
                order, CommandOutcome.UNREACHABLE, "no command channel reaches this device"
            )
        else:
            result = await channel.send(order)
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "actuators.command",
            "sensor",
            device_id,
            outcome=result.outcome.value,
            details={
                **(context or {}),
                "command_id": order.id,
                "command": command.value,
                "value": checked,
                "detail": result.detail,
            },
        )
        return result
