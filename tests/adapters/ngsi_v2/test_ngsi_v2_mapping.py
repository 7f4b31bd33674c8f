"""NGSI v2 inbound: Orion notifications, batch updates, entity bodies, Smart Data Models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.ngsi_v2.config import NgsiV2Config
from safecity.adapters.ngsi_v2.mapping import parse as parse_v2
from safecity.core.errors import InvalidInput
from safecity.core.identity import Role
from safecity.core.registry import SensorKind
from safecity.ingest.adapters import map_input
from safecity.runtime import Runtime
from support import INTEROP, Api

ORION = INTEROP / "ngsi-v2" / "orion-api-examples"
SDM = INTEROP / "ngsi-ld" / "smart-data-models"
RECEIVED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
#: Orion examples that carry entities (the rest are queries, subscription and registration
#: bodies, error responses and attribute-only bodies, which name no entity). All are of types
#: no Smart Data Model maps (Room; a subscription listing reads as a type-less "Thing").
ENTITY_FILES = {
    "002-simplified-entity-representation.json",
    "048-notification-messages.json",
    "049-notification-messages.json",
    "050-notification-messages.json",
    "051-notification-messages.json",
    "166-list-entities-get-v2-entities.json",
    "167-create-entity-post-v2-entities.json",
    "169-retrieve-entity-get-v2-entities-entityid.json",
    "200-list-subscriptions-get-v2-subscriptions.json",
    "205-list-registrations-get-v2-registrations.json",
    "208-update-post-v2-op-update.json",
    "216-query-post-v2-op-query.json",
    "217-notify-post-v2-op-notify.json",
}


def parse(
    raw: bytes | Path, origin: str | None = None, config: NgsiV2Config | None = None
) -> Mapped:
    data = raw.read_bytes() if isinstance(raw, Path) else raw
    return map_input(
        "ngsi_v2", data, MappingContext(received_at=RECEIVED, origin=origin, config=config)
    )


def outcome(raw: bytes | Path) -> Mapped | InvalidInput:
    try:
        return parse(raw)
    except InvalidInput as exc:
        return exc


def refusal(raw: bytes | Path, origin: str | None = None) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        parse(raw, origin)
    return [(e.field, e.reason) for e in caught.value.errors]


def test_normalized_notification_of_an_unknown_type_is_a_note() -> None:
    mapped = parse(ORION / "048-notification-messages.json")
    assert mapped.events == [] and mapped.rejections == []
    assert mapped.notes == ["entity 'Room1': type 'Room' is not mapped; ignored"]


def test_values_notification_is_refused_explaining_attrs_format() -> None:
    [(field, reason)] = refusal(ORION / "052-notification-messages.json")
    assert field == "data[0].body"
    assert "attrsFormat 'values'" in reason


@pytest.mark.parametrize("name", ["example.json", "example-normalized.json"])
def test_smart_data_model_noise_in_a_notification(name: str) -> None:
    entity = orjson.loads((SDM / "Environment/NoiseLevelObserved/examples" / name).read_bytes())
    mapped = parse(orjson.dumps({"subscriptionId": "5aeb0ee97d4ef10a12a0262f", "data": [entity]}))
    (event,) = mapped.events
    assert event.type == "noise.level"
    assert event.source == "urn:safecity:ngsi-v2"
    assert event.time == datetime(2016, 12, 28, 12, 0, tzinfo=UTC)
    assert event.location is not None
    assert (event.location.lon, event.location.lat) == (-2.698, 42.8491)
    assert event.to_json_dict()["data"]["laeq_db"] == 67.8


@pytest.mark.parametrize("name", ["example.json", "example-normalized.json"])
def test_smart_data_model_alert_body(name: str) -> None:
    (event,) = parse(SDM / "Alert/Alert/examples" / name).events
    assert event.type == "alert.issued"
    assert event.time == datetime(2017, 1, 2, 9, 25, 55, tzinfo=UTC)
    data = event.to_json_dict()["data"]
    assert (data["format"], data["event"], data["identifier"]) == (
        "ngsi-v2",
        "trafficJam",
        "Alert:1",
    )


@pytest.mark.parametrize(
    ("model", "name", "expected"),
    [
        ("Transportation/CrowdFlowObserved", "example-normalized.json", "crowd.count"),
        ("Streetlighting/Streetlight", "example-normalized.json", "lamp.light_level"),
        ("Streetlighting/Streetlight", "example.json", "lamp.light_level"),
    ],
)
def test_other_smart_data_models(model: str, name: str, expected: str) -> None:
    (event,) = parse(SDM / model / "examples" / name).events
    assert event.type == expected


def test_device_body_registers_a_sensor() -> None:
    (sensor,) = parse(SDM / "Device/Device/examples/example-normalized.json").sensors
    assert (sensor.id, sensor.kind, sensor.personal_data) == (
        "device-9845A",
        SensorKind.WASTE_CONTAINER,
        False,
    )


def test_time_instant_metadata_and_geo_point_are_understood() -> None:
    body = {
        "id": "bin-7",
        "type": "WasteContainer",
        "fillingLevel": {
            "type": "Number",
            "value": 0.85,
            "metadata": {"TimeInstant": {"type": "DateTime", "value": "2026-11-21T10:15:00Z"}},
        },
        "location": {"type": "geo:point", "value": "60.1699, 24.9384"},
    }
    mapped = parse(orjson.dumps({"actionType": "append", "entities": [body]}))
    (event,) = mapped.events
    assert event.type == "waste.fill_level"
    assert event.time == datetime(2026, 11, 21, 10, 15, tzinfo=UTC)
    assert event.id == "bin-7@2026-11-21T10:15:00Z"
    assert event.to_json_dict()["data"] == {"container_id": "bin-7", "fill_pct": 85.0}
    assert event.location is not None
    assert (event.location.lat, event.location.lon) == (60.1699, 24.9384)


def test_attribute_only_body_takes_its_entity_from_the_path() -> None:
    body = orjson.dumps(
        {
            "LAeq": {"type": "Number", "value": 58.0},
            "dateObserved": {"type": "DateTime", "value": "2026-11-21T11:00:00Z"},
        }
    )
    (event,) = parse(body, origin="/v2/entities/noise-3/attrs?type=NoiseLevelObserved").events
    assert (event.type, event.subject) == ("noise.level", "noise-3")
    assert refusal(body) == [("entity.id", "required: the entity id")]


def test_malformed_entity_in_a_batch_is_rejected_alone() -> None:
    batch = {
        "actionType": "append",
        "entities": [
            {
                "id": "n1",
                "type": "NoiseLevelObserved",
                "LAeq": 60,
                "dateObserved": "2026-11-21T11:00:00Z",
            },
            {"id": "n2", "type": "NoiseLevelObserved", "LAeq": {"type": "Number", "value": "x"}},
        ],
    }
    mapped = parse(orjson.dumps(batch))
    assert [e.subject for e in mapped.events] == ["n1"]
    assert [(r.where, r.errors[0].field) for r in mapped.rejections] == [
        ("entities[1]", "entities[1].LAeq")
    ]


def test_every_orion_example_maps_or_is_refused_with_named_fields() -> None:
    for path in sorted(ORION.glob("*.json*")):
        mapped = outcome(path)
        if isinstance(mapped, InvalidInput):
            assert path.name not in ENTITY_FILES, (path, mapped)
            assert mapped.errors and all(e.field and e.reason for e in mapped.errors)
            if path.suffix == ".jsonc":  # documentation blocks with elisions
                assert mapped.errors[0].field == "body"
            continue
        assert path.name in ENTITY_FILES, path
        assert mapped.notes or mapped.events, path
    assert refusal(ORION / "215-query-post-v2-op-query.json") == [
        ("entities", "a query (POST /v2/op/query) carries no entity data")
    ]


def test_delete_batch_is_refused() -> None:
    body = orjson.dumps({"actionType": "delete", "entities": [{"id": "a", "type": "T"}]})
    assert refusal(body) == [("actionType", "a delete carries no observation to map")]


def test_notification_over_http(api: Api, runtime: Runtime) -> None:
    entity = orjson.loads(
        (SDM / "Transportation/CrowdFlowObserved/examples/example.json").read_bytes()
    )
    r = api.client.post(
        "/v1/adapters/ngsi_v2/messages",
        json={"subscriptionId": "sub-1", "data": [entity]},
        headers=api.h(Role.INTEGRATOR),
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    items = api.client.get("/v1/events?type=crowd.count", headers=api.h()).json()["items"]
    assert [i["event"]["data"]["count"] for i in items] == [100]
    bad = api.client.post(
        "/v1/adapters/ngsi_v2/messages",
        content=(ORION / "052-notification-messages.json").read_bytes(),
        headers=api.h(Role.INTEGRATOR),
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert runtime.store.get_dead_letter(bad.json()["dead_letter_id"]) is not None


CONTEXT = MappingContext(received_at=RECEIVED)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=25,
)
entityish = st.fixed_dictionaries(
    {
        "id": st.text(max_size=10),
        "type": st.sampled_from(
            ["Alert", "NoiseLevelObserved", "WasteContainer", "Streetlight", "Device", "X"]
        ),
    },
    optional=dict.fromkeys(
        ["LAeq", "location", "dateIssued", "fillingLevel", "status", "powerState", "TimeInstant"],
        json_values,
    ),
)
FAST = settings(
    max_examples=150, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow]
)


def _check(raw: bytes) -> None:
    try:
        result: Mapped | InvalidInput = parse_v2(raw, CONTEXT)
    except InvalidInput as exc:
        result = exc
    assert isinstance(result, Mapped) or result.errors


@FAST
@given(st.binary(max_size=200) | json_values.map(orjson.dumps))
def test_fuzz_arbitrary_input(raw: bytes) -> None:
    _check(raw)


@FAST
@given(st.lists(entityish, min_size=1, max_size=3), st.booleans())
def test_fuzz_entities_and_notifications(entities: list[object], wrap: bool) -> None:
    _check(orjson.dumps({"subscriptionId": "s", "data": entities} if wrap else entities))
