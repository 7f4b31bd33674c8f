"""The event envelope (CloudEvents 1.0 attributes plus place, severity and causation).

Every input from every source becomes an :class:`Event`; every rule downstream reads only this.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from safecity.core.errors import FieldError, InvalidInput
from safecity.core.geo import Location
from safecity.core.payloads import EventPayload, Timestamp

if TYPE_CHECKING:
    from safecity.core.catalogue import EventTypeSpec

# Control characters are refused in identifiers: they break logs, terminals and CSV exports.
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
EventId = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=_PRINTABLE)]
SourceRef = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=_PRINTABLE)]
TypeName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"),
]
RefText = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=_PRINTABLE)]


class Severity(StrEnum):
    """Severity on the CAP scale, lower-cased."""

    UNKNOWN = "unknown"
    MINOR = "minor"
    MODERATE = "moderate"
    SEVERE = "severe"
    EXTREME = "extreme"


class CausationContext(BaseModel):
    """Why this event exists: the conversation it belongs to, what caused it, and who acted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    correlation_id: RefText | None = None
    causation_id: RefText | None = None
    actor: RefText | None = None


class Event(BaseModel):
    """One thing that happened, as reported by one source. Immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: EventId
    source: SourceRef = Field(description="URI-reference of the producing system or device")
    type: TypeName = Field(description="A type from the event catalogue, e.g. 'camera.fire_smoke'")
    time: Timestamp = Field(description="When it happened (not when it was received)")
    subject: RefText | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: RefText | None = None
    location: Location | None = None
    severity: Severity = Severity.UNKNOWN
    confidence: float = Field(default=1.0, ge=0.0, le=1.0, allow_inf_nan=False)
    context: CausationContext = CausationContext()
    data: SerializeAsAny[EventPayload]

    @field_validator("time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is UTC:
            return value
        if value.utcoffset() == _ZERO:  # cheaper than a conversion, and the common case
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _payload_matches_type(self) -> Event:
        spec = _catalogue().get(self.type)
        if spec is None:
            raise ValueError(f"unknown event type {self.type!r}")
        if not isinstance(self.data, spec.payload):
            # pydantic turns a ValueError (not a TypeError) into a field error.
            raise ValueError(  # noqa: TRY004
                f"data is not a {spec.payload.__name__} payload for type {self.type!r}"
            )
        return self

    @property
    def key(self) -> tuple[str, str]:
        """Identity of an event: CloudEvents says (source, id) is unique."""
        return (self.source, self.id)

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times as RFC 3339 strings), without unset optional attributes."""
        return self.model_dump(mode="json", exclude_none=True)


def field_errors(error: ValidationError, prefix: str = "") -> list[FieldError]:
    """Turn pydantic's errors into (dotted field, reason) pairs a caller can act on."""
    out: list[FieldError] = []
    for item in error.errors(include_url=False, include_input=False):
        parts = [str(p) for p in item["loc"]]
        field = ".".join([prefix, *parts] if prefix else parts) or (prefix or "body")
        out.append(FieldError(field=field, reason=str(item["msg"])))
    return out


def _catalogue() -> dict[str, EventTypeSpec]:
    # Imported on first use: the catalogue imports this module for its classification rules.
    global _CATALOGUE  # noqa: PLW0603
    if _CATALOGUE is None:
        from safecity.core.catalogue import CATALOGUE

        _CATALOGUE = CATALOGUE
    return _CATALOGUE


def parse_event(obj: Any, *, where: str = "") -> Event:
    """Validate untrusted decoded JSON into an :class:`Event` or raise :class:`InvalidInput`.

    ``where`` prefixes field paths, e.g. ``events[3]`` for an item of a batch.
    """
    if isinstance(obj, Mapping):
        type_name = obj.get("type")
        spec = _catalogue().get(type_name) if isinstance(type_name, str) else None
        if spec is not None and "data" in obj:
            # The fast path for valid input; on any fault the full check below names them all.
            try:
                payload = spec.payload.model_validate(obj["data"])
                return Event.model_validate({**obj, "data": payload})
            except ValidationError:
                pass
    return _parse_reporting_every_fault(obj, where)


def _parse_reporting_every_fault(obj: Any, where: str) -> Event:
    catalogue = _catalogue()

    def at(field: str) -> str:
        return f"{where}.{field}" if where else field

    if not isinstance(obj, Mapping):
        raise InvalidInput([FieldError(where or "body", "must be a JSON object (an event)")])
    errors: list[FieldError] = []
    type_name = obj.get("type")
    payload: EventPayload | None = None
    if not isinstance(type_name, str):
        errors.append(FieldError(at("type"), "required: a string naming an event type"))
    elif (spec := catalogue.get(type_name)) is None:
        errors.append(
            FieldError(at("type"), f"unknown event type {type_name!r}; see GET /v1/event-types")
        )
    elif "data" not in obj:
        errors.append(FieldError(at("data"), f"required: the {type_name} payload"))
    else:
        try:
            payload = spec.payload.model_validate(obj["data"])
        except ValidationError as exc:
            errors.extend(field_errors(exc, at("data")))
    # The envelope is checked even when the payload failed, so one answer names every fault;
    # a valid stand-in payload keeps the type/payload cross-check quiet in that case.
    envelope = {k: v for k, v in obj.items() if k != "data"}
    probe = (
        {**envelope, "data": payload}
        if payload is not None
        else {**envelope, "type": "unit.position", "data": _PLACEHOLDER}
    )
    try:
        event = Event.model_validate(probe)
    except ValidationError as exc:
        errors.extend(field_errors(exc, where))
    if errors:
        raise InvalidInput(errors)
    return event


def _placeholder() -> EventPayload:
    from safecity.core.payloads import UnitPosition

    return UnitPosition(unit_id="placeholder")


_PLACEHOLDER = _placeholder()
_ZERO = timedelta(0)
_CATALOGUE: dict[str, EventTypeSpec] | None = None
