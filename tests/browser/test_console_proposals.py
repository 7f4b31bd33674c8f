"""A street command an automation proposed, decided in the console: the proposal appears live in
the open incident with its devices, rule, reason and countdown, and the operator confirms it
by keyboard. A real server and Chromium; the bollards answer through the actuator channel."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from browser_support import LiveServer, offline_requests
from playwright.sync_api import Page, expect

from conftest import seeded_settings, serving
from factories import metres_east, raw_event, sensor_record
from safecity.core.actuators import ActuatorCommand, CommandOutcome, CommandResult
from safecity.processors.automation.rules import AutomationConfig
from safecity.runtime import build_runtime

LON, LAT = 24.9384, 60.1699

RULE = {
    "id": "shots-close-street",
    "name": "Shots acknowledged: close the street",
    "agencies": ["helsinki-police"],
    "trigger": {"on": "incident", "changes": ["acknowledged"], "incident_types": ["shooting"]},
    "actions": [{"kind": "raise_bollards", "radius_m": 150, "confirm_within_s": 300}],
}


class Bollards:
    """The bollards' side of the command channel: acknowledges what it is sent."""

    def __init__(self) -> None:
        self.received: list[ActuatorCommand] = []

    def handles(self, device_id: str) -> bool:
        return device_id.startswith("bollard-")

    async def send(self, command: ActuatorCommand) -> CommandResult:
        self.received.append(command)
        return CommandResult(command, CommandOutcome.ACKNOWLEDGED, "ok", command.issued_at)


@pytest.fixture
def bollards() -> Bollards:
    return Bollards()


@pytest.fixture
def server(tmp_path: Path, bollards: Bollards) -> Iterator[LiveServer]:
    settings = seeded_settings(tmp_path / "browser.db")
    settings.automations = AutomationConfig.model_validate({"rules": [RULE]})
    with serving(build_runtime(settings), label="test") as live:
        live.runtime.actuators.channels.append(bollards)
        yield live


def test_an_operator_confirms_a_proposed_bollard_raise_in_the_console(
    server: LiveServer, page: Page, bollards: Bollards
) -> None:
    outside = offline_requests(page, server.base)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
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

    page.goto(f"{server.base}/console/")
    page.get_by_label("Access token").fill(server.tokens["op-police"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#live-state")).to_have_text("live", timeout=5000)
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
    assert [(c.device_id, c.value, c.issued_by) for c in bollards.received] == [
        ("bollard-kamppi-1", "up", "user:op-police")
    ]
    assert outside == []
    assert errors == []
    page.context.close()
