"""OGC SensorThings API 1.1 entities to events and register entries.

What a body is comes from ``context.origin`` when it names an STA path or MQTT topic
(``v1.1/Datastreams(7)/Observations``, ``/v1.1/Things``), else from its shape: an Observation
(``result``), a dataArray batch (``components`` + ``dataArray``), a Datastream
(``unitOfMeasurement``), a Thing (``Datastreams``/``Locations``/``properties``), a Location
(``location``) or a JSON ``$batch`` (``requests``). Observations become ``sensor.observation``
events, or a closer type when the configured rule table matches their ObservedProperty;
Things and Datastreams become register entries. Nothing named in a body is ever fetched.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from safecity.adapters.base import Mapped, MappingContext, Rejection
from safecity.adapters.sensorthings.config import PropertyRule, SensorThingsConfig
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.events import parse_event
from safecity.core.registry import Sensor, SensorKind

_COLLECTION = re.compile(
    r"(?:^|/)(?:v1\.[01]/)?(?:(Datastreams|MultiDatastreams)\((?:'([^']*)'|([^)]*))\)/)?"
    r"(Observations|Datastreams|Things|Locations|Sensors|ObservedProperties|FeaturesOfInterest)"
    r"(?:\([^)]*\))?/?(?:[?#].*)?$"
)
_NOT_STA = "not a SensorThings Observation, Datastream, Thing or Location"
_SENSOR_ID_BAD = re.compile(r"[^A-Za-z0-9._:/@-]+")
_NOTED = {
    "Sensors": "a Sensor (a device description)",
    "ObservedProperties": "an ObservedProperty or unit of measurement",
    "FeaturesOfInterest": "a FeatureOfInterest",
}


class _Fault(Exception):
    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


@dataclass(frozen=True)
class _Stream:
    """What is known of the Datastream an Observation belongs to."""

    id: str
    observed_property: str | None = None
    unit: str | None = None
    location: dict[str, float] | None = None
    rule: PropertyRule | None = None


def parse(raw: bytes, context: MappingContext) -> Mapped:
    config = (
        context.config if isinstance(context.config, SensorThingsConfig) else SensorThingsConfig()
    )
    document = _decode(raw)
    collection, origin_stream = _from_origin(context.origin)
    run = _Run(config, context.received_at)
    if isinstance(document, dict) and isinstance(document.get("requests"), list):
        run.batch(document["requests"])
    elif isinstance(document, list):
        if not document:
            raise InvalidInput([FieldError("body", "an empty array")])
        for index, item in enumerate(document):
            run.one(item, f"[{index}]", collection, origin_stream)
    else:
        run.one(document, "body" if collection is None else collection, collection, origin_stream)
    if not run.read_any:
        errors = [e for r in run.mapped.rejections for e in r.errors][:100]
        raise InvalidInput(errors or [FieldError("body", "nothing to map (no observations)")])
    return run.mapped


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        raise InvalidInput([FieldError("body", "empty: expected a SensorThings entity")])
    try:
        return orjson.loads(raw.removeprefix(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            [FieldError("body", f"not valid JSON: {exc.msg} at {exc.pos}")]
        ) from None


def _from_origin(origin: str | None) -> tuple[str | None, str | None]:
    """(collection, Datastream id) from an STA URL path or MQTT topic."""
    if not origin:
        return None, None
    found = _COLLECTION.search(origin.strip())
    if found is None:
        return None, None
    stream = found.group(2) if found.group(2) is not None else found.group(3)
    return found.group(4), stream


class _Run:
    def __init__(self, config: SensorThingsConfig, received_at: datetime) -> None:
        self.config = config
        self.received_at = received_at
        self.mapped = Mapped()
        self.read_any = False
        self.observations = 0

    # --- dispatch -----------------------------------------------------------------------------

    def batch(self, requests: list[Any]) -> None:
        for index, request in enumerate(requests):
            at = f"requests[{index}]"
            if not isinstance(request, dict):
                self._reject(at, _Fault("body", "a batch request must be an object"), request)
                continue
            method = str(request.get("method", "")).lower()
            url = request.get("url")
            if method not in ("post", "put", "patch") or "body" not in request:
                self.mapped.notes.append(f"{at}: {method or 'no'} request, nothing to map")
                self.read_any = True
                continue
            collection, stream = _from_origin(str(url)) if isinstance(url, str) else (None, None)
            if collection is None and isinstance(url, str) and not url.startswith("$"):
                # Another service's collection (FROST's Users, Roles, Projects...).
                self.mapped.notes.append(f"{at}: {url[:100]!r} is not a SensorThings collection")
                self.read_any = True
                continue
            self.one(request["body"], f"{at}.body", collection, stream)

    def one(self, item: Any, at: str, collection: str | None, stream_id: str | None) -> None:
        try:
            kind = collection or _shape(item)
            if kind in ("Observations", "dataArray") and isinstance(item, dict):
                if "dataArray" in item:
                    self._data_array(item, at, stream_id)
                else:
                    self._observation(item, at, None, stream_id)
            elif kind == "Datastreams":
                self._datastream(_object(item), at, None)
            elif kind == "Things":
                self._thing(_object(item), at, None)
            elif kind == "Locations":
                self._location(_object(item), at)
            elif kind in _NOTED:
                self.mapped.notes.append(f"{at}: {_NOTED[kind]} alone maps to nothing")
                self.read_any = True
            else:
                self._reject(at, _Fault("body", _NOT_STA), item)
        except _Fault as fault:
            self._reject(at, fault, item)

    def _reject(self, at: str, fault: _Fault, item: Any) -> None:
        field_name = at if fault.field == "body" else f"{at}.{fault.field}"
        self.mapped.rejections.append(
            Rejection(at, (FieldError(field_name, fault.reason),), orjson.dumps(item, default=str))
        )

    # --- observations -------------------------------------------------------------------------

    def _observation(
        self, item: dict[str, Any], at: str, stream: _Stream | None, stream_id: str | None
    ) -> None:
        if stream is None:
            stream = self._stream_of(item.get("Datastream"), stream_id)
        if "result" not in item:
            raise _Fault("result", "required: the observed value")
        self._count()
        when, stamped = self._time(item, stream)
        body = self._event(item, stream, when)
        obs_id = _iot_id(item)
        if obs_id is not None:
            body["id"] = f"Datastreams({stream.id})/Observations({obs_id})"
        elif stamped:
            body["id"] = f"Datastreams({stream.id})@{when}"
        else:
            digest = hashlib.sha256(orjson.dumps(item, option=orjson.OPT_SORT_KEYS, default=str))
            body["id"] = f"Datastreams({stream.id})#{digest.hexdigest()[:16]}"
        body["id"] = body["id"][:256]
        try:
            self.mapped.events.append(parse_event(body, where=at))
        except InvalidInput as exc:
            self.mapped.rejections.append(
                Rejection(at, tuple(exc.errors), orjson.dumps(item, default=str))
            )
            return
        self.read_any = True

    def _data_array(self, item: dict[str, Any], at: str, stream_id: str | None) -> None:
        stream = self._stream_of(item.get("Datastream"), stream_id)
        components = item.get("components")
        rows = item.get("dataArray")
        if not isinstance(components, list) or not all(isinstance(c, str) for c in components):
            raise _Fault("components", "required: a list of component names")
        if "result" not in components:
            raise _Fault("components", "must name 'result'")
        if not isinstance(rows, list):
            raise _Fault("dataArray", "required: a list of rows")
        for index, row in enumerate(rows):
            where = f"{at}.dataArray[{index}]"
            if not isinstance(row, list) or len(row) != len(components):
                self._reject(
                    where, _Fault("body", f"a row must have {len(components)} values"), row
                )
                continue
            observation: dict[str, Any] = {}
            for name, value in zip(components, row, strict=True):
                if name in ("id", "@iot.id"):
                    observation["@iot.id"] = value
                elif "/" not in name:
                    observation[name] = value
            try:
                self._observation(observation, where, stream, None)
            except _Fault as fault:
                self._reject(where, fault, row)

    def _count(self) -> None:
        self.observations += 1
        if self.observations > self.config.max_observations:
            raise InvalidInput(
                [FieldError("body", f"more than {self.config.max_observations} observations")]
            )

    def _stream_of(self, value: Any, stream_id: str | None) -> _Stream:
        if isinstance(value, dict):
            ident = _iot_id(value)
            if ident is None and stream_id is None and not _has_content(value):
                raise _Fault("Datastream", "a reference needs '@iot.id'")
            return self._describe(value, ident or stream_id or _digest(value))
        if value is not None:
            raise _Fault("Datastream", "must be an object (inline or {'@iot.id': ...})")
        if stream_id is None:
            raise _Fault(
                "Datastream",
                "required: inline, as {'@iot.id': ...}, or from the path/topic "
                "(Datastreams(id)/Observations)",
            )
        return _Stream(id=stream_id)

    def _describe(self, datastream: dict[str, Any], ident: str) -> _Stream:
        prop = datastream.get("ObservedProperty")
        names = [_text(datastream.get("name"))]
        observed: str | None = None
        if isinstance(prop, dict):
            observed = _text(prop.get("name")) or _text(prop.get("definition"))
            names += [_text(prop.get("name")), _text(prop.get("definition"))]
        unit_value = datastream.get("unitOfMeasurement")
        unit = None
        if isinstance(unit_value, dict):
            unit = _text(unit_value.get("symbol")) or _text(unit_value.get("name"))
        haystack = " ".join(n for n in names if n)
        rule = next(
            (r for r in self.config.rules if haystack and re.search(r.pattern, haystack, re.I)),
            None,
        )
        thing = datastream.get("Thing")
        location = _thing_location(thing) if isinstance(thing, dict) else None
        return _Stream(ident, observed, unit, location, rule)

    def _time(self, item: dict[str, Any], stream: _Stream) -> tuple[str, bool]:
        for name in ("phenomenonTime", "resultTime"):
            value = item.get(name)
            if value is not None:
                return _when(value, name, end=True), True
        return _iso(self.received_at), False

    def _event(self, item: dict[str, Any], stream: _Stream, when: str) -> dict[str, Any]:
        result = item["result"]
        location = _feature_location(item.get("FeatureOfInterest")) or stream.location
        body: dict[str, Any] = {
            "source": self.config.source,
            "time": when,
            "subject": f"Datastreams({stream.id})"[:256],
        }
        if location is not None:
            body["location"] = location
        rule = stream.rule
        number = _number(result)
        if rule is not None and number is not None:
            value = number * rule.scale
            if rule.event_type == "noise.level":
                data: dict[str, Any] = {"sensor_id": stream.id, "laeq_db": value}
            elif rule.event_type == "crowd.count":
                if value != int(value):
                    raise _Fault("result", "a people count must be a whole number")
                data = {"sensor_id": stream.id, "count": int(value)}
            else:
                data = {"container_id": stream.id, "fill_pct": value}
            return {**body, "type": rule.event_type, "data": data}
        if isinstance(result, dict | list):
            result = orjson.dumps(result).decode()[:2000]
        elif isinstance(result, float) and not math.isfinite(result):
            raise _Fault("result", "must be a finite number")
        data = {
            "datastream_id": stream.id,
            "observed_property": (stream.observed_property or "unspecified")[:200],
            "result": result,
        }
        if stream.unit:
            data["unit"] = stream.unit[:200]
        phenomenon = item.get("phenomenonTime")
        if phenomenon is not None:
            data["phenomenon_time"] = _when(phenomenon, "phenomenonTime", end=False)
        quality = item.get("resultQuality")
        if isinstance(quality, str | int | float) and str(quality).strip():
            data["result_quality"] = str(quality)[:200]
        return {**body, "type": "sensor.observation", "data": data}

    # --- register entries ---------------------------------------------------------------------

    def _datastream(self, item: dict[str, Any], at: str, thing: _ThingInfo | None) -> None:
        if thing is None:  # a Datastream created on its own must say what it observes
            if "ObservedProperty" not in item:
                raise _Fault("ObservedProperty", "required: what the Datastream observes")
            if not isinstance(item.get("unitOfMeasurement"), dict):
                raise _Fault(
                    "unitOfMeasurement", "required: an object with name, symbol, definition"
                )
        ident = _iot_id(item) or _digest(item)
        stream = self._describe(item, ident)
        if thing is not None and stream.location is None:
            stream = _Stream(
                stream.id, stream.observed_property, stream.unit, thing.location, stream.rule
            )
        if thing is None:
            name = (
                _text(item.get("name")) or _text(item.get("description")) or f"Datastream {ident}"
            )
            self._register(
                f"sta-datastream-{ident}",
                name,
                stream.location,
                [stream.observed_property or "unspecified"],
                stream.rule,
            )
        observations = item.get("Observations")
        if isinstance(observations, list):
            for index, obs in enumerate(observations):
                where = f"{at}.Observations[{index}]"
                try:
                    self._observation(_object(obs), where, stream, None)
                except _Fault as fault:
                    self._reject(where, fault, obs)
        self.read_any = True

    def _thing(self, item: dict[str, Any], at: str, location: dict[str, float] | None) -> None:
        ident = _iot_id(item) or _digest(item)
        located = _thing_location(item) or location
        info = _ThingInfo(located)
        measures: list[str] = []
        rule: PropertyRule | None = None
        streams = item.get("Datastreams")
        if streams is not None and not isinstance(streams, list):
            raise _Fault("Datastreams", "must be a list")
        for index, stream in enumerate(streams or []):
            where = f"{at}.Datastreams[{index}]"
            if not isinstance(stream, dict):
                self._reject(where, _Fault("body", "a Datastream must be an object"), stream)
                continue
            described = self._describe(stream, _iot_id(stream) or _digest(stream))
            if described.observed_property:
                measures.append(described.observed_property)
            rule = rule or described.rule
            if "Observations" in stream:
                try:
                    self._datastream(stream, where, info)
                except _Fault as fault:
                    self._reject(where, fault, stream)
        name = _text(item.get("name")) or _text(item.get("description")) or f"Thing {ident}"
        self._register(f"sta-thing-{ident}", name, located, measures or ["unspecified"], rule)
        self.read_any = True

    def _location(self, item: dict[str, Any], at: str) -> None:
        where = _feature_location(item, key="location")
        if where is None:
            raise _Fault("location", "required: a GeoJSON geometry")
        things = item.get("Things")
        if not isinstance(things, list) or not things:
            self.mapped.notes.append(f"{at}: a Location without Things registers no device")
            self.read_any = True
            return
        for index, thing in enumerate(things):
            try:
                self._thing(_object(thing), f"{at}.Things[{index}]", where)
            except _Fault as fault:
                self._reject(f"{at}.Things[{index}]", fault, thing)

    def _register(
        self,
        ident: str,
        name: str,
        location: dict[str, float] | None,
        measures: list[str],
        rule: PropertyRule | None,
    ) -> None:
        d = self.config.defaults
        sensor_id = _SENSOR_ID_BAD.sub("-", ident)[:200]
        try:
            sensor = Sensor(
                id=sensor_id,
                kind=rule.kind if rule is not None else SensorKind.OTHER,
                name=name[:200],
                owner_agency=d.owner_agency,
                location=location,
                measures=tuple(dict.fromkeys(m[:100] for m in measures[:50])),
                purpose=d.purpose,
                legal_basis=d.legal_basis,
                personal_data=False,
                retention_days=d.retention_days,
                public=d.public,
            )
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            raise _Fault(".".join(str(p) for p in first["loc"]), str(first["msg"])) from None
        self.mapped.sensors.append(sensor)


@dataclass(frozen=True)
class _ThingInfo:
    location: dict[str, float] | None


# --- values -----------------------------------------------------------------------------------


def _shape(item: Any) -> str:
    if not isinstance(item, dict):
        raise _Fault("body", "must be a JSON object")
    if "dataArray" in item or "components" in item:
        return "dataArray"
    if "result" in item:
        return "Observations"
    if "unitOfMeasurement" in item or "ObservedProperty" in item or "observationType" in item:
        return "Datastreams"
    if "Datastreams" in item or "Locations" in item:
        return "Things"
    if "location" in item:
        return "Locations"
    if "feature" in item:
        return "FeaturesOfInterest"
    if "metadata" in item and "encodingType" in item:
        return "Sensors"
    if "definition" in item or "symbol" in item:
        return "ObservedProperties"
    if "phenomenonTime" in item:
        return "Observations"
    if "name" in item or "description" in item or "properties" in item:
        return "Things"
    raise _Fault("body", "not a SensorThings Observation, Datastream, Thing or Location")


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Fault("body", "must be a JSON object")
    return value


def _iot_id(item: dict[str, Any]) -> str | None:
    value = item.get("@iot.id", item.get("id"))
    if value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    return text[:150] or None


def _has_content(item: dict[str, Any]) -> bool:
    return any(k not in ("@iot.id", "id", "@iot.selfLink") for k in item)


def _digest(item: Any) -> str:
    blob = orjson.dumps(item, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(blob).hexdigest()[:16]


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _when(value: Any, field_name: str, *, end: bool) -> str:
    """An ISO 8601 instant, or one end of an interval (``start/end``)."""
    if not isinstance(value, str) or not value.strip():
        raise _Fault(field_name, "must be an ISO 8601 time or interval string")
    parts = value.strip().split("/")
    if len(parts) > 2:
        raise _Fault(field_name, f"{value[:100]!r} is not an ISO 8601 time or interval")
    text = parts[-1] if end else parts[0]
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise _Fault(field_name, f"{text[:100]!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise _Fault(field_name, f"{text[:100]!r} has no time zone")
    try:
        return _iso(when)
    except OverflowError:
        raise _Fault(field_name, f"{text[:100]!r} is out of range") from None


def _geometry(value: Any) -> dict[str, float] | None:
    if not isinstance(value, dict):
        return None
    if value.get("type") == "Feature":
        return _geometry(value.get("geometry"))
    kind = value.get("type")
    coordinates = value.get("coordinates")
    points: list[Any]
    if kind == "Point":
        points = [coordinates]
    elif kind in ("LineString", "MultiPoint"):
        points = coordinates if isinstance(coordinates, list) else []
    elif kind == "Polygon" and isinstance(coordinates, list) and coordinates:
        ring = coordinates[0] if isinstance(coordinates[0], list) else []
        points = ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring
    else:
        return None
    pairs: list[tuple[float, float]] = []
    for point in points[:10_000]:
        if (
            not isinstance(point, list)
            or len(point) < 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point[:2])
        ):
            raise _Fault("location.coordinates", "a position must be [longitude, latitude]")
        lon, lat = float(point[0]), float(point[1])
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise _Fault("location.coordinates", f"[{lon}, {lat}] is not [longitude, latitude]")
        pairs.append((lon, lat))
    if not pairs:
        return None
    return {
        "lon": sum(p[0] for p in pairs) / len(pairs),
        "lat": sum(p[1] for p in pairs) / len(pairs),
    }


def _feature_location(value: Any, key: str = "feature") -> dict[str, float] | None:
    if not isinstance(value, dict):
        return None
    return _geometry(value.get(key))


def _thing_location(thing: dict[str, Any]) -> dict[str, float] | None:
    locations = thing.get("Locations")
    if isinstance(locations, list):
        for location in locations:
            found = _feature_location(location, key="location")
            if found is not None:
                return found
    return None
