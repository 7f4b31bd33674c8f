"""Settings of the NGSI v2 adapter: where events say they come from, and register defaults."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from safecity.adapters.common.ngsi_config import NgsiSettings, RegisterDefaults

__all__ = ["NgsiV2Config", "RegisterDefaults"]


class NgsiV2Config(NgsiSettings):
    """One NGSI v2 context broker (Orion) (or subscriber) feeding safecity."""

    alert_format: ClassVar[str] = "ngsi-v2"

    type: Literal["ngsi_v2"] = "ngsi_v2"
    source: str = Field(default="urn:safecity:ngsi-v2", min_length=1, max_length=512)
