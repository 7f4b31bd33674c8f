"""OGC SensorThings inbound: Observations (inline, referenced, by path or MQTT topic, dataArray),
Things and Datastreams to the register, the ETS and FROST-Server vectors, fuzzing, HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.sensorthings.config import PropertyRule, SensorThingsConfig
from safecity.adapters.sensorthings.mapping import parse as parse_sta
from safecity.core.errors import InvalidInput
from safecity.core.identity import Role
from safecity.core.registry import SensorKind
from safecity.ingest.adapters import map_input
from safecity.runtime import Runtime
from support import INTEROP, Api

ROOT = INTEROP / "sensorthings"
ETS = ROOT / "ets-sta10"
FROST = ROOT / "frost-server"
RECEIVED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
_PLACEHOLDER = re.compile(rb"\$[A-Z][A-Z_-]*")


def filled(path: Path) -> bytes:
    """The ETS substitutes ids created earlier in its run; SOURCE.md says to do the same."""
    return _PLACEHOLDER.sub(b"1", path.read_bytes())


def parse(
    raw: bytes | Path, origin: str | None = None, config: SensorThingsConfig | None = None
) -> Mapped:
    data = filled(raw) if isinstance(raw, Path) else raw
    return map_input(
        "sensorthings", data, MappingContext(received_at=RECEIVED, origin=origin, config=config)
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


# --- observations -----------------------------------------------------------------------------


def test_observation_with_referenced_datastream() -> None:
    (event,) = parse(ETS / "observations" / "linkedDataStream.json").events
    assert event.type == "sensor.observation"
    assert event.time == datetime(2015, 3, 1, tzinfo=UTC)
    assert event.id == "Datastreams(1)@2015-03-01T00:00:00Z"
    assert event.source == "urn:safecity:sensorthings"
    assert event.to_json_dict()["data"] == {
        "datastream_id": "1",
        "observed_property": "unspecified",
        "result": 55.0,
        "phenomenon_time": "2015-03-01T00:00:00Z",
    }


def test_observation_keeps_quality_and_takes_the_interval_end_as_its_time() -> None:
    (event,) = parse(ETS / "observations" / "intervalPhenomenonTime.json").events
    assert event.time == datetime(2015, 3, 1, 23, 59, 59, tzinfo=UTC)
    data = event.to_json_dict()["data"]
    assert (data["phenomenon_time"], data["result"], data["result_quality"]) == (
        "2015-03-01T00:00:00Z",
        92122,
        "High",
    )


def test_observation_located_by_its_inline_feature_of_interest() -> None:
    (event,) = parse(ETS / "observations" / "embeddedFeatureOfInterestValid.json").events
    assert event.location is not None
    assert (event.location.lon, event.location.lat) == (-114.05, 51.05)


@pytest.mark.parametrize(
    "origin",
    [
        "v1.1/Datastreams(7)/Observations",  # MQTT topic
        "/FROST-Server/v1.1/Datastreams(7)/Observations",  # HTTP path
        "v1.0/Datastreams('7')/Observations",
    ],
)
def test_datastream_from_the_topic_or_path(origin: str) -> None:
    (event,) = parse(ETS / "observations" / "observation.json", origin=origin).events
    assert event.to_json_dict()["data"]["datastream_id"] == "7"
    assert event.id.startswith("Datastreams(7)@")


@pytest.mark.parametrize(
    "name", ["1.json", "2.json", "observation.json", "observationWithoutPTime.json"]
)
def test_observation_without_any_datastream_is_refused(name: str) -> None:
    [(field, reason)] = refusal(ETS / "observations" / name)
    assert field == "body.Datastream"
    assert reason.startswith("required: inline")


def test_observation_without_phenomenon_time_uses_result_time() -> None:
    (event,) = parse(
        ETS / "observations" / "observationWithoutPTime.json", "v1.1/Datastreams(3)/Observations"
    ).events
    assert event.time == datetime(2015, 3, 1, 0, 0, 10, tzinfo=UTC)
    assert "phenomenon_time" not in event.to_json_dict()["data"]


def test_observation_without_any_time_gets_the_receipt_time_and_a_content_id() -> None:
    path = FROST / "docs-examples" / "1_CreatingEntities__09_observations.json"
    (event,) = parse(path).events
    assert event.time == RECEIVED
    assert event.id.startswith("Datastreams(999)#")
    assert parse(path).events[0].id == event.id  # stable on re-send


def test_data_array_with_the_malformed_ets_timestamp_is_refused_row_by_row() -> None:
    errors = refusal(ETS / "observations" / "dataArray.json")
    assert [f for f, _ in errors] == [
        "[0].dataArray[0].phenomenonTime",
        "[0].dataArray[1].phenomenonTime",
    ]
    assert "'2010-12-23T10:20:00-0700Z' is not an ISO 8601 time" in errors[0][1]


def test_data_array_batch_maps_every_row() -> None:
    batch = [
        {
            "Datastream": {"@iot.id": 12},
            "components": ["id", "phenomenonTime", "result", "FeatureOfInterest/id"],
            "dataArrayCount": 3,
            "dataArray": [
                [101, "2026-11-21T10:00:00Z", 20.5, 1],
                [102, "2026-11-21T10:01:00Z", 20.7, 1],
                [103, "2026-11-21T10:02:00Z"],
            ],
        }
    ]
    mapped = parse(orjson.dumps(batch))
    assert [e.id for e in mapped.events] == [
        "Datastreams(12)/Observations(101)",
        "Datastreams(12)/Observations(102)",
    ]
    assert [r.errors[0].field for r in mapped.rejections] == ["[0].dataArray[2]"]


def test_inline_datastream_gives_unit_and_property_and_the_rule_table_a_closer_type() -> None:
    observation = {
        "phenomenonTime": "2026-11-21T11:00:00Z",
        "result": 64.2,
        "Datastream": {
            "@iot.id": "noise-kamppi",
            "name": "Noise at Kamppi",
            "unitOfMeasurement": {"name": "decibel", "symbol": "dB(A)", "definition": "ucum:dB"},
            "ObservedProperty": {"name": "Sound pressure level LAeq", "definition": "x"},
            "Thing": {
                "Locations": [{"location": {"type": "Point", "coordinates": [24.93, 60.17]}}]
            },
        },
    }
    (event,) = parse(orjson.dumps(observation)).events
    assert event.type == "noise.level"
    assert event.to_json_dict()["data"] == {
        "sensor_id": "noise-kamppi",
        "laeq_db": 64.2,
        "window_s": 60.0,
    }
    assert event.location is not None and event.location.lat == 60.17
    observation["Datastream"]["ObservedProperty"] = {"name": "Air temperature"}  # type: ignore[index]
    observation["Datastream"]["name"] = "Weather at Kamppi"  # type: ignore[index]
    (generic,) = parse(orjson.dumps(observation)).events
    assert generic.type == "sensor.observation"
    assert generic.to_json_dict()["data"]["unit"] == "dB(A)"
    assert generic.to_json_dict()["data"]["observed_property"] == "Air temperature"


def test_the_rule_table_is_site_configuration() -> None:
    config = SensorThingsConfig(
        rules=(PropertyRule(pattern="bin level", event_type="waste.fill_level", scale=100.0),)
    )
    observation = {
        "phenomenonTime": "2026-11-21T11:00:00Z",
        "result": 0.7,
        "Datastream": {"@iot.id": 5, "ObservedProperty": {"name": "Bin level"}},
    }
    (event,) = parse(orjson.dumps(observation), config=config).events
    assert event.to_json_dict()["data"] == {"container_id": "5", "fill_pct": 70.0}


# --- register entries -------------------------------------------------------------------------


def test_thing_with_locations_and_datastreams_is_registered_and_its_observations_flow() -> None:
    mapped = parse(ETS / "thing" / "complete.json")
    (sensor,) = mapped.sensors
    assert sensor.id.startswith("sta-thing-")
    assert (sensor.name, sensor.kind, sensor.measures) == (
        "Office Building",
        SensorKind.OTHER,
        ("Luminous Flux",),
    )
    assert sensor.location is not None
    assert (sensor.location.lon, sensor.location.lat) == (-117.05, 51.05)
    assert (sensor.owner_agency, sensor.personal_data) == ("city", False)
    assert [e.to_json_dict()["data"]["result"] for e in mapped.events] == [10, 11, 12, 13]
    assert {e.to_json_dict()["data"]["unit"] for e in mapped.events} == {"lm"}
    assert all(e.location == sensor.location for e in mapped.events)
    assert parse(ETS / "thing" / "complete.json").sensors[0].id == sensor.id  # stable


def test_datastream_is_registered() -> None:
    (sensor,) = parse(ETS / "datastreams" / "linkedThingValid.json").sensors
    assert sensor.id.startswith("sta-datastream-")
    assert sensor.measures == ("Sub-surface cable sheath Temperature",)
    assert sensor.name == "a simple datastream."


@pytest.mark.parametrize(
    "name", ["1.json", "2.json", "4.json", "linkedSensor.json", "linkedThing.json"]
)
def test_datastream_without_observed_property_is_refused(name: str) -> None:
    assert refusal(ETS / "datastreams" / name) == [
        ("body.ObservedProperty", "required: what the Datastream observes")
    ]


def test_location_with_things_registers_them_there() -> None:
    body = {
        "name": "Kamppi square",
        "encodingType": "application/geo+json",
        "location": {"type": "Point", "coordinates": [24.93, 60.17]},
        "Things": [{"@iot.id": "t1", "name": "Noise box"}],
    }
    (sensor,) = parse(orjson.dumps(body)).sensors
    assert (sensor.id, sensor.name) == ("sta-thing-t1", "Noise box")
    assert sensor.location is not None and sensor.location.lon == 24.93


@pytest.mark.parametrize("name", ["3.json", "4.json", "southern-alberta-polygon.json"])
def test_location_with_a_malformed_polygon_is_refused(name: str) -> None:
    [(field, _)] = refusal(ETS / "locations" / name)
    assert field == "body.location.coordinates"


def test_json_batch_maps_each_request_body() -> None:
    mapped = parse(FROST / "tests" / "dataBatchPost.json")
    assert len(mapped.events) == 32 and len(mapped.sensors) >= 2
    assert mapped.rejections == []


# --- every vector -----------------------------------------------------------------------------


def test_every_vector_maps_or_is_refused_with_a_named_field() -> None:
    mapped_files = refused = 0
    for path in sorted(ROOT.rglob("*.json*")):
        mapped = outcome(path)
        if isinstance(mapped, InvalidInput):
            refused += 1
            assert mapped.errors and all(e.field and e.reason for e in mapped.errors), path
            if path.suffix == ".jsonc":
                assert mapped.errors[0].field == "body", path
            continue
        mapped_files += 1
        assert mapped.events or mapped.sensors or mapped.notes, path
    assert (mapped_files, refused) == (79, 35)


# --- fuzzing ----------------------------------------------------------------------------------

CONTEXT = MappingContext(received_at=RECEIVED, origin="v1.1/Datastreams(1)/Observations")
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
staish = st.fixed_dictionaries(
    {},
    optional=dict.fromkeys(
        [
            "result",
            "phenomenonTime",
            "resultTime",
            "Datastream",
            "Datastreams",
            "Locations",
            "location",
            "dataArray",
            "components",
            "ObservedProperty",
            "unitOfMeasurement",
            "FeatureOfInterest",
            "@iot.id",
            "requests",
            "Things",
        ],
        json_values,
    ),
)
FAST = settings(
    max_examples=200, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow]
)


def _check(raw: bytes, context: MappingContext) -> None:
    try:
        result: Mapped | InvalidInput = parse_sta(raw, context)
    except InvalidInput as exc:
        result = exc
    assert isinstance(result, Mapped) or result.errors


@FAST
@given(st.binary(max_size=200) | json_values.map(orjson.dumps), st.booleans())
def test_fuzz_arbitrary_input(raw: bytes, with_origin: bool) -> None:
    _check(raw, CONTEXT if with_origin else MappingContext(received_at=RECEIVED))


@FAST
@given(st.lists(staish, min_size=1, max_size=3) | staish)
def test_fuzz_entity_shaped(value: object) -> None:
    _check(orjson.dumps(value), CONTEXT)


# --- over HTTP --------------------------------------------------------------------------------


def test_observation_over_http_with_its_path_as_origin(api: Api, runtime: Runtime) -> None:
    r = api.client.post(
        "/v1/adapters/sensorthings/messages",
        content=filled(ETS / "observations" / "4.json"),
        headers={
            **api.h(Role.INTEGRATOR),
            "X-Safecity-Origin": "v1.1/Datastreams(42)/Observations",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    (item,) = api.client.get("/v1/events?type=sensor.observation", headers=api.h()).json()["items"]
    assert item["event"]["id"] == "Datastreams(42)@2015-03-01T00:40:00Z"
    assert item["event"]["data"]["result"] == 8
    bad = api.client.post(
        "/v1/adapters/sensorthings/messages",
        content=filled(ETS / "observations" / "dataArray.json"),
        headers=api.h(Role.INTEGRATOR),
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["errors"][0]["field"] == "[0].dataArray[0].phenomenonTime"
    assert runtime.store.get_dead_letter(bad.json()["dead_letter_id"]) is not None
