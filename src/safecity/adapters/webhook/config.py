"""The declarative mapping a site writes (TOML or JSON) to describe a legacy record format."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pyproj import CRS
from pyproj.exceptions import CRSError

from safecity.adapters.common.validation import known_zone

Conversion = Literal[
    "fahrenheit_to_celsius",
    "kelvin_to_celsius",
    "mph_to_kmh",
    "ms_to_kmh",
    "knots_to_kmh",
    "fraction_to_percent",
    "feet_to_metres",
]


class Value(BaseModel):
    """Where one value comes from and how it is turned into what the event needs.

    Exactly one of ``path`` (a field of the record: ``$.a.b[0]`` for JSON, ``$.column`` for
    CSV), ``template`` (``"{controller}-{seq}"`` over top-level fields) or ``value`` (a
    constant). Then, in this order: ``table`` (look the raw value up; unknown keys fall back to
    ``default`` or are an error), ``scale``/``offset`` and ``convert`` for numbers.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str | None = Field(default=None, pattern=r"^\$(\.[^.\[\]]+|\[\d+\])*$")
    template: str | None = None
    value: Any = None
    table: dict[str, Any] | None = None
    default: Any = None
    scale: float | None = None
    offset: float | None = None
    convert: Conversion | None = None
    as_type: Literal["str", "int", "float", "bool"] | None = None
    required: bool = True

    @model_validator(mode="after")
    def _one_source(self) -> Value:
        given = [n for n in ("path", "template", "value") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of path, template or value")
        return self


#: A value written in short form: ``"$.level"`` is a path, ``"{a}-{b}"`` a template, anything
#: else a constant.
ValueSpec = Annotated[Value | str | int | float | bool, Field(union_mode="left_to_right")]


class TimeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value: ValueSpec
    #: ``iso8601``, ``epoch_s``, ``epoch_ms`` or a ``strptime`` pattern such as
    #: ``%d.%m.%Y %H:%M:%S``.
    format: str = "iso8601"
    #: IANA zone for times written without one (a legacy system's local time).
    zone: str = "UTC"

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)


class LocationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Easting / longitude and northing / latitude, in ``crs`` axis order x, y.
    x: ValueSpec
    y: ValueSpec
    crs: str = "EPSG:4326"
    accuracy_m: ValueSpec | None = None

    @field_validator("crs")
    @classmethod
    def _known_crs(cls, value: str) -> str:
        # Resolved from the PROJ database shipped with pyproj: no network.
        try:
            CRS.from_user_input(value)
        except CRSError as exc:
            raise ValueError(f"unknown coordinate reference system {value!r}: {exc}") from None
        return value


class WebhookConfig(BaseModel):
    """One legacy record format, described once; then its records flow as events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["webhook"] = "webhook"
    format: Literal["json", "csv"] = "json"
    #: Path to the list of records in a JSON document (default: the document itself, one
    #: record or a list of them).
    records: str | None = Field(default=None, pattern=r"^\$(\.[^.\[\]]+|\[\d+\])*$")
    csv_delimiter: str = Field(default=",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    source: ValueSpec
    id: ValueSpec
    event_type: ValueSpec
    time: TimeSpec
    location: LocationSpec | None = None
    severity: ValueSpec | None = None
    confidence: ValueSpec | None = None
    subject: ValueSpec | None = None
    #: Per event type, the payload's fields.
    data: dict[str, dict[str, ValueSpec]]
