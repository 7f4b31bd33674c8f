"""NGSI-LD notifications and entity upserts (normalized or keyValues) to events and sensors.

``@context`` is never fetched: the ETSI core context is shipped with this package
(``contexts/``) and resolved locally; any other remote context is taken as opaque (terms are
read as written) and the sender is told so in a note. Inline contexts are applied.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from typing import Any

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.common.ngsi_sdm import (
    SUPPORTED_TYPES,
    Entity,
    EntityFault,
    decode_json,
    map_items,
    unfeature,
)
from safecity.adapters.ngsi_ld.config import NgsiLdConfig
from safecity.core.errors import FieldError, InvalidInput

#: URLs under which ETSI publishes the core @context; all resolve to the shipped copy.
CORE_CONTEXT_PREFIX = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context"
CORE_CONTEXT_FILE = "ngsi-ld-core-context-v1.4.jsonld"
NGSI_NULL = "urn:ngsi-ld:null"
_ATTRIBUTE_TYPES = frozenset(
    {
        "Property",
        "GeoProperty",
        "Relationship",
        "LanguageProperty",
        "VocabProperty",
        "JsonProperty",
        "ListProperty",
        "ListRelationship",
    }
)
_NOT_ATTRIBUTES = frozenset(
    {"id", "type", "@id", "@type", "@context", "scope", "createdAt", "modifiedAt", "deletedAt"}
)


@cache
def core_terms() -> dict[str, str]:
    """Expanded IRI -> term, from the shipped core @context (read once, never fetched)."""
    text = (files(__package__) / "contexts" / CORE_CONTEXT_FILE).read_text("utf-8")
    document = json.loads(text)
    return _reverse(document["@context"])


def _reverse(context: dict[str, Any]) -> dict[str, str]:
    prefixes = {k: v for k, v in context.items() if isinstance(v, str) and v.endswith(("/", "#"))}
    out: dict[str, str] = {}
    for term, definition in context.items():
        iri = definition.get("@id") if isinstance(definition, dict) else definition
        if not isinstance(iri, str) or term.startswith("@"):
            continue
        prefix, _, rest = iri.partition(":")
        if prefix in prefixes and not rest.startswith("//"):
            iri = prefixes[prefix] + rest
        out[iri] = term
    return out


class _Terms:
    """Compacts expanded IRIs back to the terms the data models use."""

    def __init__(self, reverse: dict[str, str]) -> None:
        self.reverse = reverse

    def compact(self, name: str) -> str:
        if name in self.reverse:
            return self.reverse[name]
        if "://" in name or name.startswith("urn:"):
            tail = name.rstrip("/#").rsplit("#", 1)[-1].rsplit("/", 1)[-1]
            return tail or name
        return name


def parse(raw: bytes, context: MappingContext) -> Mapped:
    config = context.config if isinstance(context.config, NgsiLdConfig) else NgsiLdConfig()
    document = decode_json(raw, "an NGSI-LD entity or notification")
    mapped = Mapped()
    items, where, document_context = _entities(document, config)
    terms = _context_terms(document_context, mapped.notes)
    return map_items(
        items,
        where,
        lambda item, notes, at: _entity(unfeature(item), terms, notes, at),
        config.options(),
        context.received_at,
        mapped,
    )


def _entities(document: Any, config: NgsiLdConfig) -> tuple[list[Any], Any, Any]:
    if isinstance(document, list):
        items: list[Any] = document
        context: Any = None

        def where(i: int) -> str:
            return f"[{i}]"
    elif isinstance(document, dict) and document.get("type") == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            raise InvalidInput([FieldError("features", "a FeatureCollection needs features")])
        items = features
        context = document.get("@context")

        def where(i: int) -> str:
            return f"features[{i}]"
    elif isinstance(document, dict) and document.get("type") == "Notification":
        data = document.get("data")
        if not isinstance(data, list):
            raise InvalidInput([FieldError("data", "a Notification needs a list of entities")])
        items = data
        context = document.get("@context")

        def where(i: int) -> str:
            return f"data[{i}]"
    elif isinstance(document, dict):
        items = [document]
        context = None

        def where(i: int) -> str:
            return "entity"
    else:
        raise InvalidInput(
            [FieldError("body", "expected an NGSI-LD entity, an array of them or a Notification")]
        )
    if not items:
        raise InvalidInput([FieldError("body", "no entities")])
    if len(items) > config.max_entities:
        raise InvalidInput(
            [
                FieldError(
                    "body", f"{len(items)} entities; at most {config.max_entities} per document"
                )
            ]
        )
    return items, where, context


def _context_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _context_terms(value: Any, notes: list[str], known: dict[str, str] | None = None) -> _Terms:
    reverse = dict(known if known is not None else core_terms())
    for item in _context_list(value):
        if isinstance(item, str):
            if not item.startswith(CORE_CONTEXT_PREFIX):
                note = f"@context {item[:300]!r} was not fetched; its terms were read as written"
                if note not in notes:
                    notes.append(note)
        elif isinstance(item, dict):
            reverse.update(_reverse(item))
    return _Terms(reverse)


def _entity(item: Any, terms: _Terms, notes: list[str], at: str) -> Entity:
    if not isinstance(item, dict):
        raise EntityFault("body", "an entity must be a JSON object")
    if "@context" in item:
        terms = _context_terms(item["@context"], notes, terms.reverse)
    ident = item.get("id", item.get("@id"))
    if not isinstance(ident, str) or not ident.strip():
        raise EntityFault("id", "required: the entity id (a URI)")
    if len(ident) > 256 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in ident):
        raise EntityFault("id", "must be at most 256 printable characters")
    type_ = _type(item.get("type", item.get("@type")), terms)
    attrs: dict[str, Any] = {}
    observed: dict[str, str] = {}
    for key, value in item.items():
        if key in _NOT_ATTRIBUTES or not isinstance(key, str):
            continue
        name = terms.compact(key)
        plain, when = _attribute(value, name)
        if plain is None:
            continue
        attrs[name] = plain
        if when is not None:
            observed[name] = when
    return Entity(id=ident, type=type_, attrs=attrs, observed=observed)


def _type(value: Any, terms: _Terms) -> str:
    names: Iterable[Any] = value if isinstance(value, list) else [value]
    found = [terms.compact(n) for n in names if isinstance(n, str) and n.strip()]
    if not found:
        raise EntityFault("type", "required: the entity type")
    for name in found:
        if name in SUPPORTED_TYPES:
            return name
    return found[0]


def _attribute(value: Any, name: str) -> tuple[Any, str | None]:
    """(plain value, observedAt) of a normalized or keyValues attribute."""
    if isinstance(value, list) and value and all(_is_normalized(v) for v in value):
        # A multi-attribute (several datasetIds): the default instance, else the first.
        chosen = next((v for v in value if "datasetId" not in v), value[0])
        return _attribute(chosen, name)
    if not _is_normalized(value):
        return _literal(value), None
    kind = value.get("type")
    if kind == "Relationship" or "object" in value:
        if "object" not in value and "value" not in value:
            raise EntityFault(name, "a Relationship needs an 'object'")
        plain = value.get("object", value.get("value"))
    elif kind == "LanguageProperty" or "languageMap" in value:
        languages = value.get("languageMap")
        if not isinstance(languages, dict) or not languages:
            raise EntityFault(name, "a LanguageProperty needs a 'languageMap'")
        plain = next(iter(languages.values()))
    elif "value" in value:
        plain = value["value"]
    elif "vocab" in value:
        plain = value["vocab"]
    elif "json" in value:
        plain = value["json"]
    else:
        raise EntityFault(name, f"a {kind} needs a 'value'")
    when = value.get("observedAt")
    if when is not None and not isinstance(when, str):
        raise EntityFault(f"{name}.observedAt", "must be a date-time string")
    return _literal(plain), when


def _is_normalized(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    return value.get("type") in _ATTRIBUTE_TYPES or "value" in value or "object" in value


def _literal(value: Any) -> Any:
    """Unwrap JSON-LD typed values (``{"@type": "DateTime", "@value": ...}``) and NGSI-LD null."""
    if isinstance(value, dict) and "@value" in value:
        return _literal(value["@value"])
    if value == NGSI_NULL:
        return None
    return value
