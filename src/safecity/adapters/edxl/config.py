"""Settings of an EDXL-DE intake."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["Actual", "Exercise", "System", "Test"]
_EVERY_STATUS: tuple[Status, ...] = ("Actual", "Exercise", "System", "Test")


class EdxlConfig(BaseModel):
    """Which distributions are accepted; the content is read by the adapter of its standard."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["edxl"] = "edxl"
    #: Distribution statuses accepted; others are refused whole (e.g. keep ``Test`` out of a
    #: production intake). The content's own status (a CAP alert's) still applies after.
    accept_status: list[Status] = Field(default_factory=lambda: list(_EVERY_STATUS), min_length=1)
