"""A read-only NGSI-LD view: incidents as ``Alert`` entities, the register as ``Device``s.

A subset of ETSI GS CIM 009 "Query Entities" and "Retrieve Entity", enough for a city data
platform or dashboard that speaks NGSI-LD to read what safecity knows. Same authentication
and audit as the rest of the API (through the services).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Query
from starlette.responses import Response

from safecity.adapters.ngsi_ld.outbound import (
    DEVICE_PREFIX,
    INCIDENT_PREFIX,
    incident_to_entity,
    sensor_to_entity,
)
from safecity.api.deps import ApiServices, Caller, Services
from safecity.api.responses import Json
from safecity.core.errors import FieldError, InvalidInput, NotFound
from safecity.core.identity import Principal
from safecity.core.records import IncidentQuery

router = APIRouter(prefix="/ngsi-ld/v1", tags=["ngsi-ld"])

MEDIA_TYPE = "application/ld+json"
TYPES = ("Alert", "Device")


class LdJson(Json):
    media_type = MEDIA_TYPE


@router.get("/entities", summary="Query entities (type Alert = incidents, Device = register)")
async def query_entities(
    svc: Services,
    caller: Caller,
    type: Annotated[  # noqa: A002 - the NGSI-LD parameter name
        str | None, Query(description="Comma-separated: Alert, Device", max_length=200)
    ] = None,
    id: Annotated[  # noqa: A002 - the NGSI-LD parameter name
        str | None, Query(description="Comma-separated entity ids", max_length=10_000)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    types = _split(type) if type else list(TYPES)
    unknown = [t for t in types if t not in TYPES]
    if unknown:
        raise InvalidInput(
            [
                FieldError(
                    "query.type", f"unknown type(s) {', '.join(unknown)}; known: Alert, Device"
                )
            ]
        )
    if type is None and id is None:
        raise InvalidInput([FieldError("query", "give type or id (NGSI-LD needs one of them)")])
    out: list[dict[str, Any]] = []
    if id is not None:
        for ident in _split(id)[:limit]:
            entity = await _one(svc, caller, ident, missing_ok=True)
            if entity is not None and entity["type"] in types:
                out.append(entity)
        return LdJson(out)
    if "Alert" in types:
        incidents = await svc.incidents.list_incidents(
            caller, IncidentQuery(limit=limit, offset=offset)
        )
        out.extend(incident_to_entity(i) for i in incidents)
    if "Device" in types:
        sensors = await svc.sensors.list_sensors(caller, limit=limit, offset=offset)
        out.extend(sensor_to_entity(s) for s in sensors)
    return LdJson(out[:limit])


@router.get("/entities/{entity_id}", summary="Retrieve one entity by its URN")
async def retrieve_entity(entity_id: str, svc: Services, caller: Caller) -> Response:
    entity = await _one(svc, caller, entity_id, missing_ok=False)
    return LdJson(entity)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


async def _one(
    svc: ApiServices, caller: Principal, entity_id: str, *, missing_ok: bool
) -> dict[str, Any] | None:
    try:
        if entity_id.startswith(INCIDENT_PREFIX):
            incident = await svc.incidents.get(caller, unquote(entity_id[len(INCIDENT_PREFIX) :]))
            return incident_to_entity(incident)
        if entity_id.startswith(DEVICE_PREFIX):
            sensor = await svc.sensors.get(caller, unquote(entity_id[len(DEVICE_PREFIX) :]))
            return sensor_to_entity(sensor)
    except NotFound:
        if missing_ok:
            return None
        raise
    if missing_ok:
        return None
    raise NotFound("entity", entity_id)
