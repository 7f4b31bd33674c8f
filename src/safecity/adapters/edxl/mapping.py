"""EDXL-DE 1.0: check the distribution envelope, then hand each embedded XML document on.

The envelope itself makes no events: each ``contentObject``'s embedded XML (a CAP alert, most
often) is returned as :class:`Enclosed` for the adapter of its standard, serialised exactly as it
was (prefixes and namespace declarations kept, so a CAP signature can still verify).
"""

from __future__ import annotations

import copy
import re
from datetime import datetime

from lxml import etree

from safecity.adapters.base import Enclosed, Mapped, MappingContext, Rejection
from safecity.adapters.common.xml import local_name, lxml_root, namespace, parse_xml, to_utf8
from safecity.adapters.edxl.config import EdxlConfig
from safecity.core.errors import FieldError, InvalidInput

EDXL_DE = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"

#: Namespaces of embedded content this hub reads, and the adapter that reads each.
CONTENT_ADAPTERS: dict[str, str] = {
    "urn:oasis:names:tc:emergency:cap:1.2": "cap",
    "urn:oasis:names:tc:emergency:cap:1.1": "cap",
    "http://www.incident.com/cap/1.0": "cap",
    EDXL_DE: "edxl",
}

_STATUS = ("Actual", "Exercise", "System", "Test")
_TYPE = (
    "Report",
    "Update",
    "Cancel",
    "Request",
    "Response",
    "Dispatch",
    "Ack",
    "Error",
    "SensorConfiguration",
    "SensorControl",
    "SensorStatus",
    "SensorDetection",
)
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_LIMIT = 1000


def parse(raw: bytes, context: MappingContext) -> Mapped:
    """Validate an ``EDXLDistribution`` and return its XML content for the adapters that read it."""
    config = context.config if isinstance(context.config, EdxlConfig) else EdxlConfig()
    raw = to_utf8(raw)  # refuses bytes that contradict the declared encoding, naming it
    safe = parse_xml(raw)  # refuses DTDs and entities before lxml ever sees the bytes
    if local_name(safe.tag) != "EDXLDistribution" or namespace(safe.tag) != EDXL_DE:
        raise InvalidInput(
            [
                FieldError(
                    local_name(safe.tag),
                    f"root element <{local_name(safe.tag)}> (namespace "
                    f"{namespace(safe.tag) or 'none'!r}) is not an EDXL-DE 1.0 "
                    f"EDXLDistribution ({EDXL_DE})",
                )
            ]
        )
    root = lxml_root(raw)
    errors: list[FieldError] = []
    status = _envelope(root, errors)
    if status is not None and status not in config.accept_status:
        errors.append(
            FieldError(
                "distributionStatus",
                f"{status!r} distributions are not accepted by this intake "
                f"(accepted: {', '.join(config.accept_status)})",
            )
        )
    objects = _children(root, "contentObject")
    if not objects and not errors:
        errors.append(FieldError("contentObject", "the envelope carries no contentObject"))
    if errors:
        raise InvalidInput(errors)
    out = Mapped()
    for index, obj in enumerate(objects[:_LIMIT]):
        _content(obj, f"contentObject[{index}]", out)
    if len(objects) > _LIMIT:
        out.notes.append(f"only the first {_LIMIT} of {len(objects)} contentObjects were read")
    if not out.enclosed and out.rejections:
        raise InvalidInput([e for r in out.rejections for e in r.errors])
    return out


def _envelope(root: etree._Element, errors: list[FieldError]) -> str | None:
    for name in ("distributionID", "senderID"):
        value = _text(root, name)
        if value is None:
            errors.append(FieldError(name, "required"))
        elif any(c.isspace() for c in value) or len(value) > 500:
            errors.append(FieldError(name, f"{value[:80]!r} must be 1-500 characters, no spaces"))
    sent = _text(root, "dateTimeSent")
    if sent is None:
        errors.append(FieldError("dateTimeSent", "required: a date-time with a zone"))
    elif not _valid_time(sent):
        errors.append(
            FieldError(
                "dateTimeSent",
                f"{sent[:60]!r} is not a date-time with a zone, e.g. 2026-11-21T15:04:05-00:00",
            )
        )
    status = _enum(root, "distributionStatus", _STATUS, errors)
    _enum(root, "distributionType", _TYPE, errors)
    return status


def _content(obj: etree._Element, where: str, out: Mapped) -> None:
    def refuse(reason: str, at: str = where) -> None:
        out.rejections.append(Rejection(where, (FieldError(at, reason),), etree.tostring(obj)))

    xml = _child(obj, "xmlContent")
    if xml is None:
        other = _child(obj, "nonXMLContent")
        if other is not None:
            mime = _text(other, "mimeType") or "unknown type"
            uri = _text(other, "uri")
            refuse(
                f"non-XML content ({mime[:100]}) is not read by this hub"
                + (f"; the URI it names ({uri[:300]}) was not fetched" if uri else ""),
                f"{where}.nonXMLContent",
            )
        else:
            refuse("has neither xmlContent nor nonXMLContent")
        return
    documents = [
        el for embedded in _children(xml, "embeddedXMLContent") for el in _elements(embedded)
    ]
    if not documents:
        refuse(
            "xmlContent carries no embeddedXMLContent document (keyXMLContent excerpts are "
            "not full documents)",
            f"{where}.xmlContent",
        )
        return
    for n, document in enumerate(documents):
        at = where if len(documents) == 1 else f"{where}.embeddedXMLContent[{n}]"
        ns = namespace(document.tag)
        adapter = CONTENT_ADAPTERS.get(ns)
        if adapter is None:
            out.rejections.append(
                Rejection(
                    at,
                    (
                        FieldError(
                            f"{at}.xmlContent",
                            f"<{local_name(document.tag)}> in namespace {ns or 'none'!r} is not "
                            "content this hub reads (known: CAP 1.0/1.1/1.2, EDXL-DE 1.0)",
                        ),
                    ),
                    etree.tostring(document),
                )
            )
            continue
        # A standalone copy without the envelope's unused namespace declarations: the content
        # is then byte-for-byte what its sender signed, as far as canonical XML can tell.
        standalone = copy.deepcopy(document)
        etree.cleanup_namespaces(standalone)
        out.enclosed.append(
            Enclosed(
                adapter=adapter,
                raw=etree.tostring(standalone, encoding="utf-8", xml_declaration=True),
                content_type="application/xml",
                where=at,
            )
        )


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [el for el in parent if isinstance(el.tag, str)]


def _children(parent: etree._Element, name: str) -> list[etree._Element]:
    return [el for el in _elements(parent) if local_name(el.tag) == name]


def _child(parent: etree._Element, name: str) -> etree._Element | None:
    found = _children(parent, name)
    return found[0] if found else None


def _text(parent: etree._Element, name: str) -> str | None:
    el = _child(parent, name)
    value = (el.text or "").strip() if el is not None else ""
    return value or None


def _enum(
    parent: etree._Element, name: str, allowed: tuple[str, ...], errors: list[FieldError]
) -> str | None:
    value = _text(parent, name)
    choices = ", ".join(allowed)
    if value is None:
        errors.append(FieldError(name, f"required: one of {choices}"))
        return None
    for option in allowed:
        if option.lower() == value.lower():
            return option
    errors.append(FieldError(name, f"{value[:60]!r} is not one of {choices}"))
    return None


def _valid_time(value: str) -> bool:
    if not _DATETIME.match(value):
        return False
    head = value[:19]
    try:
        datetime.fromisoformat(head)
    except ValueError:
        return False
    return True
