"""The sensor and device register: managed by integrators, inspected by anyone (public part)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from safecity.api.deps import Caller, Services
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
