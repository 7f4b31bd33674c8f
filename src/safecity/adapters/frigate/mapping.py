"""Frigate MQTT messages -> camera analytics events.

Frigate publishes a tracked object's life on ``<prefix>/events`` (``new``/``update``/``end``
with ``before``/``after`` snapshots), review items on ``<prefix>/reviews``, enrichments on
``<prefix>/tracked_object_update`` and semantic-search hits on ``<prefix>/triggers``.

Only analytics leave this module: who or what was recognised never does. ``sub_label`` (a face
or plate match), ``recognized_license_plate``, face-recognition and licence-plate updates and
GenAI descriptions are dropped, and the sender is told so in a note.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.frigate.config import FrigateConfig
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.events import Event, parse_event

FIRE_SMOKE = {"fire": "fire", "smoke": "smoke"}
LIFECYCLE = ("new", "update", "end")
ENRICHMENTS = ("description", "face", "lpr", "classification")
#: Frigate epoch times outside this span are refused (1 Jan 2000 .. 1 Jan 2100).
_EPOCH_MIN, _EPOCH_MAX = 946_684_800.0, 4_102_444_800.0
_MPH = 1.609344


def parse(raw: bytes, context: MappingContext) -> Mapped:
    config = context.config if isinstance(context.config, FrigateConfig) else FrigateConfig()
    if _topic(context.origin, config) == "other":
        # Frigate also publishes per-camera counts, states and stats under its prefix.
        return Mapped(notes=[f"Frigate topic {context.origin} carries no event; not mapped"])
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput([FieldError("body", f"not JSON: {exc}")]) from None
    if not isinstance(doc, dict):
        raise InvalidInput([FieldError("body", "must be a JSON object (a Frigate message)")])
    kind = _kind(doc, context.origin, config)
    if kind == "events":
        return _tracked_object(doc, config)
    if kind == "reviews":
        return _review(doc, config)
    if kind == "tracked_object_update":
        kind_name = doc.get("type")
        return Mapped(
            notes=[
                f"Frigate tracked_object_update of type {kind_name!r} dropped: it carries a "
                "recognised face, plate, classification or free-text description, which this "
                "platform does not keep"
            ]
        )
    return Mapped(
        notes=["Frigate trigger (semantic search match) noted: it has no time or analytics"]
    )


def _topic(origin: str | None, config: FrigateConfig) -> str | None:
    """What a topic under Frigate's prefix carries, or None when the origin is no such topic."""
    prefix = config.topic_prefix.rstrip("/") + "/"
    if not origin or not origin.startswith(prefix):
        return None
    topic = origin[len(prefix) :]
    if topic in ("events", "reviews", "tracked_object_update", "triggers"):
        return topic
    return "other"


def _kind(doc: dict[str, Any], origin: str | None, config: FrigateConfig) -> str:
    topic = _topic(origin, config)
    if topic is not None:
        return topic
    after = doc.get("after")
    if isinstance(after, dict):
        return "reviews" if "severity" in after and "label" not in after else "events"
    if doc.get("type") in ENRICHMENTS:
        return "tracked_object_update"
    if "event_id" in doc and "name" in doc:
        return "triggers"
    raise InvalidInput(
        [
            FieldError(
                "body",
                "not a Frigate message: expected an event or review (type + before/after), a "
                "tracked_object_update or a trigger",
            )
        ]
    )


# --- helpers --------------------------------------------------------------------------------


def _obj(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise InvalidInput([FieldError(f"{where}{key}", "required: a JSON object")])
    return value


def _text(doc: dict[str, Any], key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput([FieldError(f"{where}{key}", "required: a non-empty string")])
    return value.strip()


def _number(doc: dict[str, Any], key: str) -> float | None:
    value = doc.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _epoch(doc: dict[str, Any], key: str, where: str, *, required: bool) -> datetime | None:
    value = doc.get(key)
    if value is None and not required:
        return None
    number = _number(doc, key)
    if number is None or not _EPOCH_MIN <= number <= _EPOCH_MAX:
        raise InvalidInput(
            [FieldError(f"{where}{key}", "must be Unix epoch seconds between 2000 and 2100")]
        )
    return datetime.fromtimestamp(number, UTC)


def _zones(doc: dict[str, Any] | None, key: str) -> list[str]:
    if doc is None:
        return []
    value = doc.get(key)
    if not isinstance(value, list):
        return []
    return [z for z in value if isinstance(z, str) and z.strip()]


def _confidence(doc: dict[str, Any]) -> float:
    for key in ("score", "top_score"):
        number = _number(doc, key)
        if number is not None and 0.0 <= number <= 1.0:
            return number
    return 1.0


def _epoch_key(moment: datetime) -> str:
    return f"{moment.timestamp():.6f}"


def _event(fields: dict[str, Any], config: FrigateConfig, camera: str, where: str) -> Event:
    place = config.cameras.get(camera)
    if place is not None:
        fields["location"] = place.model_dump(exclude_none=True)
    fields["source"] = f"frigate/{config.server}/{camera}"
    return parse_event(fields, where=where)


def _identity_notes(after: dict[str, Any], notes: list[str]) -> None:
    if after.get("sub_label") not in (None, "", []):
        notes.append("sub_label dropped: Frigate puts recognised faces and plates there")
    if after.get("recognized_license_plate") not in (None, ""):
        notes.append("recognized_license_plate dropped: plates are never kept")


# --- frigate/events -------------------------------------------------------------------------


def _tracked_object(doc: dict[str, Any], config: FrigateConfig) -> Mapped:
    stage = doc.get("type")
    if stage not in LIFECYCLE:
        raise InvalidInput([FieldError("type", "must be 'new', 'update' or 'end'")])
    after = _obj(doc, "after", "")
    before_value = doc.get("before")
    before = before_value if isinstance(before_value, dict) else None
    object_id = _text(after, "id", "after.")
    camera = _text(after, "camera", "after.")
    label = _text(after, "label", "after.").lower()
    start = _epoch(after, "start_time", "after.", required=True)
    frame = _epoch(after, "frame_time", "after.", required=False)
    end = _epoch(after, "end_time", "after.", required=False)
    assert start is not None
    notes: list[str] = []
    _identity_notes(after, notes)
    if after.get("false_positive") is True:
        notes.append(f"tracked object {object_id} is flagged false_positive; not mapped")
        return Mapped(notes=notes)
    confidence = _confidence(after)
    if confidence < config.min_score:
        notes.append(f"tracked object {object_id} scored {confidence} < min_score; not mapped")
        return Mapped(notes=notes)
    if stage == "new":
        when = start
    elif stage == "end":
        when = end or frame or start
    else:
        when = frame or start
    base_id = (
        f"{object_id}:{stage}" if stage != "update" else f"{object_id}:update:{_epoch_key(when)}"
    )
    current = _zones(after, "current_zones")
    zone = current[0] if current else None
    common: dict[str, Any] = {"time": when.isoformat(), "confidence": confidence}
    payloads: list[tuple[str, str, dict[str, Any]]] = []
    if label in FIRE_SMOKE:
        payloads.append(
            (
                base_id,
                "camera.fire_smoke",
                {"camera_id": camera, "zone": zone, "kind": FIRE_SMOKE[label]},
            )
        )
    elif label in config.vehicle_labels:
        speed = _number(after, "average_estimated_speed")
        if speed is None:
            speed = _number(after, "current_estimated_speed")
        if speed is not None and config.speed_unit == "mph":
            speed *= _MPH
        vehicle: dict[str, Any] = {
            "camera_id": camera,
            "zone": zone,
            "vehicle_class": label,
            "stopped": after.get("stationary") is True,
        }
        if speed is not None and speed >= 0:
            vehicle["speed_kmh"] = round(speed, 2)
        payloads.append((base_id, "camera.vehicle", vehicle))
    elif after.get("stationary") is True or after.get("loitering") is True:
        dwell = max(0.0, ((frame or when) - start).total_seconds())
        payloads.append(
            (
                base_id,
                "camera.loitering",
                {
                    "camera_id": camera,
                    "zone": zone,
                    "dwell_s": round(dwell, 3),
                    "object_class": label,
                },
            )
        )
    else:
        payloads.extend(_zone_entries(stage, before, after, base_id, camera, label, zone))
    events = [
        _event({**common, "id": event_id, "type": type_name, "data": data}, config, camera, "after")
        for event_id, type_name, data in payloads
    ]
    return Mapped(events=events, notes=notes)


def _zone_entries(
    stage: str,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    base_id: str,
    camera: str,
    label: str,
    zone: str | None,
) -> list[tuple[str, str, dict[str, Any]]]:
    """A moving person (or other object) entering zones crosses their boundaries; otherwise
    it is motion in its current zone."""
    seen = set() if stage == "new" or before is None else set(_zones(before, "entered_zones"))
    entered = [z for z in _zones(after, "entered_zones") if z not in seen]
    if not entered:
        return [(base_id, "camera.motion", {"camera_id": camera, "zone": zone})]
    return [
        (
            f"{base_id}:{name}",
            "camera.line_crossing",
            {
                "camera_id": camera,
                "zone": name,
                "line": name,
                "direction": "in",
                "object_class": label,
            },
        )
        for name in entered
    ]


# --- frigate/reviews ------------------------------------------------------------------------


def _review(doc: dict[str, Any], config: FrigateConfig) -> Mapped:
    stage = doc.get("type")
    if stage not in LIFECYCLE:
        raise InvalidInput([FieldError("type", "must be 'new', 'update' or 'end'")])
    after = _obj(doc, "after", "")
    review_id = _text(after, "id", "after.")
    camera = _text(after, "camera", "after.")
    severity = _text(after, "severity", "after.")
    if severity not in ("alert", "detection"):
        raise InvalidInput([FieldError("after.severity", "must be 'alert' or 'detection'")])
    start = _epoch(after, "start_time", "after.", required=True)
    end = _epoch(after, "end_time", "after.", required=False)
    assert start is not None
    data = after.get("data")
    details = data if isinstance(data, dict) else {}
    notes: list[str] = []
    if details.get("sub_labels"):
        notes.append("review sub_labels dropped: Frigate puts recognised faces and plates there")
    if not config.reviews:
        notes.append(f"review {review_id} noted; reviews are not mapped by this instance")
        return Mapped(notes=notes)
    objects = [o.lower() for o in _zones(details, "objects")]
    zones = _zones(details, "zones")
    detections = details.get("detections")
    count = len(detections) if isinstance(detections, list) else 0
    when = end if stage == "end" and end is not None else start
    event_id = f"review:{review_id}:{stage}"
    if stage == "update":
        event_id += f":{severity}:{count}"
    fire = [FIRE_SMOKE[o] for o in objects if o in FIRE_SMOKE]
    zone = zones[0] if zones else None
    if fire:
        type_name = "camera.fire_smoke"
        payload: dict[str, Any] = {"camera_id": camera, "zone": zone, "kind": fire[0]}
    else:
        type_name = "camera.motion"
        payload = {"camera_id": camera, "zone": zone}
    fields: dict[str, Any] = {
        "id": event_id,
        "type": type_name,
        "time": when.isoformat(),
        "severity": "minor" if severity == "alert" else "unknown",
        "data": payload,
    }
    return Mapped(events=[_event(fields, config, camera, "after")], notes=notes)
