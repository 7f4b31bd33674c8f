"""The operator console and the public transparency portal: static pages and a little JavaScript
served by the app itself (no CDN, no build step), talking to the same JSON API as everyone else.

Layout: ``static/console/`` and ``static/portal/`` hold each page's HTML, CSS and ES modules;
``static/common/`` what both share (the map, API and live-stream helpers); ``static/vendor/``
Leaflet and Leaflet.markercluster, copied unchanged from npm (see its README).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, FastAPI
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

STATIC = files(__name__) / "static"
router = APIRouter(include_in_schema=False)


def _page(section: str) -> Response:
    path = STATIC / section / "index.html"
    # Pages are small and change with releases; the cache must never serve a stale console.
    return FileResponse(str(path), headers={"Cache-Control": "no-cache"})


@router.get("/")
async def root() -> Response:
    return RedirectResponse("/console/", status_code=307)


@router.get("/console")
@router.get("/console/")
async def console() -> Response:
    return _page("console")


@router.get("/portal")
@router.get("/portal/")
async def portal() -> Response:
    return _page("portal")


def mount(app: FastAPI) -> None:
    """Serve the pages and their assets from the package."""
    app.include_router(router)
    app.mount("/static", StaticFiles(packages=[("safecity.web", "static")]), name="static")
