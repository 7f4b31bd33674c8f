"""A street command an automation proposed, decided in the console: the proposal appears live in
the open incident with its devices, rule, reason and countdown, and the operator confirms it
by keyboard; one from an event rule with no incident waits in the console-wide "Awaiting
decision" panel, seen from every tab. A real server and Chromium; the bollards answer through
the actuator channel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser_support import LiveServer, offline_requests, page_errors, sign_in
from playwright.sync_api import Browser, Page, expect

from conftest import new_page, serving
from factories import metres_east, raw_event, sensor_record
from safecity.demo import helsinki_settings
from safecity.processors.automation.rules import AutomationConfig
from safecity.runtime import build_runtime
from support import DeviceChannel

LON, LAT = 24.9384, 60.1699

RULE = {
    "id": "shots-close-street",
    "name": "Shots acknowledged: close the street",
    "agencies": ["helsinki-police"],
    "trigger": {"on": "incident", "changes": ["acknowledged"], "incident_types": ["shooting"]},
    "actions": [{"kind": "raise_bollards", "radius_m": 150, "confirm_within_s": 300}],
}
# An event rule: a fast vehicle alone opens no incident, so its proposal has none.
EVENT_RULE = {
    "id": "fast-vehicle-bollards",
    "name": "Fast vehicle in the pedestrian zone: close it",
    "agencies": ["helsinki-police"],
    "trigger": {"on": "event", "event_types": ["camera.vehicle"]},
    "conditions": [{"kind": "field", "path": "data.speed_kmh", "op": "ge", "value": 20}],
    "actions": [
        {"kind": "raise_bollards", "device_ids": ["bollard-kamppi-1"], "confirm_within_s": 300}
    ],
}


@pytest.fixture
def bollards() -> DeviceChannel:
    return DeviceChannel("bollard-")


@pytest.fixture
def server(tmp_path: Path, bollards: DeviceChannel) -> Iterator[LiveServer]:
    settings = helsinki_settings(tmp_path / "browser.db")
    settings.automations = AutomationConfig.model_validate({"rules": [RULE, EVENT_RULE]})
    with serving(build_runtime(settings), label="test") as live:
        live.runtime.actuators.channels.append(bollards)
        yield live


def register_bollard(server: LiveServer) -> None:
    body = sensor_record(
        id="bollard-kamppi-1",
        kind="bollard",
        name="Kamppi bollard 1",
        measures=["bollard_state"],
        purpose="Closes the street to vehicles",
        personal_data=False,
        location={"lon": LON + metres_east(40), "lat": LAT},
    )
    assert server.put("/v1/sensors/bollard-kamppi-1", body, "feeds").status_code in (200, 201)


def test_an_operator_confirms_a_proposed_bollard_raise_in_the_console(
    server: LiveServer, page: Page, bollards: DeviceChannel
) -> None:
    outside = offline_requests(page, server.base)
    errors = page_errors(page)
    register_bollard(server)
    sign_in(page, server, "op-police")
    shot = raw_event("gunshot.located", at=datetime.now(UTC), lon=LON, lat=LAT)
    assert server.post("/v1/events/batch", [shot]).json()["accepted"] == 1
    row = page.locator("#queue-list li", has_text="Gunshot located")
    expect(row).to_be_visible(timeout=10_000)
    row.click()
    expect(page.locator("#inc-status")).to_have_text("new")
    proposals = page.locator("#inc-proposals")
    expect(proposals).to_be_hidden()

    # Acknowledging fires the rule: the proposal arrives live in the open incident.
    page.get_by_role("button", name="Acknowledge").first.click()
    card = proposals.locator("article.proposal.pending")
    expect(card).to_be_visible(timeout=10_000)
    expect(card).to_contain_text("Raise 1 bollard")
    expect(card).to_contain_text("bollard-kamppi-1")
    expect(card).to_contain_text("Shots acknowledged: close the street")
    expect(card).to_contain_text("fired: the rule has no conditions")
    expect(card.get_by_role("timer")).to_contain_text("in 4:5")  # counting down from 5:00
    expect(page.locator("#announcer")).to_contain_text("proposes")
    assert bollards.received == []  # nothing moves before a person decides

    # The header counts it too; its panel links back to this incident's view.
    badge = page.get_by_role("button", name="Awaiting decision: 1 proposed street command")
    expect(badge).to_be_visible()
    badge.click()
    panel = page.get_by_role("dialog", name="Awaiting decision")
    link = panel.get_by_role("button", name="Gunshot located")
    expect(link).to_be_visible()
    link.click()
    expect(panel).to_be_hidden()
    expect(page.locator("#inc-proposals-h")).to_be_focused()

    # Decline is there, asking for a labelled reason; the operator confirms instead.
    decline = card.get_by_role("button", name="Decline…")
    decline.click()
    expect(card.get_by_label("Reason")).to_be_focused()
    expect(decline).to_have_attribute("aria-expanded", "true")
    confirm = card.get_by_role("button", name="Confirm: raise 1 bollard")
    confirm.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#confirm")
    expect(dialog).to_contain_text("can injure someone")
    expect(dialog).to_contain_text("bollard-kamppi-1")
    dialog.get_by_role("button", name="Raise now").click()

    done = proposals.locator("article.proposal.confirmed")
    expect(done).to_be_visible(timeout=10_000)
    expect(done.locator(".status")).to_have_text("confirmed")
    expect(done).to_contain_text("op-police")
    expect(done.get_by_role("list", name="Device outcomes")).to_contain_text(
        "bollard-kamppi-1: acknowledged"
    )
    expect(page.locator("#announcer")).to_contain_text("1 of 1 devices acknowledged")
    expect(page.locator("#awaiting-count")).to_have_text("0")
    assert [(c.device_id, c.value, c.issued_by) for c in bollards.received] == [
        ("bollard-kamppi-1", "up", "user:op-police")
    ]
    assert outside == []
    assert errors == []
    page.context.close()


def test_a_proposal_without_an_incident_is_decided_from_the_awaiting_panel_on_any_tab(
    server: LiveServer, page: Page, browser: Browser, bollards: DeviceChannel
) -> None:
    outside = offline_requests(page, server.base)
    errors = page_errors(page)
    register_bollard(server)
    sign_in(page, server, "op-police")
    auditor = new_page(browser)
    sign_in(auditor, server, "auditor")
    page.get_by_role("button", name="Units").click()
    expect(page.locator("#view-units")).to_be_visible()
    badge = page.locator("#awaiting")
    expect(badge).to_have_accessible_name("Awaiting decision: 0 proposed street commands")

    fast = raw_event(
        "camera.vehicle",
        at=datetime.now(UTC),
        lon=LON,
        lat=LAT,
        data={"camera_id": "cam-kamppi-3", "speed_kmh": 38},
    )
    assert server.post("/v1/events/batch", [fast]).json()["accepted"] == 1

    # Seen from the Units tab: the badge counts it and the arrival is announced.
    expect(page.locator("#awaiting-count")).to_have_text("1", timeout=10_000)
    expect(badge).to_have_accessible_name("Awaiting decision: 1 proposed street command")
    expect(page.locator("#view-units")).to_be_visible()
    expect(page.locator("#announcer")).to_contain_text("proposes")
    expect(page.locator("#announcer")).to_contain_text("no incident")
    (pending,) = server.get("/v1/actuators/proposals?status=pending").json()["items"]
    assert pending["incident_id"] is None
    assert bollards.received == []

    # Someone who may not decide sees it read-only.
    expect(auditor.locator("#awaiting-count")).to_have_text("1", timeout=10_000)
    auditor.get_by_role("button", name="Awaiting decision: 1").click()
    read_only = auditor.get_by_role("dialog", name="Awaiting decision")
    expect(read_only.locator("article.proposal.pending")).to_contain_text("Read only")
    expect(read_only.get_by_role("button", name="Confirm")).to_have_count(0)
    expect(read_only.get_by_role("button", name="Decline…")).to_have_count(0)

    # By keyboard: open the panel, focus moves into it.
    badge.focus()
    page.keyboard.press("Enter")
    panel = page.get_by_role("dialog", name="Awaiting decision")
    expect(panel).to_be_visible()
    expect(page.locator("#awaiting-title")).to_be_focused()
    card = panel.locator("article.proposal.pending")
    expect(card).to_contain_text("Raise 1 bollard")
    expect(card).to_contain_text("bollard-kamppi-1")
    expect(card).to_contain_text("Fast vehicle in the pedestrian zone: close it")
    expect(card).to_contain_text("none: proposed from an event")
    expect(card.get_by_role("timer")).to_contain_text("in 4:5")
    confirm = card.get_by_role("button", name="Confirm: raise 1 bollard")
    confirm.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#confirm")
    expect(dialog).to_contain_text("can injure someone")
    dialog.get_by_role("button", name="Raise now").click()

    # Decided: it leaves the pending list and shows each device's outcome; the badge is back at 0.
    expect(page.locator("#awaiting-count")).to_have_text("0", timeout=10_000)
    expect(badge).to_have_accessible_name("Awaiting decision: 0 proposed street commands")
    expect(panel.locator("#awaiting-list article")).to_have_count(0)
    expect(panel).to_contain_text("Nothing awaits a decision.")
    done = panel.locator("article.proposal.confirmed")
    expect(done.get_by_role("list", name="Device outcomes")).to_contain_text(
        "bollard-kamppi-1: acknowledged"
    )
    expect(done.locator("h4")).to_be_focused()
    expect(page.locator("#announcer")).to_contain_text("1 of 1 devices acknowledged")
    assert [(c.device_id, c.value, c.issued_by) for c in bollards.received] == [
        ("bollard-kamppi-1", "up", "user:op-police")
    ]

    # Escape closes the panel and focus goes back to the badge; the other session follows live.
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(badge).to_be_focused()
    expect(auditor.locator("#awaiting-count")).to_have_text("0", timeout=10_000)
    expect(read_only.locator("article.proposal")).to_have_count(0)
    assert outside == []
    assert errors == []
    auditor.context.close()
    page.context.close()
