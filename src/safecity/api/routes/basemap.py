"""The offline basemap: OpenStreetMap roads, buildings, water, green areas and place names of the
city, packaged with safecity and served as one gzipped JSON document (no tile server)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from safecity.api.deps import Services
from safecity.core.errors import NotFound
from safecity.maps import basemap_bytes

router = APIRouter(tags=["public"])

DEFAULT_MAP = "helsinki"


@router.get(
    "/public/v1/basemap",
    summary="The city's offline basemap (OpenStreetMap data, gzipped JSON)",
    response_class=Response,
    responses={
        200: {
            "description": "A document of GeoJSON FeatureCollections under `layers` (`roads`, "
            "`buildings`, `water`, `green`, `places`), with `attribution` and `bbox`; sent "
            "with `Content-Encoding: gzip`. © OpenStreetMap contributors, ODbL 1.0.",
            "content": {"application/json": {}},
        }
    },
)
async def basemap(svc: Services) -> Response:
    name = svc.basemap or svc.info.get("basemap") or DEFAULT_MAP
    try:
        body = basemap_bytes(name)
    except (ValueError, OSError):
        raise NotFound("basemap", name) from None
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Encoding": "gzip", "Cache-Control": "public, max-age=86400"},
    )
