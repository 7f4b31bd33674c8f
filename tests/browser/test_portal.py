"""The public transparency portal in a real browser: the register on a map and in a table, a
citizen report through the form (Open311 underneath), its status, and the phone layout.

With ``SAFECITY_SCREENSHOTS=1`` the last test also writes ``docs/screenshots/portal.png``
(1366x768) and ``docs/screenshots/portal-phone.png`` (390x844)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx
from browser_support import LiveServer, offline_requests
from playwright.sync_api import Browser, Page, ViewportSize, expect

from factories import sensor_record

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}

SENSORS: list[dict[str, Any]] = [
    sensor_record(
        id="cam-rautatientori-1",
        name="Railway Square camera",
        location={"lon": 24.9428, "lat": 60.1705},
        view={"direction_deg": 200, "fov_deg": 70, "range_m": 60},
        purpose="Public-order incidents on the square",
        legal_basis="Police Act 872/2011, chapter 4",
        retention_days=7,
    ),
    sensor_record(
        id="acoustic-esplanadi-1",
        kind="acoustic",
        name="Esplanadi acoustic sensor",
        owner_agency="helsinki-city",
        location={"lon": 24.9470, "lat": 60.1676},
        measures=["sound_level", "impulse_detection"],
        purpose="Detecting gunshots and explosions so help is sent faster",
        legal_basis="Rescue Act 379/2011, section 27",
        personal_data=False,
        retention_days=30,
    ),
    sensor_record(
        id="lamp-aleksanterinkatu-12",
        kind="lamppost",
        name="Aleksanterinkatu smart lamp 12",
        owner_agency="helsinki-city",
        location={"lon": 24.9455, "lat": 60.1690},
        measures=["light_level", "lamp_status"],
        purpose="Street lighting maintenance",
        legal_basis="Local Government Act 410/2015",
        personal_data=False,
        retention_days=365,
    ),
    sensor_record(
        id="cam-secret-1",
        name="Hidden camera A",
        location={"lon": 24.9400, "lat": 60.1700},
        public=False,
    ),
    sensor_record(
        id="cam-secret-2",
        name="Hidden camera B",
        location={"lon": 24.9410, "lat": 60.1710},
        public=False,
    ),
]


def _register(server: LiveServer) -> None:
    for sensor in SENSORS:
        r = httpx.put(
            f"{server.base}/v1/sensors/{sensor['id']}",
            json=sensor,
            headers={"Authorization": f"Bearer {server.tokens['feeds']}"},
            timeout=10,
        )
        assert r.status_code == 200, r.text


def _open(page: Page, server: LiveServer) -> None:
    response = page.goto(server.base + "/portal/")
    assert response is not None and response.ok
    expect(page.locator("#register-summary")).to_contain_text("in the public register")
    expect(page.locator("#report-category option")).not_to_have_count(1)


def test_the_register_lists_public_devices_and_counts_the_others(
    server: LiveServer, page: Page
) -> None:
    _register(server)
    outside = offline_requests(page, server.base)
    _open(page, server)
    expect(page.locator("#register-summary")).to_contain_text("3 devices")
    rows = page.locator("#register-table tbody tr")
    expect(rows).to_have_count(3)
    camera = rows.filter(has_text="Railway Square camera")
    expect(camera).to_contain_text("Public-order incidents on the square")
    expect(camera).to_contain_text("Police Act 872/2011, chapter 4")
    expect(camera).to_contain_text("7 days")
    expect(camera).to_contain_text("helsinki-police")
    expect(rows.filter(has_text="Esplanadi acoustic sensor")).to_contain_text("30 days")
    expect(page.locator("#register-table")).not_to_contain_text("Hidden camera")
    expect(page.locator("#register-hidden")).to_contain_text("2 further registered devices")
    # The map: the basemap drawn on a canvas, markers (or clusters) for the devices.
    register_map = page.locator("#register-map")
    expect(register_map.locator("canvas").first).to_be_attached()
    expect(register_map.locator(".sc-sensor, .marker-cluster").first).to_be_visible()
    assert register_map.locator(".sc-place-label").count() > 0
    # Nothing but placeholders for later work is absent, and no placeholder is shown.
    text = page.locator("main").inner_text().lower()
    for later in ("algorithm register", "forecast", "acceptability", "checkpoint", "coming soon"):
        assert later not in text
    page.wait_for_load_state("networkidle")
    assert outside == []


def test_a_citizen_reports_a_problem_and_follows_it(server: LiveServer, page: Page) -> None:
    outside = offline_requests(page, server.base)
    _open(page, server)
    expect(page.get_by_text("no name, e-mail")).to_be_visible()
    for personal in ("name", "email", "phone"):
        assert page.locator(f"#report-form [name={personal}]").count() == 0

    # Without a description the server names the field, and the form shows it there.
    page.get_by_label("Category").select_option("streetlight")
    page.locator("#report-map").click()
    expect(page.locator("#report-location")).to_contain_text("Pin placed")
    page.get_by_role("button", name="Send the report").click()
    expect(page.locator("#report-description-error")).to_contain_text("Description: required")
    expect(page.locator("#report-error")).to_contain_text("description")
    expect(page.locator("#report-description")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#report-description")).to_be_focused()

    page.get_by_label("What is wrong?").fill("The lamp outside the station entrance is dark")
    page.get_by_role("button", name="Send the report").click()
    receipt = page.locator("#report-id")
    expect(receipt).to_be_visible()
    request_id = receipt.inner_text().strip()
    assert re.fullmatch(r"[A-Za-z0-9._:-]+", request_id)

    # The lookup is filled in with the new number; the status comes from public Open311.
    expect(page.locator("#status-id")).to_have_value(request_id)
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#status-value")).to_have_text("open")
    expect(page.locator("#status-result")).to_contain_text("Street light out or damaged")
    record = httpx.get(f"{server.base}/open311/v2/requests/{request_id}.json", timeout=10).json()
    assert record[0]["service_code"] == "streetlight"

    page.locator("#status-id").fill("no-such-report")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#status-result")).to_contain_text("No report with that number")
    assert outside == []


def test_the_portal_works_on_a_phone(server: LiveServer, browser: Browser) -> None:
    _register(server)
    page = browser.new_context(viewport=PHONE).new_page()
    try:
        _open(page, server)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the page scrolls sideways on a phone"
        description = page.get_by_label("What is wrong?")
        description.scroll_into_view_if_needed()
        expect(description).to_be_visible()
        expect(page.get_by_role("button", name="Send the report")).to_be_visible()
        # Keyboard: the skip link, then the form's controls are reachable by Tab.
        page.keyboard.press("Tab")
        expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()
        page.get_by_label("Category").focus()
        page.keyboard.press("Tab")
        expect(description).to_be_focused()
    finally:
        page.context.close()


def test_screenshots_of_the_portal_render(
    server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    """Renders the portal at desktop and phone size; with SAFECITY_SCREENSHOTS=1 the images
    replace the ones in docs/screenshots (the README shows them)."""
    _register(server)
    target = SCREENSHOTS if os.environ.get("SAFECITY_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    desktop: ViewportSize = {"width": 1366, "height": 768}
    for name, viewport in (("portal.png", desktop), ("portal-phone.png", PHONE)):
        page = browser.new_context(viewport=viewport).new_page()
        try:
            _open(page, server)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(500)
            page.screenshot(path=str(target / name))
        finally:
            page.context.close()
        assert (target / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_shared_map_module_draws_units_incidents_and_ellipses(
    server: LiveServer, page: Page
) -> None:
    """The layer helpers the console builds on, exercised on the portal page (which loads Leaflet)."""
    outside = offline_requests(page, server.base)
    _open(page, server)
    result = page.evaluate(
        """async () => {
        const m = await import("/static/common/map.js");
        const box = document.createElement("div");
        box.style.cssText = "width:600px;height:400px";
        document.body.append(box);
        const map = m.createMap(box, {center: [60.1699, 24.9410], zoom: 16, theme: "dark"});
        await map.basemapReady;
        const units = m.unitLayer(map);
        units.update({id: "u1", callsign: "P-11", status: "available",
                      location: {lon: 24.9410, lat: 60.1699}});
        units.update({id: "u1", callsign: "P-11", status: "en_route",
                      location: {lon: 24.9420, lat: 60.1700}});
        units.update({id: "u2", callsign: "P-12", status: "off_duty",
                      location: {lon: 24.9420, lat: 60.1700}});
        const incidents = m.incidentLayer(map);
        incidents.update({id: "i1", title: "Shots <fired>", priority: 1, status: "new",
                          location: {lon: 24.9430, lat: 60.1690}});
        incidents.update({id: "i2", title: "Noise", priority: 4, status: "new",
                          location: {lon: 24.9440, lat: 60.1690}});
        incidents.remove("i2");
        const ellipses = m.ellipseLayer(map);
        const poly = ellipses.add(24.9430, 60.1690, 80, 30, 45);
        const pts = poly.getLatLngs()[0];
        const sensors = m.sensorLayer(map, [{id: "c", kind: "camera", name: "C",
            owner_agency: "x", purpose: "p", measures: ["video"],
            location: {lon: 24.9410, lat: 60.1699}, view: {direction_deg: 90, fov_deg: 60}}]);
        const control = m.layerControl(map, {Units: units, Incidents: incidents,
                                             Sensors: sensors, Ellipses: ellipses});
        const far = pts.reduce((a, p) => Math.max(a, map.distance(p, [60.1690, 24.9430])), 0);
        const near = pts.reduce((a, p) => Math.min(a, map.distance(p, [60.1690, 24.9430])), 1e9);
        return {
            units: units.markers.size,
            unitClass: units.markers.get("u1").getElement().className,
            incidents: incidents.markers.size,
            incidentClass: incidents.markers.get("i1").getElement().className,
            popup: incidents.markers.get("i1").getPopup().getContent(),
            far, near,
            controlItems: control.getContainer().querySelectorAll("input").length,
            sensors: sensors.markers.size,
        };
    }"""
    )
    assert result["units"] == 1 and "sc-unit-en_route" in result["unitClass"]
    assert result["incidents"] == 1 and "sc-priority-1" in result["incidentClass"]
    assert "&lt;fired&gt;" in result["popup"]
    assert 78 < result["far"] < 82 and 28 < result["near"] < 32
    assert result["controlItems"] == 4 and result["sensors"] == 1
    assert outside == []
