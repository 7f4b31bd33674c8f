"""The one rule for which devices an event speaks for, and what it says about their faults."""

from __future__ import annotations

from typing import Any

import pytest

from factories import T0, event, later
from safecity.core.device_health import (
    DeviceHealthChange,
    FaultReport,
    device_keys,
    health_changes,
    id_keys,
    reported_fault,
)


@pytest.mark.parametrize(
    ("source", "type_", "data", "keys"),
    [
        (
            "urn:safecity:demo:lamp:123",
            "lamp.emergency_button",
            {"lamp_id": "lamp-9"},
            # the lamp the payload names (a platform forwarding for it) is heard too
            ("urn:safecity:demo:lamp:123", "123", "lamp-123", "lamp-9"),
        ),
        (
            "frigate/nvr-1/cam-7",
            "camera.motion",
            {"camera_id": "cam-7"},
            ("frigate/nvr-1/cam-7", "cam-7", "nvr-1-cam-7"),
        ),
        ("gateway", "noise.level", {"sensor_id": "n-4", "laeq_db": 60}, ("gateway", "n-4")),
        # the sensor id repeats a source key: once
        (
            "urn:x:n-4",
            "noise.level",
            {"sensor_id": "n-4", "laeq_db": 60},
            ("urn:x:n-4", "n-4", "x-n-4"),
        ),
        # keys no register id could equal are left out
        (
            "https://example.org/feeds/a b",
            "noise.level",
            {"sensor_id": "meter 4", "laeq_db": 60},
            (),
        ),
        ("urn:x:" + "y" * 300, "camera.motion", {"camera_id": "c"}, ("c",)),
    ],
)
def test_device_keys(source: str, type_: str, data: dict[str, Any], keys: tuple[str, ...]) -> None:
    assert device_keys(event(type_, source=source, data=data)) == keys


@pytest.mark.parametrize(
    ("type_", "data", "report"),
    [
        ("lamp.fault", {"lamp_id": "l-1", "fault": "tilt"}, FaultReport("l-1", "tilt")),
        (
            "lamp.fault",
            {"lamp_id": "l-1", "fault": "tilt", "cleared": True},
            FaultReport("l-1", None),
        ),
        ("lamp.light_level", {"lamp_id": "l-1", "level_pct": 0}, FaultReport("l-1", None)),
        (
            "access.bollard_state",
            {"bollard_id": "b-1", "state": "fault"},
            FaultReport("b-1", "bollard fault"),
        ),
        ("access.bollard_state", {"bollard_id": "b-1", "state": "up"}, FaultReport("b-1", None)),
        ("lamp.emergency_button", {"lamp_id": "l-1"}, None),
        (
            "lamp.fault",
            {"lamp_id": "urn:ngsi-ld:Streetlight:lamp-17", "fault": "tilt"},
            FaultReport("urn:ngsi-ld:Streetlight:lamp-17", "tilt"),
        ),
    ],
)
def test_reported_fault(type_: str, data: dict[str, Any], report: FaultReport | None) -> None:
    assert reported_fault(event(type_, data=data)) == report


def test_health_changes_keep_the_newest_per_key_by_event_time() -> None:
    source = "urn:city:lamps:l-1"
    changes = health_changes(
        [
            event(
                "lamp.fault", source=source, at=later(60), data={"lamp_id": "l-1", "fault": "power"}
            ),
            event(
                "lamp.light_level", source=source, at=T0, data={"lamp_id": "l-1", "level_pct": 50}
            ),
        ]
    )
    assert changes == [
        DeviceHealthChange("l-1", later(60), "lamp.fault", later(60), "power"),
        DeviceHealthChange("lamps-l-1", later(60), "lamp.fault"),
        DeviceHealthChange(source, later(60), "lamp.fault"),
    ]


def test_one_rule_names_devices_in_sources_and_payloads() -> None:
    assert id_keys("urn:ngsi-ld:Streetlight:lamp-17") == (
        "urn:ngsi-ld:Streetlight:lamp-17",
        "lamp-17",
        "Streetlight-lamp-17",
    )
    assert id_keys("lamp-17") == ("lamp-17",)
    assert id_keys("lamp one") == ()
    # A gateway's sensor id is matched by the same rule as a source.
    forwarded = event(
        "noise.level",
        source="gateway",
        data={"sensor_id": "urn:city:noise:n-4", "laeq_db": 60},
    )
    assert device_keys(forwarded) == ("gateway", "urn:city:noise:n-4", "n-4", "noise-n-4")


def test_a_fault_report_reaches_the_register_id_inside_a_urn() -> None:
    report = event(
        "lamp.fault",
        source="urn:safecity:ngsi-ld",
        data={"lamp_id": "urn:ngsi-ld:Streetlight:lamp-17", "fault": "lamp_out"},
    )
    faults = {c.device_id: c.fault for c in health_changes([report]) if c.fault_reported_at}
    assert faults == {
        "urn:ngsi-ld:Streetlight:lamp-17": "lamp_out",
        "lamp-17": "lamp_out",
        "Streetlight-lamp-17": "lamp_out",
    }
