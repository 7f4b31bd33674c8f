"""Safe XML: defusedxml with DTDs, entities and external references refused, never fetched."""

from __future__ import annotations

import codecs
import re
from functools import lru_cache
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from lxml import etree

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
    except (LookupError, ValueError) as exc:  # e.g. a declaration naming no real encoding
        raise InvalidInput([FieldError(where, f"unreadable XML: {exc}")]) from None
    return root


@lru_cache(maxsize=4096)  # a handful of tags repeat in every document
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


_DECLARATION = re.compile(
    r"^<\?xml\s[^>]*?encoding\s*=\s*([\"'])([A-Za-z][A-Za-z0-9._-]*)\1", re.ASCII
)
_DECLARATION_BYTES = re.compile(
    rb"^<\?xml\s[^>]*?encoding\s*=\s*([\"'])([A-Za-z][A-Za-z0-9._-]*)\1", re.ASCII
)


def to_utf8(raw: bytes, *, where: str = "body") -> bytes:
    """The document re-encoded as UTF-8 (its declaration updated to say so).

    The bytes are decoded as the XML declaration (or a byte-order mark) says; bytes that are not
    valid in that encoding are refused naming the encoding, never guessed at.
    """
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        declared, body = "UTF-16", raw
    elif raw.startswith(codecs.BOM_UTF8):
        declared, body = "UTF-8", raw[len(codecs.BOM_UTF8) :]
    else:
        body = raw.lstrip(b" \t\r\n")
        found = _DECLARATION_BYTES.match(body[:300])
        declared = found.group(2).decode("ascii") if found else "UTF-8"
    try:
        codec = codecs.lookup(declared).name
    except LookupError:
        raise InvalidInput(
            [FieldError(where, f"the XML declaration names an unknown encoding {declared!r}")]
        ) from None
    try:
        text = body.decode("utf-16" if codec.startswith("utf-16") else codec)
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex()
        said = (
            f"the XML declaration says encoding={declared!r}"
            if declared != "UTF-8" or _DECLARATION_BYTES.match(body[:300])
            else "XML without an encoding declaration must be UTF-8"
        )
        raise InvalidInput(
            [
                FieldError(
                    where,
                    f"encoding mismatch: {said}, but byte 0x{bad} at offset {exc.start} is not "
                    f"valid {declared} ({exc.reason}); re-send it in the declared encoding",
                )
            ]
        ) from None
    text = text.lstrip("\ufeff \t\r\n")
    found_text = _DECLARATION.match(text)
    if found_text is not None:
        start, end = found_text.span(2)
        text = text[:start] + "UTF-8" + text[end:]
    return text.encode("utf-8")


def lxml_root(utf8: bytes) -> etree._Element:
    """The same document parsed by lxml (for exact canonicalisation), with nothing resolved.

    Only called on bytes :func:`safecity.adapters.common.xml.parse_xml` already accepted (no
    DTD, no entities); the parser is still locked down in case it ever is not.
    """
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        return etree.fromstring(utf8, parser=parser)
    except etree.XMLSyntaxError as exc:  # stricter than ElementTree, e.g. on namespace URIs
        raise InvalidInput([FieldError("body", f"not well-formed XML: {exc}")]) from None
