"""The mqtt adapter's own mapping: plain JSON telemetry, mapped by topic filter."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.mqtt.config import MqttConfig, Subscription
from safecity.adapters.mqtt.mapping import parse, topic_matches
from safecity.core.errors import InvalidInput

RECEIVED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CONFIG = MqttConfig(
    source="mqtt/city-broker",
    mappings=[
        {
            "topic": "city/+/noise/#",
            "event_type": "noise.level",
            "time": "$.ts",
            "id": "$.seq",
            "data": {"sensor_id": "topic[3]", "laeq_db": "$.level", "lamax_db": "$.peaks[0]"},
            "location": {"lon": "$.pos.lon", "lat": "$.pos.lat"},
        },
        {
            "topic": "bins/+/fill",
            "event_type": "waste.fill_level",
            "data": {"container_id": "topic[1]", "fill_pct": "$.fill"},
            "severity": "minor",
        },
    ],
)
NOISE = {
    "ts": "2026-11-21T11:59:00Z",
    "seq": 4711,
    "level": 71.5,
    "peaks": [88.0, 80.1],
    "pos": {"lon": 24.95, "lat": 60.17},
}


def run(raw: bytes, topic: str | None, config: MqttConfig = CONFIG) -> Mapped:
    return parse(raw, MappingContext(received_at=RECEIVED, config=config, origin=topic))


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("city/+/noise/#", "city/kallio/noise/s1", True),
        ("city/+/noise/#", "city/kallio/noise", True),  # '#' also matches the parent level
        ("city/+/noise/#", "city/kallio/air/s1", False),
        ("city/+", "city/a/b", False),
        ("city/+", "city/", True),
        ("#", "anything/at/all", True),
        ("#", "$SYS/broker/uptime", False),
        ("+/x", "$SYS/x", False),
        ("$SYS/#", "$SYS/broker/uptime", True),
        ("a/b", "a/b", True),
        ("a/b", "a/b/c", False),
    ],
)
def test_topic_filters(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected


def test_noise_telemetry_becomes_a_noise_level_event() -> None:
    [event] = run(json.dumps(NOISE).encode(), "city/kallio/noise/station-12").events
    assert event.to_json_dict() == {
        "specversion": "1.0",
        "id": "4711",
        "source": "mqtt/city-broker/city/kallio/noise/station-12",
        "type": "noise.level",
        "time": "2026-11-21T11:59:00Z",
        "datacontenttype": "application/json",
        "location": {"lon": 24.95, "lat": 60.17},
        "severity": "unknown",
        "confidence": 1.0,
        "context": {},
        "data": {
            "sensor_id": "station-12",
            "laeq_db": 71.5,
            "lamax_db": 88.0,
            "window_s": 60.0,
        },
    }


def test_defaults_time_received_and_a_digest_id() -> None:
    raw = b'{"fill": 93}'
    [event] = run(raw, "bins/HKI-0042/fill").events
    assert event.time == RECEIVED
    assert event.id.startswith("mqtt-")
    assert event.severity == "minor"
    assert event.data.model_dump() == {
        "container_id": "HKI-0042",
        "fill_pct": 93.0,
        "temperature_c": None,
    }
    assert run(raw, "bins/HKI-0042/fill").events[0].id == event.id  # idempotent re-send
    assert run(b'{"fill": 94}', "bins/HKI-0042/fill").events[0].id != event.id
    assert run(raw, "bins/HKI-0043/fill").events[0].id != event.id


def test_epoch_times() -> None:
    message = {**NOISE, "ts": 1795262340}
    [event] = run(json.dumps(message).encode(), "city/a/noise/s").events
    assert event.time == datetime(2026, 11, 21, 11, 59, tzinfo=UTC)
    with pytest.raises(InvalidInput) as refused:
        run(json.dumps({**NOISE, "ts": 1e15}).encode(), "city/a/noise/s")
    assert refused.value.errors[0].field == "time"


def test_every_fault_is_named() -> None:
    message: dict[str, Any] = {"ts": "yesterday", "seq": 1, "level": 500}
    with pytest.raises(InvalidInput) as refused:
        run(json.dumps(message).encode(), "city/a/noise/s")
    fields = {e.field for e in refused.value.errors}
    assert fields == {"data.lamax_db", "location.lon", "location.lat"}  # missing paths first
    message = {**NOISE, "ts": "yesterday", "level": 500}
    with pytest.raises(InvalidInput) as refused:
        run(json.dumps(message).encode(), "city/a/noise/s")
    assert {e.field for e in refused.value.errors} == {"time", "data.laeq_db"}


def test_unmapped_topics_and_bad_json_are_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        run(b"{}", "elsewhere/x")
    assert refused.value.errors[0].field == "topic"
    assert "elsewhere/x" in refused.value.errors[0].reason
    with pytest.raises(InvalidInput) as refused:
        run(b"{}", None)
    assert "X-Safecity-Origin" in refused.value.errors[0].reason
    with pytest.raises(InvalidInput) as refused:
        run(b"{nope", "bins/1/fill")
    assert refused.value.errors[0].field == "body"
    with pytest.raises(InvalidInput) as refused:
        run(b"{}", "city/a")  # topic[3] of a shorter topic: no mapping matches anyway
    assert refused.value.errors[0].field == "topic"


@pytest.mark.parametrize("bad", ["a/#/b", "a/b#", "a+/b", ""])
def test_bad_topic_filters_are_refused_in_settings(bad: str) -> None:
    with pytest.raises(ValidationError):
        Subscription(topic=bad)


def test_settings_validation() -> None:
    with pytest.raises(ValidationError):
        MqttConfig(reconnect_min_s=10, reconnect_max_s=1)
    with pytest.raises(ValidationError):
        MqttConfig.model_validate({"tls": {"cert_file": "/x.pem"}})
    config = MqttConfig.model_validate({"password": "s3cret", "username": "u"})
    assert "s3cret" not in repr(config)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=200)
    | st.dictionaries(
        st.sampled_from(["ts", "seq", "level", "peaks", "pos", "fill"]),
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=30)
        | st.lists(st.floats(), max_size=2)
        | st.dictionaries(st.sampled_from(["lon", "lat"]), st.floats() | st.text(max_size=5)),
    ).map(lambda d: json.dumps(d).encode()),
    st.sampled_from(["city/a/noise/s", "bins/x/fill", "city/a/noise", "other", ""]),
)
def test_fuzz_maps_or_refuses(raw: bytes, topic: str) -> None:
    errors: list[Any] = []
    try:
        mapped: Mapped | None = run(raw, topic)
    except InvalidInput as exc:
        mapped, errors = None, exc.errors
    assert isinstance(mapped, Mapped) or errors
