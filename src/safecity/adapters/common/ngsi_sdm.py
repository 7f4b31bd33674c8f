"""FIWARE Smart Data Models a city control room uses, mapped to safecity events and sensors.

The entity arrives already flattened (plain attribute values, as NGSI keyValues writes them),
whatever NGSI dialect carried it; this module only knows the data models. Pure: no I/O.

The same file is kept byte-identical in ``ngsi_ld`` and ``ngsi_v2`` (adapters may not import
each other); ``tests/adapters/ngsi_v2`` checks that the two copies do not drift apart.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import ValidationError

from safecity.adapters.base import Mapped, Rejection
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.events import parse_event
from safecity.core.registry import Sensor, SensorKind


@dataclass(frozen=True)
class Entity:
    """One NGSI entity in plain form: ``attrs`` hold values, ``observed`` per-attribute times."""

    id: str
    type: str
    attrs: dict[str, Any]
    observed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Options:
    """What the site configured, in the shape this module needs."""

    source: str
    alert_format: str
    naive_time_zone: str
    owner_agency: str
    purpose: str
    legal_basis: str
    camera_purpose: str
    camera_legal_basis: str
    retention_days: int
    camera_retention_days: int
    public: bool


@dataclass
class Outcome:
    events: list[dict[str, Any]] = field(default_factory=list)
    sensors: list[Sensor] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class EntityFault(Exception):
    """One attribute of an entity is unusable; ``field`` names it."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


#: Data models whose entities describe a device for the register.
DEVICE_TYPES: dict[str, SensorKind] = {
    "Camera": SensorKind.CAMERA,
    "Device": SensorKind.OTHER,
}
#: Data models understood but mapped to no event (kept as a note for the sender).
NOTED_TYPES = frozenset({"TrafficFlowObserved"})

_SEVERITY = {
    "informational": "minor",
    "low": "minor",
    "medium": "moderate",
    "high": "severe",
    "critical": "extreme",
}
_EVENT_SEVERITY = {
    "minor": "minor",
    "moderate": "moderate",
    "severe": "severe",
    "extreme": "extreme",
}
_LAMP_FAULTS = {
    "defectiveLamp": "lamp_out",
    "brokenLantern": "lamp_out",
    "columnIssue": "tilt",
}
_PROPERTY_KINDS: tuple[tuple[re.Pattern[str], SensorKind], ...] = (
    (re.compile(r"noise|sound", re.IGNORECASE), SensorKind.NOISE),
    (re.compile(r"filling|waste", re.IGNORECASE), SensorKind.WASTE_CONTAINER),
    (re.compile(r"people|crowd|occupancy", re.IGNORECASE), SensorKind.CROWD_COUNTER),
    (re.compile(r"traffic|speed|vehicle", re.IGNORECASE), SensorKind.TRAFFIC),
    (re.compile(r"light|illuminance", re.IGNORECASE), SensorKind.LAMPPOST),
)
_SENSOR_ID_BAD = re.compile(r"[^A-Za-z0-9._:/@-]+")
_OBSERVED_NAMES = (
    "dateObservedTo",
    "dateObserved",
    "observationDateTime",
    "dateModified",
    "dateLastValueReported",
    "TimeInstant",
)


def map_entity(entity: Entity, options: Options, received_at: datetime) -> Outcome:
    """The events and register entries one entity stands for; :class:`EntityFault` if an
    attribute the model needs is unusable."""
    handler = _HANDLERS.get(entity.type)
    if handler is not None:
        return handler(entity, options, received_at)
    if entity.type in DEVICE_TYPES:
        return _device(entity, options, received_at)
    if entity.type in NOTED_TYPES:
        return Outcome(
            notes=[
                f"entity {entity.id!r}: {entity.type} carries flow measurements, no incident; "
                "nothing was mapped"
            ]
        )
    return Outcome(notes=[f"entity {entity.id!r}: type {entity.type!r} is not mapped; ignored"])


def unfeature(item: Any) -> Any:
    """An entity in the NGSI-LD GeoJSON representation (a ``Feature`` whose ``properties``
    hold the attributes) as a plain entity; anything else unchanged."""
    if not (
        isinstance(item, dict)
        and item.get("type") == "Feature"
        and isinstance(item.get("properties"), dict)
    ):
        return item
    out: dict[str, Any] = dict(item["properties"])
    if "id" in item:
        out["id"] = item["id"]
    if item.get("geometry") is not None and "location" not in out:
        out["location"] = item["geometry"]
    if "@context" in item:
        out["@context"] = item["@context"]
    return out


# --- the models -------------------------------------------------------------------------------


def _alert(entity: Entity, options: Options, received_at: datetime) -> Outcome:
    a = entity.attrs
    issued = _time(entity, ("dateIssued", "dateObserved", "dateCreated", "validFrom"), options)
    if issued is None:
        raise EntityFault("dateIssued", "required: when the alert was issued")
    category = _text(a, "category")
    sub = _text(a, "subCategory")
    severity_raw = _text(a, "severity")
    severity = _SEVERITY.get(severity_raw or "", "unknown")
    data: dict[str, Any] = {
        "identifier": entity.id,
        "sender": (_text(a, "alertSource") or options.source)[:500],
        "sent": issued,
        "status": "actual",
        "msg_type": "alert",
        "categories": [c[:200] for c in (category, sub) if c],
        "event": sub or category or "",
        "severity": severity,
        "format": options.alert_format,
    }
    for name, key in (("description", "description"), ("headline", "name")):
        if (value := _text(a, key)) is not None:
            data[name] = value[:4000]
    for name, key in (("effective", "validFrom"), ("expires", "validTo")):
        if (value := _time(entity, (key,), options)) is not None:
            data[name] = value
    location, area = _geometry(a.get("location"))
    if area is not None:
        data["areas"] = [area]
    body = _event(entity, options, "alert.issued", issued, data, location)
    body["severity"] = _EVENT_SEVERITY.get(severity, "unknown")
    return Outcome(events=[body])


def _noise(entity: Entity, options: Options, received_at: datetime) -> Outcome:
    a = entity.attrs
    laeq = _number(a, "LAeq", required=True)
    when, stamped = _observed(entity, ("LAeq",), options, received_at)
    data: dict[str, Any] = {"sensor_id": entity.id, "laeq_db": laeq}
    if (lamax := _number(a, "LAmax")) is not None:
        data["lamax_db"] = lamax
    window = _window(entity, options)
    if window is not None:
        data["window_s"] = window
    location, _ = _geometry(a.get("location"))
    return Outcome(
        events=[_event(entity, options, "noise.level", when, data, location, stamped=stamped)]
    )


def _crowd(entity: Entity, options: Options, received_at: datetime) -> Outcome:
    a = entity.attrs
    count = _number(a, "peopleCount", required=True)
    if count is None or count != int(count):
        raise EntityFault("peopleCount", "must be a whole number")
    when, stamped = _observed(entity, ("peopleCount",), options, received_at)
    location, _ = _geometry(a.get("location"))
    data = {"sensor_id": entity.id, "count": int(count)}
    return Outcome(
        events=[_event(entity, options, "crowd.count", when, data, location, stamped=stamped)]
    )


def _waste(entity: Entity, options: Options, received_at: datetime) -> Outcome:
    a = entity.attrs
    level = _number(a, "fillingLevel")
    if level is None:
        return Outcome(notes=[f"entity {entity.id!r}: WasteContainer without fillingLevel"])
    if not 0.0 <= level <= 1.0:
        raise EntityFault("fillingLevel", "must be a fraction between 0 and 1")
    when, stamped = _observed(entity, ("fillingLevel",), options, received_at)
    data: dict[str, Any] = {"container_id": entity.id, "fill_pct": round(level * 100.0, 6)}
    if (temperature := _number(a, "temperature")) is not None:
        data["temperature_c"] = temperature
    location, _ = _geometry(a.get("location"))
    return Outcome(
        events=[_event(entity, options, "waste.fill_level", when, data, location, stamped=stamped)]
    )


def _streetlight(entity: Entity, options: Options, received_at: datetime) -> Outcome:
    a = entity.attrs
    status = _text(a, "status")
    power = _text(a, "powerState")
    level = _number(a, "illuminanceLevel")
    when, stamped = _observed(
        entity, ("status", "powerState", "illuminanceLevel"), options, received_at
    )
    location, _ = _geometry(a.get("location"))
    out = Outcome()
    if status is not None and status != "ok":
        fault = _LAMP_FAULTS.get(status, "other")
        data: dict[str, Any] = {"lamp_id": entity.id, "fault": fault}
        out.events.append(
            _event(entity, options, "lamp.fault", when, data, location, "fault", stamped=stamped)
        )
    if level is not None:
        if not 0.0 <= level <= 1.0:
            raise EntityFault("illuminanceLevel", "must be a fraction between 0 and 1")
        pct = round(level * 100.0, 6)
        reason = f"powerState {power}"[:200] if power else "illuminanceLevel"
    elif power in ("on", "off"):
        pct = 100.0 if power == "on" else 0.0
        reason = f"powerState {power}"
    else:
        pct = None
        reason = ""
    if pct is not None:
        light = {"lamp_id": entity.id, "level_pct": pct, "reason": reason}
        out.events.append(
            _event(
                entity, options, "lamp.light_level", when, light, location, "light", stamped=stamped
            )
        )
    if not out.events:
        out.notes.append(
            f"entity {entity.id!r}: Streetlight without status, powerState or illuminanceLevel"
        )
    return out


def _device(entity: Entity, options: Options, received_at: datetime) -> Outcome:
    a = entity.attrs
    kind = DEVICE_TYPES[entity.type]
    measures = _strings(a.get("controlledProperty"))
    if kind is SensorKind.OTHER:
        for pattern, candidate in _PROPERTY_KINDS:
            if any(pattern.search(m) for m in measures):
                kind = candidate
                break
        if "camera" in [c.lower() for c in _strings(a.get("deviceCategory"))]:
            kind = SensorKind.CAMERA
    camera = kind is SensorKind.CAMERA
    if not measures:
        measures = ["image"] if camera else ["unspecified"]
    name = (
        _text(a, "name")
        or _text(a, "cameraName")
        or _text(a, "serialNumber")
        or f"{entity.type} {entity.id}"
    )
    location, _ = _geometry(a.get("location"))
    state = _text(a, "deviceState")
    if camera and a.get("on") is False:
        state = "off"
    sensor_id = _SENSOR_ID_BAD.sub("-", entity.id)[:200]
    try:
        sensor = Sensor(
            id=sensor_id,
            kind=kind,
            name=name[:200],
            owner_agency=options.owner_agency,
            location=location,
            area=(_text(a, "areaServed") or "")[:500] or None,
            measures=tuple(m[:100] for m in measures[:50]),
            purpose=options.camera_purpose if camera else options.purpose,
            legal_basis=options.camera_legal_basis if camera else options.legal_basis,
            personal_data=camera,
            retention_days=options.camera_retention_days if camera else options.retention_days,
            public=options.public,
            status=(state or "active")[:50],
        )
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "id"
        raise EntityFault(where, str(first["msg"])) from None
    out = Outcome(sensors=[sensor])
    if sensor_id != entity.id:
        out.notes.append(f"entity {entity.id!r} registered as sensor {sensor_id!r}")
    return out


_Handler = Callable[[Entity, Options, datetime], Outcome]
_HANDLERS: dict[str, _Handler] = {
    "Alert": _alert,
    "NoiseLevelObserved": _noise,
    "CrowdFlowObserved": _crowd,
    "WasteContainer": _waste,
    "Streetlight": _streetlight,
}
#: Every type this module does something with.
SUPPORTED_TYPES = frozenset(_HANDLERS) | frozenset(DEVICE_TYPES) | NOTED_TYPES


# --- building the event -----------------------------------------------------------------------


def _event(
    entity: Entity,
    options: Options,
    type_: str,
    when: str,
    data: dict[str, Any],
    location: dict[str, float] | None,
    suffix: str = "",
    *,
    stamped: bool = True,
) -> dict[str, Any]:
    # Stable: the same entity state sent twice is the same event. Without a time of its own,
    # the entity's content stands in for it.
    ident = f"{entity.id}@{when}" if stamped else f"{entity.id}#{content_id(entity)}"
    if suffix:
        ident = f"{ident}#{suffix}"
    body: dict[str, Any] = {
        "id": ident[:256],
        "source": options.source,
        "type": type_,
        "time": when,
        "subject": entity.id[:256],
        "data": data,
    }
    if location is not None:
        body["location"] = location
    return body


def content_id(entity: Entity) -> str:
    """A stable id for an entity that carries no observation time of its own."""
    digest = hashlib.sha256(
        orjson.dumps(
            {"id": entity.id, "type": entity.type, "attrs": entity.attrs},
            option=orjson.OPT_SORT_KEYS,
            default=str,
        )
    ).hexdigest()
    return digest[:16]


# --- values -----------------------------------------------------------------------------------


def _text(attrs: dict[str, Any], name: str) -> str | None:
    value = attrs.get(name)
    if value is None:
        return None
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value if isinstance(v, str | int | float))
    if isinstance(value, dict):
        return None
    text = str(value).strip()
    return text[:4000] or None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [v.strip() for v in value if isinstance(v, str) and v.strip()]
    return []


def _number(attrs: dict[str, Any], name: str, *, required: bool = False) -> float | None:
    value = attrs.get(name)
    if value is None:
        if required:
            raise EntityFault(name, "required: a number")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise EntityFault(name, f"{value!r} is not a number"[:200])
    try:
        number = float(value)
    except ValueError:
        raise EntityFault(name, f"{value!r} is not a number"[:200]) from None
    if not math.isfinite(number):
        raise EntityFault(name, "must be a finite number")
    return number


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_time(value: Any, field_name: str, naive_zone: str) -> str:
    """An RFC 3339 UTC string from an NGSI DateTime (a zone-less time is in ``naive_zone``)."""
    if isinstance(value, dict) and "@value" in value:  # JSON-LD typed value
        value = value["@value"]
    if not isinstance(value, str) or not value.strip():
        raise EntityFault(field_name, "must be a date-time string")
    text = value.strip()
    if "/" in text:  # an ISO 8601 interval: the end is when the observation completed
        text = text.rsplit("/", 1)[1]
    try:
        when = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise EntityFault(field_name, f"{value!r} is not an ISO 8601 date-time"[:200]) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_zone(naive_zone))
    try:
        utc = when.astimezone(UTC)
    except OverflowError:
        raise EntityFault(field_name, f"{value!r} is out of range"[:200]) from None
    return utc.isoformat().replace("+00:00", "Z")


def _time(entity: Entity, names: tuple[str, ...], options: Options) -> str | None:
    for name in names:
        value = entity.attrs.get(name)
        if value is not None:
            return parse_time(value, name, options.naive_time_zone)
    return None


def _observed(
    entity: Entity, measured: tuple[str, ...], options: Options, received_at: datetime
) -> tuple[str, bool]:
    """When the measurement was made: the attribute's observedAt, else the entity's
    dateObserved family, else the time the entity was received."""
    for name in measured:
        if name in entity.observed:
            at = parse_time(entity.observed[name], f"{name}.observedAt", options.naive_time_zone)
            return at, True
    found = _time(entity, _OBSERVED_NAMES, options)
    if found is not None:
        return found, True
    return received_at.astimezone(UTC).isoformat().replace("+00:00", "Z"), False


def _window(entity: Entity, options: Options) -> float | None:
    start = entity.attrs.get("dateObservedFrom")
    end = entity.attrs.get("dateObservedTo")
    if start is None or end is None:
        return None
    a = datetime.fromisoformat(parse_time(start, "dateObservedFrom", options.naive_time_zone))
    b = datetime.fromisoformat(parse_time(end, "dateObservedTo", options.naive_time_zone))
    seconds = (b - a).total_seconds()
    return seconds if 0 < seconds <= 86_400 else None


def _position(value: Any, field_name: str) -> tuple[float, float]:
    if (
        not isinstance(value, list)
        or len(value) < 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value[:2])
    ):
        raise EntityFault(field_name, "a position must be [longitude, latitude]")
    lon, lat = float(value[0]), float(value[1])
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise EntityFault(field_name, f"[{lon}, {lat}] is not a WGS84 [longitude, latitude]")
    return lon, lat


def _geometry(value: Any) -> tuple[dict[str, float] | None, dict[str, Any] | None]:
    """A GeoJSON geometry as an event location (a Point, or the centroid of the vertices of a
    line or polygon) and, for a polygon, the CAP-style area (rings of (lat, lon))."""
    if value is None:
        return None, None
    if isinstance(value, str):  # NGSI v2 geo:point "lat, lon"
        parts = value.split(",")
        try:
            lat, lon = float(parts[0]), float(parts[1])
        except (ValueError, IndexError):
            raise EntityFault("location", f"{value!r} is not 'lat, lon'"[:200]) from None
        lon, lat = _position([lon, lat], "location")
        return {"lon": lon, "lat": lat}, None
    if not isinstance(value, dict):
        raise EntityFault("location", "must be a GeoJSON geometry")
    kind = value.get("type")
    coordinates = value.get("coordinates")
    if kind == "Point":
        lon, lat = _position(coordinates, "location.coordinates")
        return {"lon": lon, "lat": lat}, None
    if kind in ("LineString", "MultiPoint"):
        points = _points(coordinates)
        return _centroid(points), None
    if kind == "Polygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise EntityFault("location.coordinates", "a Polygon needs at least one ring")
        ring = _points(coordinates[0])
        area = {"polygons": [[(lat, lon) for lon, lat in ring]]}
        return _centroid(ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring), area
    if kind == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise EntityFault("location.coordinates", "a MultiPolygon needs polygons")
        rings = [_points(poly[0]) for poly in coordinates[:100] if isinstance(poly, list) and poly]
        if not rings:
            raise EntityFault("location.coordinates", "a MultiPolygon needs polygons")
        flat = [p for ring in rings for p in ring]
        return _centroid(flat), {"polygons": [[(lat, lon) for lon, lat in r] for r in rings]}
    raise EntityFault("location.type", f"unsupported geometry {kind!r}"[:200])


def _points(value: Any) -> list[tuple[float, float]]:
    if not isinstance(value, list) or not value:
        raise EntityFault("location.coordinates", "must be a list of positions")
    return [_position(p, "location.coordinates") for p in value[:10_000]]


def _centroid(points: list[tuple[float, float]]) -> dict[str, float]:
    if not points:
        raise EntityFault("location.coordinates", "no positions")
    lon = sum(p[0] for p in points) / len(points)
    lat = sum(p[1] for p in points) / len(points)
    return {"lon": lon, "lat": lat}


def decode_json(raw: bytes, expected: str) -> Any:
    """The JSON document, or :class:`InvalidInput` naming what was expected."""
    if not raw.strip():
        raise InvalidInput([FieldError("body", f"empty: expected {expected}")])
    try:
        return orjson.loads(raw.removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            [FieldError("body", f"not valid JSON: {exc.msg} at {exc.pos}")]
        ) from None


def map_items(
    items: Sequence[Any],
    where: Callable[[int], str],
    read: Callable[[Any, list[str], str], Entity],
    options: Options,
    received_at: datetime,
    mapped: Mapped,
) -> Mapped:
    """Each entity of a document to events, register entries and notes; a bad entity is a
    rejection of its own. Raises :class:`InvalidInput` when no entity could be read."""
    read_any = False
    for index, item in enumerate(items):
        at = where(index)
        item_raw = orjson.dumps(item)
        try:
            entity = read(item, mapped.notes, at)
            outcome = map_entity(entity, options, received_at)
        except EntityFault as fault:
            mapped.rejections.append(
                Rejection(at, (FieldError(f"{at}.{fault.field}", fault.reason),), item_raw)
            )
            continue
        read_any = True
        mapped.notes.extend(outcome.notes)
        mapped.sensors.extend(outcome.sensors)
        for body in outcome.events:
            try:
                mapped.events.append(parse_event(body, where=at))
            except InvalidInput as exc:
                mapped.rejections.append(Rejection(at, tuple(exc.errors), item_raw))
    if not read_any:  # every entity was refused: nothing of the document is usable
        raise InvalidInput([e for r in mapped.rejections for e in r.errors][:100])
    return mapped
