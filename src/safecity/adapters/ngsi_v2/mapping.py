"""NGSI v2 notifications, batch updates and entity bodies (normalized or keyValues) to events.

Orion sends ``{"subscriptionId": ..., "data": [entities]}``; ``POST /v2/op/update`` and
``/v2/op/notify`` bodies carry ``entities``; an entity body may also be posted alone. An
attribute is ``{"type": ..., "value": ..., "metadata": {...}}`` (normalized) or a bare value
(keyValues); a ``TimeInstant`` metadata item gives the time the value was observed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.common.ngsi_sdm import (
    Entity,
    EntityFault,
    decode_json,
    map_items,
    unfeature,
)
from safecity.adapters.ngsi_v2.config import NgsiV2Config
from safecity.core.errors import FieldError, InvalidInput

_NOT_ATTRIBUTES = frozenset({"id", "type", "isPattern", "idPattern"})
#: ``/v2/entities/{id}/attrs`` (the entity id of an attribute-only body), from the origin.
_ENTITY_PATH = re.compile(r"/v2/entities/([^/?#]+)(?:/attrs)?(?:[?#]|$)")
_TYPE_QUERY = re.compile(r"[?&]type=([^&#]+)")


def parse(raw: bytes, context: MappingContext) -> Mapped:
    config = context.config if isinstance(context.config, NgsiV2Config) else NgsiV2Config()
    document = decode_json(raw, "an NGSI v2 entity or notification")
    items, where = _entities(document, config, context.origin)
    return map_items(
        items,
        where,
        lambda item, _notes, _at: _entity(unfeature(item)),
        config.options(),
        context.received_at,
        Mapped(),
    )


def _entities(
    document: Any, config: NgsiV2Config, origin: str | None
) -> tuple[list[Any], Callable[[int], str]]:
    key = ""
    if isinstance(document, list):
        items: list[Any] = document
    elif isinstance(document, dict) and "subscriptionId" in document:
        key = "data"
    elif isinstance(document, dict) and "actionType" in document:
        action = document.get("actionType")
        if action == "delete":
            raise InvalidInput([FieldError("actionType", "a delete carries no observation to map")])
        key = "entities"
    elif isinstance(document, dict) and isinstance(document.get("entities"), list):
        if "expression" in document or "attrs" in document:
            raise InvalidInput(
                [FieldError("entities", "a query (POST /v2/op/query) carries no entity data")]
            )
        key = "entities"
    elif isinstance(document, dict):
        items = [_with_path_identity(document, origin)]
    else:
        raise InvalidInput(
            [FieldError("body", "expected an NGSI v2 entity, an array of them or a notification")]
        )
    if key:
        found = document.get(key)
        if not isinstance(found, list):
            raise InvalidInput([FieldError(key, "must be a list of entities")])
        items = found
    if not items:
        raise InvalidInput([FieldError(key or "body", "no entities")])
    if len(items) > config.max_entities:
        raise InvalidInput(
            [FieldError(key or "body", f"{len(items)} entities; at most {config.max_entities}")]
        )

    def where(index: int) -> str:
        if key:
            return f"{key}[{index}]"
        return f"[{index}]" if isinstance(document, list) else "entity"

    return items, where


def _with_path_identity(document: dict[str, Any], origin: str | None) -> dict[str, Any]:
    """An attribute-only body (``POST /v2/entities/{id}/attrs?type=T``) names its entity in
    the URL; the origin carries it."""
    if "id" in document or origin is None:
        return document
    path = _ENTITY_PATH.search(origin)
    if path is None:
        return document
    out = {"id": path.group(1), **document}
    query = _TYPE_QUERY.search(origin)
    if query is not None and "type" not in document:
        out["type"] = query.group(1)
    return out


def _entity(item: Any) -> Entity:
    if isinstance(item, list):
        raise EntityFault(
            "body",
            "attribute values without names (attrsFormat 'values'); subscribe with "
            "'normalized' or 'keyValues'",
        )
    if not isinstance(item, dict):
        raise EntityFault("body", "an entity must be a JSON object")
    ident = item.get("id")
    if not isinstance(ident, str) or not ident.strip():
        raise EntityFault("id", "required: the entity id")
    if len(ident) > 256 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in ident):
        raise EntityFault("id", "must be at most 256 printable characters")
    type_ = item.get("type", "Thing")  # NGSI v2: an entity without a type is a "Thing"
    if not isinstance(type_, str) or not type_.strip():
        raise EntityFault("type", "must be a non-empty string")
    attrs: dict[str, Any] = {}
    observed: dict[str, str] = {}
    for name, value in item.items():
        if name in _NOT_ATTRIBUTES:
            continue
        plain, when = _attribute(value, name)
        if plain is None:
            continue
        attrs[name] = plain
        if when is not None:
            observed[name] = when
    return Entity(id=ident, type=type_, attrs=attrs, observed=observed)


def _attribute(value: Any, name: str) -> tuple[Any, str | None]:
    """(plain value, TimeInstant) of a normalized or keyValues attribute."""
    if not (isinstance(value, dict) and "value" in value):
        return value, None
    metadata = value.get("metadata")
    when: str | None = None
    if metadata is not None and not isinstance(metadata, dict):
        raise EntityFault(f"{name}.metadata", "must be an object")
    if isinstance(metadata, dict):
        instant = metadata.get("TimeInstant")
        if isinstance(instant, dict):
            instant = instant.get("value")
        if instant is not None:
            if not isinstance(instant, str):
                raise EntityFault(f"{name}.metadata.TimeInstant", "must be a date-time string")
            when = instant
    return value["value"], when
