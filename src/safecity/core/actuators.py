"""Commands to actuators (lamp light, bollards): always a person's decision, always audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from safecity.core.errors import FieldError, InvalidInput
from safecity.core.registry import SensorKind


class CommandName(StrEnum):
    LIGHT_LEVEL = "light_level"
    BOLLARD = "bollard"


class CommandOutcome(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    REFUSED = "refused"  # the device answered that it did not carry the command out
    TIMEOUT = "timeout"  # no answer in time: the command may or may not have been carried out
    UNREACHABLE = "unreachable"  # no channel to the device is connected


#: Which device kinds take which commands, and the values allowed.
ALLOWED: dict[CommandName, frozenset[SensorKind]] = {
    CommandName.LIGHT_LEVEL: frozenset({SensorKind.LAMPPOST}),
    CommandName.BOLLARD: frozenset({SensorKind.BOLLARD}),
}


@dataclass(frozen=True)
class ActuatorCommand:
    id: str
    device_id: str
    command: CommandName
    value: int | str
    issued_by: str
    purpose: str
    issued_at: datetime


@dataclass(frozen=True)
class CommandResult:
    command: ActuatorCommand
    outcome: CommandOutcome
    detail: str = ""
    answered_at: datetime | None = None


def check_value(command: CommandName, value: object) -> int | str:
    """The command's value, or :class:`InvalidInput` naming why it is not allowed."""
    if command is CommandName.LIGHT_LEVEL:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise InvalidInput([FieldError("value", "light level is a whole percent, 0 to 100")])
        return value
    if value not in ("up", "down"):
        raise InvalidInput([FieldError("value", "a bollard goes 'up' or 'down'")])
    return str(value)


@runtime_checkable
class ActuatorChannel(Protocol):
    """Delivers a command to a device and waits for its acknowledgement (or the timeout)."""

    def handles(self, device_id: str) -> bool: ...

    async def send(self, command: ActuatorCommand) -> CommandResult: ...
