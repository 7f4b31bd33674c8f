"""ONVIF events: every spec example mapped or refused as SOURCE.md says, fuzzed, over HTTP."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.onvif.config import OnvifConfig
from safecity.adapters.onvif.mapping import parse
from safecity.core.errors import InvalidInput
from safecity.core.identity import Role
from safecity.runtime import Runtime
from support import INTEROP, Api

ONVIF = INTEROP / "onvif"
EXAMPLES = ONVIF / "spec-examples"
RECEIVED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CONFIG = OnvifConfig(
    device="gate-cam",
    sources={
        "1": {"lon": 24.9414, "lat": 60.1710, "accuracy_m": 10, "camera_id": "gate-cam-1"},
        "MyDevice/temp_001": {"lon": 24.94, "lat": 60.17},
    },
)
WRAP = (
    '<wrapper xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" '
    'xmlns:wstop="http://docs.oasis-open.org/wsn/t-1" '
    'xmlns:tns1="http://www.onvif.org/ver10/topics" '
    'xmlns:tan="http://www.onvif.org/ver20/analytics/wsdl" '
    'xmlns:tet="http://www.onvif.org/ver10/events/wsdl" '
    'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
    'xmlns:fc="http://www.onvif.org/ver20/analytics/humanface" '
    'xmlns:bd="http://www.onvif.org/ver20/analytics/humanbody" '
    'xmlns:acme="http://www.acme.com/schema">{}</wrapper>'
)


def run(raw: bytes, *, origin: str | None = None, content_type: str | None = None) -> Mapped:
    context = MappingContext(
        received_at=RECEIVED, config=CONFIG, origin=origin, content_type=content_type
    )
    return parse(raw, context)


def refusal(raw: bytes, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(InvalidInput) as refused:
        run(raw, **kwargs)
    error = refused.value.errors[0]
    return error.field, error.reason


def wrapped(name: str) -> bytes:
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    text = re.sub(r"^<\?xml[^>]*\?>", "", text.strip())
    return WRAP.format(text).encode()


def _notes() -> dict[str, str]:
    """SOURCE.md's note for every spec example, by file name."""
    found: dict[str, str] = {}
    for line in (ONVIF / "SOURCE.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("spec-examples/"):
            found[cells[0].removeprefix("spec-examples/")] = cells[4]
    return found


NOTES = _notes()
NOT_WELL_FORMED = sorted(n for n, note in NOTES.items() if "NOT well-formed" in note)
FRAGMENTS = sorted(n for n, note in NOTES.items() if "fragment: namespace prefixes" in note)
NOT_JSON = sorted(n for n, note in NOTES.items() if "NOT valid JSON" in note)
EJ_PAIRS = [
    ("core-76-onvif-ej-mqtt-topic.txt", "core-77-onvif-ej-payload.json"),
    ("core-78-onvif-ej-mqtt-topic.txt", "core-79-onvif-ej-payload.json"),
    ("core-82-onvif-ej-mqtt-topic.txt", "core-83-onvif-ej-payload.json"),
    ("core-84-onvif-ej-mqtt-topic.txt", "core-85-onvif-ej-payload.json"),
    ("core-86-onvif-ej-mqtt-topic.txt", "core-87-onvif-ej-payload.json"),
]


def topic(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8").strip()


def test_source_md_accounts_for_every_example() -> None:
    assert len(NOTES) == 87
    assert {p.name for p in EXAMPLES.iterdir()} == set(NOTES)
    assert (len(NOT_WELL_FORMED), len(FRAGMENTS), len(NOT_JSON)) == (18, 45, 2)


# --- valid examples -------------------------------------------------------------------------


def test_pull_messages_response_with_two_line_crossings() -> None:
    mapped = run((EXAMPLES / "core-72-SOAP-ENV_Envelope.xml").read_bytes())
    assert mapped.rejections == []
    first, second = (e.to_json_dict() for e in mapped.events)
    assert first == {
        "specversion": "1.0",
        "id": "RuleEngine/LineDetector/Crossed/1/2/MyImportantFence1"
        "@2008-10-10T12:24:57.321000Z#ObjectId=15",
        "source": "onvif/gate-cam",
        "type": "camera.line_crossing",
        "time": "2008-10-10T12:24:57.321000Z",
        "subject": "gate-cam-1",
        "datacontenttype": "application/json",
        "location": {"lon": 24.9414, "lat": 60.171, "accuracy_m": 10.0},
        "severity": "unknown",
        "confidence": 1.0,
        "context": {},
        "data": {
            "camera_id": "gate-cam-1",
            "zone": "MyImportantFence1",
            "line": "MyImportantFence1",
            "direction": "any",
            "object_class": "object",
        },
    }
    assert second["time"] == "2008-10-10T12:24:57.789000Z"
    assert second["data"]["line"] == "MyImportantFence2"
    assert second["id"].endswith("#ObjectId=19")


def test_onvif_ej_line_crossing_over_mqtt() -> None:
    raw = (EXAMPLES / "core-77-onvif-ej-payload.json").read_bytes()
    [event] = run(raw, origin=topic("core-76-onvif-ej-mqtt-topic.txt")).events
    body = event.to_json_dict()
    assert body["type"] == "camera.line_crossing"
    assert body["source"] == "onvif/MyDevice"
    assert body["time"] == "2008-10-10T12:24:57.321000Z"
    assert body["data"] == {
        "camera_id": "MyDevice/1",
        "zone": "MyImportantFence1",
        "line": "MyImportantFence1",
        "direction": "any",
        "object_class": "object",
    }
    assert "location" not in body  # "MyDevice/1" and "1" of another device: not placed
    # The same event as XML and as onvif-ej: the same analytics.
    xml = run((EXAMPLES / "core-72-SOAP-ENV_Envelope.xml").read_bytes()).events[0]
    assert xml.data.model_dump(exclude={"camera_id"}) == event.data.model_dump(
        exclude={"camera_id"}
    )


@pytest.mark.parametrize(
    ("pair", "quantity", "value", "sensor"),
    [
        (EJ_PAIRS[2], "Temperature/High", 28.65, "MyDevice/temp_001"),
        (EJ_PAIRS[3], "RelativeHumidity/High", 65.2, "MyDevice/humidity_001"),
        (EJ_PAIRS[4], "AbsoluteHumidity/High", 10.0, "MyDevice/humidity_001"),
    ],
)
def test_onvif_ej_device_sensor_alarms(
    pair: tuple[str, str], quantity: str, value: float, sensor: str
) -> None:
    raw = (EXAMPLES / pair[1]).read_bytes()
    [event] = run(raw, origin=topic(pair[0]), content_type="application/json").events
    body = event.to_json_dict()
    assert body["type"] == "sensor.observation"
    assert body["time"] == "2025-07-15T14:30:00Z"
    assert body["data"] == {
        "datastream_id": sensor,
        "observed_property": quantity,
        "result": value,
    }
    if sensor == "MyDevice/temp_001":
        assert body["location"] == {"lon": 24.94, "lat": 60.17}


def test_metadata_stream_sensor_readings() -> None:
    mapped = run((EXAMPLES / "analytics-25-tt_MetadataStream.xml").read_bytes())
    assert [(e.type, e.data.model_dump()) for e in mapped.events] == [
        (
            "sensor.observation",
            {
                "datastream_id": "gate-cam/temp_001",
                "observed_property": "Temperature",
                "result": 28.65,
                "unit": None,
                "phenomenon_time": None,
                "result_quality": None,
            },
        ),
        (
            "sensor.observation",
            {
                "datastream_id": "gate-cam/humidity_001",
                "observed_property": "RelativeHumidity",
                "result": 65.2,
                "unit": None,
                "phenomenon_time": None,
                "result_quality": None,
            },
        ),
        (
            "sensor.observation",
            {
                "datastream_id": "gate-cam/humidity_001",
                "observed_property": "AbsoluteHumidity",
                "result": 10.0,
                "unit": None,
                "phenomenon_time": None,
                "result_quality": None,
            },
        ),
    ]
    assert {e.time for e in mapped.events} == {datetime(2025, 7, 15, 14, 30, tzinfo=UTC)}


# --- refused examples -----------------------------------------------------------------------


def test_video_analytics_frames_describing_people_are_refused() -> None:
    field, reason = refusal((EXAMPLES / "analytics-26-tt_MetadataStream.xml").read_bytes())
    assert field == "body"
    assert "face/body attributes" in reason


@pytest.mark.parametrize(
    "name",
    [
        "core-67-SOAP-ENV_Envelope.xml",
        "core-69-SOAP-ENV_Envelope.xml",
        "core-70-SOAP-ENV_Envelope.xml",
        "core-71-SOAP-ENV_Envelope.xml",
        "core-73-SOAP-ENV_Envelope.xml",
        "core-74-SOAP-ENV_Envelope.xml",
    ],
)
def test_soap_requests_and_responses_without_events(name: str) -> None:
    field, reason = refusal((EXAMPLES / name).read_bytes())
    assert (field, reason) == (
        "body",
        "no wsnt:NotificationMessage in this <Envelope>: it carries no ONVIF event",
    )


@pytest.mark.parametrize("name", NOT_WELL_FORMED)
def test_illustrative_examples_are_not_well_formed(name: str) -> None:
    field, reason = refusal((EXAMPLES / name).read_bytes())
    assert field == "body"
    assert reason.startswith("not well-formed XML")


@pytest.mark.parametrize("name", FRAGMENTS)
def test_fragments_need_their_namespaces_and_then_are_not_events(name: str) -> None:
    field, reason = refusal((EXAMPLES / name).read_bytes())
    assert (field, reason.startswith("not well-formed XML")) == ("body", True)
    notification = "NotificationMessage" in name
    with_namespaces = wrapped(name)
    if notification:
        if "PTZ" in (EXAMPLES / name).read_text(encoding="utf-8"):
            # core-46: UtcTime="..." as printed
            assert refusal(with_namespaces)[0] == "NotificationMessage.Message.UtcTime"
        else:
            assert refusal(with_namespaces) == (
                "NotificationMessage.Message.UtcTime",
                "not an xs:dateTime: '...'",
            )
    else:
        field, reason = refusal(with_namespaces)
        assert field == "body"
        assert "no wsnt:NotificationMessage" in reason


@pytest.mark.parametrize("name", NOT_JSON)
def test_published_onvif_ej_payloads_that_are_not_json(name: str) -> None:
    origin = "MyDevice/onvif-ej/RuleEngine/LineDetector/Crossed/&1/2/MyImportantFence2"
    field, reason = refusal((EXAMPLES / name).read_bytes(), origin=origin)
    assert field == "body"
    assert reason.startswith("not JSON")


@pytest.mark.parametrize(
    "name",
    [
        "analytics-28-metadata-json.json",
        "analytics-30-metadata-json.json",
        "analytics-32-metadata-json.json",
        "analytics-34-metadata-json.json",
    ],
)
def test_metadata_json_is_not_an_event(name: str) -> None:
    raw = (EXAMPLES / name).read_bytes()
    assert refusal(raw)[0] == "origin"  # not published on an onvif-ej event topic
    field, _ = refusal(raw, origin="MyDevice/onvif-ej/RuleEngine/LineDetector/Crossed")
    assert field == "UtcTime"


def test_onvif_ej_without_its_topic_is_refused() -> None:
    raw = (EXAMPLES / "core-77-onvif-ej-payload.json").read_bytes()
    field, reason = refusal(raw, origin="core-77-onvif-ej-payload.json")
    assert field == "origin"
    assert "X-Safecity-Origin" in reason


# --- property events, from the printed fragments with a real time ------------------------------


def timed(name: str) -> bytes:
    return wrapped(name).replace(b'UtcTime="..."', b'UtcTime="2026-11-21T11:58:00Z"')


def test_field_detector_property_lifecycle() -> None:
    initialized = run(timed("core-47-wsnt_NotificationMessage.xml"))  # IsInside false
    assert initialized.events == []
    assert initialized.notes == [
        "RuleEngine/FieldDetector/ObjectsInside: state off or deleted, no event"
    ]
    [inside] = run(timed("core-48-wsnt_NotificationMessage.xml")).events  # Changed to true
    body = inside.to_json_dict()
    assert body["type"] == "camera.abnormal"
    assert body["data"]["behaviour"] == "intrusion"
    assert body["data"]["zone"] == "myImportantField"
    assert body["subject"] == "gate-cam-1"
    assert body["id"].endswith("#ObjectId=5;Changed")
    assert run(timed("core-49-wsnt_NotificationMessage.xml")).events == []  # Deleted


def test_unknown_topics_pass_through_with_a_note() -> None:
    mapped = run(timed("core-46-wsnt_NotificationMessage.xml"))
    assert mapped.events == []
    assert mapped.notes == [
        "ONVIF topic PTZController/PTZPreset/Reached has no mapping; passed over"
    ]


def notification(
    topic_: str,
    data: str,
    source: str = '<tt:SimpleItem Name="VideoSourceConfigurationToken" Value="1"/><tt:SimpleItem Name="Rule" Value="Gate"/>',
    operation: str = "Changed",
) -> bytes:
    return WRAP.format(
        f"<wsnt:NotificationMessage><wsnt:Topic>{topic_}</wsnt:Topic><wsnt:Message>"
        f'<tt:Message UtcTime="2026-11-21T11:58:00Z" PropertyOperation="{operation}">'
        f"<tt:Source>{source}</tt:Source><tt:Data>{data}</tt:Data></tt:Message>"
        "</wsnt:Message></wsnt:NotificationMessage>"
    ).encode()


@pytest.mark.parametrize(
    ("topic_", "data", "type_", "expected"),
    [
        (
            "tns1:RuleEngine/CellMotionDetector/Motion",
            '<tt:SimpleItem Name="IsMotion" Value="true"/>',
            "camera.motion",
            {"zone": "Gate"},
        ),
        (
            "tns1:VideoSource/MotionAlarm",
            '<tt:SimpleItem Name="State" Value="true"/>',
            "camera.motion",
            {"zone": "Gate"},
        ),
        (
            "tns1:RuleEngine/LoiteringDetector/ObjectIsLoitering",
            '<tt:SimpleItem Name="ObjectId" Value="7"/><tt:SimpleItem Name="Since" Value="2026-11-21T11:56:30Z"/>',
            "camera.loitering",
            {"dwell_s": 90.0, "object_class": "object"},
        ),
        (
            "tns1:RuleEngine/CountAggregation/OccupancyCounter",
            '<tt:SimpleItem Name="Count" Value="42"/>',
            "camera.crowd_density",
            {"persons": 42},
        ),
        (
            "tns1:VideoSource/GlobalSceneChange/AnalyticsService",
            '<tt:SimpleItem Name="State" Value="true"/>',
            "camera.abnormal",
            {"behaviour": "vandalism"},
        ),
    ],
)
def test_analytics_topics(topic_: str, data: str, type_: str, expected: dict[str, Any]) -> None:
    [event] = run(notification(topic_, data)).events
    assert event.type == type_
    body = event.to_json_dict()["data"]
    assert body["camera_id"] == "gate-cam-1"
    for key, value in expected.items():
        assert body[key] == value
    off = data.replace('"true"', '"false"')
    if off != data:
        assert run(notification(topic_, off)).events == []


def test_notify_with_a_vendor_topic_and_a_motion_alarm() -> None:
    body = notification("tns1:VideoSource/MotionAlarm", '<tt:SimpleItem Name="State" Value="1"/>')
    inner = body.decode().removeprefix(WRAP.split("{}", maxsplit=1)[0]).removesuffix("</wrapper>")
    vendor = inner.replace("tns1:VideoSource/MotionAlarm", "tnsaxis:CameraApplicationPlatform/X")
    notify = WRAP.format(f"<wsnt:Notify>{inner}{vendor}</wsnt:Notify>").encode()
    mapped = run(notify)
    assert [e.type for e in mapped.events] == ["camera.motion"]
    assert mapped.rejections == []
    assert mapped.notes == ["ONVIF topic CameraApplicationPlatform/X has no mapping; passed over"]


def test_occupancy_without_a_count_is_refused() -> None:
    raw = notification("tns1:RuleEngine/CountAggregation/OccupancyCounter", "")
    assert refusal(raw)[0] == "Data.Count"


def test_one_bad_notification_among_good_ones_is_rejected_alone() -> None:
    good = (EXAMPLES / "core-72-SOAP-ENV_Envelope.xml").read_text(encoding="utf-8")
    bad = good.replace('UtcTime="2008-10-10T12:24:57.789Z"', 'UtcTime="yesterday"')
    mapped = run(bad.encode())
    assert len(mapped.events) == 1
    [rejection] = mapped.rejections
    assert rejection.where == "NotificationMessage[1]"
    assert rejection.errors[0].field == "NotificationMessage[1].Message.UtcTime"
    assert b"MyImportantFence2" in rejection.raw


# --- hostile XML ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "http://198.51.100.7/x">]>'
        b"<wsnt:NotificationMessage xmlns:wsnt='http://docs.oasis-open.org/wsn/b-2'>&e;"
        b"</wsnt:NotificationMessage>",
        b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>',
        b'<!DOCTYPE x SYSTEM "http://198.51.100.7/evil.dtd"><x/>',
    ],
)
def test_dtds_and_entities_are_refused_without_network(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*_args: object) -> None:
        raise AssertionError("the mapping tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    field, reason = refusal(raw)
    assert field == "body"
    assert "DTD" in reason


# --- fuzz -----------------------------------------------------------------------------------

_SAMPLES = [
    (EXAMPLES / "core-72-SOAP-ENV_Envelope.xml").read_bytes(),
    (EXAMPLES / "core-77-onvif-ej-payload.json").read_bytes(),
    (EXAMPLES / "analytics-25-tt_MetadataStream.xml").read_bytes(),
]


def _mutate(base: bytes, at: int, cut: int, insert: bytes) -> bytes:
    at %= len(base)
    return base[:at] + insert + base[at + cut :]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=300)
    | st.builds(
        _mutate,
        st.sampled_from(_SAMPLES),
        st.integers(0, 5000),
        st.integers(0, 40),
        st.sampled_from(
            [b"", b"<", b">", b'"', b"&amp;", b"{", b"}", b"x", b"\x00", b"true", b"-1e999"]
        ),
    ),
    st.sampled_from(
        [
            None,
            "Cam/onvif-ej/RuleEngine/LineDetector/Crossed/&1",
            "Cam/onvif-ej/Device/Sensor/Temperature",
        ]
    ),
)
def test_fuzz_maps_or_refuses(raw: bytes, origin: str | None) -> None:
    errors: list[Any] = []
    try:
        mapped: Mapped | None = run(raw, origin=origin)
    except InvalidInput as exc:
        mapped, errors = None, exc.errors
    assert isinstance(mapped, Mapped) or errors


# --- end to end over HTTP -------------------------------------------------------------------


def test_over_http(api: Api, runtime: Runtime) -> None:
    h = {**api.h(Role.INTEGRATOR), "Content-Type": "application/soap+xml"}
    raw = (EXAMPLES / "core-72-SOAP-ENV_Envelope.xml").read_bytes()
    r = api.client.post("/v1/adapters/onvif/messages", content=raw, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["accepted"], r.json()["rejected"]) == (2, 0)
    assert (
        api.client.post("/v1/adapters/onvif/messages", content=raw, headers=h).json()["duplicates"]
        == 2
    )
    ej = {
        **api.h(Role.INTEGRATOR),
        "Content-Type": "application/json",
        "X-Safecity-Origin": topic("core-82-onvif-ej-mqtt-topic.txt"),
    }
    sensor = (EXAMPLES / "core-83-onvif-ej-payload.json").read_bytes()
    r = api.client.post("/v1/adapters/onvif/messages", content=sensor, headers=ej)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    events = api.client.get(
        "/v1/events", params={"type": "camera.line_crossing"}, headers=api.h(Role.OPERATOR)
    )
    assert events.status_code == 200, events.text
    lines = sorted(i["event"]["data"]["line"] for i in events.json()["items"])
    assert lines == ["MyImportantFence1", "MyImportantFence2"]
    empty = (EXAMPLES / "core-70-SOAP-ENV_Envelope.xml").read_bytes()
    bad = api.client.post("/v1/adapters/onvif/messages", content=empty, headers=h)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    letter = runtime.store.get_dead_letter(bad.json()["dead_letter_id"])
    assert letter is not None
    assert letter.raw == empty
