"""Responder units and shifts, incident procedures and their checklists."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from safecity.api.deps import Caller, Services
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.geo import Location
from safecity.core.incidents import Incident
from safecity.core.operations import (
    DispatchDecision,
    DispatchRecommendation,
    Unit,
    UnitDefinition,
    UnitLogEntry,
)
from safecity.core.payloads import UnitState
from safecity.operations.procedures import Procedure

router = APIRouter(prefix="/v1", tags=["units"])


class UnitList(BaseModel):
    items: list[Unit]


class UnitHistory(BaseModel):
    items: list[UnitLogEntry]


class StatusBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: UnitState = Field(
        description="off_duty ends the shift (clock off); leaving off_duty starts it (clock on)"
    )
    incident_id: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=200)
    at: datetime | None = Field(default=None, description="When it happened; default now")


class PositionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    location: Location
    heading_deg: float | None = Field(default=None, ge=0, lt=360)
    speed_kmh: float | None = Field(default=None, ge=0, le=400)
    at: datetime | None = None


class StepBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    done: bool = True
    note: str | None = Field(default=None, max_length=500)
    expected_version: int | None = Field(default=None, ge=1)


class ProcedureList(BaseModel):
    items: list[Procedure]


def _ops(svc: Any) -> Any:
    if svc.units is None:
        raise RuntimeError("units service not configured")
    return svc


@router.get("/units", response_model=UnitList, summary="The units board")
async def list_units(
    svc: Services,
    caller: Caller,
    agency_id: Annotated[str | None, Query(max_length=100)] = None,
    status: Annotated[list[UnitState] | None, Query(description="Repeat for several")] = None,
) -> Any:
    items = await _ops(svc).units.list_units(
        caller, agency_id=agency_id, statuses=[s.value for s in status or ()]
    )
    return UnitList(items=items)


@router.put(
    "/units/{unit_id}", response_model=Unit, summary="Register a unit or update its definition"
)
async def put_unit(unit_id: str, body: UnitDefinition, svc: Services, caller: Caller) -> Any:
    if body.id != unit_id:
        raise InvalidInput([FieldError("body.id", f"must equal the path's unit id {unit_id!r}")])
    return await _ops(svc).units.register(caller, body)


@router.get("/units/{unit_id}", response_model=Unit)
async def get_unit(unit_id: str, svc: Services, caller: Caller) -> Any:
    return await _ops(svc).units.get(caller, unit_id)


@router.post(
    "/units/{unit_id}/status",
    response_model=Unit,
    summary="Set a unit's status (also clocks on and off); works at any time",
)
async def set_status(unit_id: str, body: StatusBody, svc: Services, caller: Caller) -> Any:
    return await _ops(svc).units.set_status(
        caller, unit_id, body.status, incident_id=body.incident_id, note=body.note, at=body.at
    )


@router.post("/units/{unit_id}/position", response_model=Unit)
async def set_position(unit_id: str, body: PositionBody, svc: Services, caller: Caller) -> Any:
    return await _ops(svc).units.set_position(
        caller,
        unit_id,
        body.location,
        heading_deg=body.heading_deg,
        speed_kmh=body.speed_kmh,
        at=body.at,
    )


@router.get("/units/{unit_id}/history", response_model=UnitHistory)
async def history(
    unit_id: str,
    svc: Services,
    caller: Caller,
    since: Annotated[datetime | None, Query()] = None,
) -> Any:
    return UnitHistory(items=await _ops(svc).units.history(caller, unit_id, since=since))


@router.get(
    "/procedures", response_model=ProcedureList, summary="Procedures per incident type", tags=[]
)
async def procedures(svc: Services, caller: Caller) -> Any:
    del caller  # any authenticated user may read the procedure book
    return ProcedureList(items=list(_ops(svc).procedures.book.procedures))


@router.post(
    "/incidents/{incident_id}/checklist/{step_id}",
    response_model=Incident,
    summary="Tick or untick one step of the incident's procedure",
    tags=["incidents"],
)
async def mark_step(
    incident_id: str, step_id: str, body: StepBody, svc: Services, caller: Caller
) -> Any:
    return await _ops(svc).procedures.mark_step(
        caller,
        incident_id,
        step_id,
        done=body.done,
        note=body.note,
        expected_version=body.expected_version,
    )


class DecisionList(BaseModel):
    items: list[DispatchDecision]


@router.get(
    "/incidents/{incident_id}/recommendation",
    response_model=DispatchRecommendation,
    summary="Units ranked by drive time, the proposed team and who was left out and why",
    tags=["incidents"],
)
async def recommendation(
    incident_id: str,
    svc: Services,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> Any:
    return await _ops(svc).dispatch.recommend(caller, incident_id, limit=limit)


@router.get(
    "/incidents/{incident_id}/dispatches",
    response_model=DecisionList,
    summary="Dispatch decisions, each with the recommendation that was on screen",
    tags=["incidents"],
)
async def dispatches(incident_id: str, svc: Services, caller: Caller) -> Any:
    return DecisionList(items=await _ops(svc).dispatch.decisions(caller, incident_id))
