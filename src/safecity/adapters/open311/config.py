"""The city's Open311 service catalogue, its integrator keys and its privacy settings."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from safecity.core.payloads import ReportCategory

Code = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class ServiceAttribute(BaseModel):
    """One question a service asks (GeoReport v2 service definition ``attribute``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    description: Text
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool = False
    variable: bool = True
    order: int = Field(default=1, ge=1)
    datatype_description: str | None = None
    #: For list datatypes: key -> name.
    values: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _lists_have_values(self) -> ServiceAttribute:
        if self.datatype.endswith("valuelist") and not self.values:
            raise ValueError(f"attribute {self.code}: a {self.datatype} needs values")
        return self


class Service(BaseModel):
    """One entry of the city's service list and the citizen.report category it becomes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Code
    name: Text
    description: Text
    category: ReportCategory
    group: str = ""
    keywords: tuple[str, ...] = ()
    type: Literal["realtime", "batch", "blackbox"] = "realtime"
    attributes: tuple[ServiceAttribute, ...] = ()

    @property
    def metadata(self) -> bool:
        return bool(self.attributes)


class ApiKey(BaseModel):
    """An Open311 ``api_key`` (stored only as its SHA-256) and the integrator user it acts as."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    user_id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=100)]
    label: str = ""


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


DEFAULT_SERVICES: tuple[Service, ...] = (
    Service(
        code="streetlight",
        name="Street light out or damaged",
        description="A street light that is dark, flickering, on in daytime or damaged.",
        category=ReportCategory.LIGHTING,
        group="street",
        keywords=("lamp", "light", "dark"),
        attributes=(
            ServiceAttribute(
                code="pole_number",
                description="The number on the lamp post, if you can see it",
                datatype="string",
                order=1,
            ),
        ),
    ),
    Service(
        code="graffiti",
        name="Graffiti",
        description="Graffiti or tagging on public property.",
        category=ReportCategory.VANDALISM,
        group="street",
        keywords=("graffiti", "tag", "paint"),
    ),
    Service(
        code="vandalism",
        name="Vandalism",
        description="Broken benches, signs, shelters or other damage to public property.",
        category=ReportCategory.VANDALISM,
        group="street",
        keywords=("broken", "damage"),
    ),
    Service(
        code="waste",
        name="Overflowing bin or litter",
        description="A public waste bin that is full or overflowing, or litter left behind.",
        category=ReportCategory.WASTE,
        group="sanitation",
        keywords=("bin", "trash", "litter"),
    ),
    Service(
        code="dumping",
        name="Illegal dumping",
        description="Furniture, bags or other waste dumped in a public place.",
        category=ReportCategory.WASTE,
        group="sanitation",
        keywords=("dumping", "furniture", "bulky"),
    ),
    Service(
        code="noise",
        name="Noise disturbance",
        description="Loud music, construction or machinery at unreasonable hours.",
        category=ReportCategory.NOISE,
        group="environment",
        keywords=("noise", "loud", "music"),
        attributes=(
            ServiceAttribute(
                code="noise_source",
                description="What is making the noise?",
                datatype="singlevaluelist",
                required=True,
                order=1,
                values={
                    "music": "Music or party",
                    "construction": "Construction work",
                    "machinery": "Machinery or alarm",
                    "other": "Something else",
                },
            ),
        ),
    ),
    Service(
        code="traffic_signal",
        name="Traffic signal fault",
        description="A traffic light that is dark, stuck or showing the wrong phase.",
        category=ReportCategory.TRAFFIC,
        group="street",
        keywords=("traffic light", "signal"),
    ),
    Service(
        code="abandoned_vehicle",
        name="Abandoned vehicle",
        description="A vehicle that has not moved for a long time or is wrecked.",
        category=ReportCategory.TRAFFIC,
        group="street",
        keywords=("car", "vehicle", "abandoned"),
    ),
    Service(
        code="disturbance",
        name="Public disturbance",
        description="Rowdy behaviour or disorder in a public place (not an emergency: call 112).",
        category=ReportCategory.DISTURBANCE,
        group="safety",
        keywords=("disorder", "rowdy"),
    ),
    Service(
        code="other",
        name="Something else",
        description="Any other problem in a public place.",
        category=ReportCategory.OTHER,
        group="other",
    ),
)


class Open311Config(BaseModel):
    """Settings of the Open311 GeoReport v2 server and inbound mapping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["open311"] = "open311"
    #: CloudEvents ``source`` of the citizen reports received over Open311.
    source: Annotated[str, StringConstraints(min_length=1, max_length=200)] = "open311:city"
    #: When set, requests naming another ``jurisdiction_id`` are refused.
    jurisdiction_id: str | None = None
    services: tuple[Service, ...] = DEFAULT_SERVICES
    #: Keys accepted on ``POST requests``; each acts as one integrator user.
    api_keys: tuple[ApiKey, ...] = ()
    #: Secret for the pseudonymous ``reporter_ref`` (HMAC-SHA256 of the e-mail). Without it, an
    #: e-mail address is dropped unused.
    reporter_secret: SecretStr | None = None
    #: Show citizens' descriptions on the public ``GET requests``. Off: free text may name people.
    publish_descriptions: bool = False
    #: Category for requests from another Open311 system whose ``service_code`` this city does
    #: not define; None refuses them.
    unknown_service_category: ReportCategory | None = ReportCategory.OTHER
    #: ``service_notice`` returned when a request is created.
    service_notice: str | None = None
    #: Days ``GET requests`` looks back when no ``start_date`` is given (the spec says 90).
    default_window_days: int = Field(default=90, ge=1, le=3650)

    @field_validator("unknown_service_category", mode="before")
    @classmethod
    def _empty_refuses(cls, value: Any) -> Any:
        # TOML has no null: an empty string means "refuse unknown services".
        return None if value == "" else value

    @model_validator(mode="after")
    def _unique_codes(self) -> Open311Config:
        codes = [s.code for s in self.services]
        if len(codes) != len(set(codes)):
            raise ValueError("service codes must be unique")
        return self

    def service(self, code: str) -> Service | None:
        for s in self.services:
            if s.code == code:
                return s
        return None

    def integrator(self, api_key: str) -> str | None:
        """The user id an api_key acts as, or None."""
        digest = hash_api_key(api_key)
        for key in self.api_keys:
            if hmac.compare_digest(key.sha256, digest):
                return key.user_id
        return None
