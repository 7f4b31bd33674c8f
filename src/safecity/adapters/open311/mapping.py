"""Open311 GeoReport v2 service requests -> ``citizen.report`` events.

Two inputs: a ``POST requests`` body (x-www-form-urlencoded as the spec says, or the same fields
as a JSON object), and service-request records another Open311 server returns (``GET requests``
in JSON or XML). Names, e-mail, phone numbers and device ids are never copied into an event; an
e-mail address becomes at most a pseudonymous ``reporter_ref`` (HMAC with a server secret).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from safecity.adapters.base import Mapped, MappingContext, Rejection
from safecity.adapters.common.xml import children, local_name, parse_xml
from safecity.adapters.open311.config import Open311Config, Service
from safecity.core.errors import FieldError, InvalidInput
from safecity.core.events import Event, parse_event

#: Fields a citizen may send that identify them: accepted, never stored.
PERSONAL_FIELDS = frozenset(
    {"email", "first_name", "last_name", "phone", "device_id", "account_id"}
)
#: Fields that are secrets: never stored, never dead-lettered.
SECRET_FIELDS = frozenset({"api_key"})
KNOWN_FIELDS = frozenset(
    {
        "jurisdiction_id",
        "service_code",
        "lat",
        "long",
        "address_string",
        "address_id",
        "description",
        "media_url",
        "reporter_ref",
    }
)
_ATTRIBUTE = re.compile(r"^attribute\[([^\]]{1,64})\](\[\])?$")
# The spec's own examples write numbers with leading zeros (``"service_code":001``).
_LEADING_ZERO = re.compile(rb"(:\s*)(0\d+)(\s*[,}\]\n])")
_MAX_FIELDS = 200
_ID_DIGITS = 24


def config_of(context: MappingContext) -> Open311Config:
    return context.config if isinstance(context.config, Open311Config) else Open311Config()


def parse(raw: bytes, context: MappingContext) -> Mapped:
    config = config_of(context)
    body = raw.strip()
    if not body:
        raise InvalidInput([FieldError("body", "empty: expected an Open311 service request")])
    if body.startswith(b"<"):
        return _from_records(_xml_records(body), config)
    if body[:1] in (b"[", b"{"):
        mapped = Mapped()
        document = _lenient_json(body, mapped)
        if isinstance(document, dict) and "service_request_id" not in document:
            _refuse_other_documents(document)
            form = [(str(k), _form_value(v)) for k, v in document.items() if v is not None]
            mapped.events.append(_from_form(form, config, context, mapped.notes))
            return mapped
        records = document if isinstance(document, list) else [document]
        result = _from_records(records, config)
        result.notes[:0] = mapped.notes
        return result
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, max_num_fields=_MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(
            [FieldError("body", f"not an x-www-form-urlencoded Open311 request: {exc}")]
        ) from None
    mapped = Mapped()
    mapped.events.append(_from_form(pairs, config, context, mapped.notes))
    return mapped


# --- POST requests ----------------------------------------------------------------------------


def reporter_ref(email: str, secret: str) -> str:
    """Pseudonymous, stable reference for an e-mail address; the address itself is not kept."""
    normalised = email.strip().lower().encode("utf-8")
    return "o311-" + hmac.new(secret.encode("utf-8"), normalised, hashlib.sha256).hexdigest()[:32]


def sanitise_form(pairs: Iterable[tuple[str, str]], config: Open311Config) -> bytes:
    """The form without its secret and personal fields, an e-mail replaced by ``reporter_ref``:
    what may be stored, mapped or dead-lettered."""
    kept: list[tuple[str, str]] = []
    ref: str | None = None
    for key, value in pairs:
        if key == "email" and value.strip() and config.reporter_secret is not None:
            ref = reporter_ref(value, config.reporter_secret.get_secret_value())
        if key in PERSONAL_FIELDS or key in SECRET_FIELDS or key == "reporter_ref":
            continue
        kept.append((key, value))
    if ref is not None:
        kept.append(("reporter_ref", ref))
    return urlencode(kept).encode("ascii")


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return orjson.dumps(value).decode()


def _from_form(
    pairs: list[tuple[str, str]], config: Open311Config, context: MappingContext, notes: list[str]
) -> Event:
    errors: list[FieldError] = []
    fields, attributes = _collect(pairs, config, errors, notes)
    jurisdiction = fields.get("jurisdiction_id")
    if config.jurisdiction_id and jurisdiction and jurisdiction != config.jurisdiction_id:
        errors.append(
            FieldError("jurisdiction_id", f"this server serves {config.jurisdiction_id!r} only")
        )
    code = fields.get("service_code", "")
    service = config.service(code) if code else None
    if not code:
        errors.append(FieldError("service_code", "required: a code from GET services"))
    elif service is None:
        errors.append(FieldError("service_code", f"{code[:64]!r} is not in this city's services"))
    location = _location(fields.get("lat"), fields.get("long"), "lat", "long", errors)
    address = fields.get("address_string") or fields.get("address_id")
    if location is None and not address and not any(e.field in ("lat", "long") for e in errors):
        errors.append(FieldError("lat", "a location is required: lat and long, or address_string"))
    lines: list[str] = []
    if service is not None:
        lines.extend(_attribute_lines(service, attributes, errors, notes))
    if errors:
        raise InvalidInput(errors)
    assert service is not None
    description = fields.get("description", "")
    text = "\n".join([description, *lines] if description else lines)
    identity = {
        "service_code": service.code,
        "jurisdiction_id": jurisdiction,
        "lat": fields.get("lat"),
        "long": fields.get("long"),
        "address": address,
        "description": description,
        "attributes": sorted((k, sorted(v)) for k, v in attributes.items()),
        "reporter_ref": fields.get("reporter_ref"),
        "media_url": fields.get("media_url"),
    }
    digest = hashlib.sha256(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS)).hexdigest()
    body: dict[str, Any] = {
        "id": "sr-" + digest[:_ID_DIGITS],
        "source": config.source,
        "type": "citizen.report",
        "time": context.received_at.isoformat(),
        "subject": service.code,
        "data": {
            "category": service.category.value,
            "description": text[:4000],
            "channel": "open311",
            "media_count": 1 if fields.get("media_url") else 0,
        },
    }
    if len(text) > 4000:
        notes.append("description cut to 4000 characters")
    if location is not None:
        body["location"] = location
    if fields.get("reporter_ref"):
        body["data"]["reporter_ref"] = fields["reporter_ref"][:200]
    if address:
        body["data"]["address"] = address[:500]
    return parse_event(body)


def _collect(
    pairs: list[tuple[str, str]],
    config: Open311Config,
    errors: list[FieldError],
    notes: list[str],
) -> tuple[dict[str, str], dict[str, list[str]]]:
    fields: dict[str, str] = {}
    attributes: dict[str, list[str]] = {}
    ignored: list[str] = []
    for key, value in pairs:
        match = _ATTRIBUTE.match(key)
        if match:
            attributes.setdefault(match.group(1), []).append(value.strip())
        elif key in KNOWN_FIELDS:
            if key in fields:
                errors.append(FieldError(key, "given more than once"))
            fields[key] = value.strip()
        elif key not in PERSONAL_FIELDS and key not in SECRET_FIELDS:
            ignored.append(key)
    if ignored:
        notes.append("ignored unknown fields: " + ", ".join(sorted(set(ignored))[:20]))
    if "email" in {k for k, _ in pairs} and "reporter_ref" not in fields:
        if config.reporter_secret is None:
            notes.append("email not stored (no reporter_secret configured)")
        else:
            email = next(v for k, v in pairs if k == "email")
            if email.strip():
                fields["reporter_ref"] = reporter_ref(
                    email, config.reporter_secret.get_secret_value()
                )
    return fields, attributes


def _attribute_lines(
    service: Service,
    given: Mapping[str, list[str]],
    errors: list[FieldError],
    notes: list[str],
) -> list[str]:
    lines: list[str] = []
    defined = {a.code: a for a in service.attributes}
    unknown = sorted(set(given) - set(defined))
    if unknown:
        notes.append(f"ignored attributes not defined for {service.code}: " + ", ".join(unknown))
    for attr in sorted(service.attributes, key=lambda a: a.order):
        values = [v for v in given.get(attr.code, []) if v]
        field = f"attribute[{attr.code}]"
        if not values:
            if attr.required:
                errors.append(FieldError(field, f"required: {attr.description}"))
            continue
        if attr.datatype == "singlevaluelist" and len(values) > 1:
            errors.append(FieldError(field, "one value expected"))
            continue
        if attr.datatype.endswith("valuelist"):
            bad = [v for v in values if v not in attr.values]
            if bad:
                allowed = ", ".join(attr.values)
                errors.append(FieldError(field, f"{bad[0][:64]!r} is not one of: {allowed}"))
                continue
        if attr.datatype == "number" and not all(_is_number(v) for v in values):
            errors.append(FieldError(field, "must be a number"))
            continue
        lines.append(f"{attr.description}: {', '.join(v[:500] for v in values)}")
    return lines


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _location(
    lat: Any, lon: Any, lat_field: str, lon_field: str, errors: list[FieldError]
) -> dict[str, float] | None:
    if lat in (None, "") and lon in (None, ""):
        return None
    out: dict[str, float] = {}
    for name, value, limit, key in ((lat_field, lat, 90.0, "lat"), (lon_field, lon, 180.0, "lon")):
        try:
            number = float(str(value).strip()) if value not in (None, "") else math.nan
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or abs(number) > limit:
            errors.append(FieldError(name, f"must be a number between -{limit:g} and {limit:g}"))
        else:
            out[key] = number
    return out if len(out) == 2 else None


# --- records from another Open311 server --------------------------------------------------------


def _lenient_json(body: bytes, mapped: Mapped) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        fixed = _LEADING_ZERO.sub(rb'\1"\2"\3', body)
        if fixed != body:
            try:
                document = orjson.loads(fixed)
            except orjson.JSONDecodeError:
                pass
            else:
                mapped.notes.append("numbers with leading zeros read as strings (codes)")
                return document
        raise InvalidInput(
            [FieldError("body", f"not valid JSON: {exc.msg} at {exc.pos}")]
        ) from None


def _refuse_other_documents(document: dict[str, Any]) -> None:
    if "endpoints" in document:
        raise InvalidInput([FieldError("body", "an Open311 discovery document, not a request")])
    if "attributes" in document:
        raise InvalidInput(
            [FieldError("body", "an Open311 service definition, not a service request")]
        )


def _kind_of(record: Mapping[str, Any]) -> str | None:
    """Why a record is not a service request, or None when it is one."""
    if "code" in record and "description" in record and "service_code" not in record:
        return "an Open311 error response"
    if "service_name" in record and "service_request_id" not in record:
        return "an Open311 service list entry (GET services)"
    if "token" in record and "service_code" not in record:
        return "an Open311 token lookup result, with no request content"
    if "service_request_id" in record and "service_code" not in record:
        return "an Open311 POST response, with no request content"
    return None


def _xml_records(body: bytes) -> list[dict[str, Any]]:
    root = parse_xml(body)
    name = local_name(root.tag)
    if name != "service_requests":
        what = {
            "services": "an Open311 service list",
            "service_definition": "an Open311 service definition",
            "errors": "an Open311 error response",
            "discovery": "an Open311 discovery document",
        }.get(name, f"<{name[:64]}>")
        raise InvalidInput(
            [FieldError("body", f"{what}, not <service_requests> or a request form")]
        )
    records: list[dict[str, Any]] = []
    for request in children(root, "request"):
        record: dict[str, Any] = {}
        for el in request:
            value = (el.text or "").strip()
            record[local_name(el.tag)] = value or None
        records.append(record)
    return records


def _from_records(records: list[Any], config: Open311Config) -> Mapped:
    if not records:
        raise InvalidInput([FieldError("body", "no service requests in the document")])
    mapped = Mapped()
    for index, record in enumerate(records):
        where = f"[{index}]"
        raw = orjson.dumps(record, default=str)
        if not isinstance(record, dict):
            mapped.rejections.append(
                Rejection(where, (FieldError(where, "must be an object (a request)"),), raw)
            )
            continue
        kind = _kind_of(record)
        if kind is not None:
            if len(records) == 1:
                raise InvalidInput([FieldError("body", f"{kind}, not a service request")])
            mapped.rejections.append(
                Rejection(where, (FieldError(where, f"{kind}, not a service request"),), raw)
            )
            continue
        try:
            mapped.events.append(_record_event(record, config, where, mapped.notes))
        except InvalidInput as exc:
            mapped.rejections.append(Rejection(where, tuple(exc.errors), raw))
    if not mapped.events:
        raise InvalidInput([e for r in mapped.rejections for e in r.errors][:50])
    return mapped


def _record_event(
    record: Mapping[str, Any], config: Open311Config, where: str, notes: list[str]
) -> Event:
    errors: list[FieldError] = []
    request_id = _text(record.get("service_request_id"))
    if not request_id:
        errors.append(FieldError(f"{where}.service_request_id", "required"))
    code = _text(record.get("service_code")) or ""
    service = config.service(code)
    category = service.category if service is not None else config.unknown_service_category
    if category is None:
        errors.append(
            FieldError(f"{where}.service_code", f"{code[:64]!r} is not in this city's services")
        )
    elif service is None:
        notes.append(f"{where}: service_code {code[:64]!r} unknown here; mapped to {category}")
    requested = _text(record.get("requested_datetime"))
    if not requested:
        errors.append(FieldError(f"{where}.requested_datetime", "required: when it was reported"))
    location = _location(
        record.get("lat"), record.get("long"), f"{where}.lat", f"{where}.long", errors
    )
    if errors:
        raise InvalidInput(errors)
    assert category is not None
    parts = [p for p in (_text(record.get("description")),) if p]
    address = _text(record.get("address"))
    body: dict[str, Any] = {
        "id": f"ext-{request_id}",
        "source": config.source,
        "type": "citizen.report",
        "time": requested,
        "subject": code or None,
        "data": {
            "category": category.value,
            "description": "\n".join(parts)[:4000],
            "channel": "open311",
            "media_count": 1 if _text(record.get("media_url")) else 0,
        },
    }
    if location is not None:
        body["location"] = location
    if address:
        body["data"]["address"] = address[:500]
    return parse_event(body, where=where)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None
