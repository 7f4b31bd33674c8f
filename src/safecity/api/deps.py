"""What the API needs from the rest of safecity, and the authentication dependency."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from safecity.core.clock import Clock
from safecity.core.errors import Unauthenticated
from safecity.core.identity import Principal
from safecity.core.ports import EventBus
from safecity.governance.audit import AuditLog
from safecity.governance.identity import IdentityService
from safecity.governance.registry import SensorRegistry
from safecity.incidents.actuators import ActuatorService
from safecity.incidents.service import IncidentService
from safecity.ingest.adapters import AdapterIntake
from safecity.ingest.queries import EventQueries
from safecity.ingest.service import IngestService
from safecity.operations.automations import AutomationService
from safecity.operations.channels import ChannelService
from safecity.operations.dispatch import DispatchService
from safecity.operations.forecasting import ForecastService
from safecity.operations.kpis import KpiService
from safecity.operations.procedures import ProcedureService
from safecity.operations.units import UnitService

PURPOSE_HEADER = "X-Safecity-Purpose"


@dataclass
class ApiServices:
    """Built by ``safecity.runtime``; the API reaches data only through these."""

    clock: Clock
    bus: EventBus
    identity: IdentityService
    ingest: IngestService
    events: EventQueries
    incidents: IncidentService
    sensors: SensorRegistry
    audit: AuditLog
    adapters: AdapterIntake
    actuators: ActuatorService
    units: UnitService | None = None
    procedures: ProcedureService | None = None
    dispatch: DispatchService | None = None
    channels: ChannelService | None = None
    automations: AutomationService | None = None
    kpis: KpiService | None = None
    forecasts: ForecastService | None = None
    max_body_bytes: int = 8 * 1024 * 1024
    max_inflight_ingest: int = 64
    retry_after_s: int = 1
    info: dict[str, str] = field(default_factory=dict)
    #: Packaged map whose offline basemap ``/public/v1/basemap`` serves (the city's places map
    #: when it is a packaged one); None: the ``basemap`` entry of ``info``, else "helsinki".
    basemap: str | None = None
    #: Ingest requests in progress; past ``max_inflight_ingest`` the API answers 429.
    inflight_ingest: int = 0
    metrics: Any = None
    #: Events the correlation processor has handled (for metrics and benchmarks).
    correlated: Any = None


_bearer = HTTPBearer(auto_error=False, description="API token (`sc_...`), sent as a Bearer token")


def services(request: Request) -> ApiServices:
    svc: ApiServices = request.app.state.services
    return svc


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    purpose: Annotated[
        str | None,
        Header(
            alias=PURPOSE_HEADER,
            description="Declared purpose of this call; defaults to "
            "the role's usual purpose. Recorded in the audit log.",
        ),
    ] = None,
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
    svc = services(request)
    return await asyncio.to_thread(svc.identity.authenticate, credentials.credentials, purpose)


Caller = Annotated[Principal, Depends(principal)]
Services = Annotated[ApiServices, Depends(services)]
