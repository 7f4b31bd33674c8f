"""NENA EIDO documents and EIDO conveyance (WebSocket) messages -> ``cad.incident`` events.

Only what a control room needs is copied: incident id, agency, type, status, priority, a civic
address as text, a position, unit ids and how many notes there are. Person, callback, agent and
additional-data components (names, phone numbers, vCards) are never read. ``$id``/``$ref`` are
resolved here against the component arrays; nothing is dereferenced over the network (a
``locationByReferenceUrl`` is reported, never fetched).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element

import orjson

from safecity.adapters.base import Mapped, MappingContext, Rejection
from safecity.adapters.common.xml import local_name, parse_xml
from safecity.adapters.eido.codes import category_of
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.events import Event, parse_event

#: Conveyance messages that carry no incident (subscription management and acknowledgements).
CONTROL_MESSAGES = frozenset(
    {
        "subscribe",
        "subscribeResponse",
        "unsubscribe",
        "unsubscribeResponse",
        "terminate",
        "terminateResponse",
        "eventResponse",
    }
)
#: PIDF-LO civic address elements kept in the address text, in writing order. ``NAM`` (an
#: occupant's name) and free ``LOC`` text are left out.
_CIVIC_ORDER = ("HNO", "HNS", "PRD", "RD", "STS", "POD", "A6", "A5", "A4", "A3", "A2", "A1")
_CIVIC_TAIL = ("PC", "country")
_MAX_XML = 256 * 1024
_LEGACY_KEYS = ("EIDOVersion", "LastUpdateTimeStamp", "OwningAgencyIdentifier")


def parse(raw: bytes, context: MappingContext) -> Mapped:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            [FieldError("body", f"not valid JSON: {exc.msg} at {exc.pos}")]
        ) from None
    if isinstance(document, list):
        return _many(document, "[{}]")
    if not isinstance(document, dict):
        raise InvalidInput([FieldError("body", "must be an EIDO object or a conveyance message")])
    if len(document) == 1:
        (kind,) = document
        if kind in CONTROL_MESSAGES:
            inner = document[kind]
            if not isinstance(inner, dict):
                raise InvalidInput([FieldError(kind, "must be an object")])
            ref = inner.get("subscriptionId") or inner.get("requestId") or "-"
            return Mapped(notes=[f"EIDO conveyance {kind} ({str(ref)[:100]}): no incident data"])
        if kind == "event":
            return _notification(document["event"])
    return _many([document], "")


def _notification(event: Any) -> Mapped:
    if not isinstance(event, dict):
        raise InvalidInput([FieldError("event", "must be an object")])
    items = event.get("notification")
    if not isinstance(items, list) or not items:
        raise InvalidInput([FieldError("event.notification", "required: a list of EIDOs")])
    return _many(items, "event.notification[{}]")


def _many(items: list[Any], where_format: str) -> Mapped:
    if not items:
        raise InvalidInput([FieldError("body", "no EIDO in the message")])
    mapped = Mapped()
    for index, item in enumerate(items):
        where = where_format.format(index)
        try:
            mapped.events.append(eido_event(item, where, mapped.notes))
        except InvalidInput as exc:
            if len(items) == 1:
                raise
            mapped.rejections.append(
                Rejection(where or "body", tuple(exc.errors), orjson.dumps(item))
            )
    if not mapped.events:
        raise InvalidInput([e for r in mapped.rejections for e in r.errors][:50])
    return mapped


def eido_event(doc: Any, where: str, notes: list[str]) -> Event:
    """One EIDO -> one ``cad.incident`` event (``where`` prefixes field names)."""

    def at(name: str) -> str:
        return f"{where}.{name}" if where else name

    if not isinstance(doc, dict):
        raise InvalidInput([FieldError(where or "body", "must be an EIDO object")])
    errors: list[FieldError] = []
    if "eidoVersion" not in doc and any(k in doc for k in _LEGACY_KEYS):
        raise InvalidInput(
            [
                FieldError(
                    at("eidoVersion"),
                    "missing: this is the pre-standard 2020 draft format (capitalised keys such "
                    "as 'EIDOVersion', 'LastUpdateTimeStamp'); send a NENA-STA-021 EIDO 1.0",
                )
            ]
        )
    version = doc.get("eidoVersion")
    if not isinstance(version, str) or not version.startswith("1."):
        errors.append(FieldError(at("eidoVersion"), "required: '1.0' (NENA-STA-021)"))
    incident_id = doc.get("$id")
    if not isinstance(incident_id, str) or not incident_id.strip() or len(incident_id) > 500:
        errors.append(FieldError(at("$id"), "required: the incident tracking identifier"))
    stamp = doc.get("lastUpdateTimeStamp")
    if stamp is None and "lastUpdateTimestamp" in doc:
        stamp = doc["lastUpdateTimestamp"]
        notes.append(f"{where or 'body'}: read 'lastUpdateTimestamp' as 'lastUpdateTimeStamp'")
    if not isinstance(stamp, str):
        errors.append(FieldError(at("lastUpdateTimeStamp"), "required: when the EIDO changed"))
    if errors:
        raise InvalidInput(errors)
    assert isinstance(incident_id, str)
    assert isinstance(stamp, str)
    components = _index(doc)
    incident = _incident_component(doc.get("incidentComponent"))
    agency = _agency(doc, incident, components)
    code = _str(incident.get("incidentTypeCommonRegistryText"))
    internal_code = _str(incident.get("incidentTypeInternalCode"))
    type_text = _str(incident.get("incidentTypeInternalText"))
    category = category_of(code, type_text) or category_of(internal_code, None)
    if not incident:
        notes.append(f"{where or 'body'}: no incidentComponent; category 'other'")
    location, address = _location(doc, incident, components, notes, where)
    units = [
        str(u["$id"])[:200]
        for u in _list(doc.get("emergencyResourceComponent"))
        if isinstance(u, dict) and _str(u.get("$id"))
    ]
    data: dict[str, Any] = {
        "incident_id": incident_id.strip(),
        "agency": agency,
        "category": (category.value if category is not None else "other"),
        "nature": type_text or code or internal_code,
        "status": _first(incident.get("incidentStatusCommonRegistryText"))
        or _first(incident.get("incidentStatusInternalText")),
        "priority_code": _priority(incident),
        "address": address,
        "units": units[:200],
        "notes": len(_list(doc.get("notesComponent"))),
        "updated_at": stamp,
        "format": "eido",
    }
    issuer = _str(doc.get("issuingElementIdentification")) or agency or "unknown"
    event_id = f"{incident_id.strip()}@{stamp}"
    if len(event_id) > 256:
        event_id = "eido-" + hashlib.sha256(event_id.encode()).hexdigest()[:40]
    body: dict[str, Any] = {
        "id": event_id,
        "source": f"eido:{issuer[:200]}",
        "type": "cad.incident",
        "time": stamp,
        "data": {k: v for k, v in data.items() if v not in (None, "")},
    }
    if len(incident_id.strip()) <= 256:
        body["subject"] = incident_id.strip()
    if location is not None:
        body["location"] = location
    return parse_event(body, where=where)


def _index(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every component by its ``$id`` (EIDO's own references, not JSON references)."""
    found: dict[str, dict[str, Any]] = {}
    for key, value in doc.items():
        if key.endswith("Component"):
            for item in _list(value):
                if isinstance(item, dict) and isinstance(item.get("$id"), str):
                    found.setdefault(item["$id"], item)
    return found


def _incident_component(value: Any) -> dict[str, Any]:
    # 1.1 has one object; the 1.0 samples and drafts an array.
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, dict)), None)
    return value if isinstance(value, dict) else {}


def _agency(
    doc: Mapping[str, Any], incident: Mapping[str, Any], components: Mapping[str, Any]
) -> str | None:
    for holder in (incident, doc):
        ref = _ref(holder.get("updatedByAgencyReference"))
        if ref:
            return ref[:200]
    for agency in _list(doc.get("agencyComponent")):
        if isinstance(agency, dict) and _str(agency.get("$id")):
            return str(agency["$id"])[:200]
    return None


def _priority(incident: Mapping[str, Any]) -> str | None:
    number = incident.get("incidentCommonPriorityNumber")
    if isinstance(number, int) and not isinstance(number, bool):
        return str(number)
    return _str(incident.get("incidentPriorityInternalText"))


def _location(
    doc: Mapping[str, Any],
    incident: Mapping[str, Any],
    components: Mapping[str, dict[str, Any]],
    notes: list[str],
    where: str,
) -> tuple[dict[str, float] | None, str | None]:
    refs = [_ref(r) for r in _list(incident.get("locationReference"))]
    ordered = [components[r] for r in refs if r and r in components]
    ordered += [c for c in _list(doc.get("locationComponent")) if isinstance(c, dict)]
    position: dict[str, float] | None = None
    address: str | None = None
    for component in ordered:
        if _str(component.get("locationByReferenceUrl")):
            notes.append(
                f"{where or 'body'}: location {str(component.get('$id'))[:100]} is by reference;"
                " kept as a link, not fetched"
            )
        value = component.get("locationByValue")
        if not isinstance(value, str) or not value.strip():
            continue
        try:
            root = parse_xml(value.strip().encode("utf-8")[:_MAX_XML], where="locationByValue")
        except InvalidInput as exc:
            notes.append(f"{where or 'body'}: unreadable PIDF-LO ({exc.errors[0].reason[:200]})")
            continue
        if position is None:
            position = _position(root)
        if address is None:
            address = _civic(root)
    return position, address


def _position(root: Element) -> dict[str, float] | None:
    for el in root.iter():
        if local_name(el.tag) == "pos" and el.text:
            parts = el.text.split()
            try:
                lat, lon = float(parts[0]), float(parts[1])
            except (IndexError, ValueError):
                continue
            if -90 <= lat <= 90 and -180 <= lon <= 180:
                return {"lat": lat, "lon": lon}
    return None


def _civic(root: Element) -> str | None:
    for el in root.iter():
        if local_name(el.tag) == "civicAddress":
            values = {local_name(c.tag): (c.text or "").strip() for c in el}
            street = " ".join(values[k] for k in _CIVIC_ORDER[:6] if values.get(k))
            rest = [values[k] for k in (*_CIVIC_ORDER[6:], *_CIVIC_TAIL) if values.get(k)]
            text = ", ".join(p for p in (street, *rest) if p)
            return text[:4000] or None
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _ref(value: Any) -> str | None:
    return _str(value.get("$ref")) if isinstance(value, dict) else None


def _str(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _first(value: Any) -> str | None:
    if isinstance(value, list):
        return next((v.strip()[:200] for v in value if isinstance(v, str) and v.strip()), None)
    return _str(value)
