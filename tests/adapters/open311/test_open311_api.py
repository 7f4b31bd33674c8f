"""The Open311 GeoReport v2 server over HTTP, and the generic adapter endpoint end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from fastapi.testclient import TestClient

from safecity.adapters.common.xml import local_name, parse_xml
from safecity.adapters.open311.config import hash_api_key
from safecity.api.routes import open311
from safecity.core.identity import Role
from safecity.runtime import Runtime
from safecity.settings import Settings
from support import INTEROP, Api, settle

SPEC = INTEROP / "open311" / "georeport-v2-spec-examples"
API_KEY = "o311-test-key"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(
        adapters=[
            {
                "type": "open311",
                "source": "open311:helsinki",
                "jurisdiction_id": "hel.fi",
                "reporter_secret": "server-secret",
                "service_notice": "We will look at it within two working days.",
                "api_keys": [{"sha256": hash_api_key(API_KEY), "user_id": "integrator-1"}],
            }
        ]
    )
    s.store.path = tmp_path / "safecity.db"
    return s


@pytest.fixture
def o311(runtime: Runtime) -> Iterator[Api]:
    tokens = {role: runtime.identity.issue_token(f"{role.value}-1").secret for role in Role}
    app = runtime.api()
    app.include_router(open311.router)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, tokens)


def spec_json(name: str) -> Any:
    # The spec's examples write 001 for "001"; quote such numbers to read them.
    import re

    raw = (SPEC / name).read_bytes()
    return orjson.loads(re.sub(rb"(:\s*)(0\d+)(\s*[,}\]\n])", rb'\1"\2"\3', raw))


def xml_shape(raw: bytes) -> set[str]:
    """Every element path of an XML document, e.g. ``services/service/service_code``."""
    root = parse_xml(raw)
    paths: set[str] = set()

    def walk(el: Any, prefix: str) -> None:
        here = f"{prefix}/{local_name(el.tag)}" if prefix else local_name(el.tag)
        paths.add(here)
        for child in el:
            walk(child, here)

    walk(root, "")
    return paths


def post(api: Api, fmt: str = "json", **fields: str) -> Any:
    body = {
        "api_key": API_KEY,
        "jurisdiction_id": "hel.fi",
        "service_code": "streetlight",
        "lat": "60.1699",
        "long": "24.9384",
        "description": "Lamp dark all night",
        "email": "Citizen@Example.org",
        "first_name": "Maija",
        "last_name": "Meikäläinen",
        "phone": "+358401234567",
        "attribute[pole_number]": "HEL-4411",
    }
    body.update(fields)
    return api.client.post(
        f"/open311/v2/requests.{fmt}", content=urlencode(body), headers={"Content-Type": FORM}
    )


def test_service_list_has_the_spec_shape(o311: Api) -> None:
    r = o311.client.get("/open311/v2/services.json")
    assert r.status_code == 200
    services = r.json()
    assert set(services[0]) == set(spec_json("json-service-list.json")[0])
    codes = {s["service_code"] for s in services}
    assert {"streetlight", "graffiti", "waste", "noise"} <= codes
    x = o311.client.get("/open311/v2/services.xml")
    assert x.headers["content-type"].startswith("application/xml")
    assert xml_shape(x.content) == xml_shape((SPEC / "xml-service-list.xml").read_bytes())


def test_service_definition_has_the_spec_shape(o311: Api) -> None:
    spec = spec_json("json-service-definition.json")
    r = o311.client.get("/open311/v2/services/noise.json").json()
    assert set(r) == set(spec)
    assert set(r["attributes"][0]) == set(spec["attributes"][0])
    assert {v["key"] for v in r["attributes"][0]["values"]} >= {"music", "construction"}
    x = o311.client.get("/open311/v2/services/noise.xml").content
    assert xml_shape(x) == xml_shape((SPEC / "xml-service-definition.xml").read_bytes())
    missing = o311.client.get("/open311/v2/services/nope.json")
    assert missing.status_code == 404
    assert "service_code" in missing.json()[0]["description"]


def test_post_creates_a_citizen_report_and_status_follows_the_incident(
    o311: Api, runtime: Runtime
) -> None:
    r = post(o311)
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created[0]) == set(spec_json("json-service-request-post.json")[0])
    request_id = created[0]["service_request_id"]
    assert created[0]["service_notice"] == "We will look at it within two working days."
    settle(o311, runtime)

    stored = runtime.store.get_event("open311:helsinki", request_id)
    assert stored is not None and stored.event.type == "citizen.report"
    text = orjson.dumps(stored.event.to_json_dict()).decode().lower()
    for personal in ("maija", "meikäläinen", "358401234567", "citizen@example.org", API_KEY):
        assert personal.lower() not in text
    assert stored.event.data.model_dump()["reporter_ref"].startswith("o311-")
    assert stored.incident_id is not None

    one = o311.client.get(f"/open311/v2/requests/{request_id}.json").json()
    assert one[0]["status"] == "open" and one[0]["status_notes"] == "Received"
    assert set(one[0]) <= set(spec_json("json-service-request.json")[0])
    body = orjson.dumps(one).decode()
    assert "reporter_ref" not in body and "o311-" not in body and "Lamp dark" not in body
    assert (one[0]["lat"], one[0]["long"]) == (60.1699, 24.9384)
    assert one[0]["service_code"] == "streetlight"

    h = o311.h(Role.OPERATOR)
    closed = o311.client.post(
        f"/v1/incidents/{stored.incident_id}/close", json={"reason": "lamp fixed"}, headers=h
    )
    assert closed.status_code == 200, closed.text
    one = o311.client.get(f"/open311/v2/requests/{request_id}.json").json()
    assert one[0]["status"] == "closed" and one[0]["status_notes"] == "Closed"

    listed = o311.client.get("/open311/v2/requests.json?status=closed").json()
    assert [x["service_request_id"] for x in listed] == [request_id]
    assert o311.client.get("/open311/v2/requests.json?status=open").json() == []
    assert o311.client.get("/open311/v2/requests.json?service_code=graffiti").json() == []
    by_id = o311.client.get(f"/open311/v2/requests.json?service_request_id={request_id}").json()
    assert len(by_id) == 1
    x = o311.client.get(f"/open311/v2/requests/{request_id}.xml").content
    assert xml_shape(x) <= xml_shape((SPEC / "xml-service-request.xml").read_bytes())


def test_post_same_request_twice_is_idempotent(o311: Api) -> None:
    first = post(o311).json()[0]["service_request_id"]
    second = post(o311).json()[0]["service_request_id"]
    assert first == second


def test_post_xml_response_has_the_spec_shape(o311: Api) -> None:
    r = post(o311, "xml")
    assert r.status_code == 201
    assert xml_shape(r.content) == xml_shape((SPEC / "xml-service-request-post.xml").read_bytes())


def test_bad_api_key_gives_the_spec_error_and_is_dead_lettered(o311: Api, runtime: Runtime) -> None:
    r = post(o311, api_key="wrong")
    assert r.status_code == 403
    errors = r.json()
    assert set(errors[0]) == set(spec_json("json-errors.json")[0])
    assert errors[0]["code"] == 403 and errors[0]["description"].startswith("api_key:")
    x = post(o311, "xml", api_key="wrong")
    assert xml_shape(x.content) == xml_shape((SPEC / "xml-errors.xml").read_bytes())
    letters = runtime.store.list_dead_letters(limit=10, before_id=None)
    assert letters
    raw = letters[0].raw.decode()
    assert "wrong" not in raw and "Maija" not in raw and "Citizen" not in raw
    assert "service_code=streetlight" in raw


def test_invalid_request_names_the_field_and_is_dead_lettered(o311: Api, runtime: Runtime) -> None:
    r = post(o311, service_code="unicorns")
    assert r.status_code == 400
    assert r.json()[0]["description"].startswith("service_code:")
    r = post(o311, "xml", service_code="noise")
    assert r.status_code == 400
    assert b"attribute[noise_source]: required" in r.content
    letters = runtime.store.list_dead_letters(limit=10, before_id=None)
    assert len(letters) == 2
    assert all(b"358401234567" not in letter.raw for letter in letters)
    assert letters[0].channel == "open311 http"


def test_wrong_jurisdiction_and_format(o311: Api) -> None:
    r = o311.client.get("/open311/v2/services.json?jurisdiction_id=other.gov")
    assert r.status_code == 404 and "jurisdiction_id" in r.json()[0]["description"]
    r = o311.client.get("/open311/v2/services.csv")
    assert r.status_code == 404 and "format" in r.json()[0]["description"]
    r = o311.client.get("/open311/v2/requests.json?start_date=yesterday")
    assert r.status_code == 400 and "start_date" in r.json()[0]["description"]


def test_generic_adapter_endpoint_end_to_end(o311: Api, runtime: Runtime) -> None:
    h = {**o311.h(Role.INTEGRATOR), "Content-Type": "application/json"}
    r = o311.client.post(
        "/v1/adapters/open311/messages",
        content=(SPEC / "json-service-requests.json").read_bytes(),
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2
    settle(o311, runtime)
    stored = runtime.store.get_event("open311:helsinki", "ext-638349")
    assert stored is not None and stored.incident_id is not None
    refused = o311.client.post(
        "/v1/adapters/open311/messages",
        content=(SPEC / "xml-service-list.xml").read_bytes(),
        headers={**o311.h(Role.INTEGRATOR), "Content-Type": "application/xml"},
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["errors"][0]["field"] == "body"
    assert "service list" in problem["errors"][0]["reason"]
    letter = runtime.store.get_dead_letter(problem["dead_letter_id"])
    assert letter is not None and letter.raw == (SPEC / "xml-service-list.xml").read_bytes()
