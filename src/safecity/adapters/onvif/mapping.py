"""ONVIF event notifications -> camera events.

Two forms arrive: WS-BaseNotification XML (``wsnt:NotificationMessage`` with a ``wsnt:Topic``
and a ``tt:Message`` of Source/Key/Data ``SimpleItem``s; bare, in a ``Notify`` or in a
``PullMessagesResponse`` SOAP envelope) and the ``onvif-ej`` JSON form an ONVIF MQTT event
broker publishes, whose topic (``<device>/onvif-ej/<topic>/&<source values>``) is the origin.

Analytics topics become ``camera.*`` events, device sensor topics ``sensor.observation``;
other topics (PTZ, vendor trees) are noted and passed over. Property topics (motion, field,
loitering) only make an event while their state is on. XML is read with ``parse_xml`` (no DTD,
no entities); nothing named in a message is ever fetched.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, tostring

import orjson

from safecity.adapters.base import Mapped, MappingContext, Rejection
from safecity.adapters.common.xml import child, local_name, parse_xml, text
from safecity.adapters.onvif.config import OnvifConfig
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.events import Event, parse_event

EJ_MARKER = "/onvif-ej/"
SOURCE_TOKENS = (
    "VideoSourceConfigurationToken",
    "VideoSourceToken",
    "VideoSource",
    "Source",
    "SensorID",
)
RULE_NAMES = ("Rule", "RuleName")
TRUE_VALUES = {"true", "1"}


@dataclass
class Notification:
    """One ONVIF message, whatever form it came in."""

    topic: str  # without a namespace prefix, e.g. RuleEngine/LineDetector/Crossed
    utc_time: str | None
    operation: str | None
    source: dict[str, str] = field(default_factory=dict)
    key: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    device: str = "onvif"


@dataclass(frozen=True)
class Target:
    type: str
    data: dict[str, Any]


def parse(raw: bytes, context: MappingContext) -> Mapped:
    config = context.config if isinstance(context.config, OnvifConfig) else OnvifConfig()
    if _looks_json(raw, context.content_type):
        note = _from_json(raw, context.origin, config)
        return _mapped_single(note, config, "")
    root = parse_xml(raw)
    messages = [el for el in root.iter() if local_name(el.tag) == "NotificationMessage"]
    if not messages and local_name(root.tag) == "MetadataStream":
        return _metadata_stream(root, config)
    if not messages:
        raise InvalidInput(
            [
                FieldError(
                    "body",
                    f"no wsnt:NotificationMessage in this <{local_name(root.tag)}>: "
                    "it carries no ONVIF event",
                )
            ]
        )
    if len(messages) == 1:
        where = "NotificationMessage"
        return _mapped_single(_from_xml(messages[0], where, config), config, where)
    result = Mapped()
    errors: list[FieldError] = []
    for index, element in enumerate(messages):
        where = f"NotificationMessage[{index}]"
        try:
            part = _mapped_single(_from_xml(element, where, config), config, where)
        except InvalidInput as exc:
            errors.extend(exc.errors)
            result.rejections.append(Rejection(where, tuple(exc.errors), tostring(element)))
            continue
        result.events.extend(part.events)
        result.notes.extend(part.notes)
    if not result.events and not result.notes:
        raise InvalidInput(errors)
    return result


def _looks_json(raw: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return raw.lstrip()[:1] in (b"{", b"[", b'"')


# --- reading the two forms ------------------------------------------------------------------


def _strip_prefix(topic: str) -> str:
    """``tns1:RuleEngine/LineDetector/Crossed`` -> ``RuleEngine/LineDetector/Crossed``."""
    head, sep, rest = topic.strip().partition(":")
    return rest.strip() if sep and "/" not in head else topic.strip()


def _items(parent: Element | None) -> dict[str, str]:
    found: dict[str, str] = {}
    if parent is None:
        return found
    for el in parent:
        if local_name(el.tag) == "SimpleItem":
            name = el.get("Name")
            value = el.get("Value")
            if name and value is not None:
                found[name.strip()] = value.strip()
    return found


def _from_xml(element: Element, where: str, config: OnvifConfig) -> Notification:
    topic_el = child(element, "Topic")
    topic = _strip_prefix(topic_el.text or "") if topic_el is not None else ""
    if not topic:
        raise InvalidInput([FieldError(f"{where}.Topic", "required: the event's topic")])
    wrapper = child(element, "Message")
    message = child(wrapper, "Message") if wrapper is not None else None
    if message is None:
        raise InvalidInput([FieldError(f"{where}.Message", "required: a tt:Message")])
    return Notification(
        topic=topic,
        utc_time=message.get("UtcTime"),
        operation=message.get("PropertyOperation"),
        source=_items(child(message, "Source")),
        key=_items(child(message, "Key")),
        data=_items(child(message, "Data")),
        device=config.device,
    )


def _from_json(raw: bytes, origin: str | None, config: OnvifConfig) -> Notification:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput([FieldError("body", f"not JSON: {exc}")]) from None
    if not isinstance(doc, dict):
        raise InvalidInput([FieldError("body", "must be a JSON object (an onvif-ej event)")])
    if not origin or EJ_MARKER not in f"/{origin}":
        raise InvalidInput(
            [
                FieldError(
                    "origin",
                    "an onvif-ej payload needs its MQTT topic (<device>/onvif-ej/<topic>); "
                    "over HTTP send it in the X-Safecity-Origin header",
                )
            ]
        )
    device, _, rest = f"/{origin}".partition(EJ_MARKER)
    topic = rest.split("/&", 1)[0].strip("/")
    if not topic:
        raise InvalidInput([FieldError("origin", "the onvif-ej topic names no event topic")])

    def members(name: str) -> dict[str, Any]:
        value = doc.get(name, {})
        if not isinstance(value, dict):
            raise InvalidInput([FieldError(name, "must be a JSON object")])
        return {str(k): v for k, v in value.items()}

    utc = doc.get("UtcTime")
    operation = doc.get("PropertyOperation")
    return Notification(
        topic=topic,
        utc_time=utc if isinstance(utc, str) else None,
        operation=operation if isinstance(operation, str) else None,
        source={k: str(v) for k, v in members("Source").items() if not isinstance(v, dict | list)},
        key={k: str(v) for k, v in members("Key").items() if not isinstance(v, dict | list)},
        data=members("Data"),
        device=device.strip("/").rsplit("/", 1)[-1] or config.device,
    )


# --- mapping one notification ---------------------------------------------------------------


def _time(note: Notification, where: str) -> datetime:
    field_name = f"{where}.Message.UtcTime" if where else "UtcTime"
    written = (note.utc_time or "").strip()
    if not written:
        raise InvalidInput([FieldError(field_name, "required: when the event happened")])
    try:
        moment = datetime.fromisoformat(written.replace("z", "Z"))
    except ValueError:
        raise InvalidInput(
            [FieldError(field_name, f"not an xs:dateTime: {written[:40]!r}")]
        ) from None
    # UtcTime is UTC by definition; a device that leaves the zone off still means UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in TRUE_VALUES
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _state_on(note: Notification, names: tuple[str, ...]) -> bool:
    if (note.operation or "").lower() == "deleted":
        return False
    for name in names:
        if name in note.data:
            return _flag(note.data[name]) is True
    return False


def _rule(note: Notification) -> str | None:
    for name in RULE_NAMES:
        if note.source.get(name):
            return note.source[name][:200]
    return None


def _line(note: Notification, _: datetime) -> Target | None:
    classes = str(note.data.get("ClassTypes") or note.data.get("ObjectClass") or "object")
    rule = _rule(note)
    return Target(
        "camera.line_crossing",
        {"zone": rule, "line": rule or "line", "object_class": classes.split(maxsplit=1)[0][:200]},
    )


def _motion(note: Notification, _: datetime) -> Target | None:
    if not _state_on(note, ("IsMotion", "State")):
        return None
    return Target("camera.motion", {"zone": _rule(note)})


def _field(note: Notification, _: datetime) -> Target | None:
    if not _state_on(note, ("IsInside", "State")):
        return None
    return Target(
        "camera.abnormal",
        {
            "zone": _rule(note),
            "behaviour": "intrusion",
            "description": "Object inside a watched field (ONVIF FieldDetector)",
        },
    )


def _loitering(note: Notification, when: datetime) -> Target | None:
    if (note.operation or "").lower() == "deleted":
        return None
    if "State" in note.data and _flag(note.data["State"]) is not True:
        return None
    dwell = 0.0
    since = note.data.get("Since")
    if isinstance(since, str):
        try:
            start = datetime.fromisoformat(since.strip())
        except ValueError:
            start = None
        if start is not None:
            start = start.replace(tzinfo=UTC) if start.tzinfo is None else start
            dwell = min(86_400.0, max(0.0, (when - start).total_seconds()))
    return Target(
        "camera.loitering", {"zone": _rule(note), "dwell_s": dwell, "object_class": "object"}
    )


def _occupancy(note: Notification, _: datetime) -> Target | None:
    count = _number(note.data.get("Count"))
    if count is None or count < 0:
        raise InvalidInput([FieldError("Data.Count", "required: a number of objects >= 0")])
    return Target("camera.crowd_density", {"zone": _rule(note), "persons": int(count)})


def _tamper(note: Notification, _: datetime) -> Target | None:
    if not _state_on(note, ("State",)):
        return None
    return Target(
        "camera.abnormal",
        {
            "zone": _rule(note),
            "behaviour": "vandalism",
            "description": "Camera tampering: the whole scene changed (ONVIF GlobalSceneChange)",
        },
    )


#: Topic (case-insensitive, without namespace prefix) -> what it becomes.
TOPICS: dict[str, Callable[[Notification, datetime], Target | None]] = {
    "ruleengine/linedetector/crossed": _line,
    "ruleengine/cellmotiondetector/motion": _motion,
    "ruleengine/motionregiondetector/motion": _motion,
    "videosource/motionalarm": _motion,
    "ruleengine/fielddetector/objectsinside": _field,
    "ruleengine/loiteringdetector/objectisloitering": _loitering,
    "ruleengine/countaggregation/occupancycounter": _occupancy,
    "videosource/globalscenechange/analyticsservice": _tamper,
    "videosource/globalscenechange/imagingservice": _tamper,
    "videosource/globalscenechange/recordingservice": _tamper,
}


def _camera(note: Notification, config: OnvifConfig) -> tuple[str, dict[str, Any] | None]:
    token = next((note.source[n] for n in SOURCE_TOKENS if note.source.get(n)), None)
    if token is None:
        return note.device, None
    place = config.sources.get(f"{note.device}/{token}")
    if place is None and note.device == config.device:  # a bare token: this device's source
        place = config.sources.get(token)
    camera = (place.camera_id if place and place.camera_id else None) or f"{note.device}/{token}"
    location = place.model_dump(exclude_none=True, exclude={"camera_id"}) if place else None
    return camera, location


def _event_id(note: Notification, when: datetime) -> str:
    parts = [note.topic, *note.source.values()]
    key = sorted(note.key.items()) or sorted(
        (k, str(v)) for k, v in note.data.items() if k == "ObjectId"
    )
    ident = "/".join(parts) + "@" + when.isoformat().replace("+00:00", "Z")
    if key:
        ident += "#" + ",".join(f"{k}={v}" for k, v in key)
    if note.operation:
        ident += f";{note.operation}"
    if len(ident) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in ident):
        ident = "onvif-" + hashlib.sha256(ident.encode()).hexdigest()
    return ident


def _mapped_single(note: Notification, config: OnvifConfig, where: str) -> Mapped:
    when = _time(note, where)
    topic = note.topic.lower()
    handler = TOPICS.get(topic)
    camera, location = _camera(note, config)
    if handler is not None:
        target = handler(note, when)
        if target is None:
            return Mapped(notes=[f"{note.topic}: state off or deleted, no event"])
        data = {"camera_id": camera, **target.data}
        data = {k: v for k, v in data.items() if v is not None}
    elif topic.startswith("device/sensor/") and _number(note.data.get("Value")) is not None:
        data = {
            "datastream_id": camera,
            "observed_property": note.topic.split("/", 2)[2][:200],
            "result": _number(note.data.get("Value")),
        }
        target = Target("sensor.observation", data)
    else:
        return Mapped(notes=[f"ONVIF topic {note.topic} has no mapping; passed over"])
    fields: dict[str, Any] = {
        "id": _event_id(note, when),
        "source": f"onvif/{note.device}",
        "type": target.type,
        "time": when.isoformat(),
        "subject": camera,
        "data": data,
    }
    if location is not None:
        fields["location"] = location
    event: Event = parse_event(fields, where=where)
    return Mapped(events=[event])


# --- metadata stream: sensor readings only --------------------------------------------------


def _metadata_stream(root: Element, config: OnvifConfig) -> Mapped:
    """A ``tt:MetadataStream``: its ``tt:SensorData`` readings become observations. Video
    analytics frames (per-object boxes, appearance, face and body attributes) are not events
    and describe people, so they are refused rather than kept."""
    readings = [el for el in root.iter() if local_name(el.tag) == "SensorData"]
    if not readings:
        raise InvalidInput(
            [
                FieldError(
                    "body",
                    "a metadata stream without tt:SensorData: video analytics frames "
                    "(object boxes, appearance, face/body attributes) are not events and are "
                    "not kept",
                )
            ]
        )
    result = Mapped()
    for index, element in enumerate(readings):
        where = f"SensorData[{index}]"
        value = _number(text(element, "Value"))
        kind = text(element, "Type")
        sensor = (element.get("SensorID") or "").strip()
        note = Notification(
            topic=f"Device/Sensor/{kind or 'Value'}",
            utc_time=element.get("UtcTime"),
            operation=None,
            source={"SensorID": sensor} if sensor else {},
            data={"Value": value},
            device=config.device,
        )
        if value is None or not kind or not sensor:
            problem = FieldError(where, "needs a SensorID, a tt:Type and a numeric tt:Value")
            result.rejections.append(Rejection(where, (problem,), tostring(element)))
            continue
        try:
            part = _mapped_single(note, config, where)
        except InvalidInput as exc:
            result.rejections.append(Rejection(where, tuple(exc.errors), tostring(element)))
            continue
        result.events.extend(part.events)
    if not result.events:
        raise InvalidInput([e for r in result.rejections for e in r.errors])
    return result
