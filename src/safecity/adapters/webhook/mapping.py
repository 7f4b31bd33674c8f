"""Evaluate a declarative mapping: decode the document, take each record, build each event."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pyproj import Transformer
from pyproj.exceptions import CRSError

from safecity.adapters.base import Mapped, MappingContext, Rejection
from safecity.adapters.webhook.config import LocationSpec, TimeSpec, Value, ValueSpec, WebhookConfig
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.events import parse_event

_PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]")
_TEMPLATE_FIELD = re.compile(r"\{([^{}]+)\}")
_CONVERSIONS = {
    "fahrenheit_to_celsius": lambda v: (v - 32.0) * 5.0 / 9.0,
    "kelvin_to_celsius": lambda v: v - 273.15,
    "mph_to_kmh": lambda v: v * 1.609344,
    "ms_to_kmh": lambda v: v * 3.6,
    "knots_to_kmh": lambda v: v * 1.852,
    "fraction_to_percent": lambda v: v * 100.0,
    "feet_to_metres": lambda v: v * 0.3048,
}
_MISSING = object()


class _Fault(Exception):
    """One field of one record could not be read; ``field`` names the source field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def parse(raw: bytes, context: MappingContext) -> Mapped:
    config = context.config
    if not isinstance(config, WebhookConfig):
        raise InvalidInput([FieldError("config", "the webhook adapter needs a mapping (config)")])
    records = _records(raw, config)
    mapped = Mapped()
    for index, (record, record_raw) in enumerate(records):
        where = f"records[{index}]"
        try:
            body = _event(record, config)
        except _Fault as fault:
            mapped.rejections.append(
                Rejection(where, (FieldError(f"{where}.{fault.field}", fault.reason),), record_raw)
            )
            continue
        try:
            mapped.events.append(parse_event(body, where=where))
        except InvalidInput as exc:
            mapped.rejections.append(Rejection(where, tuple(exc.errors), record_raw))
    return mapped


# --- decoding ---------------------------------------------------------------------------------


def _records(raw: bytes, config: WebhookConfig) -> list[tuple[Any, bytes]]:
    try:
        text = raw.decode(config.encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise InvalidInput([FieldError("body", f"not {config.encoding} text: {exc}")]) from None
    if config.format == "csv":
        return _csv_records(text, config)
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            [FieldError("body", f"not valid JSON: {exc.msg} at {exc.pos}")]
        ) from None
    found: Any = document
    if config.records is not None:
        found = _lookup(document, config.records)
        if found is _MISSING:
            raise InvalidInput([FieldError(config.records, "not found in the document")])
    items = found if isinstance(found, list) else [found]
    if not items:
        raise InvalidInput([FieldError(config.records or "body", "no records")])
    return [(item, orjson.dumps(item)) for item in items]


def _csv_records(text: str, config: WebhookConfig) -> list[tuple[Any, bytes]]:
    lines = text.splitlines()
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=config.csv_delimiter)
    out: list[tuple[Any, bytes]] = []
    try:
        if not reader.fieldnames:
            raise InvalidInput([FieldError("body", "CSV without a header row")])
        for row in reader:
            line = lines[reader.line_num - 1] if reader.line_num - 1 < len(lines) else ""
            out.append((dict(row), line.encode(config.encoding, "replace")))
    except csv.Error as exc:
        raise InvalidInput([FieldError(f"line {reader.line_num}", f"bad CSV: {exc}")]) from None
    if not out:
        raise InvalidInput([FieldError("body", "no records after the header row")])
    return out


def _lookup(document: Any, path: str) -> Any:
    current = document
    for key, index in _PATH_PART.findall(path[1:]):
        if key:
            if not isinstance(current, dict) or key not in current:
                return _MISSING
            current = current[key]
        else:
            position = int(index)
            if not isinstance(current, list) or position >= len(current):
                return _MISSING
            current = current[position]
    return current


# --- values -----------------------------------------------------------------------------------


def _spec(spec: ValueSpec) -> Value:
    if isinstance(spec, Value):
        return spec
    if isinstance(spec, str) and spec.startswith("$"):
        return Value(path=spec)
    if isinstance(spec, str) and _TEMPLATE_FIELD.search(spec):
        return Value(template=spec)
    return Value(value=spec)


def _name(v: Value) -> str:
    return (v.path or "")[2:] or (v.template or "value")


def _evaluate(record: Any, spec: ValueSpec, *, field: str) -> Any:
    v = _spec(spec)
    if v.path is not None:
        raw = _lookup(record, v.path)
    elif v.template is not None:
        raw = _render(record, v.template)
    else:
        raw = v.value
    if raw is _MISSING or raw is None or raw == "":
        if v.default is not None:
            return v.default
        if v.required:
            raise _Fault(_name(v) or field, "missing")
        return None
    if v.table is not None:
        key = str(raw)
        if key in v.table:
            raw = v.table[key]
        elif v.default is not None:
            raw = v.default
        else:
            known = ", ".join(sorted(v.table)[:20])
            raise _Fault(_name(v), f"value {key!r} is not in the mapping table ({known})")
    if v.scale is not None or v.offset is not None or v.convert is not None:
        number = _number(raw, _name(v))
        number = number * (v.scale if v.scale is not None else 1.0) + (v.offset or 0.0)
        raw = _CONVERSIONS[v.convert](number) if v.convert else number
    if v.as_type is not None:
        raw = _cast(raw, v.as_type, _name(v))
    return raw


def _render(record: Any, template: str) -> str | object:
    def one(match: re.Match[str]) -> str:
        value = _lookup(record, "$." + match.group(1)) if isinstance(record, dict) else _MISSING
        if value is _MISSING or value is None:
            raise _Fault(match.group(1), "missing (needed by a template)")
        return str(value)

    return _TEMPLATE_FIELD.sub(one, template)


def _number(raw: Any, field: str) -> float:
    if isinstance(raw, bool):
        raise _Fault(field, f"{raw!r} is not a number")
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(
                raw.strip().replace(",", ".")
                if raw.count(",") == 1 and "." not in raw
                else raw.strip()
            )
        except ValueError:
            pass
    raise _Fault(field, f"{raw!r} is not a number")


def _cast(raw: Any, kind: str, field: str) -> Any:
    if kind == "str":
        return str(raw)
    if kind == "float":
        return _number(raw, field)
    if kind == "int":
        number = _number(raw, field)
        if number != int(number):
            raise _Fault(field, f"{raw!r} is not a whole number")
        return int(number)
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on", "y"):
        return True
    if text in ("0", "false", "no", "off", "n"):
        return False
    raise _Fault(field, f"{raw!r} is not a yes/no value")


# --- the event --------------------------------------------------------------------------------


def _event(record: Any, config: WebhookConfig) -> dict[str, Any]:
    event_type = str(_evaluate(record, config.event_type, field="event_type"))
    fields = config.data.get(event_type)
    if fields is None:
        raise _Fault("event_type", f"{event_type!r} has no data mapping in this config")
    body: dict[str, Any] = {
        "source": str(_evaluate(record, config.source, field="source")),
        "id": str(_evaluate(record, config.id, field="id")),
        "type": event_type,
        "time": _time(record, config.time),
        "data": {
            name: value
            for name, spec in fields.items()
            if (value := _evaluate(record, spec, field=name)) is not None
        },
    }
    if config.location is not None:
        body["location"] = _location(record, config.location)
    for name in ("severity", "confidence", "subject"):
        spec = getattr(config, name)
        if spec is not None and (value := _evaluate(record, spec, field=name)) is not None:
            body[name] = value
    return body


def _time(record: Any, spec: TimeSpec) -> str:
    raw = _evaluate(record, spec.value, field="time")
    field = _name(_spec(spec.value))
    try:
        if spec.format in ("epoch_s", "epoch_ms"):
            seconds = _number(raw, field) / (1000.0 if spec.format == "epoch_ms" else 1.0)
            when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
        elif spec.format == "iso8601":
            when = datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
        else:
            when = datetime.strptime(str(raw).strip(), spec.format)  # noqa: DTZ007 - zone below
    except (ValueError, OverflowError) as exc:
        raise _Fault(field, f"{raw!r} does not match time format {spec.format!r}: {exc}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_zone(spec.zone))
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Fault("time.zone", f"unknown time zone {name!r}") from None


@cache
def _transformer(crs: str) -> Transformer:
    # always_xy: x is easting/longitude whatever axis order the CRS defines.
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def _location(record: Any, spec: LocationSpec) -> dict[str, Any]:
    x = _number(_evaluate(record, spec.x, field="x"), _name(_spec(spec.x)))
    y = _number(_evaluate(record, spec.y, field="y"), _name(_spec(spec.y)))
    if spec.crs.upper() in ("EPSG:4326", "WGS84", "OGC:CRS84"):
        lon, lat = x, y
    else:
        try:
            lon, lat = _transformer(spec.crs).transform(x, y)
        except CRSError as exc:
            raise _Fault("location.crs", f"unknown coordinate reference system: {exc}") from None
    out: dict[str, Any] = {"lon": lon, "lat": lat}
    if spec.accuracy_m is not None:
        accuracy = _evaluate(record, spec.accuracy_m, field="accuracy_m")
        if accuracy is not None:
            out["accuracy_m"] = _number(accuracy, "accuracy_m")
    return out
