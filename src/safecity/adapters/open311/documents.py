"""GeoReport v2 response documents (pure): service list, definitions, requests, errors.

JSON is always an array (a definition is an object), as the spec's examples; XML is built with
``xml.etree`` under ``<services>``, ``<service_definition>``, ``<service_requests>``, ``<errors>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from safecity.adapters.open311.config import Service

#: XML child element name for the items of a list-valued field.
_ITEM_NAMES = {"attributes": "attribute", "values": "value"}


def service_list(services: Sequence[Service]) -> list[dict[str, Any]]:
    return [
        {
            "service_code": s.code,
            "service_name": s.name,
            "description": s.description,
            "metadata": s.metadata,
            "type": s.type,
            "keywords": ", ".join(s.keywords),
            "group": s.group,
        }
        for s in services
    ]


def service_definition(service: Service) -> dict[str, Any]:
    return {
        "service_code": service.code,
        "attributes": [
            {
                "variable": a.variable,
                "code": a.code,
                "datatype": a.datatype,
                "required": a.required,
                "datatype_description": a.datatype_description,
                "order": a.order,
                "description": a.description,
                "values": [{"key": k, "name": v} for k, v in a.values.items()],
            }
            for a in sorted(service.attributes, key=lambda a: a.order)
        ],
    }


def created(service_request_id: str, service_notice: str | None) -> list[dict[str, Any]]:
    return [
        {
            "service_request_id": service_request_id,
            "service_notice": service_notice,
            "account_id": None,
        }
    ]


def errors(items: Sequence[tuple[int, str]]) -> list[dict[str, Any]]:
    return [{"code": code, "description": description} for code, description in items]


def to_xml(root: str, item: str | None, content: list[dict[str, Any]] | dict[str, Any]) -> bytes:
    """``<root><item>...</item>...</root>`` for a list, ``<root>...</root>`` for an object."""
    top = Element(root)
    if isinstance(content, dict):
        _fill(top, content)
    else:
        assert item is not None
        for entry in content:
            _fill(SubElement(top, item), entry)
    out: bytes = tostring(top, encoding="utf-8", xml_declaration=True)
    return out


def _fill(parent: Element, values: dict[str, Any]) -> None:
    for key, value in values.items():
        el = SubElement(parent, key)
        if isinstance(value, list):
            for entry in value:
                child = SubElement(el, _ITEM_NAMES.get(key, "item"))
                if isinstance(entry, dict):
                    _fill(child, entry)
                else:
                    child.text = _text(entry)
        elif isinstance(value, dict):
            _fill(el, value)
        else:
            el.text = _text(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
