"""The public portal's endpoints: the offline basemap, the public register's count of non-public
devices, and citizen reports without an account (validated, rate-limited, through Open311)."""

from __future__ import annotations

import gzip
import json

from factories import sensor_record
from safecity.api.routes.portal import RATE_LIMIT, RateLimiter
from safecity.core.identity import Role
from safecity.maps import basemap_bytes
from support import Api

REPORT = {
    "service_code": "streetlight",
    "description": "The lamp by the bus stop is dark",
    "lat": 60.1699,
    "long": 24.9384,
}


def test_the_basemap_is_gzipped_osm_json_with_its_layers(api: Api) -> None:
    r = api.client.get("/public/v1/basemap")
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["cache-control"] == "public, max-age=86400"
    doc = r.json()  # the client undid the gzip
    assert set(doc["layers"]) == {"roads", "buildings", "water", "green", "places", "trees"}
    assert "OpenStreetMap" in doc["attribution"]
    assert all(doc["layers"][name]["features"] for name in doc["layers"])
    road = doc["layers"]["roads"]["features"][0]
    assert road["geometry"]["type"] == "LineString" and "class" in road["properties"]
    assert json.loads(gzip.decompress(basemap_bytes("helsinki"))) == doc


def test_the_public_register_counts_what_it_does_not_show(api: Api) -> None:
    h = api.h(Role.INTEGRATOR)
    api.client.put("/v1/sensors/cam-1", json=sensor_record(id="cam-1"), headers=h)
    for n in (2, 3):
        hidden = sensor_record(id=f"cam-{n}", public=False)
        assert api.client.put(f"/v1/sensors/cam-{n}", json=hidden, headers=h).status_code == 200
    body = api.client.get("/public/v1/sensors").json()
    assert [s["id"] for s in body["items"]] == ["cam-1"]
    assert body["non_public_count"] == 2


def test_a_report_without_an_account_goes_through_open311(api: Api) -> None:
    r = api.client.post("/public/v1/reports", json={**REPORT, "email": "x@example.org"})
    assert r.status_code == 201, r.text
    receipt = r.json()
    rid = receipt["service_request_id"]
    assert receipt["status_url"] == f"/open311/v2/requests/{rid}.json"
    status = api.client.get(receipt["status_url"]).json()[0]
    assert status["service_code"] == "streetlight" and status["status"] == "open"


def test_a_report_names_the_missing_field(api: Api) -> None:
    r = api.client.post("/public/v1/reports", json={**REPORT, "description": "  "})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == ["description"]
    r = api.client.post("/public/v1/reports", json={**REPORT, "lat": None, "long": None})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "location"
    r = api.client.post("/public/v1/reports", json={**REPORT, "service_code": "nope"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "service_code"


def test_reports_are_rate_limited_per_address(api: Api) -> None:
    for _ in range(RATE_LIMIT):
        assert api.client.post("/public/v1/reports", json=REPORT).status_code == 201
    r = api.client.post("/public/v1/reports", json=REPORT)
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert r.json()["status"] == 429


def test_the_window_slides() -> None:
    limiter = RateLimiter(limit=2, window_s=60)
    assert limiter.check("a", now=0) == 0
    assert limiter.check("a", now=10) == 0
    assert limiter.check("a", now=20) == 40
    assert limiter.check("b", now=20) == 0
    assert limiter.check("a", now=60) == 0
