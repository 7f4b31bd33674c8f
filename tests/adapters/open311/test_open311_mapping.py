"""Open311 GeoReport v2 mapping: every spec example, the privacy rules, refusals and fuzzing."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.open311.config import Open311Config, Service, ServiceAttribute
from safecity.adapters.open311.mapping import parse, sanitise_form
from safecity.core.errors import InvalidInput
from safecity.core.payloads import CitizenReport, ReportCategory
from support import INTEROP

SPEC = INTEROP / "open311" / "georeport-v2-spec-examples"
RECEIVED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SECRET = "test-reporter-secret"

#: The spec's own example service list, mapped to report categories.
SPEC_CONFIG = Open311Config(
    source="open311:spec-city",
    reporter_secret=SECRET,
    services=(
        Service(
            code="001",
            name="Cans left out 24x7",
            description="Cans left out.",
            category=ReportCategory.WASTE,
        ),
        Service(
            code="002",
            name="Construction plate shifted",
            description="Plate moved.",
            category=ReportCategory.TRAFFIC,
        ),
        Service(
            code="006",
            name="Sidewalk and Curb Issues",
            description="Curbs.",
            category=ReportCategory.OTHER,
        ),
    ),
)


def ctx(
    config: Open311Config | None = SPEC_CONFIG, content_type: str | None = None
) -> MappingContext:
    return MappingContext(received_at=RECEIVED, config=config, content_type=content_type)


def post_body() -> bytes:
    """The form body of the spec's raw POST example (after the blank line)."""
    raw = (SPEC / "post-service-request.http.txt").read_bytes()
    return raw.split(b"\n\n", 1)[1].strip()


def test_spec_post_example_becomes_a_citizen_report() -> None:
    mapped = parse(post_body(), ctx(content_type="application/x-www-form-urlencoded"))
    assert len(mapped.events) == 1 and not mapped.rejections
    event = mapped.events[0]
    assert event.type == "citizen.report"
    assert event.source == "open311:spec-city"
    assert event.id.startswith("sr-")
    assert event.time == RECEIVED
    assert event.subject == "001"
    assert event.location is not None
    assert (event.location.lat, event.location.lon) == (37.76524078, -122.4212043)
    data = event.data
    assert isinstance(data, CitizenReport)
    assert data.category is ReportCategory.WASTE
    assert data.channel == "open311"
    assert data.media_count == 1
    assert data.description == "A large sinkhole is destroying the street"
    assert data.address == "1234 5th street"
    expected_ref = hmac.new(SECRET.encode(), b"smit333@sfgov.edu", hashlib.sha256).hexdigest()
    assert data.reporter_ref == "o311-" + expected_ref[:32]
    assert any("WHISDORN" in n and "WHISPAWN" in n for n in mapped.notes)


def test_personal_fields_are_never_stored() -> None:
    event = parse(post_body(), ctx()).events[0]
    text = orjson.dumps(event.to_json_dict()).decode().lower()
    for secret in ("john", "smith", "111111111", "smit333", "sfgov", "tt222111", "123456", "xyz"):
        assert secret not in text, secret


def test_without_a_secret_the_email_is_dropped() -> None:
    config = SPEC_CONFIG.model_copy(update={"reporter_secret": None})
    mapped = parse(post_body(), ctx(config))
    data = mapped.events[0].data
    assert isinstance(data, CitizenReport) and data.reporter_ref is None
    assert "email not stored (no reporter_secret configured)" in mapped.notes


def test_sanitised_form_keeps_no_secret_or_personal_field() -> None:
    from urllib.parse import parse_qsl

    pairs = parse_qsl(post_body().decode(), keep_blank_values=True)
    safe = sanitise_form(pairs, SPEC_CONFIG)
    kept = dict(parse_qsl(safe.decode()))
    assert set(kept) >= {"service_code", "lat", "long", "description", "reporter_ref"}
    for name in ("api_key", "email", "first_name", "last_name", "phone", "device_id"):
        assert name not in kept
    # The sanitised form maps to the very same event as the original.
    assert parse(safe, ctx()).events[0] == parse(post_body(), ctx()).events[0]


def test_same_request_twice_has_the_same_id_and_a_different_one_does_not() -> None:
    first = parse(post_body(), ctx()).events[0]
    again = parse(post_body(), ctx()).events[0]
    other = parse(post_body().replace(b"sinkhole", b"pothole"), ctx()).events[0]
    assert first.id == again.id != other.id


def test_json_form_of_a_request() -> None:
    body = orjson.dumps(
        {"service_code": "002", "lat": 60.17, "long": 24.94, "description": "plate moved"}
    )
    event = parse(body, ctx(content_type="application/json")).events[0]
    assert event.location is not None and (event.location.lat, event.location.lon) == (60.17, 24.94)
    assert isinstance(event.data, CitizenReport)
    assert event.data.category is ReportCategory.TRAFFIC


@pytest.mark.parametrize(
    ("name", "count"),
    [
        ("json-service-request.json", 1),
        ("json-service-requests.json", 2),
        ("xml-service-request.xml", 1),
        ("xml-service-requests.xml", 2),
    ],
)
def test_request_records_from_another_open311_server(name: str, count: int) -> None:
    mapped = parse((SPEC / name).read_bytes(), ctx())
    assert len(mapped.events) == count and not mapped.rejections
    first = mapped.events[0]
    assert first.id == "ext-638344"
    assert first.type == "citizen.report"
    assert first.time == datetime(2010, 4, 14, 14, 37, 38, tzinfo=UTC)
    assert first.subject == "006"
    assert first.location is not None
    assert (first.location.lat, first.location.lon) == (37.762221815, -122.4651145)
    assert isinstance(first.data, CitizenReport)
    assert first.data.category is ReportCategory.OTHER
    assert first.data.description == ""
    assert first.data.address == "8TH AVE and JUDAH ST"
    assert first.data.media_count == 1
    if count == 2:
        assert mapped.events[1].id == "ext-638349"
        assert mapped.events[1].time == datetime(2010, 4, 19, 14, 37, 38, tzinfo=UTC)
    if name.endswith(".json"):
        assert "numbers with leading zeros read as strings (codes)" in mapped.notes


def test_unknown_service_of_another_server_is_mapped_to_the_default_category() -> None:
    mapped = parse((SPEC / "json-service-request.json").read_bytes(), ctx(Open311Config()))
    assert isinstance(mapped.events[0].data, CitizenReport)
    assert mapped.events[0].data.category is ReportCategory.OTHER
    assert any("'006' unknown here" in n for n in mapped.notes)


def test_unknown_service_is_refused_when_no_default_category() -> None:
    config = Open311Config(unknown_service_category=None)
    with pytest.raises(InvalidInput) as exc:
        parse((SPEC / "xml-service-request.xml").read_bytes(), ctx(config))
    assert exc.value.errors[0].field == "[0].service_code"
    assert "not in this city's services" in exc.value.errors[0].reason


@pytest.mark.parametrize(
    ("name", "field", "reason"),
    [
        ("discovery.json", "body", "discovery document"),
        ("discovery.xml", "body", "discovery document"),
        ("json-errors.json", "body", "error response"),
        ("xml-errors.xml", "body", "error response"),
        ("json-request-from-token.json", "body", "token lookup"),
        ("xml-request-from-token.xml", "body", "token lookup"),
        ("json-service-definition.json", "body", "service definition"),
        ("xml-service-definition.xml", "body", "service definition"),
        ("json-service-list.json", "[0]", "service list entry"),
        ("xml-service-list.xml", "body", "service list"),
        ("json-service-request-post.json", "body", "POST response"),
        ("xml-service-request-post.xml", "body", "POST response"),
    ],
)
def test_response_documents_are_not_requests(name: str, field: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse((SPEC / name).read_bytes(), ctx())
    assert exc.value.errors[0].field == field
    assert reason in exc.value.errors[0].reason


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (b"lat=60.1&long=24.9&description=x", "service_code", "required"),
        (b"service_code=nope&lat=60.1&long=24.9", "service_code", "not in this city's services"),
        (b"service_code=001&lat=95&long=24.9", "lat", "between -90 and 90"),
        (b"service_code=001&lat=60&long=abc", "long", "between -180 and 180"),
        (b"service_code=001&description=somewhere", "lat", "a location is required"),
        (b"service_code=001&service_code=002&lat=1&long=1", "service_code", "more than once"),
        (b"service_code=001&lat=1&long=1&jurisdiction_id=other.gov", "jurisdiction_id", "serves"),
    ],
)
def test_bad_requests_name_the_field(body: bytes, field: str, reason: str) -> None:
    config = SPEC_CONFIG.model_copy(update={"jurisdiction_id": "city.gov"})
    with pytest.raises(InvalidInput) as exc:
        parse(body, ctx(config))
    found = {e.field: e.reason for e in exc.value.errors}
    assert field in found and reason in found[field], found


def test_service_attributes_are_checked_against_the_definition() -> None:
    config = Open311Config()
    with pytest.raises(InvalidInput) as exc:
        parse(b"service_code=noise&lat=60.17&long=24.94", ctx(config))
    assert exc.value.errors[0].field == "attribute[noise_source]"
    with pytest.raises(InvalidInput) as exc:
        parse(b"service_code=noise&lat=60.17&long=24.94&attribute[noise_source]=drums", ctx(config))
    assert "'drums' is not one of" in exc.value.errors[0].reason
    event = parse(
        b"service_code=noise&lat=60.17&long=24.94&description=late+party"
        b"&attribute[noise_source]=music",
        ctx(config),
    ).events[0]
    assert isinstance(event.data, CitizenReport)
    assert event.data.category is ReportCategory.NOISE
    assert event.data.description == "late party\nWhat is making the noise?: music"


def test_default_catalogue_maps_services_to_categories() -> None:
    config = Open311Config()
    expected = {
        "streetlight": ReportCategory.LIGHTING,
        "graffiti": ReportCategory.VANDALISM,
        "waste": ReportCategory.WASTE,
        "dumping": ReportCategory.WASTE,
        "traffic_signal": ReportCategory.TRAFFIC,
        "disturbance": ReportCategory.DISTURBANCE,
    }
    for code, category in expected.items():
        event = parse(f"service_code={code}&lat=60.1&long=24.9".encode(), ctx(config)).events[0]
        assert isinstance(event.data, CitizenReport) and event.data.category is category


def test_xml_with_a_dtd_is_refused_without_fetching() -> None:
    evil = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:1/x">]>'
        b"<service_requests><request><service_request_id>&x;</service_request_id>"
        b"</request></service_requests>"
    )
    with pytest.raises(InvalidInput) as exc:
        parse(evil, ctx())
    assert "DTD" in exc.value.errors[0].reason


def test_media_url_is_never_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    event = parse(post_body(), ctx()).events[0]
    assert isinstance(event.data, CitizenReport) and event.data.media_count == 1


def test_config_attributes_need_values_for_lists() -> None:
    with pytest.raises(ValueError, match="needs values"):
        ServiceAttribute(code="x", description="x", datatype="singlevaluelist")


@settings(max_examples=150, deadline=None)
@given(
    st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | st.lists(
        st.tuples(
            st.sampled_from(
                ["service_code", "lat", "long", "address_string", "description", "email",
                 "attribute[noise_source]", "media_url", "jurisdiction_id", "x"]
            ),
            st.text(max_size=30),
        ),
        max_size=8,
    ).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs).encode())
)  # fmt: skip
def test_fuzz_never_crashes(raw: bytes) -> None:
    for config in (Open311Config(reporter_secret=SECRET), SPEC_CONFIG):
        try:
            result = parse(raw, ctx(config))
        except InvalidInput:
            continue
        assert isinstance(result, Mapped)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_fuzz_mutated_spec_examples(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(p.name for p in SPEC.iterdir())))
    raw = bytearray((SPEC / name).read_bytes())
    for _ in range(data.draw(st.integers(1, 5))):
        if raw:
            index = data.draw(st.integers(0, len(raw) - 1))
            raw[index] = data.draw(st.integers(0, 255))
    try:
        result = parse(bytes(raw), ctx())
    except InvalidInput:
        return
    assert isinstance(result, Mapped)
