"""Fuzzing the ingest path: any input gets a 2xx or a 4xx that names a field and a reason; refused
input is dead-lettered byte for byte; accepted events stay retrievable; the server stays up."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import raw_event
from safecity.runtime import Runtime
from support import Api

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "id",
    "source",
    "type",
    "time",
    "location",
    "severity",
    "confidence",
    "data",
    "specversion",
    "context",
    "subject",
]


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    event = raw_event(
        draw(
            st.sampled_from(
                ["camera.fire_smoke", "noise.level", "lamp.emergency_button", "unit.position"]
            )
        )
    )
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        action = draw(st.sampled_from(["drop", "replace", "coords", "time"]))
        if action == "drop":
            event.pop(field, None)
        elif action == "replace":
            event[field] = draw(json_values)
        elif action == "coords":
            event["location"] = {
                "lon": draw(st.floats(allow_nan=True)),
                "lat": draw(st.floats(allow_nan=True)),
            }
        else:
            event["time"] = draw(
                st.sampled_from(
                    [
                        "2999-01-01T00:00:00Z",
                        "2026-13-01T00:00:00Z",
                        "yesterday",
                        "2026-11-21",
                        "2026-11-21T12:00:00+25:00",
                    ]
                )
            )
    return event


def check_answer(api: Api, runtime: Runtime, r: Any, raw: bytes) -> None:
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        problem = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        assert problem["errors"], problem
        assert all(e["field"] and e["reason"] for e in problem["errors"])
        letter = runtime.store.get_dead_letter(problem["dead_letter_id"])
        assert letter is not None and letter.raw == raw
    else:
        body = r.json()
        stored = runtime.store.get_event(body["source"], body["id"])
        assert stored is not None


@FUZZ
@given(event=mutated_events())
def test_mutated_single_events(api: Api, runtime: Runtime, event: dict[str, Any]) -> None:
    raw = orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS) if _encodable(event) else b"{"
    r = api.client.post(
        "/v1/events", content=raw, headers={**api.h(), "Content-Type": "application/json"}
    )
    check_answer(api, runtime, r, raw)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes(api: Api, runtime: Runtime, raw: bytes) -> None:
    r = api.client.post(
        "/v1/events", content=raw, headers={**api.h(), "Content-Type": "application/json"}
    )
    check_answer(api, runtime, r, raw)


@FUZZ
@given(events=st.lists(mutated_events(), min_size=1, max_size=8))
def test_batches_keep_every_valid_item(
    api: Api, runtime: Runtime, events: list[dict[str, Any]]
) -> None:
    if not all(_encodable(e) for e in events):
        return
    raw = orjson.dumps(events, option=orjson.OPT_NON_STR_KEYS)
    r = api.client.post(
        "/v1/events/batch", content=raw, headers={**api.h(), "Content-Type": "application/json"}
    )
    assert r.status_code == 200, r.text
    for result in r.json()["results"]:
        if result["status"] == "rejected":
            assert result["errors"] and runtime.store.get_dead_letter(result["dead_letter_id"])
        else:
            assert runtime.store.get_event(result["source"], result["id"]) is not None


def test_invalid_unicode_and_surrogates(api: Api, runtime: Runtime) -> None:
    for raw in (b'{"id": "\xff\xfe", "source": "x"}', b'{"id": "\\ud800", "source": "x"}'):
        r = api.client.post(
            "/v1/events", content=raw, headers={**api.h(), "Content-Type": "application/json"}
        )
        assert r.status_code == 422
        check_answer(api, runtime, r, raw)


def test_ten_megabyte_body_then_still_healthy(api: Api, runtime: Runtime) -> None:
    raw = orjson.dumps([raw_event()]) + b" " * (10 * 1024 * 1024)
    r = api.client.post(
        "/v1/events/batch", content=raw, headers={**api.h(), "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert api.client.get("/health").json()["status"] == "ok"
    ok = api.client.post("/v1/events", json=raw_event(), headers=api.h())
    assert ok.status_code == 202


def _encodable(value: Any) -> bool:
    try:
        orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return True
