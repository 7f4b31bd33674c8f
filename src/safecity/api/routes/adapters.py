"""Inbound adapters over HTTP: post a document in any supported standard."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from safecity.adapters import registry
from safecity.api.deps import Caller, Services
from safecity.api.responses import Json
from safecity.api.routes.events import read_limited
from safecity.core.errors import NotFound

router = APIRouter(prefix="/v1/adapters", tags=["adapters"])


@router.get("", summary="The adapters this server speaks (public)")
async def list_adapters() -> Response:
    items: list[dict[str, Any]] = []
    for name in registry.names():
        m = registry.manifest(name)
        items.append(
            {
                "name": m.name,
                "title": m.title,
                "standards": list(m.standards),
                "directions": sorted(m.directions),
                "content_types": list(m.content_types),
                "docs": m.docs,
            }
        )
    return Json({"items": items})


@router.post(
    "/{adapter}/messages",
    summary="Send one document in the adapter's standard",
    responses={
        200: {"description": "Per-event results, refused parts (dead-lettered) and notes"},
        404: {"description": "No such adapter"},
        413: {"description": "Body larger than the limit"},
        422: {"description": "Nothing in the document could be used; it was dead-lettered"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/xml": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def receive(adapter: str, request: Request, svc: Services, caller: Caller) -> Response:
    """Push a document (a CAP alert, an NGSI notification, a camera event...) to adapter
    ``adapter`` (an adapter's name, or a configured instance's such as a legacy format mapped
    with ``webhook``); it is mapped to events and ingested like any other input."""
    instance = svc.adapters.resolve(adapter)
    if "in" not in registry.manifest(instance.adapter).directions:
        raise NotFound("inbound adapter", adapter)
    body = await read_limited(request, svc)
    if isinstance(body, Response):
        return body
    result = await svc.adapters.receive(
        adapter,
        body,
        principal=caller,
        channel="http",
        content_type=request.headers.get("content-type"),
        origin=request.headers.get("x-safecity-origin") or request.url.path,
    )
    return Json(result.as_dict())
