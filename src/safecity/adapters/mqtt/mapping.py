"""Plain JSON telemetry on MQTT, mapped by topic: the ``mqtt`` adapter's own inbound mapping.

The site lists, per topic filter, the event type and where each payload field is in the
message (:class:`~safecity.adapters.mqtt.config.TopicMapping`). The topic is the origin of the
message; the first mapping whose filter matches it is used.
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.mqtt.config import MqttConfig, TopicMapping, ValueSpec
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.events import parse_event

_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_TOPIC_LEVEL = re.compile(r"^topic\[(\d+)\]$")
_EPOCH_MIN, _EPOCH_MAX = 946_684_800.0, 4_102_444_800.0


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching: ``+`` is one level, a final ``#`` is any number (also none);
    filters starting with a wildcard do not match ``$SYS``-style topics."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    wanted = topic_filter.split("/")
    levels = topic.split("/")
    for index, part in enumerate(wanted):
        if part == "#":
            return True
        if index >= len(levels):
            return False
        if part not in ("+", levels[index]):
            return False
    return len(wanted) == len(levels)


class _Missing(Exception):
    pass


def _path(doc: Any, path: str) -> Any:
    """``$.a.b[0]`` in a decoded JSON document; raises _Missing when any step is absent."""
    if not path.startswith("$"):
        raise _Missing
    rest = path[1:]
    value = doc
    position = 0
    while position < len(rest):
        match = _PATH_PART.match(rest, position)
        if match is None:
            raise _Missing
        key, index = match.groups()
        if key is not None:
            if not isinstance(value, dict) or key not in value:
                raise _Missing
            value = value[key]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                raise _Missing
            value = value[int(index)]
        position = match.end()
    return value


def _value(spec: ValueSpec, doc: Any, topic: str, where: str) -> Any:
    if not isinstance(spec, str):
        return spec
    if spec.startswith("$"):
        try:
            return _path(doc, spec)
        except _Missing:
            raise InvalidInput([FieldError(where, f"{spec} is not in the message")]) from None
    level = _TOPIC_LEVEL.match(spec)
    if level is not None:
        levels = topic.split("/")
        if int(level.group(1)) >= len(levels):
            raise InvalidInput([FieldError(where, f"the topic {topic!r} has no level {spec}")])
        return levels[int(level.group(1))]
    return spec


def _time(mapping: TopicMapping, doc: Any, topic: str, context: MappingContext) -> str:
    if mapping.time is None:
        return context.received_at.astimezone(UTC).isoformat()
    value = _value(mapping.time, doc, topic, "time")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or not _EPOCH_MIN <= value <= _EPOCH_MAX:
            raise InvalidInput([FieldError("time", "epoch seconds out of range 2000..2100")])
        return datetime.fromtimestamp(value, UTC).isoformat()
    if isinstance(value, str):
        return value  # checked as RFC 3339 by the event model
    raise InvalidInput([FieldError("time", "must be RFC 3339 text or Unix epoch seconds")])


def parse(raw: bytes, context: MappingContext) -> Mapped:
    config = context.config if isinstance(context.config, MqttConfig) else MqttConfig()
    topic = context.origin or ""
    mapping = next((m for m in config.mappings if topic_matches(m.topic, topic)), None)
    if mapping is None:
        raise InvalidInput(
            [
                FieldError(
                    "topic",
                    f"no mapping of this MQTT adapter matches the topic {topic!r}"
                    if topic
                    else "the MQTT topic is needed to choose a mapping (X-Safecity-Origin)",
                )
            ]
        )
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput([FieldError("body", f"not JSON: {exc}")]) from None
    errors: list[FieldError] = []
    data: dict[str, Any] = {}
    for name, spec in mapping.data.items():
        try:
            data[name] = _value(spec, doc, topic, f"data.{name}")
        except InvalidInput as exc:
            errors.extend(exc.errors)
    fields: dict[str, Any] = {
        "source": f"{config.source}/{topic}",
        "type": mapping.event_type,
        "data": data,
    }
    try:
        fields["time"] = _time(mapping, doc, topic, context)
        if mapping.id is not None:
            ident = _value(mapping.id, doc, topic, "id")
            fields["id"] = str(ident) if isinstance(ident, str | int) else ident
        else:
            digest = hashlib.sha256(topic.encode() + b"\x00" + raw).hexdigest()[:32]
            fields["id"] = f"mqtt-{digest}"
    except InvalidInput as exc:
        errors.extend(exc.errors)
    if mapping.location is not None:
        place: dict[str, Any] = {}
        for axis in ("lon", "lat"):
            try:
                place[axis] = _value(
                    getattr(mapping.location, axis), doc, topic, f"location.{axis}"
                )
            except InvalidInput as exc:
                errors.extend(exc.errors)
        fields["location"] = place
    if mapping.severity is not None:
        fields["severity"] = mapping.severity
    if errors:
        raise InvalidInput(errors)
    return Mapped(events=[parse_event(fields)])
