"""CAP alerts (1.2, 1.1, 1.0), alone or in Atom/RSS feeds, to ``alert.issued`` events.

One event per ``<info>`` block (so one per language), or one for an alert without any. Feeds
that embed alerts yield them; feeds that only link to alerts yield a note per entry: nothing
named in a document is ever fetched.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from xml.etree.ElementTree import Element, tostring

from lxml import etree

from safecity.adapters.base import Enclosed, Mapped, MappingContext, Rejection
from safecity.adapters.cap.config import CapConfig
from safecity.adapters.cap.document import verify_enveloped
from safecity.adapters.common.xml import (
    child,
    children,
    local_name,
    lxml_root,
    namespace,
    parse_xml,
    text,
    to_utf8,
)
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.events import Event, parse_event

CAP_NAMESPACES: dict[str, str] = {
    "urn:oasis:names:tc:emergency:cap:1.2": "cap-1.2",
    "urn:oasis:names:tc:emergency:cap:1.1": "cap-1.1",
    "http://www.incident.com/cap/1.0": "cap-1.0",
}
ATOM = "http://www.w3.org/2005/Atom"
DSIG = "http://www.w3.org/2000/09/xmldsig#"
EDXL_DE = "urn:oasis:names:tc:emergency:EDXL:DE:1.0"

_STATUS = ("Actual", "Exercise", "System", "Test", "Draft")
_MSG_TYPE = ("Alert", "Update", "Cancel", "Ack", "Error")
_SCOPE = ("Public", "Restricted", "Private")
_URGENCY = ("Immediate", "Expected", "Future", "Past", "Unknown")
_SEVERITY = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
_CERTAINTY = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")
#: CAP 1.0 spelled one certainty differently.
_CERTAINTY_ALIASES = {"very likely": "likely"}
_CONFIDENCE = {"observed": 1.0, "likely": 0.8, "possible": 0.5, "unlikely": 0.2, "unknown": 0.5}

#: CAP forbids spaces, commas and the XML-restricted ``<`` and ``&`` in identifiers and senders:
#: they would break the ``sender,identifier,sent`` triples of ``<references>``.
_IDENT = re.compile(r"^[^\s,<&]+$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_LONG = 4000
_SHORT = 200
_MAX_ACCURACY_M = 100_000.0


def parse(raw: bytes, context: MappingContext) -> Mapped:
    """Map a CAP alert, an Atom/RSS feed of them, or an ``<alerts>`` list of them."""
    config = context.config if isinstance(context.config, CapConfig) else CapConfig()
    doc = _Document.read(raw)
    out = Mapped()
    root = doc.root
    name, ns = local_name(root.tag), namespace(root.tag)
    if name == "alert":
        _map_alert(doc, root, "alert", context, config, out)
    elif name == "feed" and ns == ATOM:
        _map_atom(doc, root, context, config, out)
    elif name == "rss":
        channel = child(root, "channel")
        items = children(channel, "item") if channel is not None else []
        _map_entries(doc, items, "item", context, config, out)
    elif name == "alerts":
        # A plain list of alerts (SMHI and others publish their current alerts so).
        alerts = [el for el in root if local_name(el.tag) == "alert"]
        if not alerts:
            raise InvalidInput([FieldError("alerts", "holds no <alert> element")])
        for index, alert in enumerate(alerts):
            _map_alert(doc, alert, f"alerts[{index}]", context, config, out)
    elif name == "EDXLDistribution" and ns == EDXL_DE:
        out.enclosed.append(Enclosed("edxl", raw, context.content_type, "EDXLDistribution"))
        out.notes.append("an EDXL-DE envelope: handed to the edxl adapter to unwrap")
    else:
        raise InvalidInput(
            [
                FieldError(
                    local_name(root.tag),
                    f"root element <{local_name(root.tag)}> (namespace {ns or 'none'!r}) is not "
                    "a CAP alert, an Atom feed or an RSS feed",
                )
            ]
        )
    if not out.events and not out.enclosed and out.rejections:
        raise InvalidInput([e for r in out.rejections for e in r.errors])
    return out


# --- documents ----------------------------------------------------------------------------------


@dataclass
class _Document:
    """One XML document: its UTF-8 bytes, the safe parse and (on demand) the lxml parse."""

    utf8: bytes
    root: Element
    _lxml_alerts: list[etree._Element] | None = None
    _order: dict[int, int] = field(default_factory=dict)

    @classmethod
    def read(cls, raw: bytes, where: str = "body") -> _Document:
        utf8 = to_utf8(raw, where=where)
        root = parse_xml(utf8, where=where)
        doc = cls(utf8, root)
        doc._order = {id(el): i for i, el in enumerate(e for e in root.iter() if _is_cap(e))}
        return doc

    def lxml_alert(self, element: Element) -> etree._Element:
        """The lxml element of the same alert, for canonicalisation exactly as signed."""
        if self._lxml_alerts is None:
            root = lxml_root(self.utf8)
            self._lxml_alerts = [
                e for e in root.iter() if isinstance(e.tag, str) and _is_cap_tag(e.tag)
            ]
        return self._lxml_alerts[self._order[id(element)]]


def _is_cap_tag(tag: str) -> bool:
    return local_name(tag) == "alert" and namespace(tag) in CAP_NAMESPACES


def _is_cap(el: Element) -> bool:
    return isinstance(el.tag, str) and _is_cap_tag(el.tag)


def _serialise(el: Element) -> bytes:
    serialised: bytes = tostring(el, encoding="utf-8")
    return serialised


# --- feeds --------------------------------------------------------------------------------------


def _map_atom(
    doc: _Document, root: Element, context: MappingContext, config: CapConfig, out: Mapped
) -> None:
    entries = [el for el in root if local_name(el.tag) == "entry" and namespace(el.tag) == ATOM]
    if any(local_name(el.tag) == "alert" for el in root):
        out.notes.append(
            "an <alert> directly inside <feed> (not in an <entry>) is foreign markup to Atom "
            "and is ignored; put each alert in an entry's <content>"
        )
    _map_entries(doc, entries, "entry", context, config, out)


def _map_entries(
    doc: _Document,
    entries: list[Element],
    kind: str,
    context: MappingContext,
    config: CapConfig,
    out: Mapped,
) -> None:
    if not entries:
        out.notes.append(f"the feed has no {kind} elements: no alerts are current")
        return
    for index, entry in enumerate(entries):
        where = f"{kind}[{index}]"
        alerts = [el for el in entry.iter() if el is not entry and local_name(el.tag) == "alert"]
        if alerts:
            for n, alert in enumerate(alerts):
                _map_alert(
                    doc,
                    alert,
                    where if len(alerts) == 1 else f"{where}.alert[{n}]",
                    context,
                    config,
                    out,
                )
            continue
        escaped = _escaped_alert(entry)
        if escaped is not None:
            try:
                inner = _Document.read(escaped.encode("utf-8"), where=f"{where}.content")
            except InvalidInput as exc:
                out.rejections.append(Rejection(where, tuple(exc.errors), _serialise(entry)))
                continue
            if local_name(inner.root.tag) == "alert":
                _map_alert(inner, inner.root, where, context, config, out)
                continue
        link = _link(entry)
        label = text(entry, "id") or text(entry, "guid") or text(entry, "title") or where
        if link is not None:
            out.notes.append(
                f"{where} ({label[:200]}) links to {link[:500]}: that alert is not in this "
                "document and was not fetched; poll that URL or have it pushed separately"
            )
            continue
        out.rejections.append(
            Rejection(
                where,
                (FieldError(where, "carries neither an embedded CAP alert nor a link to one"),),
                _serialise(entry),
            )
        )


def _escaped_alert(entry: Element) -> str | None:
    """An alert written as escaped text inside ``<content>`` / ``<description>``."""
    for name in ("content", "description"):
        el = child(entry, name)
        if el is not None and len(el) == 0 and el.text is not None:
            body = el.text.strip()
            if body.startswith("<") and "alert" in body[:400]:
                return body
    return None


def _link(entry: Element) -> str | None:
    links = children(entry, "link")
    best: str | None = None
    for el in links:
        href = el.get("href") or (el.text or "").strip()
        if not href:
            continue
        kind = (el.get("type") or "").lower()
        if "cap" in kind:
            return href
        if best is None and el.get("rel") in (None, "alternate", "related"):
            best = href
    enclosure = child(entry, "enclosure")
    if best is None and enclosure is not None and enclosure.get("url"):
        best = enclosure.get("url")
    return best


# --- one alert ----------------------------------------------------------------------------------


def _map_alert(
    doc: _Document,
    alert: Element,
    where: str,
    context: MappingContext,
    config: CapConfig,
    out: Mapped,
) -> None:
    def refuse(errors: list[FieldError]) -> None:
        out.rejections.append(Rejection(where, tuple(errors), _serialise(alert)))

    ns = namespace(alert.tag)
    fmt = CAP_NAMESPACES.get(ns)
    if fmt is None:
        expected = ", ".join(repr(n) for n in CAP_NAMESPACES)
        refuse(
            [
                FieldError(
                    f"{where}.xmlns",
                    f"namespace {ns or 'none'!r} is not a CAP namespace; expected one of "
                    f"{expected}",
                )
            ]
        )
        return
    errors: list[FieldError] = []
    notes: list[str] = []
    head = _Head.read(alert, where, errors)
    signature, signature_note = _signature(doc, alert, where, context, config, errors)
    if signature_note:
        notes.append(signature_note)
    if errors or head is None:
        refuse(errors)
        return
    infos = children(alert, "info")
    base: dict[str, Any] = {
        "identifier": head.identifier,
        "sender": head.sender,
        "sent": head.sent,
        "status": head.status,
        "msg_type": head.msg_type,
        "scope": head.scope,
        "references": head.references,
        "signature": signature,
        "format": fmt,
    }
    source = _source(head.sender)
    correlation = _ref(head.original)
    events: list[Event] = []
    for index, info in enumerate(infos or [None]):
        at = f"{where}.info[{index}]" if info is not None else where
        info_errors: list[FieldError] = []
        data, location = _info(info, at, info_errors, notes) if info is not None else ({}, None)
        if info_errors:
            out.rejections.append(Rejection(at, tuple(info_errors), _serialise(alert)))
            continue
        envelope: dict[str, Any] = {
            "id": _ref(head.identifier) + (f"#{index}" if info is not None else ""),
            "source": source,
            "type": "alert.issued",
            "time": head.sent,
            "severity": data.get("severity", "unknown"),
            "confidence": _CONFIDENCE.get(data.get("certainty", "unknown"), 0.5),
            "context": {"correlation_id": correlation},
            "data": {**base, **data},
        }
        if location is not None:
            envelope["location"] = location
        try:
            events.append(parse_event(envelope, where=at))
        except InvalidInput as exc:
            out.rejections.append(Rejection(at, tuple(exc.errors), _serialise(alert)))
    out.events.extend(events)
    if events:
        out.notes.extend(f"{where}: {n}" for n in dict.fromkeys(notes))


@dataclass(frozen=True)
class _Head:
    identifier: str
    sender: str
    sent: datetime
    status: str
    msg_type: str
    scope: str
    references: list[str]
    #: The identifier of the alert this one updates or cancels (its own for a new alert).
    original: str

    @classmethod
    def read(cls, alert: Element, where: str, errors: list[FieldError]) -> _Head | None:
        before = len(errors)
        identifier = _ident(alert, "identifier", where, errors)
        sender = _ident(alert, "sender", where, errors)
        sent = _time(alert, "sent", where, errors, required=True)
        status = _enum(alert, "status", _STATUS, where, errors)
        msg_type = _enum(alert, "msgType", _MSG_TYPE, where, errors)
        scope = _enum(alert, "scope", _SCOPE, where, errors)
        references = (text(alert, "references") or "").split()
        if len(references) > 100:
            errors.append(FieldError(f"{where}.references", "more than 100 references"))
        if len(errors) > before:
            return None
        if not (identifier and sender and sent and status and msg_type and scope):
            return None
        original = identifier
        if msg_type in ("update", "cancel", "ack", "error"):
            for ref in references:
                parts = ref.split(",")
                if len(parts) == 3 and parts[1]:
                    original = parts[1]
                    break
        return cls(identifier, sender, sent, status, msg_type, scope, references, original)


def _info(
    info: Element, at: str, errors: list[FieldError], notes: list[str]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    data: dict[str, Any] = {
        "urgency": _enum(info, "urgency", _URGENCY, at, errors),
        "severity": _enum(info, "severity", _SEVERITY, at, errors),
        "certainty": _enum(info, "certainty", _CERTAINTY, at, errors, _CERTAINTY_ALIASES),
        "categories": [c[:_SHORT] for el in children(info, "category") if (c := _text(el))][:20],
        "event": _long(text(info, "event"), f"{at}.event", notes) or "",
    }
    language = text(info, "language")
    if language:
        data["language"] = language[:_SHORT]
    for tag in ("headline", "description", "instruction", "web"):
        value = _long(text(info, tag), f"{at}.{tag}", notes)
        if value:
            data[tag] = value
    sender_name = _long(text(info, "senderName"), f"{at}.senderName", notes)
    if sender_name:
        data["sender_name"] = sender_name
    for tag in ("effective", "onset", "expires"):
        moment = _time(info, tag, at, errors, required=False)
        if moment is not None:
            data[tag] = moment
    areas: list[dict[str, Any]] = []
    location: dict[str, Any] | None = None
    for n, area in enumerate(children(info, "area")[:100]):
        mapped, first = _area(area, f"{at}.area[{n}]", errors)
        areas.append(mapped)
        if location is None:
            location = first
    data["areas"] = areas
    return data, location


def _area(
    area: Element, at: str, errors: list[FieldError]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    polygons: list[list[tuple[float, float]]] = []
    circles: list[dict[str, float]] = []
    geocodes: dict[str, list[str]] = {}
    first: dict[str, Any] | None = None
    counts = {"polygon": 0, "circle": 0}
    for el in area:
        name = local_name(el.tag) if isinstance(el.tag, str) else ""
        value = _text(el)
        if name == "polygon" and value:
            ring = _polygon(value, f"{at}.polygon[{counts['polygon']}]", errors)
            counts["polygon"] += 1
            if ring is not None:
                polygons.append(ring)
                if first is None:
                    first = _polygon_location(ring)
        elif name == "circle" and value:
            circle = _circle(value, f"{at}.circle[{counts['circle']}]", errors)
            counts["circle"] += 1
            if circle is not None:
                circles.append(circle)
                if first is None:
                    accuracy = min(circle["radius_km"] * 1000.0, _MAX_ACCURACY_M)
                    first = {"lat": circle["lat"], "lon": circle["lon"], "accuracy_m": accuracy}
        elif name == "geocode":
            key, code = text(el, "valueName"), text(el, "value")
            if key and code:
                geocodes.setdefault(key, []).append(code)
    out: dict[str, Any] = {
        "description": (text(area, "areaDesc") or "")[:_LONG],
        "polygons": polygons[:100],
        "circles": circles[:100],
        "geocodes": geocodes,
    }
    for tag, key in (("altitude", "altitude_ft"), ("ceiling", "ceiling_ft")):
        number = _number(text(area, tag))
        if number is not None:
            out[key] = number
    return out, first


def _pair(text_: str) -> tuple[float, float] | None:
    parts = text_.split(",")
    if len(parts) != 2:
        return None
    lat, lon = _number(parts[0]), _number(parts[1])
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def _polygon(value: str, at: str, errors: list[FieldError]) -> list[tuple[float, float]] | None:
    points: list[tuple[float, float]] = []
    for token in value.split():
        pair = _pair(token)
        if pair is None:
            errors.append(
                FieldError(at, f"{token[:60]!r} is not a 'lat,lon' pair in WGS84 degrees")
            )
            return None
        points.append(pair)
    if len(points) < 3:
        errors.append(FieldError(at, f"a polygon needs at least 3 points, got {len(points)}"))
        return None
    return points


def _circle(value: str, at: str, errors: list[FieldError]) -> dict[str, float] | None:
    parts = value.split()
    pair = _pair(parts[0]) if len(parts) == 2 else None
    radius = _number(parts[1]) if len(parts) == 2 else None
    if pair is None or radius is None or not 0 <= radius <= 20_000:
        errors.append(
            FieldError(at, f"{value[:80]!r} is not 'lat,lon radius_km' (WGS84, km 0..20000)")
        )
        return None
    return {"lat": pair[0], "lon": pair[1], "radius_km": radius}


def _polygon_location(ring: list[tuple[float, float]]) -> dict[str, Any]:
    """Area centroid of a ring (planar, fine at city and county scale), with the distance to
    its farthest vertex as accuracy."""
    pts = ring[:-1] if len(ring) > 3 and ring[0] == ring[-1] else ring
    area2 = cx = cy = 0.0
    for (lat1, lon1), (lat2, lon2) in zip(pts, [*pts[1:], pts[0]], strict=True):
        cross = lon1 * lat2 - lon2 * lat1
        area2 += cross
        cx += (lon1 + lon2) * cross
        cy += (lat1 + lat2) * cross
    if abs(area2) > 1e-12:
        lon, lat = cx / (3 * area2), cy / (3 * area2)
    else:
        lat = sum(p[0] for p in pts) / len(pts)
        lon = sum(p[1] for p in pts) / len(pts)
    far = max(_distance_m(lat, lon, p[0], p[1]) for p in pts)
    return {"lat": lat, "lon": lon, "accuracy_m": min(far, _MAX_ACCURACY_M)}


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


# --- signatures ---------------------------------------------------------------------------------


def _signature(
    doc: _Document,
    alert: Element,
    where: str,
    context: MappingContext,
    config: CapConfig,
    errors: list[FieldError],
) -> tuple[str, str | None]:
    """The alert's signature state, and a note for the sender when there is something to say."""
    signed = any(
        local_name(el.tag) == "Signature" and namespace(el.tag) == DSIG
        for el in alert
        if isinstance(el.tag, str)
    )
    trusted = config.trusted
    if not signed:
        if trusted and config.require_signature:
            errors.append(
                FieldError(f"{where}.Signature", "unsigned, and this intake requires signatures")
            )
        return "none", None
    if not trusted:
        return "present", (
            "carries an XML signature that was not checked (no trusted certificate is "
            "configured for this intake)"
        )
    # Certificates are checked as of when the alert was received (no clock is read here).
    at = context.received_at
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    try:
        located = doc.lxml_alert(alert)
    except (etree.LxmlError, LookupError) as exc:
        detail = f"the signed alert could not be canonicalised ({type(exc).__name__}: {exc})"
    else:
        result = verify_enveloped(located, trusted, at=at, allow_sha1=config.allow_sha1)
        if result.ok:
            return "verified", None
        detail = result.detail
    reason = f"the XML signature does not verify against the trusted certificates: {detail}"
    if config.on_invalid_signature == "reject":
        errors.append(FieldError(f"{where}.Signature", reason[:1000]))
        return "invalid", None
    return "invalid", f"FLAGGED: {reason}"[:1000]


# --- values -------------------------------------------------------------------------------------


def _text(el: Element) -> str | None:
    value = (el.text or "").strip()
    return value or None


def _long(value: str | None, at: str, notes: list[str]) -> str | None:
    if value is not None and len(value) > _LONG:
        notes.append(f"{at} was cut to {_LONG} characters")
        return value[:_LONG]
    return value


def _ident(parent: Element, tag: str, where: str, errors: list[FieldError]) -> str | None:
    value = text(parent, tag)
    if value is None:
        errors.append(FieldError(f"{where}.{tag}", "required"))
        return None
    if not _IDENT.match(value) or len(value) > 500:
        errors.append(
            FieldError(
                f"{where}.{tag}",
                f"{value[:80]!r} must be 1-500 characters without spaces, commas, '<' or '&'",
            )
        )
        return None
    return value


def _enum(
    parent: Element,
    tag: str,
    allowed: tuple[str, ...],
    where: str,
    errors: list[FieldError],
    aliases: dict[str, str] | None = None,
) -> str | None:
    value = text(parent, tag)
    choices = ", ".join(allowed)
    if value is None:
        errors.append(FieldError(f"{where}.{tag}", f"required: one of {choices}"))
        return None
    lowered = value.lower()
    lowered = (aliases or {}).get(lowered, lowered)
    if lowered not in {a.lower() for a in allowed}:
        errors.append(FieldError(f"{where}.{tag}", f"{value[:60]!r} is not one of {choices}"))
        return None
    return lowered


def _time(
    parent: Element, tag: str, where: str, errors: list[FieldError], *, required: bool
) -> datetime | None:
    value = text(parent, tag)
    if value is None:
        if required:
            errors.append(FieldError(f"{where}.{tag}", "required: a date-time with a zone"))
        return None
    parsed: datetime | None = None
    if _DATETIME.match(value):
        head, dot, rest = value.partition(".")
        if dot:  # Python reads at most 6 fractional digits
            digits = re.match(r"\d+", rest)
            frac = digits.group(0) if digits else ""
            value_ = f"{head}.{frac[:6].ljust(6, '0')}{rest[len(frac) :]}"
        else:
            value_ = value
        try:
            parsed = datetime.fromisoformat(value_.replace("z", "Z"))
        except ValueError:
            parsed = None
    if parsed is None or parsed.tzinfo is None:
        errors.append(
            FieldError(
                f"{where}.{tag}",
                f"{value[:60]!r} is not a date-time with a zone, e.g. 2026-11-21T15:04:05-00:00",
            )
        )
        return None
    return parsed


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _ref(value: str) -> str:
    """A value usable as an event id or correlation id (at most 256 printable characters)."""
    if len(value) <= 240 and value.isprintable():
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def _source(sender: str) -> str:
    """The sender as a URI: a URI as it is, an e-mail address as ``mailto:``, else a URN."""
    if _URI.match(sender) and "@" not in sender.split(":", 1)[0]:
        return sender[:512]
    if "@" in sender:
        return "mailto:" + quote(sender, safe="@._-+")[:505]
    return "urn:cap:sender:" + quote(sender, safe="._-")[:497]
