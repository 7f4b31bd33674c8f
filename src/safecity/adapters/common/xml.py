"""Safe XML: defusedxml with DTDs, entities and external references refused, never fetched."""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from safecity.core.errors import FieldError, InvalidInput


def parse_xml(raw: bytes, *, where: str = "body") -> Element:
    """Parse untrusted XML or raise :class:`InvalidInput` naming why.

    A document with a DTD is refused outright: CAP, EDXL, ONVIF and Open311 never need one, and
    a DTD is how entity-expansion and external-entity attacks arrive.
    """
    try:
        root: Element = fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InvalidInput(
            [
                FieldError(
                    where,
                    "XML with a DTD, entity or external reference is refused "
                    f"({type(exc).__name__})",
                )
            ]
        ) from None
    except ParseError as exc:
        raise InvalidInput([FieldError(where, f"not well-formed XML: {exc}")]) from None
    return root


def local_name(tag: str) -> str:
    """``{namespace}name`` -> ``name``."""
    return tag.rsplit("}", 1)[-1]


def namespace(tag: str) -> str:
    """``{namespace}name`` -> ``namespace`` ('' when there is none)."""
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def child(parent: Element, name: str) -> Element | None:
    """First child with local name ``name``, whatever its namespace."""
    for el in parent:
        if local_name(el.tag) == name:
            return el
    return None


def children(parent: Element, name: str) -> list[Element]:
    return [el for el in parent if local_name(el.tag) == name]


def text(parent: Element, name: str) -> str | None:
    """Stripped text of the first child named ``name``, or None when absent or empty."""
    el = child(parent, name)
    if el is None or el.text is None:
        return None
    value = el.text.strip()
    return value or None
