"""Settings shared by the NGSI adapters (NGSI-LD and NGSI v2): sources, times, register defaults."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from safecity.adapters.common.ngsi_sdm import Options
from safecity.adapters.common.validation import known_zone
from safecity.core.registry import Ident, Text


class RegisterDefaults(BaseModel):
    """What a register entry needs that an NGSI Device or Camera entity does not say.

    Every device an entity describes is registered with these values; a site states them once
    for the broker it connects (and may run one adapter instance per owner).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    owner_agency: Ident = Field(
        default="city", description="Agency id that owns devices from this broker (must exist)"
    )
    purpose: Text = "City operations: monitoring public space and municipal assets"
    legal_basis: Text = "Public task of the municipality (GDPR art. 6(1)(e))"
    camera_purpose: Text = "Public safety: detecting incidents in public space"
    camera_legal_basis: Text = (
        "Public task (GDPR art. 6(1)(e)) under the national video surveillance law"
    )
    retention_days: int = Field(default=365, ge=0, le=3650)
    camera_retention_days: int = Field(default=30, ge=0, le=3650)
    public: bool = True


class NgsiSettings(BaseModel):
    """What both NGSI dialects' adapters need; each adds its ``type`` and default ``source``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: How alerts from these entities name their format (``alert.issued`` ``format``).
    alert_format: ClassVar[str] = "ngsi"

    #: CloudEvents ``source`` of every event made from this broker's entities.
    source: str = Field(default="urn:safecity:ngsi", min_length=1, max_length=512)
    #: IANA zone for DateTime values written without a zone.
    naive_time_zone: str = "UTC"
    #: Entities per document beyond this are refused (a guard against oversized batches).
    max_entities: int = Field(default=1000, ge=1, le=100_000)
    defaults: RegisterDefaults = RegisterDefaults()

    @field_validator("naive_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_zone(value)

    def options(self) -> Options:
        r = self.defaults
        return Options(
            source=self.source,
            alert_format=self.alert_format,
            naive_time_zone=self.naive_time_zone,
            owner_agency=r.owner_agency,
            purpose=r.purpose,
            legal_basis=r.legal_basis,
            camera_purpose=r.camera_purpose,
            camera_legal_basis=r.camera_legal_basis,
            retention_days=r.retention_days,
            camera_retention_days=r.camera_retention_days,
            public=r.public,
        )
