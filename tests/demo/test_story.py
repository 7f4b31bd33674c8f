"""The operations story the issue asks the demo to show, run headless and checked step by step:
a gunshot located from lamppost acoustic sensors, fused with a camera event and a citizen report
into one incident, units recommended and confirmed, a lamp automation fired, and the incident
worked through to closed with its response-time KPIs, all through the API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from safecity.cli import app


@pytest.fixture(scope="module")
def story() -> dict[str, Any]:
    result = CliRunner().invoke(
        app,
        ["demo", "--story", "--json", "--seed", "7", "--start", "2026-11-21T12:00:00Z"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    record: dict[str, Any] = json.loads(result.output.strip().splitlines()[-1])
    return record


def test_the_shot_is_located_by_the_platform_from_lamppost_sensors(story: dict[str, Any]) -> None:
    shot = story["gunshot"]
    assert shot["error_m"] < 5.0
    assert shot["sensors"] >= 4
    assert shot["pulses_linked"] >= shot["sensors"]
    assert shot["located_after_last_pulse_s"] <= 1.0
    assert shot["uncertainty"]["semi_major_m"] > 0


def test_camera_and_citizen_report_are_fused_into_the_one_incident(story: dict[str, Any]) -> None:
    linked = story["linked_events"]
    for kind in ("gunshot.located", "acoustic.pulse", "camera.abnormal", "citizen.report"):
        assert linked.get(kind, 0) >= 1, kind
    assert story["link_reasons"]["gunshot.located"] == "opened"
    assert story["link_reasons"]["acoustic.pulse"] == "evidence"
    assert story["link_reasons"]["camera.abnormal"] == "shots-fired"
    assert story["priority"] == 1
    assert any(f.startswith("corroboration") for f in story["priority_factors"])


def test_units_are_recommended_and_the_decision_confirmed(story: dict[str, Any]) -> None:
    rec = story["recommendation"]
    assert set(rec["required"]) == {"armed_response", "paramedic"}
    agencies = {m["agency"] for m in rec["team"]}
    assert agencies == {"helsinki-police", "helsinki-rescue"}
    assert all(m["drive_time_s"] > 0 for m in rec["team"])
    assert story["dispatch_followed_recommendation"] is True
    assert set(story["agencies"]) >= {"helsinki-police", "helsinki-rescue"}


def test_the_lamp_automation_fired_and_the_lamps_answered(story: dict[str, Any]) -> None:
    assert "gunshot-light-and-alert" in story["automations_fired"]
    assert story["lamps_brightened"] > 0
    assert story["lamp_outcome"] == "acknowledged"


def test_the_incident_is_closed_with_its_response_times(story: dict[str, Any]) -> None:
    assert story["status"] == "closed"
    assert story["checklist_done"] >= 5
    kpis = story["kpis_s"]
    assert kpis["agency_id"] == "helsinki-police"
    assert kpis["area"]
    for name in ("time_to_acknowledge", "time_to_dispatch", "travel", "response", "total"):
        assert kpis[name] is not None and kpis[name] > 0, name
    assert kpis["response"] >= kpis["time_to_dispatch"]
    assert {u["agency_id"] for u in kpis["units"]} == {"helsinki-police", "helsinki-rescue"}
