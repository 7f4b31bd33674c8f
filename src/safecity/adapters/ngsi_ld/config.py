"""Settings of the NGSI-LD adapter: where events say they come from, and register defaults."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from safecity.adapters.common.ngsi_config import NgsiSettings, RegisterDefaults

__all__ = ["NgsiLdConfig", "RegisterDefaults"]


class NgsiLdConfig(NgsiSettings):
    """One NGSI-LD context broker (or subscriber) feeding safecity."""

    alert_format: ClassVar[str] = "ngsi-ld"

    type: Literal["ngsi_ld"] = "ngsi_ld"
    source: str = Field(default="urn:safecity:ngsi-ld", min_length=1, max_length=512)
