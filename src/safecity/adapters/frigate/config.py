"""Settings of a Frigate installation: its topic prefix and where each camera is."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CameraPlace(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    lon: float = Field(ge=-180.0, le=180.0, allow_inf_nan=False)
    lat: float = Field(ge=-90.0, le=90.0, allow_inf_nan=False)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000, allow_inf_nan=False)


class FrigateConfig(BaseModel):
    """One Frigate server. Frigate sends no positions, so each camera's place is set here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["frigate"] = "frigate"
    #: Names this server in event sources: ``frigate/<server>/<camera>``.
    server: str = Field(default="frigate", min_length=1, max_length=100, pattern=r"^[\w.\-]+$")
    #: Frigate's ``mqtt.topic_prefix``; used to tell ``<prefix>/events`` from ``<prefix>/reviews``.
    topic_prefix: str = "frigate"
    #: Camera name -> position.
    cameras: dict[str, CameraPlace] = Field(default_factory=dict)
    #: Frigate's ``ui.unit_system``: its estimated speeds are in km/h (metric) or mph (imperial).
    speed_unit: Literal["kmh", "mph"] = "kmh"
    #: Labels that are vehicles (camera.vehicle) and labels that are fire or smoke.
    vehicle_labels: frozenset[str] = frozenset(
        {"car", "truck", "bus", "motorcycle", "bicycle", "van"}
    )
    #: Tracked objects scoring below this are ignored.
    min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    #: Map review items (``<prefix>/reviews``) too: one camera event per review, besides the
    #: tracked objects it groups (which arrive on ``<prefix>/events``). Off: reviews are noted only.
    reviews: bool = True
