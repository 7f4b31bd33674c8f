"""Response-time KPIs: per agency, area, type or priority, and per incident (docs/kpis.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from safecity.api.deps import Caller, Services
from safecity.core.errors import NotFound
from safecity.operations.kpis import GroupBy, IncidentIntervals, KpiReport, KpiService

router = APIRouter(prefix="/v1", tags=["kpis"])


def _kpis(svc: Any) -> KpiService:
    service: KpiService | None = svc.kpis
    if service is None:
        raise NotFound("service", "kpis")
    return service


@router.get(
    "/kpis",
    response_model=KpiReport,
    summary="Response-time KPIs of the incidents opened in a window, against their targets",
)
async def report(
    svc: Services,
    caller: Caller,
    since: Annotated[
        datetime | None, Query(description="Opened from (inclusive); default until - 30 days")
    ] = None,
    until: Annotated[datetime | None, Query(description="Opened before; default now")] = None,
    group_by: Annotated[GroupBy | None, Query(description="One group per value")] = None,
) -> Any:
    """Per group and KPI: count, median, p90, mean, the share within its threshold, the share
    that must be, and whether it is met. Merged (duplicate) incidents are left out."""
    return await _kpis(svc).report(caller, since=since, until=until, group_by=group_by)


@router.get(
    "/incidents/{incident_id}/kpis",
    response_model=IncidentIntervals,
    summary="One incident's response-time intervals, with each unit's turnout and travel",
)
async def incident_kpis(incident_id: str, svc: Services, caller: Caller) -> Any:
    return await _kpis(svc).incident(caller, incident_id)
