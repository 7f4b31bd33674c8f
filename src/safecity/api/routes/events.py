"""Events in (single and batch) and out (query by time, area, type)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from safecity.api.deps import Caller, Services
from safecity.api.problems import problem
from safecity.api.responses import Json, dead_letter, stored_event
from safecity.core.catalogue import CATALOGUE
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.geo import BBox
from safecity.core.records import EventQuery

router = APIRouter(prefix="/v1", tags=["events"])

_EVENT_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "source", "type", "time", "data"],
    "properties": {
        "specversion": {"type": "string", "enum": ["1.0"]},
        "id": {"type": "string", "maxLength": 256},
        "source": {"type": "string", "maxLength": 512},
        "type": {"type": "string", "enum": sorted(CATALOGUE)},
        "time": {"type": "string", "format": "date-time"},
        "subject": {"type": "string"},
        "datacontenttype": {"type": "string", "enum": ["application/json"]},
        "location": {
            "type": "object",
            "required": ["lon", "lat"],
            "properties": {
                "lon": {"type": "number", "minimum": -180, "maximum": 180},
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "alt_m": {"type": "number"},
                "accuracy_m": {"type": "number", "minimum": 0},
            },
        },
        "severity": {
            "type": "string",
            "enum": ["unknown", "minor", "moderate", "severe", "extreme"],
        },
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "context": {
            "type": "object",
            "properties": {
                "correlation_id": {"type": "string"},
                "causation_id": {"type": "string"},
                "actor": {"type": "string"},
            },
        },
        "data": {
            "type": "object",
            "description": "Payload; its schema depends on `type`, see GET /v1/event-types",
        },
    },
}

_PROBLEM = {"application/problem+json": {"schema": {"type": "object"}}}
_INGEST_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad token", "content": _PROBLEM},
    403: {"description": "Not allowed for this role or purpose", "content": _PROBLEM},
    413: {"description": "Body larger than the limit", "content": _PROBLEM},
    422: {
        "description": "Invalid input; `errors` names each field and reason; the raw input "
        "was dead-lettered (`dead_letter_id`)",
        "content": _PROBLEM,
    },
    429: {"description": "Overloaded; retry after `Retry-After` seconds", "content": _PROBLEM},
}


_DEAD_LETTER_HEAD = 65_536


async def read_limited(request: Request, svc: Services) -> bytes | Response:
    limit = svc.max_body_bytes
    declared = request.headers.get("content-length")
    chunks: list[bytes] = []
    size = 0
    too_large = declared is not None and declared.isdigit() and int(declared) > limit
    async for chunk in request.stream():
        size += len(chunk)
        chunks.append(chunk)
        if size > limit or (too_large and size >= _DEAD_LETTER_HEAD):
            # Stop reading: the head is enough to diagnose, the rest is not worth the memory.
            too_large = True
            break
    if too_large:
        head = b"".join(chunks)[:_DEAD_LETTER_HEAD]
        reason = f"body exceeds the limit of {limit} bytes; first {len(head)} bytes kept"
        letter = await svc.ingest.dead_letter_raw(
            head,
            channel="http",
            content_type=request.headers.get("content-type"),
            errors=[FieldError("body", reason)],
        )
        return problem(
            413,
            "Content too large",
            f"body: {reason}",
            slug="content-too-large",
            instance=request.url.path,
            errors=[FieldError("body", reason)],
            dead_letter_id=letter,
        )
    return b"".join(chunks)


def _overloaded(request: Request, svc: Services) -> Response | None:
    if svc.inflight_ingest >= svc.max_inflight_ingest:
        return problem(
            429,
            "Too many requests",
            f"more than {svc.max_inflight_ingest} ingest requests in progress; retry shortly",
            slug="overloaded",
            instance=request.url.path,
            headers={"Retry-After": str(svc.retry_after_s)},
        )
    return None


async def _ingest(
    request: Request, svc: Services, caller: Caller, *, batch: bool, atomic: bool
) -> Response:
    busy = _overloaded(request, svc)
    if busy is not None:
        return busy
    svc.inflight_ingest += 1
    try:
        body = await read_limited(request, svc)
        if isinstance(body, Response):
            return body
        result = await svc.ingest.ingest_body(
            body,
            principal=caller,
            channel="http",
            batch=batch,
            atomic=atomic,
            content_type=request.headers.get("content-type"),
        )
    finally:
        svc.inflight_ingest -= 1
    if not batch:
        item = result.items[0]
        return Json(
            {"status": item.status, "seq": item.seq, "source": item.source, "id": item.id},
            status_code=202 if item.status == "accepted" else 200,
        )
    return Json(
        {
            "accepted": result.count("accepted"),
            "duplicates": result.count("duplicate"),
            "rejected": result.count("rejected"),
            "results": [i.as_dict() for i in result.items],
        }
    )


@router.post(
    "/events",
    summary="Ingest one event",
    status_code=202,
    responses={
        202: {"description": "Stored (committed) and published"},
        200: {"description": "Already stored earlier: the same (source, id) is kept once"},
        **_INGEST_ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _EVENT_BODY_SCHEMA}},
        }
    },
)
async def ingest_one(request: Request, svc: Services, caller: Caller) -> Response:
    """Validate, store (committed before this answers) and publish one event."""
    return await _ingest(request, svc, caller, batch=False, atomic=True)


@router.post(
    "/events/batch",
    summary="Ingest a batch of events",
    responses={
        200: {"description": "Per-item results; invalid items were dead-lettered"},
        **_INGEST_ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"type": "array", "items": _EVENT_BODY_SCHEMA, "maxItems": 10_000},
                            {
                                "type": "object",
                                "required": ["events"],
                                "properties": {
                                    "events": {
                                        "type": "array",
                                        "items": _EVENT_BODY_SCHEMA,
                                        "maxItems": 10_000,
                                    }
                                },
                            },
                        ]
                    }
                }
            },
        }
    },
)
async def ingest_batch(
    request: Request,
    svc: Services,
    caller: Caller,
    atomic: Annotated[
        bool, Query(description="Refuse the whole batch if any item is invalid")
    ] = False,
) -> Response:
    """Store every valid event (atomically for the valid set); each invalid one is dead-lettered
    and reported by index with its field errors."""
    return await _ingest(request, svc, caller, batch=True, atomic=atomic)


@router.get("/events", summary="Query events")
async def query_events(
    svc: Services,
    caller: Caller,
    start: Annotated[datetime | None, Query(description="Event time from (inclusive)")] = None,
    end: Annotated[datetime | None, Query(description="Event time to (exclusive)")] = None,
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat")] = None,
    type: Annotated[list[str] | None, Query(description="Event type; repeat for several")] = None,  # noqa: A002
    source: Annotated[str | None, Query(max_length=512)] = None,
    after_seq: Annotated[int | None, Query(ge=0, description="Page after this seq")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    errors: list[FieldError] = []
    box = None
    if bbox is not None:
        try:
            box = BBox.parse(bbox)
        except ValueError as exc:
            errors.append(FieldError("query.bbox", str(exc)))
    for name, value in (("query.start", start), ("query.end", end)):
        if value is not None and value.tzinfo is None:
            errors.append(FieldError(name, "needs a time zone, e.g. 2026-11-21T12:00:00Z"))
    errors.extend(
        FieldError("query.type", f"unknown event type {t!r}")
        for t in type or []
        if t not in CATALOGUE
    )
    if errors:
        raise InvalidInput(errors)
    found = await svc.events.query(
        caller,
        EventQuery(
            start=start,
            end=end,
            bbox=box,
            types=tuple(type or ()),
            source=source,
            after_seq=after_seq,
            limit=limit,
        ),
    )
    return Json(
        {
            "items": [stored_event(s) for s in found],
            "next_after_seq": found[-1].seq if len(found) == limit else None,
        }
    )


@router.get("/events/by-key", summary="Get one event by its (source, id)")
async def get_event(
    svc: Services,
    caller: Caller,
    source: Annotated[str, Query(min_length=1, max_length=512)],
    id: Annotated[str, Query(min_length=1, max_length=256)],  # noqa: A002
) -> Response:
    return Json(stored_event(await svc.events.get(caller, source, id)))


@router.get(
    "/event-types", summary="The event catalogue with each payload's JSON Schema", tags=["public"]
)
async def event_types() -> Response:
    """Public: what safecity accepts, so integrators can check payloads before connecting."""
    return Json(
        {
            "items": [
                {
                    "type": spec.name,
                    "description": spec.description,
                    "personal_data": spec.personal_data,
                    "discovery": spec.discovery.value if spec.discovery else None,
                    "data_schema": spec.payload.model_json_schema(),
                }
                for spec in CATALOGUE.values()
            ]
        }
    )


@router.get("/dead-letters", summary="Refused input, newest first", tags=["dead letters"])
async def list_dead_letters(
    svc: Services,
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    letters = await svc.events.dead_letters(caller, limit=limit, before_id=before_id)
    return Json({"items": [dead_letter(d, with_raw=False) for d in letters]})


@router.get(
    "/dead-letters/{letter_id}",
    summary="One refused input, with its raw bytes",
    tags=["dead letters"],
)
async def get_dead_letter(letter_id: int, svc: Services, caller: Caller) -> Response:
    return Json(dead_letter(await svc.events.dead_letter(caller, letter_id), with_raw=True))
