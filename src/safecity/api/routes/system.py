"""Health (public) and Prometheus metrics (authenticated)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from starlette.responses import Response

from safecity.api.deps import ApiServices, Caller, Services
from safecity.api.responses import Json

router = APIRouter(tags=["system"])


@router.get("/health", summary="Liveness and readiness; no authentication")
async def health(svc: Services) -> Response:
    try:
        events, letters = await asyncio.to_thread(svc.events.counts)
    except Exception:  # the store being unreachable is exactly what health must report
        return Json({"status": "unavailable", "store": "error"}, status_code=503)
    return Json(
        {"status": "ok", "store": "ok", "events": events, "dead_letters": letters, **svc.info}
    )


class _IngestCollector(Collector):
    def __init__(self, svc: ApiServices) -> None:
        self._svc = svc

    def collect(self) -> list[CounterMetricFamily]:
        c = CounterMetricFamily(
            "safecity_ingest_events", "Events seen by ingest, by outcome", labels=["outcome"]
        )
        ingest = self._svc.ingest
        c.add_metric(["accepted"], ingest.accepted)
        c.add_metric(["duplicate"], ingest.duplicates)
        c.add_metric(["rejected"], ingest.rejected)
        out = [c]
        if self._svc.correlated is not None:
            done = CounterMetricFamily(
                "safecity_correlation_events", "Events the correlation processor has handled"
            )
            done.add_metric([], self._svc.correlated())
            out.append(done)
        return out


def metrics_registry(svc: ApiServices) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(_IngestCollector(svc))
    inflight = Gauge(
        "safecity_ingest_inflight_requests", "Ingest requests in progress", registry=registry
    )
    inflight.set_function(lambda: svc.inflight_ingest)
    return registry


@router.get("/metrics", summary="Prometheus metrics (text exposition format)")
async def metrics(svc: Services, caller: Caller) -> Response:
    del caller  # any authenticated caller; the figures hold no personal data
    registry: CollectorRegistry = svc.metrics
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
