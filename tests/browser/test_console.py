"""The operator console end to end: a real server, Chromium, the live stream. Nothing mocked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from browser_support import LiveServer, offline_requests, page_errors, sign_in
from playwright.sync_api import Browser, Page, expect

from factories import metres_east, raw_event

LON, LAT = 24.9384, 60.1699


def now_event(type_: str, **kw: Any) -> dict[str, Any]:
    return raw_event(type_, at=datetime.now(UTC), **kw)


# Keep a handle on the page's WebSockets so a test can cut the live stream from the page side.
TRACK_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    window.__sockets.push(ws);
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
})();
"""


def register_unit(
    server: LiveServer, unit_id: str, agency: str, caps: list[str], east_m: float
) -> None:
    user = "sup-police" if agency == "helsinki-police" else "op-rescue"
    body = {
        "id": unit_id,
        "agency_id": agency,
        "kind": "car",
        "callsign": unit_id,
        "capabilities": caps,
    }
    r = server.put(f"/v1/units/{unit_id}", body, user)
    assert r.status_code == 200, r.text
    position = {"location": {"lon": LON + metres_east(east_m), "lat": LAT}}
    assert server.post(f"/v1/units/{unit_id}/position", position, user).is_success
    assert server.post(f"/v1/units/{unit_id}/status", {"status": "available"}, user).is_success


def hang_up(server: LiveServer, *pages: Page) -> None:
    """Close the pages (the server notices their streams end at once)."""
    del server
    for p in pages:
        p.context.close()


def test_sign_in_shows_the_user_and_a_bad_token_is_refused(server: LiveServer, page: Page) -> None:
    page.goto(f"{server.base}/console/")
    page.get_by_label("Access token").fill("sc_not-a-real-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_contain_text("not valid")
    sign_in(page, server, "op-police")
    expect(page.locator("#who")).to_contain_text("Police operator")
    expect(page.locator("#who")).to_contain_text("Helsinki Police Department")
    expect(page.locator("#who")).to_contain_text("operator")
    expect(page.locator("#who")).to_contain_text("incident-response")
    dead_letters = page.get_by_role("button", name="Dead letters")
    expect(dead_letters).to_be_hidden()  # operators do not get the tab
    # The token in the fragment signs in and leaves the address bar.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Access token")).to_be_visible()
    page.goto(f"{server.base}/console/#token={server.tokens['sup-police']}")
    expect(page.locator("#who")).to_contain_text("Police supervisor")
    assert "token" not in page.url
    # An integrator: the dead letters (refused input), no incident queue.
    server.post("/v1/events", {"id": "x", "source": "urn:test:bad", "type": "no.such"})
    page.goto(f"{server.base}/console/#token={server.tokens['feeds']}")
    expect(page.locator("#who")).to_contain_text("City feeds")
    expect(page.locator("#queue")).to_be_hidden()
    dead_letters.click()
    expect(page.locator("#dead-table")).to_contain_text("no.such")
    hang_up(server, page)


def test_the_console_works_an_incident_end_to_end(
    server: LiveServer, page: Page, browser: Browser
) -> None:
    outside = offline_requests(page, server.base)
    errors = page_errors(page)
    page.add_init_script(TRACK_SOCKETS)
    sign_in(page, server, "op-police")
    register_unit(server, "P-armed", "helsinki-police", ["patrol", "armed_response"], 600)
    register_unit(server, "A-1", "helsinki-rescue", ["paramedic"], -400)

    # A located shot: the incident reaches the queue by itself, pushed live (no reload). How
    # fast is measured by benchmarks/console.py, not here: a shared CI machine is too noisy.
    r = server.post("/v1/events/batch", [now_event("gunshot.located", lon=LON, lat=LAT)])
    assert r.json()["accepted"] == 1
    row = page.locator("#queue-list li", has_text="Gunshot located")
    expect(row).to_be_visible(timeout=10_000)
    expect(page.locator("#announcer")).to_contain_text("New priority 1 incident")
    expect(page.locator("body")).to_have_attribute("data-beeps", "1")  # the audible cue

    # Acknowledge with the keyboard.
    page.locator("#queue-list").focus()
    page.keyboard.press("a")
    expect(row.locator(".status")).to_have_text("acknowledged")

    # Open it: the recommendation with drive times; confirm the team.
    page.keyboard.press("Enter")
    expect(page.locator("#inc-dispatch")).to_contain_text("P-armed")
    expect(page.locator("#inc-dispatch")).to_contain_text(" min")
    expect(page.locator("#inc-events")).to_contain_text("opened")
    # `d` asks before anything moves; Escape sends nobody.
    page.keyboard.press("d")
    expect(page.locator("#confirm")).to_contain_text("P-armed")
    expect(page.locator("#confirm")).to_contain_text("drive")
    page.keyboard.press("Escape")
    expect(page.locator("#confirm")).to_be_hidden()
    page.keyboard.press("/")
    expect(page.locator("#filter-text")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#inc-status")).to_have_text("acknowledged")
    page.get_by_role("button", name="Confirm dispatch of").click()
    page.locator("#confirm").get_by_role("button", name="Confirm dispatch").click()
    expect(page.locator("#inc-status")).to_have_text("dispatched")
    page.get_by_role("button", name="Units").click()
    expect(page.locator('#units-table tr[data-unit="P-armed"] .unit-status')).to_have_text(
        "dispatched"
    )
    page.get_by_role("button", name="Incidents").click()

    # The shared channel: rescue sees the message live and acknowledges; police sees the receipt.
    rescue = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    try:
        sign_in(rescue, server, "op-rescue")
        rescue.locator("#queue-list li", has_text="Gunshot located").click()
        expect(rescue.locator("#inc-channel")).to_contain_text("Units dispatched")
        page.get_by_label("Message").fill("Armed suspect heading north")
        page.get_by_label("ask to acknowledge").check()
        page.get_by_role("button", name="Post", exact=True).click()
        message = rescue.locator(".msg", has_text="Armed suspect heading north")
        expect(message).to_be_visible(timeout=3000)
        message.get_by_role("button", name="Acknowledge").click()
        expect(page.locator(".msg", has_text="Armed suspect heading north")).to_contain_text(
            "rescue: acknowledged"
        )
    finally:
        hang_up(server, rescue)

    # The live stream drops: the banner says so, and goes when the console is back.
    page.context.set_offline(True)
    page.evaluate("window.__sockets.forEach((ws) => ws.close())")
    expect(page.locator("#live-banner")).to_be_visible(timeout=5000)
    page.context.set_offline(False)
    expect(page.locator("#live-banner")).to_be_hidden(timeout=10000)

    # The time slider replays the last hours' events on the map.
    page.locator("#replay-slider").fill("-5")
    expect(page.locator("#replay-label")).to_contain_text("events", timeout=5000)
    assert outside == []
    assert errors == []
    hang_up(server, page)


def test_sensor_health_shows_faulty_and_silent_devices(server: LiveServer, page: Page) -> None:
    lamp = {
        "id": "lamp-17",
        "kind": "lamppost",
        "name": "Street lamp 17",
        "owner_agency": "helsinki-city",
        "location": {"lon": LON, "lat": LAT},
        "measures": ["light_level"],
        "purpose": "Street lighting",
        "legal_basis": "Municipal duty to light streets",
        "personal_data": False,
        "retention_days": 365,
        "public": True,
    }
    quiet = {**lamp, "id": "lamp-18", "name": "Street lamp 18"}
    meter = {**lamp, "id": "noise-4", "name": "Noise meter 4", "kind": "noise"}
    heard = {**lamp, "id": "noise-5", "name": "Noise meter 5", "kind": "noise"}
    for body in (lamp, quiet, meter, heard):
        assert server.put(f"/v1/sensors/{body['id']}", body, "feeds").status_code == 200
    fault = now_event(
        "lamp.fault",
        source="urn:test:lamps:lamp-17",
        data={"lamp_id": "lamp-17", "fault": "lamp_out"},
    )
    assert server.post("/v1/events", fault).status_code == 202
    # Heard yesterday, through a gateway naming it in its payload: silent, with its last event.
    yesterday = raw_event(
        "noise.level",
        at=datetime.now(UTC) - timedelta(days=1),
        source="urn:test:noise-gateway",
        data={"sensor_id": "noise-4", "laeq_db": 58.0},
    )
    assert server.post("/v1/events", yesterday).status_code == 202
    just_now = now_event(
        "noise.level", source="urn:test:noise:noise-5", data={"sensor_id": "x", "laeq_db": 60.0}
    )
    assert server.post("/v1/events", just_now).status_code == 202
    sign_in(page, server, "op-police")
    page.get_by_role("button", name="Sensor health").click()
    table = page.locator("#sensors-table")
    expect(table.locator("tr", has_text="Street lamp 17")).to_contain_text("faulty: lamp_out")
    expect(table.locator("tr", has_text="Street lamp 18")).to_contain_text("no event in")
    yesterday_row = table.locator("tr", has_text="Noise meter 4")
    expect(yesterday_row.locator("td.silent")).to_contain_text("noise.level")
    expect(table.locator("tr", has_text="Noise meter 5").locator("td").last).not_to_have_class(
        "silent"
    )
    summary = page.locator("#sensors-summary")
    expect(summary).to_contain_text(
        "4 registered · 1 faulty · 1 heard in the last 60 min · 2 silent"
    )
    # Rows come faulty first, then silent (never heard first), then heard.
    expect(table.locator("tbody th")).to_contain_text(
        ["Street lamp 17", "Street lamp 18", "Noise meter 4", "Noise meter 5"]
    )
    # A longer window hears yesterday's meter.
    page.get_by_label("Silent after (minutes)").fill("1500")
    page.get_by_role("button", name="Refresh").click()
    expect(summary).to_contain_text("2 heard in the last 1500 min · 1 silent")
