"""An incident as a NENA EIDO document, for agencies whose CAD speaks EIDO."""

from __future__ import annotations

import asyncio

import orjson
from fastapi import APIRouter
from starlette.responses import Response

from safecity.adapters.eido.config import EidoConfig
from safecity.adapters.eido.outbound import CONTENT_TYPE, incident_to_eido
from safecity.api.deps import ApiServices, Caller, Services
from safecity.core.errors import NotFound

router = APIRouter(prefix="/v1", tags=["incidents"])

_PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}


def _config(svc: ApiServices) -> EidoConfig:
    try:
        config = svc.adapters.resolve("eido").config
    except NotFound:
        config = None
    return config if isinstance(config, EidoConfig) else EidoConfig()


@router.get(
    "/incidents/{incident_id}/eido",
    summary="One incident as an EIDO 1.0 document (NENA-STA-021)",
    responses={
        200: {"content": {CONTENT_TYPE: {"schema": {"type": "object"}}}},
        401: {"description": "No or bad token", "content": _PROBLEM},
        403: {"description": "Not allowed for this role or purpose", "content": _PROBLEM},
        404: {"description": "No such incident", "content": _PROBLEM},
    },
)
async def incident_eido(incident_id: str, svc: Services, caller: Caller) -> Response:
    """The incident's type, status, priority, lead agency and position; never the personal
    content of its events (reporters, callers, descriptions)."""
    incident = await svc.incidents.get(caller, incident_id)
    stored = await svc.incidents.events(caller, incident_id)
    agency_type = "police"
    if incident.agency_id is not None:
        agencies = await asyncio.to_thread(svc.identity.list_agencies)
        agency_type = next((a.kind for a in agencies if a.id == incident.agency_id), agency_type)
    document = incident_to_eido(
        incident, [s.event for s in stored], _config(svc), agency_type=agency_type
    )
    return Response(orjson.dumps(document), media_type=CONTENT_TYPE)
