"""Arbitrary and mutated input gives a mapping or a refusal, never another exception."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.ngsi_ld.mapping import parse
from safecity.core.errors import InvalidInput
from support import INTEROP

CONTEXT = MappingContext(received_at=datetime(2026, 11, 21, 12, tzinfo=UTC))
SEEDS = [
    (INTEROP / "ngsi-ld" / "smart-data-models" / m / "examples" / n).read_bytes()
    for m, n in [
        ("Alert/Alert", "example-normalized.jsonld"),
        ("Environment/NoiseLevelObserved", "example.jsonld"),
        ("Streetlighting/Streetlight", "example-normalized.json"),
        ("Device/Camera", "example.jsonld"),
        ("Transportation/CrowdFlowObserved", "example-normalized.jsonld"),
    ]
]
FAST = settings(
    max_examples=150,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=30,
)
keys = st.sampled_from(
    [
        "id",
        "type",
        "value",
        "object",
        "observedAt",
        "location",
        "LAeq",
        "dateIssued",
        "fillingLevel",
        "status",
        "powerState",
        "@context",
        "data",
        "coordinates",
        "@value",
    ]
)
entityish = st.fixed_dictionaries(
    {
        "id": st.text(max_size=20) | st.integers(-1000, 1000),
        "type": st.sampled_from(
            [
                "Alert",
                "NoiseLevelObserved",
                "CrowdFlowObserved",
                "WasteContainer",
                "Streetlight",
                "Camera",
                "Device",
                "Notification",
                "Feature",
                "Other",
            ]
        ),
    },
    optional=dict.fromkeys(
        [
            "LAeq",
            "location",
            "dateIssued",
            "fillingLevel",
            "peopleCount",
            "status",
            "data",
            "properties",
        ],
        json_values,
    ),
)


def _outcome(raw: bytes) -> Mapped | InvalidInput:
    try:
        return parse(raw, CONTEXT)
    except InvalidInput as exc:
        return exc


def _check(raw: bytes) -> None:
    result = _outcome(raw)
    assert isinstance(result, Mapped) or result.errors


@FAST
@given(st.binary(max_size=300))
def test_arbitrary_bytes(raw: bytes) -> None:
    _check(raw)


@FAST
@given(json_values)
def test_arbitrary_json(value: object) -> None:
    _check(orjson.dumps(value))


@FAST
@given(entityish)
def test_entity_shaped_json(value: object) -> None:
    _check(orjson.dumps(value))


@FAST
@given(st.sampled_from(SEEDS), st.data())
def test_mutated_vectors(seed: bytes, data: st.DataObject) -> None:
    document = orjson.loads(seed)
    key = data.draw(st.sampled_from(sorted(document)) | keys)
    document[key] = data.draw(json_values)
    _check(orjson.dumps(document))


@FAST
@given(st.sampled_from(SEEDS), st.integers(0, 2000), st.binary(min_size=1, max_size=4))
def test_spliced_bytes(seed: bytes, at: int, junk: bytes) -> None:
    at %= len(seed)
    _check(seed[:at] + junk + seed[at + len(junk) :])
