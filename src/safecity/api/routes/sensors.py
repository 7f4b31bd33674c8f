"""The sensor and device register: managed by integrators, inspected by anyone (public part)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from safecity.api.deps import Caller, Services
from safecity.core.device_health import DeviceState
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.registry import Sensor, SensorKind

router = APIRouter(tags=["sensors"])


class SensorList(BaseModel):
    items: list[Sensor]


class PublicSensorList(SensorList):
    non_public_count: int = Field(
        description="Registered devices not in the public register: counted, never shown"
    )


@router.get("/v1/sensors", response_model=SensorList, summary="All registered devices")
async def list_sensors(
    svc: Services,
    caller: Caller,
    kind: SensorKind | None = None,
    owner_agency: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    return SensorList(
        items=await svc.sensors.list_sensors(
            caller,
            kind=kind.value if kind else None,
            owner_agency=owner_agency,
            limit=limit,
            offset=offset,
        )
    )


class SensorHealthCounts(BaseModel):
    registered: int = Field(description="Registered devices of this kind and agency")
    faulty: int = Field(description="Reporting a fault, or not active in the register")
    silent: int = Field(description="Not faulty, and no event in the window (or never)")
    heard: int = Field(description="Not faulty, and an event in the window")


class SensorHealth(BaseModel):
    sensor_id: str
    name: str
    kind: str
    owner_agency: str
    status: str = Field(description="The register's status of the device")
    state: DeviceState
    last_event_at: datetime | None = Field(
        description="Event time of the newest event the device sent; null: none stored"
    )
    last_event_type: str | None
    fault: str | None = Field(
        description="The fault it reported (e.g. 'lamp_out', 'bollard fault'), else "
        "'register: <status>' when its register status is not active, else null"
    )
    fault_reported_at: datetime | None = Field(
        description="Event time of its newest fault report (a fault or its clearing)"
    )


class SensorHealthPage(BaseModel):
    as_of: datetime = Field(description="The server's time the window ends at")
    silent_before: datetime = Field(description="A device with no event since this is silent")
    counts: SensorHealthCounts
    items: list[SensorHealth] = Field(
        description="Faulty first, then silent (never heard first, then the longest silent), "
        "then heard; by sensor id within each"
    )
    next_offset: int | None = Field(description="Offset of the next page; null on the last one")


# Declared before /v1/sensors/{sensor_id}, which would otherwise take "health" for an id.
@router.get(
    "/v1/sensors/health",
    response_model=SensorHealthPage,
    summary="Sensor health: faulty, silent and heard devices",
)
async def sensor_health(
    svc: Services,
    caller: Caller,
    silent_after_min: Annotated[
        int, Query(ge=1, le=43_200, description="Silent: no event in this many minutes")
    ] = 60,
    kind: SensorKind | None = None,
    agency: Annotated[
        str | None, Query(max_length=100, description="Owner agency of the device")
    ] = None,
    state: Annotated[DeviceState | None, Query(description="Only devices in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """Every registered device against what its events said, kept at ingest: the newest event
    each device sent (matched by event source, its last segment, its last two segments joined
    with '-', or `data.sensor_id`) and the newest fault it reported (`lamp.fault`,
    `access.bollard_state`; `lamp.light_level` or a clearing ends it). Counts cover every
    device of the kind and agency asked for, whatever the state and page."""
    as_of, page = await svc.sensors.health(
        caller,
        silent_after_min=silent_after_min,
        kind=kind.value if kind else None,
        owner_agency=agency,
        state=state,
        limit=limit,
        offset=offset,
    )
    counts = page.counts
    total = counts.registered if state is None else counts.in_state(state)
    shown = offset + len(page.items)
    return SensorHealthPage(
        as_of=as_of,
        silent_before=as_of - timedelta(minutes=silent_after_min),
        counts=SensorHealthCounts.model_validate(counts, from_attributes=True),
        items=[SensorHealth.model_validate(item, from_attributes=True) for item in page.items],
        next_offset=shown if page.items and shown < total else None,
    )


@router.put("/v1/sensors/{sensor_id}", response_model=Sensor, summary="Register or update a device")
async def put_sensor(sensor_id: str, sensor: Sensor, svc: Services, caller: Caller) -> Any:
    if sensor.id != sensor_id:
        raise InvalidInput([FieldError("body.id", f"must equal the path id {sensor_id!r}")])
    return await svc.sensors.upsert(caller, sensor)


@router.get("/v1/sensors/{sensor_id}", response_model=Sensor)
async def get_sensor(sensor_id: str, svc: Services, caller: Caller) -> Any:
    return await svc.sensors.get(caller, sensor_id)


@router.delete("/v1/sensors/{sensor_id}", status_code=204)
async def delete_sensor(sensor_id: str, svc: Services, caller: Caller) -> Response:
    await svc.sensors.delete(caller, sensor_id)
    return Response(status_code=204)


@router.get(
    "/public/v1/sensors",
    response_model=PublicSensorList,
    tags=["public"],
    summary="The public register: what is installed, why, by whom, kept how long",
)
async def public_sensors(
    svc: Services,
    kind: SensorKind | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    return PublicSensorList(
        items=await svc.sensors.public(
            kind=kind.value if kind else None, limit=limit, offset=offset
        ),
        non_public_count=await svc.sensors.non_public_count(),
    )
