"""Frigate NVR messages: every vector mapped or refused, privacy kept, fuzzed, over HTTP."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.frigate.config import FrigateConfig
from safecity.adapters.frigate.mapping import parse
from safecity.core.errors import InvalidInput
from safecity.core.identity import Role
from safecity.runtime import Runtime
from support import INTEROP, Api, settle

FRIGATE = INTEROP / "frigate"
RECEIVED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CONFIG = FrigateConfig(
    server="nvr-1",
    cameras={
        "front_door": {"lon": 24.9384, "lat": 60.1699, "accuracy_m": 15},
        "front_cam": {"lon": 24.95, "lat": 60.17},
    },
    speed_unit="kmh",
)
#: Identities in the vectors that must never leave the mapping.
IDENTITIES = ("John", "Smith", "ABC12345", "123ABC", "Bob", "delivery_person", "red sedan")


def run(raw: bytes, *, origin: str | None = None, config: FrigateConfig = CONFIG) -> Mapped:
    return parse(raw, MappingContext(received_at=RECEIVED, config=config, origin=origin))


def vector(name: str) -> bytes:
    return (FRIGATE / name).read_bytes()


def doc(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(vector(name))
    return loaded


def dumped(mapped: Mapped) -> str:
    return json.dumps([e.to_json_dict() for e in mapped.events]) + json.dumps(mapped.notes)


# --- every valid vector ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "mqtt/00-frigate-events.json",
        "mqtt-legacy/v0.10.0-frigate-events.json",
        "mqtt-legacy/v0.12.0-frigate-events.json",
        "mqtt-legacy/v0.14.0-frigate-events.json",
    ],
)
def test_tracked_object_update_in_every_version(name: str) -> None:
    mapped = run(vector(name), origin="frigate/events")
    assert mapped.rejections == []
    [event] = mapped.events
    body = event.to_json_dict()
    # A person moving in zones it had already entered: motion in its current zone.
    assert body["type"] == "camera.motion"
    assert body["id"] == "1607123955.475377-mxklsc:update:1607123962.082975"
    assert body["source"] == "frigate/nvr-1/front_door"
    assert body["time"] == "2020-12-04T23:19:22.082975Z"
    assert body["location"] == {"lon": 24.9384, "lat": 60.1699, "accuracy_m": 15.0}
    assert body["data"] == {"camera_id": "front_door", "zone": "yard"}
    assert body["confidence"] == pytest.approx(0.87890625)
    for identity in IDENTITIES:
        assert identity not in dumped(mapped)


def test_identities_in_the_current_format_are_dropped_with_a_note() -> None:
    mapped = run(vector("mqtt/00-frigate-events.json"))
    assert any("sub_label dropped" in n for n in mapped.notes)
    assert any("plate" in n for n in mapped.notes)
    assert "ABC12345" not in dumped(mapped)
    assert "John Smith" not in dumped(mapped)


def test_legacy_versions_without_identities_have_no_notes() -> None:
    assert run(vector("mqtt-legacy/v0.10.0-frigate-events.json")).notes == []
    assert run(vector("mqtt-legacy/v0.12.0-frigate-events.json")).notes == []
    # v0.14 documents sub_label as [name, score]
    assert run(vector("mqtt-legacy/v0.14.0-frigate-events.json")).notes


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("mqtt/01-generative-ai-description-update.json", "description"),
        ("mqtt/02-face-recognition-update.json", "face"),
        ("mqtt/03-license-plate-recognition-update.json", "lpr"),
        ("mqtt/04-object-classification-update.json", "classification"),
        ("mqtt/05-object-classification-update-2.json", "classification"),
    ],
)
def test_enrichments_are_dropped_by_design(name: str, kind: str) -> None:
    for origin in ("frigate/tracked_object_update", None):
        mapped = run(vector(name), origin=origin)
        assert mapped.events == []
        assert mapped.rejections == []
        [note] = mapped.notes
        assert f"type {kind!r} dropped" in note
        for identity in IDENTITIES:
            assert identity not in dumped(mapped)


def test_review_becomes_one_camera_event_without_sub_labels() -> None:
    mapped = run(vector("mqtt/06-frigate-reviews.json"), origin="frigate/reviews")
    [event] = mapped.events
    body = event.to_json_dict()
    assert body["type"] == "camera.motion"
    assert body["id"] == "review:1718987129.308396-fqk5ka:update:alert:3"
    assert body["source"] == "frigate/nvr-1/front_cam"
    assert body["time"] == "2024-06-21T16:25:29.308396Z"
    assert body["severity"] == "minor"
    assert body["location"] == {"lon": 24.95, "lat": 60.17}
    assert body["data"] == {"camera_id": "front_cam", "zone": "front_yard"}
    assert "Bob" not in dumped(mapped)
    assert any("sub_labels dropped" in n for n in mapped.notes)


def test_review_with_fire_ends_as_fire_smoke() -> None:
    message = doc("mqtt/06-frigate-reviews.json")
    message["type"] = "end"
    message["after"]["end_time"] = 1718987160.0
    message["after"]["data"]["objects"] = ["person", "smoke"]
    [event] = run(json.dumps(message).encode(), origin="frigate/reviews").events
    body = event.to_json_dict()
    assert body["type"] == "camera.fire_smoke"
    assert body["id"] == "review:1718987129.308396-fqk5ka:end"
    assert body["time"] == "2024-06-21T16:26:00Z"
    assert body["data"] == {"camera_id": "front_cam", "zone": "front_yard", "kind": "smoke"}


def test_reviews_can_be_switched_off() -> None:
    off = CONFIG.model_copy(update={"reviews": False})
    mapped = run(vector("mqtt/06-frigate-reviews.json"), config=off)
    assert mapped.events == []
    assert any("not mapped" in n for n in mapped.notes)


def test_trigger_is_noted_only() -> None:
    mapped = run(vector("mqtt/07-frigate-triggers.json"), origin="frigate/triggers")
    assert mapped.events == []
    assert mapped.notes == [
        "Frigate trigger (semantic search match) noted: it has no time or analytics"
    ]


# --- every broken vector --------------------------------------------------------------------

JSONC = sorted(p.relative_to(FRIGATE).as_posix() for p in FRIGATE.glob("mqtt*/*.jsonc"))


def test_every_vector_is_covered() -> None:
    files = sorted(p.relative_to(FRIGATE).as_posix() for p in FRIGATE.rglob("*.json*"))
    assert len(JSONC) == 11
    assert len(files) == 22  # 11 JSON, each beside its JSONC original


@pytest.mark.parametrize("name", JSONC)
def test_documentation_jsonc_is_refused_where_it_has_comments(name: str) -> None:
    raw = vector(name)
    if b"//" not in raw:
        # Published without annotations: the same message as its .json sibling.
        sibling = run(vector(name.removesuffix("c")))
        same = run(raw)
        assert (same.events, same.notes) == (sibling.events, sibling.notes)
        return
    with pytest.raises(InvalidInput) as refused:
        run(raw)
    [error] = refused.value.errors
    assert error.field == "body"
    assert error.reason.startswith("not JSON")


def test_openapi_document_is_not_a_message() -> None:
    with pytest.raises(InvalidInput) as refused:
        run(vector("api/frigate-api.yaml"))
    assert refused.value.errors[0].field == "body"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(type="created"), "type"),
        (lambda d: d["after"].pop("camera"), "after.camera"),
        (lambda d: d["after"].update(start_time="yesterday"), "after.start_time"),
        (lambda d: d["after"].update(start_time=1e12), "after.start_time"),
        (lambda d: d["after"].update(label=""), "after.label"),
        (lambda d: d.update(after=[1]), "after"),
    ],
)
def test_broken_events_name_the_field(change: Any, field: str) -> None:
    message = doc("mqtt/00-frigate-events.json")
    change(message)
    with pytest.raises(InvalidInput) as refused:
        run(orjson.dumps(message), origin="frigate/events")
    assert refused.value.errors[0].field == field


@pytest.mark.parametrize(
    ("topic", "raw"),
    [
        ("frigate/front_door/person", b"1"),
        ("frigate/front_door/motion", b"ON"),
        ("frigate/available", b"online"),
        ("frigate/stats", b"{}"),
    ],
)
def test_other_frigate_topics_are_noted_not_dead_lettered(topic: str, raw: bytes) -> None:
    mapped = run(raw, origin=topic)
    assert mapped.events == []
    assert mapped.notes == [f"Frigate topic {topic} carries no event; not mapped"]


def test_not_a_frigate_message() -> None:
    with pytest.raises(InvalidInput) as refused:
        run(b'{"hello": "world"}')
    assert "not a Frigate message" in refused.value.errors[0].reason
    with pytest.raises(InvalidInput):
        run(b"[1, 2]")


# --- the analytics the lifecycle carries ------------------------------------------------------


def event_message(**after: Any) -> dict[str, Any]:
    message = doc("mqtt/00-frigate-events.json")
    message["after"].update(after)
    return message


def test_new_object_crosses_into_every_zone_it_entered() -> None:
    message = event_message()
    message["type"] = "new"
    mapped = run(orjson.dumps(message))
    assert [e.type for e in mapped.events] == ["camera.line_crossing"] * 2
    first = mapped.events[0].to_json_dict()
    assert first["id"] == "1607123955.475377-mxklsc:new:yard"
    assert first["time"] == "2020-12-04T23:19:15.475377Z"  # start_time
    assert first["data"] == {
        "camera_id": "front_door",
        "zone": "yard",
        "line": "yard",
        "direction": "in",
        "object_class": "person",
    }


def test_update_entering_a_new_zone_is_a_crossing() -> None:
    message = event_message(entered_zones=["yard", "driveway", "street"])
    [event] = run(orjson.dumps(message)).events
    assert event.type == "camera.line_crossing"
    assert event.to_json_dict()["data"]["line"] == "street"


def test_stationary_person_is_loitering_with_dwell_time() -> None:
    message = event_message(stationary=True)
    [event] = run(orjson.dumps(message)).events
    body = event.to_json_dict()
    assert body["type"] == "camera.loitering"
    assert body["data"]["dwell_s"] == pytest.approx(6.608, abs=0.001)
    assert body["data"]["object_class"] == "person"


def test_car_is_a_vehicle_with_speed_and_never_a_plate() -> None:
    message = event_message(label="car", stationary=True)
    mapped = run(orjson.dumps(message))
    [event] = mapped.events
    body = event.to_json_dict()
    assert body["type"] == "camera.vehicle"
    assert body["data"] == {
        "camera_id": "front_door",
        "zone": "yard",
        "vehicle_class": "car",
        "speed_kmh": 14.31,
        "wrong_way": False,
        "stopped": True,
    }
    assert "ABC12345" not in dumped(mapped)
    mph = run(orjson.dumps(message), config=CONFIG.model_copy(update={"speed_unit": "mph"}))
    assert mph.events[0].to_json_dict()["data"]["speed_kmh"] == pytest.approx(23.03, abs=0.01)


@pytest.mark.parametrize("label", ["fire", "smoke"])
def test_fire_and_smoke_labels(label: str) -> None:
    message = event_message(label=label)
    message["type"] = "end"
    message["after"]["end_time"] = 1607123970.5
    [event] = run(orjson.dumps(message)).events
    body = event.to_json_dict()
    assert body["type"] == "camera.fire_smoke"
    assert body["id"] == "1607123955.475377-mxklsc:end"
    assert body["time"] == "2020-12-04T23:19:30.500000Z"
    assert body["data"]["kind"] == label


def test_false_positives_and_low_scores_are_not_events() -> None:
    assert run(orjson.dumps(event_message(false_positive=True))).events == []
    strict = CONFIG.model_copy(update={"min_score": 0.9})
    mapped = run(vector("mqtt/00-frigate-events.json"), config=strict)
    assert mapped.events == []
    assert any("min_score" in n for n in mapped.notes)


def test_unknown_camera_has_no_location() -> None:
    [event] = run(vector("mqtt/00-frigate-events.json"), config=FrigateConfig()).events
    assert event.location is None
    assert event.source == "frigate/frigate/front_door"


def test_same_message_same_id() -> None:
    raw = vector("mqtt/00-frigate-events.json")
    assert run(raw).events[0].key == run(raw).events[0].key


# --- fuzz -----------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_KEYS = [
    "type",
    "label",
    "camera",
    "id",
    "start_time",
    "frame_time",
    "end_time",
    "stationary",
    "entered_zones",
    "current_zones",
    "score",
    "average_estimated_speed",
    "false_positive",
]


def _mutated(base: dict[str, Any], key: str, value: Any, where: str) -> bytes:
    message = copy.deepcopy(base)
    target = message if where == "top" else message[where]
    target[key] = value
    return json.dumps(message).encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=300)
    | _json.map(lambda v: json.dumps(v).encode())
    | st.builds(
        _mutated,
        st.sampled_from([doc("mqtt/00-frigate-events.json"), doc("mqtt/06-frigate-reviews.json")]),
        st.sampled_from(_KEYS),
        _json,
        st.sampled_from(["top", "after"]),
    ),
    st.sampled_from([None, "frigate/events", "frigate/reviews", "frigate/triggers"]),
)
def test_fuzz_maps_or_refuses(raw: bytes, origin: str | None) -> None:
    errors: list[Any] = []
    try:
        mapped: Mapped | None = run(raw, origin=origin)
    except InvalidInput as exc:
        mapped, errors = None, exc.errors
    assert isinstance(mapped, Mapped) or errors


# --- end to end over HTTP -------------------------------------------------------------------


def test_over_http_events_are_stored_fire_opens_an_incident_and_refusals_dead_letter(
    api: Api, runtime: Runtime
) -> None:
    h = {
        **api.h(Role.INTEGRATOR),
        "Content-Type": "application/json",
        "X-Safecity-Origin": "frigate/events",
    }
    raw = vector("mqtt/00-frigate-events.json")
    r = api.client.post("/v1/adapters/frigate/messages", content=raw, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (1, 0)
    assert any("plate" in n for n in body["notes"])
    again = api.client.post("/v1/adapters/frigate/messages", content=raw, headers=h)
    assert again.json()["duplicates"] == 1

    fire = event_message(label="fire")
    fire["type"] = "new"
    fire["after"]["start_time"] = fire["after"]["frame_time"] = datetime(
        2026, 11, 21, 11, 59, tzinfo=UTC
    ).timestamp()
    r = api.client.post("/v1/adapters/frigate/messages", content=orjson.dumps(fire), headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    settle(api, runtime)
    events = api.client.get(
        "/v1/events", params={"type": "camera.fire_smoke"}, headers=api.h(Role.OPERATOR)
    )
    assert events.status_code == 200, events.text
    [stored] = events.json()["items"]
    assert stored["event"]["data"] == {"camera_id": "front_door", "zone": "yard", "kind": "fire"}
    assert stored["incident_id"]
    incidents = api.client.get("/v1/incidents", headers=api.h(Role.OPERATOR))
    assert incidents.status_code == 200, incidents.text
    assert any(i["type"] == "fire" for i in incidents.json()["items"])

    broken = vector("mqtt/00-frigate-events.jsonc")
    bad = api.client.post("/v1/adapters/frigate/messages", content=broken, headers=h)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    problem = bad.json()
    letter = runtime.store.get_dead_letter(problem["dead_letter_id"])
    assert letter is not None
    assert letter.raw == broken
