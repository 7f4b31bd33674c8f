"""The public portal's report form: a citizen's report, without an account or an api_key, through
the same Open311 intake as any Open311 client.

``POST /public/v1/reports`` takes the form's fields (service code, description, location and/or
address; never a name, e-mail or phone number), validates them (422 problem naming the field)
and hands them to the Open311 adapter as the built-in "public portal" client, a system
principal rather than a stored key. The answer is the Open311 ``service_request_id``, which is
also all one needs to follow the report on the public ``GET /open311/v2/requests/{id}.json``.

Each client address may send ``RATE_LIMIT`` reports per ``RATE_WINDOW_S`` seconds (counted in
memory, per app; every attempt counts, valid or not); past that the answer is 429 with
``Retry-After``. Behind a reverse proxy the address is the proxy's unless uvicorn is told to
trust ``X-Forwarded-For`` (``--proxy-headers``).
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StringConstraints

from safecity.adapters.open311.mapping import sanitise_form
from safecity.api import problems
from safecity.api.deps import Services
from safecity.api.routes.open311 import ADAPTER
from safecity.api.routes.open311 import _config as open311_config
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.identity import Principal, Role
from safecity.governance.identity import system_principal
from safecity.ingest.service import Rejected

router = APIRouter(tags=["public"])

#: Reports one client address may send per window.
RATE_LIMIT = 10
RATE_WINDOW_S = 60.0
#: Addresses tracked at most; past that the oldest idle ones are forgotten.
_MAX_CLIENTS = 10_000
MAX_DESCRIPTION = 4000
MAX_ADDRESS = 300
_FORM_TYPE = "application/x-www-form-urlencoded"
_PROBLEM: dict[str, Any] = {"application/problem+json": {}}


class PortalReport(BaseModel):
    """What the portal's form sends. There is deliberately no field for who is reporting."""

    service_code: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None, description="A code from `GET /open311/v2/services.json`"
    )
    description: Annotated[str, StringConstraints(max_length=MAX_DESCRIPTION)] | None = Field(
        default=None, description="What is wrong (required)"
    )
    lat: float | None = Field(default=None, description="WGS84 latitude of the place")
    long: float | None = Field(default=None, description="WGS84 longitude of the place")
    address_string: Annotated[str, StringConstraints(max_length=MAX_ADDRESS)] | None = Field(
        default=None, description="Street address or landmark; needed when there is no point"
    )


class PortalReceipt(BaseModel):
    service_request_id: str
    status_url: str = Field(description="The public Open311 status of this request")
    service_notice: str | None = None


class RateLimiter:
    """A sliding window of attempts per client address, in memory."""

    def __init__(self, limit: int = RATE_LIMIT, window_s: float = RATE_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._seen: dict[str, deque[float]] = {}

    def check(self, client: str, now: float | None = None) -> float:
        """Record an attempt; 0 when allowed, else the seconds until one would be."""
        now = time.monotonic() if now is None else now
        times = self._seen.setdefault(client, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) >= self.limit:
            return times[0] + self.window_s - now
        times.append(now)
        if len(self._seen) > _MAX_CLIENTS:
            for key in [k for k, v in self._seen.items() if not v or v[-1] <= now - self.window_s]:
                del self._seen[key]
        return 0.0


def portal_principal() -> Principal:
    """Who the portal's reports come from, for the audit log: the platform's own integrator."""
    return system_principal(role=Role.INTEGRATOR, acting_as="system:public-portal")


def _limiter(request: Request) -> RateLimiter:
    limiter = getattr(request.app.state, "portal_limiter", None)
    if not isinstance(limiter, RateLimiter):
        limiter = RateLimiter()
        request.app.state.portal_limiter = limiter
    return limiter


def _validate(report: PortalReport, codes: set[str]) -> list[tuple[str, str]]:
    errors: list[FieldError] = []
    code = (report.service_code or "").strip()
    if not code:
        errors.append(FieldError("service_code", "required: choose a category"))
    elif code not in codes:
        errors.append(FieldError("service_code", f"{code!r} is not one of the city's categories"))
    description = (report.description or "").strip()
    if not description:
        errors.append(FieldError("description", "required: say what is wrong"))
    address = (report.address_string or "").strip()
    has_point = report.lat is not None and report.long is not None
    if (report.lat is None) != (report.long is None):
        errors.append(FieldError("lat" if report.lat is None else "long", "give both lat and long"))
    elif report.lat is not None and report.long is not None:
        if not (math.isfinite(report.lat) and -90 <= report.lat <= 90):
            errors.append(FieldError("lat", "must be between -90 and 90"))
        if not (math.isfinite(report.long) and -180 <= report.long <= 180):
            errors.append(FieldError("long", "must be between -180 and 180"))
    elif not address:
        errors.append(
            FieldError("location", "required: pick the place on the map or give an address")
        )
    if errors:
        raise InvalidInput(errors)
    pairs = [("service_code", code), ("description", description)]
    if has_point:
        pairs += [("lat", f"{report.lat:.6f}"), ("long", f"{report.long:.6f}")]
    if address:
        pairs.append(("address_string", address))
    return pairs


@router.post(
    "/public/v1/reports",
    response_model=PortalReceipt,
    status_code=201,
    summary="Report a problem in a public place (the portal's form; no account, no personal data)",
    responses={
        422: {
            "description": "A field is missing or invalid; `errors[]` names it",
            "content": _PROBLEM,
        },
        429: {
            "description": f"More than {RATE_LIMIT} reports a minute from this address; "
            "retry after `Retry-After` seconds",
            "content": _PROBLEM,
        },
    },
)
async def create_report(report: PortalReport, request: Request, svc: Services) -> Any:
    client = request.client.host if request.client else "unknown"
    wait = _limiter(request).check(client)
    if wait > 0:
        return problems.problem(
            429,
            "Too many requests",
            f"more than {RATE_LIMIT} reports a minute from this address; retry later",
            slug="rate-limited",
            instance=request.url.path,
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    config = open311_config(svc)
    pairs = _validate(report, {s.code for s in config.services})
    try:
        result = await svc.adapters.receive(
            ADAPTER,
            sanitise_form(pairs, config),
            principal=portal_principal(),
            channel="portal",
            content_type=_FORM_TYPE,
            config=config,
            origin=request.url.path,
        )
    except Rejected as exc:
        raise InvalidInput(exc.errors) from None
    item = result.items[0] if result.items else None
    if item is None or item.status == "rejected" or item.id is None:
        raise InvalidInput(
            list(item.errors) if item is not None else [FieldError("body", "not accepted")]
        )
    return PortalReceipt(
        service_request_id=item.id,
        status_url=f"/open311/v2/requests/{item.id}.json",
        service_notice=config.service_notice,
    )
