"""Incidents: list, get, timeline, linked events, and the operator's verbs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from safecity.api.deps import Caller, Services
from safecity.api.responses import Json, stored_event
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.geo import BBox, Location
from safecity.core.incidents import Incident, IncidentStatus, TimelineEntry
from safecity.core.records import IncidentQuery
from safecity.incidents.service import IncidentEdit

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expected_version: int | None = Field(
        default=None,
        ge=1,
        description="Refuse with 409 if the incident is no longer at this "
        "version (someone else changed it)",
    )


class AckBody(_Body):
    note: str | None = Field(default=None, max_length=2000)


class AssignBody(_Body):
    agency_id: str | None = Field(default=None, max_length=100)
    assignee: str | None = Field(default=None, max_length=100, description="User id")


class DispatchBody(_Body):
    units: list[str] = Field(min_length=1, max_length=50, description="Registered unit ids")
    note: str | None = Field(default=None, max_length=2000)
    reassign: bool = Field(
        default=False, description="Take units off another incident they are committed to"
    )


class UpdateBody(_Body):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    priority: int | None = Field(
        default=None, ge=1, le=5, description="Overrides the computed priority; needs a reason"
    )
    priority_reason: str | None = Field(default=None, min_length=1, max_length=500)
    summary: str | None = Field(default=None, max_length=4000)
    location: Location | None = None


class PriorityBody(_Body):
    priority: int = Field(ge=1, le=5)
    reason: str = Field(min_length=1, max_length=500, description="Why the score is not right")


class ReasonBody(_Body):
    reason: str = Field(min_length=1, max_length=2000)


class MergeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    incidents: list[str] = Field(
        min_length=1, max_length=50, description="Incidents folded into this one"
    )
    reason: str = Field(min_length=1, max_length=2000)


class EventKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=2000)
    id: str = Field(min_length=1, max_length=500)


class SplitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventKey] = Field(min_length=1, max_length=1000)
    reason: str = Field(min_length=1, max_length=2000)
    title: str | None = Field(default=None, min_length=1, max_length=200)


class SplitResult(BaseModel):
    remaining: Incident
    new: Incident


class CloseBody(_Body):
    reason: str = Field(min_length=1, max_length=2000)


class IncidentList(BaseModel):
    items: list[Incident]


class Timeline(BaseModel):
    items: list[TimelineEntry]


@router.get("", summary="List incidents, most recently updated first", response_model=IncidentList)
async def list_incidents(
    svc: Services,
    caller: Caller,
    status: Annotated[list[IncidentStatus] | None, Query(description="Repeat for several")] = None,
    type: Annotated[list[str] | None, Query(description="Incident type")] = None,  # noqa: A002
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat")] = None,
    updated_since: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Any:
    box = None
    if bbox is not None:
        try:
            box = BBox.parse(bbox)
        except ValueError as exc:
            raise InvalidInput([FieldError("query.bbox", str(exc))]) from None
    if updated_since is not None and updated_since.tzinfo is None:
        raise InvalidInput([FieldError("query.updated_since", "needs a time zone")])
    found = await svc.incidents.list_incidents(
        caller,
        IncidentQuery(
            statuses=tuple(s.value for s in status or ()),
            types=tuple(type or ()),
            bbox=box,
            updated_since=updated_since,
            limit=limit,
            offset=offset,
        ),
    )
    return IncidentList(items=found)


@router.get("/{incident_id}", response_model=Incident, summary="One incident")
async def get_incident(incident_id: str, svc: Services, caller: Caller) -> Any:
    return await svc.incidents.get(caller, incident_id)


@router.get(
    "/{incident_id}/timeline",
    response_model=Timeline,
    summary="Every change to the incident, oldest first, with its actor",
)
async def timeline(incident_id: str, svc: Services, caller: Caller) -> Any:
    return Timeline(items=await svc.incidents.timeline(caller, incident_id))


@router.get("/{incident_id}/events", summary="The events linked to the incident")
async def linked_events(incident_id: str, svc: Services, caller: Caller) -> Response:
    found = await svc.incidents.events(caller, incident_id)
    return Json({"items": [stored_event(s) for s in found]})


@router.post("/{incident_id}/acknowledge", response_model=Incident)
async def acknowledge(incident_id: str, body: AckBody, svc: Services, caller: Caller) -> Any:
    return await svc.incidents.acknowledge(
        caller, incident_id, expected_version=body.expected_version, note=body.note
    )


@router.post(
    "/{incident_id}/assign",
    response_model=Incident,
    summary="Set the lead agency and/or responsible user",
)
async def assign(incident_id: str, body: AssignBody, svc: Services, caller: Caller) -> Any:
    return await svc.incidents.assign(
        caller,
        incident_id,
        agency_id=body.agency_id,
        assignee=body.assignee,
        expected_version=body.expected_version,
    )


@router.post(
    "/{incident_id}/dispatch",
    response_model=Incident,
    summary="Record a person's decision to send units",
)
async def dispatch(incident_id: str, body: DispatchBody, svc: Services, caller: Caller) -> Any:
    """The units' statuses change with the incident, and the decision is kept with the
    recommendation that was on screen (``GET /v1/incidents/{id}/dispatches``)."""
    if svc.dispatch is None:
        return await svc.incidents.dispatch(
            caller,
            incident_id,
            units=body.units,
            note=body.note,
            expected_version=body.expected_version,
        )
    incident, _ = await svc.dispatch.confirm(
        caller,
        incident_id,
        body.units,
        note=body.note,
        expected_version=body.expected_version,
        reassign=body.reassign,
    )
    return incident


@router.post("/{incident_id}/on-scene", response_model=Incident)
async def on_scene(incident_id: str, body: _Body, svc: Services, caller: Caller) -> Any:
    return await svc.incidents.on_scene(caller, incident_id, expected_version=body.expected_version)


@router.patch(
    "/{incident_id}", response_model=Incident, summary="Edit title, priority, summary or location"
)
async def update(incident_id: str, body: UpdateBody, svc: Services, caller: Caller) -> Any:
    if body.priority is not None and body.priority_reason is None:
        raise InvalidInput(
            [FieldError("body.priority_reason", "required when priority is set: say why")]
        )
    edit = IncidentEdit(title=body.title, summary=body.summary, location=body.location)
    expected = body.expected_version
    result: Incident | None = None
    if body.priority is not None and body.priority_reason is not None:
        result = await svc.incidents.override_priority(
            caller,
            incident_id,
            priority=body.priority,
            reason=body.priority_reason,
            expected_version=expected,
        )
        expected = result.version if expected is not None else None
    if any(v is not None for v in edit.__dict__.values()):
        result = await svc.incidents.update(caller, incident_id, edit, expected_version=expected)
    if result is None:
        raise InvalidInput([FieldError("body", "nothing to update")])
    return result


@router.post(
    "/{incident_id}/priority",
    response_model=Incident,
    summary="Override the computed priority, with a reason (the score stays visible)",
)
async def override_priority(
    incident_id: str, body: PriorityBody, svc: Services, caller: Caller
) -> Any:
    return await svc.incidents.override_priority(
        caller,
        incident_id,
        priority=body.priority,
        reason=body.reason,
        expected_version=body.expected_version,
    )


@router.post(
    "/{incident_id}/priority/clear",
    response_model=Incident,
    summary="Drop the override: the computed score sets the priority again",
)
async def clear_priority(incident_id: str, body: ReasonBody, svc: Services, caller: Caller) -> Any:
    return await svc.incidents.clear_priority_override(
        caller, incident_id, reason=body.reason, expected_version=body.expected_version
    )


@router.post(
    "/{incident_id}/merge",
    response_model=Incident,
    summary="Fold other incidents into this one; they close as merged, the reason is kept",
)
async def merge(incident_id: str, body: MergeBody, svc: Services, caller: Caller) -> Any:
    return await svc.incidents.merge(caller, incident_id, body.incidents, reason=body.reason)


@router.post(
    "/{incident_id}/split",
    response_model=SplitResult,
    summary="Move some linked events out into a new incident, with a reason",
)
async def split(incident_id: str, body: SplitBody, svc: Services, caller: Caller) -> Any:
    remaining, new = await svc.incidents.split(
        caller,
        incident_id,
        [(e.source, e.id) for e in body.events],
        reason=body.reason,
        title=body.title,
    )
    return SplitResult(remaining=remaining, new=new)


@router.post("/{incident_id}/close", response_model=Incident)
async def close(incident_id: str, body: CloseBody, svc: Services, caller: Caller) -> Any:
    return await svc.incidents.close(
        caller, incident_id, reason=body.reason, expected_version=body.expected_version
    )


@router.post("/{incident_id}/reopen", response_model=Incident)
async def reopen(incident_id: str, body: CloseBody, svc: Services, caller: Caller) -> Any:
    return await svc.incidents.reopen(
        caller, incident_id, reason=body.reason, expected_version=body.expected_version
    )
