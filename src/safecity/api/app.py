"""The FastAPI application: routers, problem responses, body limits, metrics, live hub."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi_offline import FastAPIOffline
from prometheus_client import Histogram
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from safecity import __version__
from safecity.api import problems
from safecity.api.deps import ApiServices
from safecity.api.routes import (
    actuators,
    adapters,
    admin,
    automations,
    basemap,
    cap_feed,
    channels,
    eido,
    events,
    forecasts,
    incidents,
    kpis,
    ngsi_ld,
    open311,
    portal,
    sensors,
    stream,
    system,
    units,
)
from safecity.api.routes.stream import LiveHub

DESCRIPTION = """\
safecity connects a city's safety systems: events in (CloudEvents 1.0 envelope plus place,
severity and causation), incidents out, handled together by the agencies of one control room.

* Authenticate with `Authorization: Bearer <token>`; declare why with `X-Safecity-Purpose`
  (defaults to your role's usual purpose). Every read and change of event and incident data is
  recorded in a hash-chained audit log with your declared purpose.
* Errors are RFC 9457 `application/problem+json`; `errors[]` names each field and reason.
  Refused input is kept byte for byte in the dead-letter store.
* Live updates: WebSocket `/v1/stream?topics=event,incident`.
* Public, unauthenticated: `/health`, `/v1/event-types`, `/public/v1/...`.
"""

# Ingest routes read their bodies themselves so they can dead-letter the head of an oversize body.
_SELF_LIMITED = ("/v1/events", "/v1/adapters/")


class BodyLimit:
    """413 for any request whose declared size exceeds the limit (other than ingest)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(_SELF_LIMITED):
            for name, value in scope["headers"]:
                if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                    response = problems.problem(
                        413,
                        "Content too large",
                        f"body: larger than the limit of {self.limit} bytes",
                        slug="content-too-large",
                        instance=scope["path"],
                    )
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


Hook = Callable[[], Awaitable[None]]


def create_app(
    svc: ApiServices,
    *,
    on_start: Sequence[Hook] = (),
    on_stop: Sequence[Hook] = (),
) -> FastAPI:
    """The app. ``on_start`` hooks run inside the server's event loop before the first request
    (the runtime starts its bus and processors there), ``on_stop`` ones after the last."""
    hub = LiveHub(svc)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for hook in on_start:
            await hook()
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()
            for hook in on_stop:
                await hook()

    # Swagger UI and ReDoc from assets shipped in the package: control rooms are often offline.
    app = FastAPIOffline(
        title="safecity API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        license_info={"name": "Apache-2.0", "identifier": "Apache-2.0"},
    )
    app.state.services = svc
    app.state.hub = hub
    svc.metrics = system.metrics_registry(svc)
    latency = Histogram(
        "safecity_http_request_seconds",
        "HTTP request duration",
        ["route", "status"],
        registry=svc.metrics,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
    )

    @app.middleware("http")
    async def timing(request: Request, call_next: object) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)  # type: ignore[operator]
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        latency.labels(path, str(response.status_code)).observe(time.perf_counter() - started)
        return response

    app.add_middleware(BodyLimit, limit=svc.max_body_bytes)
    problems.install(app)
    for module in (
        system,
        events,
        incidents,
        sensors,
        stream,
        admin,
        adapters,
        open311,
        eido,
        cap_feed,
        channels,
        ngsi_ld,
        actuators,
        units,
        kpis,
        forecasts,
        automations,
        basemap,
        portal,
    ):
        app.include_router(module.router)
    from safecity import web

    web.mount(app)
    return app
