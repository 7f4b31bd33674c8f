"""Open311 GeoReport v2 server at ``/open311/v2``: the city's services and citizens' requests.

Errors use the GeoReport v2 error format (``[{"code": 400, "description": "..."}]`` or
``<errors>``) because Open311 clients expect it; each description names the field and reason.
``POST requests`` needs an ``api_key`` configured in the open311 adapter settings; the GETs are
public and show only what the spec shows, never who reported.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from safecity.adapters.open311 import documents
from safecity.adapters.open311.config import Open311Config
from safecity.adapters.open311.mapping import sanitise_form
from safecity.api.deps import ApiServices, Services
from safecity.api.routes.events import read_limited
from safecity.core.errors import FieldError, InvalidInput, NotFound
from safecity.core.identity import DEFAULT_PURPOSE, Principal, Purpose, Role
from safecity.core.incidents import IncidentStatus
from safecity.core.records import EventQuery, StoredEvent
from safecity.ingest.service import Rejected

router = APIRouter(prefix="/open311/v2", tags=["open311"])

ADAPTER = "open311"
_FORMATS = {"json": "application/json", "xml": "application/xml"}
_OPEN_NOTES = {
    IncidentStatus.NEW: "Received",
    IncidentStatus.ACKNOWLEDGED: "Acknowledged by the city",
    IncidentStatus.DISPATCHED: "A crew has been sent",
    IncidentStatus.ON_SCENE: "A crew is on site",
}
_MAX_LIST = 1000


class _Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _config(svc: ApiServices) -> Open311Config:
    try:
        config = svc.adapters.resolve(ADAPTER).config
    except NotFound:
        config = None
    return config if isinstance(config, Open311Config) else Open311Config()


def _public_reader() -> Principal:
    """Who the public GETs read as, for the audit log: an analyst-level, read-only identity."""
    return Principal(
        user_id="open311-public",
        agency_id="public",
        role=Role.ANALYST,
        purpose=Purpose.SERVICE_IMPROVEMENT,
    )


def _render(fmt: str, root: str, item: str | None, content: Any, status: int = 200) -> Response:
    if fmt == "xml":
        body = documents.to_xml(root, item, content)
        return Response(body, status_code=status, media_type="application/xml; charset=utf-8")
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


def _error(fmt: str, status: int, description: str) -> Response:
    fmt = fmt if fmt in _FORMATS else "json"
    return _render(fmt, "errors", "error", documents.errors([(status, description)]), status)


def _describe(errors: list[FieldError]) -> str:
    return "; ".join(f"{e.field}: {e.reason}" for e in errors[:10]) or "invalid request"


def _check(fmt: str, config: Open311Config, jurisdiction_id: str | None) -> None:
    if fmt not in _FORMATS:
        raise _Open311Error(404, f"format: {fmt!r} is not served; use .json or .xml")
    if jurisdiction_id and config.jurisdiction_id and jurisdiction_id != config.jurisdiction_id:
        raise _Open311Error(404, f"jurisdiction_id: {jurisdiction_id!r} is not served here")


@router.get("/services.{fmt}", summary="The city's service list (public)")
async def services(fmt: str, svc: Services, jurisdiction_id: str | None = None) -> Response:
    config = _config(svc)
    try:
        _check(fmt, config, jurisdiction_id)
    except _Open311Error as exc:
        return _error(fmt, exc.status, exc.description)
    return _render(fmt, "services", "service", documents.service_list(config.services))


@router.get("/services/{code}.{fmt}", summary="One service's definition (public)")
async def service_definition(
    code: str, fmt: str, svc: Services, jurisdiction_id: str | None = None
) -> Response:
    config = _config(svc)
    try:
        _check(fmt, config, jurisdiction_id)
    except _Open311Error as exc:
        return _error(fmt, exc.status, exc.description)
    service = config.service(code)
    if service is None:
        return _error(fmt, 404, f"service_code: {code[:64]!r} is not in this city's services")
    return _render(fmt, "service_definition", None, documents.service_definition(service))


@router.post("/requests.{fmt}", summary="Create a service request (api_key required)")
async def create_request(fmt: str, request: Request, svc: Services) -> Response:
    config = _config(svc)
    body = await read_limited(request, svc)
    if isinstance(body, Response):
        return _error(fmt, 413, f"body: larger than the limit of {svc.max_body_bytes} bytes")
    content_type = request.headers.get("content-type", "")
    try:
        pairs = _form_pairs(body, content_type)
    except InvalidInput as exc:
        letter = await svc.ingest.dead_letter_raw(
            b"", channel="open311 http", content_type=content_type, errors=exc.errors
        )
        return _error(fmt, 400, f"{_describe(exc.errors)} (dead letter {letter})")
    # What may be kept: no api_key, no names, e-mail, phone or device id.
    safe = sanitise_form(pairs, config)
    form_type = "application/x-www-form-urlencoded"
    try:
        _check(fmt, config, dict(pairs).get("jurisdiction_id"))
        caller = await _integrator(svc, config, dict(pairs).get("api_key", ""))
    except _Open311Error as exc:
        await svc.ingest.dead_letter_raw(
            safe,
            channel="open311 http",
            content_type=form_type,
            errors=[FieldError("api_key" if exc.status == 403 else "format", exc.description)],
        )
        return _error(fmt, exc.status, exc.description)
    try:
        result = await svc.adapters.receive(
            ADAPTER,
            safe,
            principal=caller,
            channel="http",
            content_type=form_type,
            config=config,
            origin=request.url.path,
        )
    except Rejected as exc:
        return _error(fmt, 400, _describe(exc.errors))
    item = result.items[0] if result.items else None
    if item is None or item.status == "rejected" or item.id is None:
        reasons = list(item.errors) if item is not None else []
        return _error(fmt, 400, _describe(reasons))
    content = documents.created(item.id, config.service_notice)
    return _render(fmt, "service_requests", "request", content, status=201)


def _form_pairs(body: bytes, content_type: str) -> list[tuple[str, str]]:
    try:
        if "json" in content_type:
            document = orjson.loads(body)
            if not isinstance(document, dict):
                raise InvalidInput([FieldError("body", "a JSON request must be an object")])
            return [(str(k), str(v)) for k, v in document.items() if v is not None]
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError) as exc:
        reason = f"not an x-www-form-urlencoded request: {exc}"[:300]
        raise InvalidInput([FieldError("body", reason)]) from None


async def _integrator(svc: ApiServices, config: Open311Config, api_key: str) -> Principal:
    user_id = config.integrator(api_key) if api_key else None
    invalid = "api_key: invalid api_key received -- can't proceed with create_request"
    if user_id is None:
        raise _Open311Error(403, invalid)
    user = await asyncio.to_thread(svc.identity.get_user, user_id)
    if user is None or not user.active or user.role is not Role.INTEGRATOR:
        raise _Open311Error(403, invalid)
    return Principal(
        user_id=user.id,
        agency_id=user.agency_id,
        role=user.role,
        purpose=DEFAULT_PURPOSE[user.role],
    )


@router.get("/requests.{fmt}", summary="Service requests and their status (public)")
async def list_requests(
    fmt: str,
    svc: Services,
    service_request_id: str | None = None,
    service_code: str | None = None,
    status: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    jurisdiction_id: str | None = None,
) -> Response:
    config = _config(svc)
    try:
        _check(fmt, config, jurisdiction_id)
        start = _date("start_date", start_date)
        end = _date("end_date", end_date)
        statuses = _statuses(status)
    except _Open311Error as exc:
        return _error(fmt, exc.status, exc.description)
    reader = _public_reader()
    if service_request_id:
        found: list[StoredEvent] = []
        for rid in service_request_id.split(",")[:_MAX_LIST]:
            try:
                found.append(await svc.events.get(reader, config.source, rid.strip()))
            except NotFound:
                continue
    else:
        if start is None:
            start = (end or svc.clock.now()) - timedelta(days=config.default_window_days)
        query = EventQuery(
            start=start,
            end=end,
            types=("citizen.report",),
            source=config.source,
            limit=_MAX_LIST,
        )
        found = await svc.events.query(reader, query)
    codes = set(service_code.split(",")) if service_code else None
    out: list[dict[str, Any]] = []
    for stored in found:
        if codes is not None and stored.event.subject not in codes:
            continue
        record = await _record(svc, reader, config, stored)
        if statuses and record["status"] not in statuses:
            continue
        out.append(record)
    return _render(fmt, "service_requests", "request", out)


@router.get("/requests/{request_id}.{fmt}", summary="One service request (public)")
async def get_request(
    request_id: str, fmt: str, svc: Services, jurisdiction_id: str | None = None
) -> Response:
    config = _config(svc)
    try:
        _check(fmt, config, jurisdiction_id)
    except _Open311Error as exc:
        return _error(fmt, exc.status, exc.description)
    reader = _public_reader()
    try:
        stored = await svc.events.get(reader, config.source, request_id)
    except NotFound:
        return _error(fmt, 404, f"service_request_id: {request_id[:64]!r} not found")
    if stored.event.type != "citizen.report":
        return _error(fmt, 404, f"service_request_id: {request_id[:64]!r} not found")
    record = await _record(svc, reader, config, stored)
    return _render(fmt, "service_requests", "request", [record])


def _date(name: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _Open311Error(400, f"{name}: must be a W3C date-time with an offset")
    return parsed


def _statuses(value: str | None) -> set[str]:
    if not value:
        return set()
    found = {s.strip() for s in value.split(",")}
    if not found <= {"open", "closed"}:
        raise _Open311Error(400, "status: must be open, closed or both")
    return found


async def _record(
    svc: ApiServices, reader: Principal, config: Open311Config, stored: StoredEvent
) -> dict[str, Any]:
    """What the spec shows of one request; never the reporter, never the raw address."""
    event = stored.event
    code = event.subject or ""
    service = config.service(code)
    status, notes, updated, agency = "open", "Received", stored.received_at, None
    if stored.incident_id is not None:
        try:
            incident = await svc.incidents.get(reader, stored.incident_id)
        except NotFound:
            incident = None
        if incident is not None:
            updated, agency = incident.updated_at, incident.agency_id
            if incident.is_open:
                notes = _OPEN_NOTES.get(incident.status, "In progress")
            else:
                status, notes = "closed", "Closed"
    description = getattr(event.data, "description", None) if config.publish_descriptions else None
    record: dict[str, Any] = {
        "service_request_id": event.id,
        "status": status,
        "status_notes": notes,
        "service_name": service.name if service is not None else None,
        "service_code": code or None,
        "description": description or None,
        "agency_responsible": agency,
        "service_notice": config.service_notice,
        "requested_datetime": event.time.isoformat(),
        "updated_datetime": updated.isoformat(),
        "expected_datetime": None,
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": event.location.lat if event.location else None,
        "long": event.location.lon if event.location else None,
        "media_url": None,
    }
    return record
