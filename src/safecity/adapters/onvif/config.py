"""Settings of an ONVIF device (or a VMS relaying several): its name and where each source is."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SourcePlace(BaseModel):
    """A video source (its configuration token) placed on the map, with an optional camera id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lon: float = Field(ge=-180.0, le=180.0, allow_inf_nan=False)
    lat: float = Field(ge=-90.0, le=90.0, allow_inf_nan=False)
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000, allow_inf_nan=False)
    #: The camera id events carry (default: ``<device>/<token>``).
    camera_id: str | None = Field(default=None, min_length=1, max_length=200)


class OnvifConfig(BaseModel):
    """ONVIF notifications carry no position: each source token is placed here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["onvif"] = "onvif"
    #: The device's name in event sources (``onvif/<device>``) for XML notifications; onvif-ej
    #: topics name their device themselves (``<device>/onvif-ej/...``).
    device: str = Field(default="onvif", min_length=1, max_length=100, pattern=r"^[\w.\-]+$")
    #: Video source token of ``device`` (or ``<device>/<token>`` for the devices of an onvif-ej
    #: broker) -> place.
    sources: dict[str, SourcePlace] = Field(default_factory=dict)
