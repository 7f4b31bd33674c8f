"""Outbound EIDO documents checked against NENA's schema (needs jsonschema and PyYAML)."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from test_eido_mapping import make_incident

from safecity.adapters.eido.config import EidoConfig
from safecity.adapters.eido.outbound import incident_to_eido
from support import INTEROP

jsonschema = pytest.importorskip("jsonschema")
yaml = pytest.importorskip("yaml")
referencing = pytest.importorskip("referencing")
referencing_jsonschema = pytest.importorskip("referencing.jsonschema")

EIDO = INTEROP / "eido"


@cache
def eido_validator() -> Any:
    base = "https://eido.invalid/"
    root = EIDO / "schema"

    def retrieve(uri: str) -> Any:
        path = root / uri.removeprefix(base)
        return referencing.Resource.from_contents(
            yaml.safe_load(path.read_text(encoding="utf-8")),
            default_specification=referencing_jsonschema.DRAFT7,
        )

    registry = referencing.Registry(retrieve=retrieve)
    ref = {"$ref": base + "openapi.yaml#/components/schemas/EmergencyIncidentDataObjectType"}
    return jsonschema.Draft7Validator(ref, registry=registry)


def test_outbound_eido_is_valid_per_the_schema() -> None:
    doc = incident_to_eido(make_incident(), [], EidoConfig(), agency_type="fire")
    errors = sorted(eido_validator().iter_errors(doc), key=str)
    assert errors == [], [e.message for e in errors]
    assert doc["$id"] == "urn:emergency:uid:incidentid:inc_01JDTESTFIRE:safecity.local"
    assert doc["incidentComponent"]["incidentTypeCommonRegistryText"] == "FUNK"
    assert doc["agencyComponent"][0]["agencyType"] == ["fire"]


def test_schema_check_catches_a_broken_document() -> None:
    doc = incident_to_eido(make_incident(), [], EidoConfig())
    del doc["agencyComponent"]
    doc["eidoVersion"] = "9"
    messages = {e.message for e in eido_validator().iter_errors(doc)}
    assert any("agencyComponent" in m for m in messages)
    assert any("'9' is not one of" in m for m in messages)


def test_outbound_without_a_position_is_valid() -> None:
    doc = incident_to_eido(make_incident(location=None), [], EidoConfig())
    assert not list(eido_validator().iter_errors(doc))
