"""Place-based forecasts, demand per area and camera coverage planning (docs/forecasting.md).

Cells and named areas only: nothing here scores or lists people.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from safecity.api.deps import Caller, Services
from safecity.core.errors import NotFound
from safecity.operations.forecasting import (
    CoverageResult,
    DemandReport,
    Foliage,
    Forecast,
    ForecastRun,
    ForecastService,
    PlacementMethod,
)

router = APIRouter(prefix="/v1", tags=["forecasts"])


def _forecasts(svc: Any) -> ForecastService:
    service: ForecastService | None = svc.forecasts
    if service is None:
        raise NotFound("service", "forecasts")
    return service


@router.get(
    "/forecasts/latest",
    response_model=Forecast,
    summary="The latest published place-based forecast: top cells, areas and fairness card",
)
async def latest(svc: Services, caller: Caller) -> Any:
    """The most recent day's forecast as published by the daily job (or on demand): the top
    cells as GeoJSON squares with risk, rank, flag and named area; the method and data window;
    and the fairness card per area."""
    return await _forecasts(svc).latest(caller)


@router.post(
    "/forecasts/run",
    response_model=ForecastRun,
    summary="Compute and publish today's forecast now (replaces today's if published)",
)
async def run(svc: Services, caller: Caller) -> Any:
    return await _forecasts(svc).publish_now(caller)


@router.get(
    "/forecasts/demand",
    response_model=DemandReport,
    summary="Events per named area per hour ahead, its backtest, and staff per shift",
)
async def demand(
    svc: Services,
    caller: Caller,
    days: Annotated[int, Query(ge=7, le=365, description="Days of history")] = 56,
    horizon_h: Annotated[int, Query(ge=8, le=336, description="Hours to forecast")] = 72,
) -> Any:
    """Hour-of-week profile forecast per area; MASE against the seasonal-naive baseline when
    the history allows a backtest (the answer says when it does not); Erlang C staffing per
    8-hour shift for the busiest hour."""
    return await _forecasts(svc).demand(caller, days=days, horizon_h=horizon_h)


@router.get(
    "/forecasts/{day}",
    response_model=Forecast,
    summary="The forecast published for one local day (YYYY-MM-DD)",
)
async def by_day(day: date, svc: Services, caller: Caller) -> Any:
    return await _forecasts(svc).get(caller, day)


@router.get(
    "/planning/coverage",
    response_model=CoverageResult,
    summary="What the registered cameras see, blind spots, and lamp posts for K new cameras",
)
async def coverage(
    svc: Services,
    caller: Caller,
    k: Annotated[int, Query(ge=0, le=50, description="New cameras to place")] = 3,
    method: Annotated[
        PlacementMethod,
        Query(description="greedy (always given) or exact (CP-SAT, 10 s limit) as well"),
    ] = "greedy",
    mobile: Annotated[
        int,
        Query(
            ge=0,
            le=5,
            description="Mobile cameras to place on emerging hotspots (0: no mobile section)",
        ),
    ] = 1,
    foliage: Annotated[
        Foliage,
        Query(
            description="leaf: tree crowns block views (the worst case for a camera); bare: "
            "leaves fallen, only evergreen trees block"
        ),
    ] = "leaf",
) -> Any:
    """Study area: the extent of the registered cameras and lamp posts; buildings and tree
    crowns from the packaged basemap cast shadows (`trees` gives the covered share without the
    trees). Only cameras whose owner agency the control room can use count (`forecast.
    accessible_owners`, default every registered agency); the others are counted apart with the
    area only they see (`inaccessible`). Sample points weigh the latest published forecast's
    risk of their cell (uniform when there is none).

    The `mobile` section lists the emerging hotspots (cells whose last 28 days are far above
    their own long-run rate: one-sided Poisson test, Benjamini-Hochberg q < 0.05, at least 3
    recent events) and the lamp posts where `mobile` cameras would see most of their excess
    events not already seen by a fixed camera. Cells only: nothing about people."""
    return await _forecasts(svc).coverage(
        caller, k=k, method=method, mobile=mobile, foliage=foliage
    )
