"""Settings of the SensorThings adapter: the ObservedProperty rule table and register defaults."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from safecity.core.registry import Ident, SensorKind, Text


class PropertyRule(BaseModel):
    """Observations of a Datastream whose ObservedProperty (name or definition) or Datastream
    name matches ``pattern`` become ``event_type`` instead of ``sensor.observation``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: str = Field(min_length=1, max_length=500, description="Case-insensitive regex")
    event_type: Literal["noise.level", "crowd.count", "waste.fill_level"]
    #: Multiplies the result first (e.g. 100 for a fill level reported as a 0..1 fraction).
    scale: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    #: Register kind of a Thing or Datastream measuring this property.
    kind: SensorKind = SensorKind.OTHER

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        return value


DEFAULT_RULES: tuple[PropertyRule, ...] = (
    PropertyRule(
        pattern=r"sound|noise|\bLA(eq|max|S)\b|acoustic",
        event_type="noise.level",
        kind=SensorKind.NOISE,
    ),
    PropertyRule(
        pattern=r"people|person|pedestrian|crowd|occupancy count",
        event_type="crowd.count",
        kind=SensorKind.CROWD_COUNTER,
    ),
    PropertyRule(
        pattern=r"fill(ing)?[ _-]?level|waste",
        event_type="waste.fill_level",
        kind=SensorKind.WASTE_CONTAINER,
    ),
)


class RegisterDefaults(BaseModel):
    """What a register entry needs that a Thing or Datastream does not say."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    owner_agency: Ident = Field(
        default="city", description="Agency id that owns devices from this server (must exist)"
    )
    purpose: Text = "City operations: monitoring public space and municipal assets"
    legal_basis: Text = "Public task of the municipality (GDPR art. 6(1)(e))"
    retention_days: int = Field(default=365, ge=0, le=3650)
    public: bool = True


class SensorThingsConfig(BaseModel):
    """One SensorThings service (HTTP pushes or MQTT topics) feeding safecity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["sensorthings"] = "sensorthings"
    #: CloudEvents ``source`` of every event from this service.
    source: str = Field(default="urn:safecity:sensorthings", min_length=1, max_length=512)
    rules: tuple[PropertyRule, ...] = DEFAULT_RULES
    #: Observations per document beyond this are refused.
    max_observations: int = Field(default=10_000, ge=1, le=1_000_000)
    defaults: RegisterDefaults = RegisterDefaults()
