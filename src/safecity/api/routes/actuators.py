"""Commands to actuators: a person asks, the device answers (or does not, in time). Commands an
automation rule wants (raising bollards) wait as proposals until a person confirms or declines.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from safecity.api.deps import Caller, Services
from safecity.api.problems import problem
from safecity.api.responses import Json
from safecity.core.actuators import CommandName, CommandOutcome
from safecity.core.errors import NotFound
from safecity.core.operations import CommandProposal, ProposalStatus
from safecity.operations.automations import AutomationService

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


# --- proposals: commands an automation wants, waiting for a person -------------------------


class ProposalList(BaseModel):
    items: list[CommandProposal]


class ConfirmBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, min_length=1, max_length=2000)


class DeclineBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000, description="Why the street stays open")


def _automations(svc: Any, proposal_id: str | None = None) -> AutomationService:
    if svc.automations is None:
        raise NotFound("command proposal", proposal_id or "(automations are off)")
    automations: AutomationService = svc.automations
    return automations


_DECISION: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such proposal"},
    409: {"description": "Expired or already decided: the problem's detail says which"},
}


@router.get(
    "/proposals",
    response_model=ProposalList,
    summary="Commands automation rules proposed, for a person to confirm or decline",
)
async def proposals(
    svc: Services,
    caller: Caller,
    status: Annotated[ProposalStatus | None, Query()] = None,
    incident_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Any:
    """Newest first. A pending proposal past its ``expires_at`` is listed as ``expired``."""
    if svc.automations is None:
        return ProposalList(items=[])
    found = await _automations(svc).proposals(
        caller,
        status=status.value if status else None,
        incident_id=incident_id,
        limit=limit,
    )
    return ProposalList(items=found)


@router.post(
    "/proposals/{proposal_id}/confirm",
    response_model=CommandProposal,
    summary="Confirm a proposal: its commands are sent now, as yours",
    responses=_DECISION,
)
async def confirm_proposal(
    proposal_id: str, svc: Services, caller: Caller, body: ConfirmBody | None = None
) -> Any:
    """Operators and supervisors. Each device's command goes through the actuator path under
    your name and declared purpose (the audit also names the rule and the proposal); the
    answer carries each device's outcome: acknowledged, refused, timeout or unreachable."""
    return await _automations(svc, proposal_id).decide_proposal(
        caller, proposal_id, confirm=True, reason=body.reason if body else None
    )


@router.post(
    "/proposals/{proposal_id}/decline",
    response_model=CommandProposal,
    summary="Decline a proposal (with a reason): nothing is sent",
    responses=_DECISION,
)
async def decline_proposal(
    proposal_id: str, body: DeclineBody, svc: Services, caller: Caller
) -> Any:
    """Operators and supervisors."""
    return await _automations(svc, proposal_id).decide_proposal(
        caller, proposal_id, confirm=False, reason=body.reason
    )
