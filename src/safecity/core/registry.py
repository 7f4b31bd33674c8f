"""The sensor and device register: what is installed, who owns it, why, and on what legal basis."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from safecity.core.geo import Location

#: What a register id (and an owner agency id) may look like.
IDENT_PATTERN = r"^[A-Za-z0-9._:/@-]+$"
IDENT_MAX_LENGTH = 200

Ident = Annotated[
    str, StringConstraints(min_length=1, max_length=IDENT_MAX_LENGTH, pattern=IDENT_PATTERN)
]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class SensorKind(StrEnum):
    CAMERA = "camera"
    ACOUSTIC = "acoustic"
    LAMPPOST = "lamppost"
    NOISE = "noise"
    CROWD_COUNTER = "crowd_counter"
    BOLLARD = "bollard"
    WASTE_CONTAINER = "waste_container"
    TRAFFIC = "traffic"
    EMERGENCY_BUTTON = "emergency_button"
    VEHICLE_TRACKER = "vehicle_tracker"
    OTHER = "other"


class CameraView(BaseModel):
    """Where a camera looks: the coverage analysis and the console's map draw this wedge."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    direction_deg: float = Field(ge=0, lt=360, description="Centre of view, degrees from north")
    fov_deg: float = Field(default=90.0, gt=0, le=360, description="Horizontal field of view")
    range_m: float = Field(default=50.0, gt=0, le=1000, description="Useful viewing distance")
    assumed: bool = Field(
        default=False, description="True when the direction is an assumption, not surveyed"
    )


class Sensor(BaseModel):
    """One registered device. The register is what citizens can inspect (public entries)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Ident
    kind: SensorKind
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    owner_agency: Ident
    location: Location | None = None
    area: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="Named area covered, when there is no single point"
    )
    measures: tuple[Annotated[str, StringConstraints(min_length=1, max_length=100)], ...] = Field(
        min_length=1, description="What it measures, e.g. ('sound_level',)"
    )
    purpose: Text
    legal_basis: Text
    personal_data: bool
    retention_days: int = Field(ge=0, le=3650, description="How long its raw data is kept")
    public: bool = Field(description="Shown in the public register")
    status: Annotated[str, StringConstraints(max_length=50)] = "active"
    view: CameraView | None = Field(default=None, description="Cameras: where they look")
    created_at: datetime | None = None
    updated_at: datetime | None = None
