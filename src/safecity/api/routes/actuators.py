"""Commands to actuators: a person asks, the device answers (or does not, in time)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from safecity.api.deps import Caller, Services
from safecity.api.problems import problem
from safecity.api.responses import Json
from safecity.core.actuators import CommandName, CommandOutcome

router = APIRouter(prefix="/v1/actuators", tags=["actuators"])

_STATUS = {
    CommandOutcome.REFUSED: (409, "Refused by the device", "refused"),
    CommandOutcome.TIMEOUT: (504, "No acknowledgement", "timeout"),
    CommandOutcome.UNREACHABLE: (503, "Device unreachable", "unreachable"),
}


class CommandBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: CommandName
    value: int | str = Field(description="light_level: 0-100 (%); bollard: 'up' or 'down'")


@router.post(
    "/{device_id}/commands",
    summary="Send a command to an actuator and wait for its acknowledgement",
    responses={
        200: {"description": "Acknowledged by the device"},
        409: {"description": "The device refused the command"},
        503: {"description": "No channel reaches the device"},
        504: {"description": "No acknowledgement in time (it may or may not have happened)"},
    },
)
async def send_command(
    device_id: str, body: CommandBody, request: Request, svc: Services, caller: Caller
) -> Response:
    """A person's command (never automatic); recorded in the audit log with its outcome."""
    result = await svc.actuators.send(caller, device_id, body.command, body.value)
    out: dict[str, Any] = {
        "id": result.command.id,
        "device_id": device_id,
        "command": body.command.value,
        "value": result.command.value,
        "outcome": result.outcome.value,
        "detail": result.detail,
        "issued_at": result.command.issued_at.isoformat(),
        "answered_at": result.answered_at.isoformat() if result.answered_at else None,
    }
    if result.outcome is CommandOutcome.ACKNOWLEDGED:
        return Json(out)
    status, title, slug = _STATUS[result.outcome]
    return problem(
        status,
        title,
        result.detail or title,
        slug=f"actuator-{slug}",
        instance=request.url.path,
        command=out,
    )
