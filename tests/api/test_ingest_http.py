"""Ingest over HTTP: stored before the answer, once per (source, id), refusals named and kept."""

from __future__ import annotations

from datetime import timedelta

import orjson

from factories import T0, raw_event
from safecity.core.identity import Role
from safecity.runtime import Runtime
from support import Api, settle


def test_single_event_is_stored_before_the_answer(api: Api, runtime: Runtime) -> None:
    raw = raw_event(id_="cam-evt-1")
    r = api.client.post("/v1/events", json=raw, headers=api.h(Role.INTEGRATOR))
    assert r.status_code == 202
    assert r.json()["status"] == "accepted"
    # Straight from the store, no waiting: the commit happened before the 202.
    stored = runtime.store.get_event(raw["source"], "cam-evt-1")
    assert stored is not None and stored.event.type == "camera.fire_smoke"


def test_same_source_and_id_twice_is_stored_once(api: Api, runtime: Runtime) -> None:
    raw = raw_event(id_="dup-1")
    first = api.client.post("/v1/events", json=raw, headers=api.h())
    second = api.client.post("/v1/events", json=raw, headers=api.h())
    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json() == {**first.json(), "status": "duplicate"}
    assert runtime.store.count_events() == 1


def test_batch_reports_each_item_and_dead_letters_the_bad_ones(api: Api, runtime: Runtime) -> None:
    good = [raw_event() for _ in range(3)]
    bad = raw_event(location={"lon": 0, "lat": 95})
    r = api.client.post("/v1/events/batch", json={"events": [*good, bad, good[0]]}, headers=api.h())
    assert r.status_code == 200
    body = r.json()
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (3, 1, 1)
    rejected = body["results"][3]
    assert rejected["status"] == "rejected"
    assert rejected["errors"] == [
        {"field": "events[3].location.lat", "reason": "Input should be less than or equal to 90"}
    ]
    letter = api.client.get(
        f"/v1/dead-letters/{rejected['dead_letter_id']}", headers=api.h(Role.SUPERVISOR)
    ).json()
    assert orjson.loads(letter["raw_text"]) == bad
    assert letter["errors"][0]["field"] == "events[3].location.lat"


def test_atomic_batch_stores_nothing_if_one_item_is_bad(api: Api, runtime: Runtime) -> None:
    items = [raw_event(), raw_event(type="nope")]
    r = api.client.post("/v1/events/batch?atomic=true", json=items, headers=api.h())
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "events[1].type"
    assert runtime.store.count_events() == 0


def test_malformed_json_is_a_problem_naming_the_body(api: Api, runtime: Runtime) -> None:
    raw = b'{"id": "x", "source": '
    r = api.client.post(
        "/v1/events", content=raw, headers={**api.h(), "Content-Type": "application/json"}
    )
    assert r.status_code == 422
    problem = r.json()
    assert problem["errors"][0]["field"] == "body"
    assert "not valid UTF-8 JSON" in problem["errors"][0]["reason"]
    letter = runtime.store.get_dead_letter(problem["dead_letter_id"])
    assert letter is not None and letter.raw == raw and letter.channel == "http"


def test_future_timestamps_are_refused(api: Api) -> None:
    r = api.client.post("/v1/events", json=raw_event(at=T0 + timedelta(hours=1)), headers=api.h())
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "time"
    assert "in the future" in r.json()["errors"][0]["reason"]


def test_oversize_body_is_413_and_its_head_is_kept(api: Api, runtime: Runtime) -> None:
    body = b"[" + b" " * (9 * 1024 * 1024) + b"]"
    r = api.client.post(
        "/v1/events/batch", content=body, headers={**api.h(), "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["errors"][0]["field"] == "body"
    letter = runtime.store.get_dead_letter(r.json()["dead_letter_id"])
    assert letter is not None and len(letter.raw) == 65_536


def test_overload_answers_429_with_retry_after(api: Api, runtime: Runtime) -> None:
    svc = api.client.app.state.services  # type: ignore[attr-defined]
    svc.inflight_ingest = svc.max_inflight_ingest
    try:
        r = api.client.post("/v1/events", json=raw_event(), headers=api.h())
    finally:
        svc.inflight_ingest = 0
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/problem+json"


def test_query_events_by_time_area_and_type(api: Api, runtime: Runtime) -> None:
    api.client.post(
        "/v1/events/batch",
        headers=api.h(),
        json=[
            raw_event(at=T0 - timedelta(minutes=10)),
            raw_event("noise.level", at=T0 - timedelta(minutes=5)),
            raw_event(at=T0 - timedelta(minutes=1), lon=25.5, lat=60.5),
        ],
    )

    def q(params: str) -> list[str]:
        r = api.client.get(f"/v1/events?{params}", headers=api.h())
        assert r.status_code == 200, r.text
        return [i["event"]["type"] for i in r.json()["items"]]

    assert q("type=noise.level") == ["noise.level"]
    assert len(q("bbox=24.9,60.1,25.0,60.2")) == 2
    assert len(q("start=2026-11-21T11:52:00Z&end=2026-11-21T12:00:00Z")) == 2
    bad = api.client.get("/v1/events?bbox=1,2,3", headers=api.h())
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.bbox"


def test_event_is_linked_to_its_incident(api: Api, runtime: Runtime) -> None:
    raw = raw_event(id_="fire-1")
    api.client.post("/v1/events", json=raw, headers=api.h())
    settle(api, runtime)
    r = api.client.get(
        "/v1/events/by-key", params={"source": raw["source"], "id": "fire-1"}, headers=api.h()
    )
    assert r.status_code == 200
    assert r.json()["incident_id"].startswith("inc_")


def test_event_types_catalogue_is_public(api: Api) -> None:
    r = api.client.get("/v1/event-types")
    assert r.status_code == 200
    types = {i["type"]: i for i in r.json()["items"]}
    assert "camera.fire_smoke" in types
    assert types["camera.fire_smoke"]["data_schema"]["properties"]["kind"]
