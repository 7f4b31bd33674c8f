"""NGSI-LD inbound: Smart Data Models in every form, notifications, @context, the ETSI suite."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.ngsi_ld.config import NgsiLdConfig, RegisterDefaults
from safecity.core.errors import InvalidInput
from safecity.core.registry import SensorKind
from safecity.ingest.adapters import map_input
from support import INTEROP

ROOT = INTEROP / "ngsi-ld"
SDM = ROOT / "smart-data-models"
ETSI = ROOT / "etsi-ngsi-ld-test-suite"
RECEIVED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

#: The files SOURCE.md lists as deliberately invalid JSON (negative tests), and the empty ones.
BROKEN_JSON = {
    "data/entities/invalid-json.jsonld",
    "data/entities/batch/invalid-json.jsonld",
    "data/entities/fragmentEntities/invalid-fragment.jsonld",
    "data/subscriptions/subscription-invalid-json.jsonld",
    "data/csourceRegistrations/context-source-registration-invalid-json.json",
    "data/csourceSubscriptions/fragments/subscription-update-invalid-json.json",
    "data/jsonldContext/@context-wrong-json.json",
}


def parse(raw: bytes | Path, config: NgsiLdConfig | None = None) -> Mapped:
    data = raw.read_bytes() if isinstance(raw, Path) else raw
    return map_input("ngsi_ld", data, MappingContext(received_at=RECEIVED, config=config))


def refusal(raw: bytes | Path) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        parse(raw)
    return [(e.field, e.reason) for e in caught.value.errors]


def outcome(raw: bytes | Path) -> Mapped | InvalidInput:
    try:
        return parse(raw)
    except InvalidInput as exc:
        return exc


def example(model: str, name: str) -> Path:
    return SDM / model / "examples" / name


LD_FORMS = ["example.jsonld", "example-normalized.jsonld", "example-geojsonfeature.json"]
V2_FORMS = ["example.json", "example-normalized.json"]


# --- Smart Data Models ------------------------------------------------------------------------


@pytest.mark.parametrize("name", LD_FORMS + V2_FORMS)
def test_alert_becomes_alert_issued(name: str) -> None:
    mapped = parse(example("Alert/Alert", name))
    (event,) = mapped.events
    assert event.type == "alert.issued"
    assert event.time == datetime(2017, 1, 2, 9, 25, 55, tzinfo=UTC)
    assert event.location is not None
    assert (event.location.lon, event.location.lat) == pytest.approx((-3.712247, 40.423853))
    data = event.to_json_dict()["data"]
    assert data["format"] == "ngsi-ld"
    assert data["categories"] == ["traffic", "trafficJam"]
    assert data["event"] == "trafficJam"
    assert data["sender"] == "https://account.lab.fiware.org/users/8"
    assert data["description"] == "The road is completely blocked for 3kms"
    assert data["expires"] == "2017-01-02T10:25:55Z"
    assert event.id.endswith("@2017-01-02T09:25:55Z")
    assert event.source == "urn:safecity:ngsi-ld"


def test_alert_severity_is_mapped_to_the_cap_scale() -> None:
    (event,) = parse(example("Alert/Alert", "example.json")).events
    assert event.to_json_dict()["data"]["severity"] == "severe"  # SDM "high"
    assert event.severity == "severe"


@pytest.mark.parametrize("name", LD_FORMS + V2_FORMS)
def test_noise_level_observed_becomes_noise_level(name: str) -> None:
    (event,) = parse(example("Environment/NoiseLevelObserved", name)).events
    assert event.type == "noise.level"
    assert event.time == datetime(2016, 12, 28, 12, 0, tzinfo=UTC)  # end of the window
    assert event.location is not None
    assert (event.location.lon, event.location.lat) == pytest.approx((-2.698, 42.8491))
    data = event.to_json_dict()["data"]
    assert (data["laeq_db"], data["lamax_db"], data["window_s"]) == (67.8, 94.5, 3600.0)
    assert data["sensor_id"].endswith(
        "Vitoria-NoiseLevelObserved-2016-12-28T11:00:00_2016-12-28T12:00:00"
    )


@pytest.mark.parametrize("name", ["example.jsonld", "example-normalized.jsonld", *V2_FORMS])
def test_crowd_flow_observed_becomes_crowd_count_at_the_line_centroid(name: str) -> None:
    (event,) = parse(example("Transportation/CrowdFlowObserved", name)).events
    assert event.type == "crowd.count"
    assert event.time == datetime(2018, 8, 7, 11, 15, tzinfo=UTC)
    assert event.to_json_dict()["data"] == {
        "sensor_id": "urn:ngsi-ld:CrowdFlowObserved:Valladolid_1",
        "count": 100,
    }
    assert event.location is not None
    lons = (-4.73735395519672, -4.73414858659993, -4.73447575302641)
    lats = (41.6538181849672, 41.6600594193478, 41.659585195093)
    assert event.location.lon == pytest.approx(sum(lons) / 3)
    assert event.location.lat == pytest.approx(sum(lats) / 3)


@pytest.mark.parametrize("name", ["example.jsonld", "example-normalized.jsonld", *V2_FORMS])
def test_streetlight_power_state_becomes_light_level(name: str) -> None:
    (event,) = parse(example("Streetlighting/Streetlight", name)).events
    assert event.type == "lamp.light_level"
    # observationDateTime 2021-01-11T15:51:02+05:30
    assert event.time == datetime(2021, 1, 11, 10, 21, 2, tzinfo=UTC)
    data = event.to_json_dict()["data"]
    assert (data["level_pct"], data["reason"]) == (0.0, "powerState off")
    assert data["lamp_id"].endswith("streetlight:guadalajara:4567")
    assert event.location is not None
    assert event.location.lon == pytest.approx(-3.164485591715449)


def test_defective_streetlight_becomes_lamp_fault() -> None:
    body = orjson.loads(example("Streetlighting/Streetlight", "example.json").read_bytes())
    body.update(status="defectiveLamp", illuminanceLevel=0.5)
    types = {e.type: e.to_json_dict()["data"] for e in parse(orjson.dumps(body)).events}
    assert types["lamp.fault"] == {"lamp_id": body["id"], "fault": "lamp_out", "cleared": False}
    assert types["lamp.light_level"]["level_pct"] == 50.0


def test_waste_container_filling_level_is_a_percentage() -> None:
    (event,) = parse(
        example("WasteManagement/WasteContainer", "example-geojsonfeature.json")
    ).events
    assert event.type == "waste.fill_level"
    assert event.to_json_dict()["data"] == {
        "container_id": "urn:ngsi-ld:WasteContainer:wastecontainer:Fleming:12a",
        "fill_pct": 40.0,
        "temperature_c": 23.0,
    }
    # No observation time in the entity: the time received, and an id from the content.
    assert event.time == RECEIVED
    assert "#" in event.id
    assert (
        parse(example("WasteManagement/WasteContainer", "example-geojsonfeature.json")).events[0].id
        == event.id
    )


@pytest.mark.parametrize("name", ["example.jsonld", "example-normalized.jsonld", *V2_FORMS])
def test_waste_container_without_filling_level_is_a_note(name: str) -> None:
    mapped = parse(example("WasteManagement/WasteContainer", name))
    assert mapped.events == []
    assert any("without fillingLevel" in n for n in mapped.notes)


def test_filling_level_outside_zero_to_one_is_refused_naming_it() -> None:
    body = {"id": "urn:ngsi-ld:WasteContainer:1", "type": "WasteContainer", "fillingLevel": 45}
    assert refusal(orjson.dumps(body)) == [
        ("entity.fillingLevel", "must be a fraction between 0 and 1")
    ]


@pytest.mark.parametrize("name", LD_FORMS[:2] + V2_FORMS)
def test_device_becomes_a_register_entry_with_configured_defaults(name: str) -> None:
    mapped = parse(example("Device/Device", name))
    assert mapped.events == []
    (sensor,) = mapped.sensors
    assert sensor.id.endswith("device-9845A")
    assert sensor.kind is SensorKind.WASTE_CONTAINER  # controlledProperty fillingLevel
    assert sensor.measures == ("fillingLevel", "temperature")
    assert sensor.name == "9845A"
    assert sensor.owner_agency == "city"
    assert sensor.personal_data is False
    assert sensor.purpose == RegisterDefaults().purpose


def test_camera_is_registered_as_personal_data_under_the_camera_defaults() -> None:
    config = NgsiLdConfig(defaults=RegisterDefaults(owner_agency="helsinki-police"))
    (sensor,) = parse(example("Device/Camera", "example.jsonld"), config).sensors
    assert sensor.id == "urn:ngsi-ld:Camera:Cam2"
    assert (sensor.kind, sensor.name, sensor.personal_data) == (SensorKind.CAMERA, "Cam2", True)
    assert sensor.owner_agency == "helsinki-police"
    assert sensor.purpose == RegisterDefaults().camera_purpose
    assert sensor.legal_basis == RegisterDefaults().camera_legal_basis
    assert sensor.retention_days == 30
    assert sensor.location is not None
    assert (sensor.location.lon, sensor.location.lat) == (91.28076, 23.831796)


def test_camera_with_latitude_and_longitude_swapped_is_refused() -> None:
    # Upstream's normalized v2 example writes [lat, lon] with a latitude of 91.
    [(field, reason)] = refusal(example("Device/Camera", "example-normalized.json"))
    assert field == "entity.location.coordinates"
    assert "not a WGS84 [longitude, latitude]" in reason


@pytest.mark.parametrize("name", ["example.jsonld", "example-normalized.jsonld", *V2_FORMS])
def test_traffic_flow_observed_maps_to_nothing_with_a_note(name: str) -> None:
    mapped = parse(example("Transportation/TrafficFlowObserved", name))
    assert (mapped.events, mapped.sensors, mapped.rejections) == ([], [], [])
    assert any("TrafficFlowObserved carries flow measurements" in n for n in mapped.notes)


def test_every_smart_data_models_file_maps_or_is_refused_with_a_field() -> None:
    mapped_types: set[str] = set()
    for path in sorted(SDM.rglob("*.json*")):
        if path.name.endswith(("schema.json", "context.jsonld")):
            # JSON Schemas and @context documents are not entities.
            [(field, _)] = refusal(path)[:1]
            assert field in ("entity.id", "entity.type"), path
            continue
        mapped = outcome(path)
        if isinstance(mapped, InvalidInput):
            assert path.name == "example-normalized.json" and "Camera" in str(path), mapped
            continue
        mapped_types.update(e.type for e in mapped.events)
        if not (mapped.events or mapped.sensors):
            assert mapped.notes, path
    assert mapped_types == {
        "alert.issued",
        "noise.level",
        "crowd.count",
        "lamp.light_level",
        "waste.fill_level",
    }


def test_unsupported_type_is_a_note_not_an_error() -> None:
    mapped = parse(example("Weather/WeatherObserved", "example.jsonld"))
    assert mapped.events == [] and mapped.rejections == []
    assert any("type 'WeatherObserved' is not mapped" in n for n in mapped.notes)


# --- notifications, arrays, attributes --------------------------------------------------------


def _load(model: str, name: str) -> Any:
    return orjson.loads(example(model, name).read_bytes())


def test_notification_maps_each_entity_and_rejects_the_malformed_one_alone() -> None:
    notification = {
        "id": "urn:ngsi-ld:Notification:1",
        "type": "Notification",
        "subscriptionId": "urn:ngsi-ld:Subscription:noise",
        "notifiedAt": "2026-11-21T12:00:00Z",
        "data": [
            _load("Environment/NoiseLevelObserved", "example-normalized.jsonld"),
            _load("Alert/Alert", "example.jsonld"),
            _load("Weather/WeatherObserved", "example.jsonld"),
            {"type": "NoiseLevelObserved", "LAeq": 50},
            {
                "id": "urn:ngsi-ld:NoiseLevelObserved:x",
                "type": "NoiseLevelObserved",
                "LAeq": "loud",
            },
        ],
    }
    mapped = parse(orjson.dumps(notification))
    assert [e.type for e in mapped.events] == ["noise.level", "alert.issued"]
    assert [(r.where, r.errors[0].field) for r in mapped.rejections] == [
        ("data[3]", "data[3].id"),
        ("data[4]", "data[4].LAeq"),
    ]
    assert orjson.loads(mapped.rejections[0].raw) == notification["data"][3]
    assert any("WeatherObserved" in n for n in mapped.notes)


def test_entity_array_upsert_is_mapped_item_by_item() -> None:
    batch = [
        _load("Environment/NoiseLevelObserved", "example.jsonld"),
        _load("Device/Camera", "example.jsonld"),
    ]
    mapped = parse(orjson.dumps(batch))
    assert [e.type for e in mapped.events] == ["noise.level"]
    assert [s.kind for s in mapped.sensors] == [SensorKind.CAMERA]


def test_attribute_observed_at_is_the_event_time_and_part_of_the_id() -> None:
    entity = {
        "id": "urn:ngsi-ld:NoiseLevelObserved:n1",
        "type": "NoiseLevelObserved",
        "LAeq": {"type": "Property", "value": 71.5, "observedAt": "2026-11-21T10:00:00+02:00"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [24.9, 60.2]},
        },
    }
    first = parse(orjson.dumps(entity)).events[0]
    assert first.time == datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    assert first.id == "urn:ngsi-ld:NoiseLevelObserved:n1@2026-11-21T08:00:00Z"
    assert parse(orjson.dumps(entity)).events[0].key == first.key  # idempotent re-send


def test_polygon_location_gives_its_centroid_and_an_alert_area() -> None:
    ring = [[24.0, 60.0], [25.0, 60.0], [25.0, 61.0], [24.0, 61.0], [24.0, 60.0]]
    entity = {
        "id": "urn:ngsi-ld:Alert:p",
        "type": "Alert",
        "category": "weather",
        "dateIssued": "2026-11-21T11:00:00Z",
        "location": {"type": "Polygon", "coordinates": [ring]},
    }
    (event,) = parse(orjson.dumps(entity)).events
    assert event.location is not None
    assert (event.location.lon, event.location.lat) == (24.5, 60.5)
    assert event.to_json_dict()["data"]["areas"][0]["polygons"][0][1] == [60.0, 25.0]


def test_alert_without_issue_time_is_refused_naming_date_issued() -> None:
    body = {"id": "urn:ngsi-ld:Alert:x", "type": "Alert", "category": "security"}
    assert refusal(orjson.dumps(body)) == [
        ("entity.dateIssued", "required: when the alert was issued")
    ]


# --- @context ---------------------------------------------------------------------------------


def test_expanded_names_are_compacted_with_the_shipped_core_context_and_inline_terms() -> None:
    entity = {
        "@id": "urn:ngsi-ld:NoiseLevelObserved:e1",
        "@type": "https://smartdatamodels.org/dataModel.Environment/NoiseLevelObserved",
        "https://example.org/terms/laeq": {"type": "Property", "value": 55.0},
        "https://uri.etsi.org/ngsi-ld/location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [24.94, 60.17]},
        },
        "dateObserved": "2026-11-21T11:00:00Z",
        "@context": [{"LAeq": "https://example.org/terms/laeq"}],
    }
    (event,) = parse(orjson.dumps(entity)).events
    assert event.type == "noise.level"
    assert event.to_json_dict()["data"]["laeq_db"] == 55.0
    assert event.location is not None and event.location.lat == 60.17


def test_remote_context_is_never_fetched_only_noted(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the mapping tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    mapped = parse(example("Alert/Alert", "example-normalized.jsonld"))
    assert [e.type for e in mapped.events] == ["alert.issued"]
    assert mapped.notes == [
        "@context 'https://raw.githubusercontent.com/smart-data-models/dataModel.Alert/master/"
        "context.jsonld' was not fetched; its terms were read as written"
    ]  # the core context URL is resolved locally, so it is not mentioned


# --- the ETSI conformance payloads ------------------------------------------------------------


def test_etsi_invalid_json_files_are_refused_naming_the_body() -> None:
    for name in sorted(BROKEN_JSON):
        [(field, reason)] = refusal(ETSI / name)
        assert field == "body" and reason.startswith("not valid JSON"), name


def test_etsi_empty_files_are_refused() -> None:
    empty = [p for p in ETSI.rglob("*.json*") if not p.read_bytes().strip()]
    assert empty
    for path in empty:
        assert refusal(path)[0][0] == "body"


def test_etsi_meta_model_violations_are_refused_naming_the_attribute() -> None:
    cases = {
        "meta-model-property-no-value.jsonld": ("entity.name", "a Property needs a 'value'"),
        "meta-model-relationship-no-object.jsonld": (
            "entity.owner",
            "a Relationship needs an 'object'",
        ),
        "meta-model-languageproperty-no-map.jsonld": (
            "entity.description",
            "a LanguageProperty needs a 'languageMap'",
        ),
    }
    for name, expected in cases.items():
        assert refusal(ETSI / "data" / "entities" / name) == [expected]


def test_every_etsi_payload_maps_or_is_refused_with_named_fields() -> None:
    """The suite's entities are Buildings, Vehicles, parkings: unsupported types (notes); its
    fragments, subscriptions and registrations are not entities (refused, naming id/type)."""
    noted = refused = 0
    for path in sorted(ETSI.rglob("*.json*")):
        mapped = outcome(path)
        if isinstance(mapped, InvalidInput):
            refused += 1
            assert mapped.errors and all(e.field and e.reason for e in mapped.errors), path
            continue
        noted += 1
        assert mapped.events == [], path  # no Smart Data Model among them
        assert mapped.notes or mapped.rejections, path
    assert noted > 300 and refused > 100
