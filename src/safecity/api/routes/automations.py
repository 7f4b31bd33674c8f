"""Automations: the rules in force, every evaluation's trace, and drafted public warnings
that a person approves or rejects."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from safecity.api.deps import Caller, Services
from safecity.core.identity import Permission
from safecity.core.operations import AlertDraft, AutomationTraceRecord, DraftStatus
from safecity.governance.access import require
from safecity.processors.automation.rules import AutomationRule

router = APIRouter(prefix="/v1", tags=["automations"])


class RuleList(BaseModel):
    items: list[AutomationRule]


class TraceList(BaseModel):
    items: list[AutomationTraceRecord]


class DraftList(BaseModel):
    items: list[AlertDraft]


class DecisionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)
    headline: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=4000)


def _svc(svc: Any) -> Any:
    if svc.automations is None:
        raise RuntimeError("automations not configured")
    return svc.automations


@router.get("/automations/rules", response_model=RuleList, summary="The rules in force")
async def rules(svc: Services, caller: Caller) -> Any:
    require(caller, Permission.INCIDENTS_READ)
    return RuleList(items=list(_svc(svc).rules))


@router.get(
    "/automations/traces",
    response_model=TraceList,
    summary="Every evaluation: why a rule fired or did not, and what its actions did",
)
async def traces(
    svc: Services,
    caller: Caller,
    incident_id: Annotated[str | None, Query(max_length=100)] = None,
    rule_id: Annotated[str | None, Query(max_length=100)] = None,
    fired: Annotated[bool | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Any:
    found = await _svc(svc).traces(
        caller, incident_id=incident_id, rule_id=rule_id, fired=fired, limit=limit
    )
    return TraceList(items=found)


@router.get(
    "/incidents/{incident_id}/automations",
    response_model=TraceList,
    summary="Automation traces for one incident",
    tags=["incidents"],
)
async def incident_traces(incident_id: str, svc: Services, caller: Caller) -> Any:
    await svc.incidents.get(caller, incident_id)
    return TraceList(items=await _svc(svc).traces(caller, incident_id=incident_id))


@router.get(
    "/alerts/drafts",
    response_model=DraftList,
    summary="Public warnings drafted by automations, waiting for a person",
)
async def drafts(
    svc: Services,
    caller: Caller,
    status: Annotated[DraftStatus | None, Query()] = None,
) -> Any:
    return DraftList(items=await _svc(svc).drafts(caller, status=status.value if status else None))


@router.post(
    "/alerts/drafts/{draft_id}/approve",
    response_model=AlertDraft,
    summary="Approve (optionally edit) a drafted warning: it is published in the CAP feed",
)
async def approve(draft_id: str, body: DecisionBody, svc: Services, caller: Caller) -> Any:
    return await _svc(svc).decide(
        caller,
        draft_id,
        approve=True,
        reason=body.reason,
        headline=body.headline,
        description=body.description,
    )


@router.post("/alerts/drafts/{draft_id}/reject", response_model=AlertDraft)
async def reject(draft_id: str, body: DecisionBody, svc: Services, caller: Caller) -> Any:
    return await _svc(svc).decide(caller, draft_id, approve=False, reason=body.reason)
