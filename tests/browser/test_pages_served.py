"""The console and portal pages and every asset they load come from the app itself."""

from __future__ import annotations

from browser_support import LiveServer, offline_requests
from playwright.sync_api import Page


def test_the_pages_load_with_no_request_leaving_the_server(server: LiveServer, page: Page) -> None:
    outside = offline_requests(page, server.base)
    for path in ("/console/", "/portal/"):
        response = page.goto(server.base + path)
        assert response is not None and response.ok
        page.wait_for_load_state("networkidle")
    assert outside == []
    assert page.evaluate("typeof L") == "object"  # Leaflet came from /static/vendor
