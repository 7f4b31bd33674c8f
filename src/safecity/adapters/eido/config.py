"""Settings of the EIDO adapter: how this platform names itself in the EIDOs it issues."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

Domain = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
]


class EidoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["eido"] = "eido"
    #: Domain in the incident tracking ids this platform issues
    #: (``urn:emergency:uid:incidentid:<incident id>:<domain>``).
    domain: Domain = "safecity.local"
    #: ``issuingElementIdentification`` of the EIDOs this platform issues.
    issuing_element: Domain = "safecity.local"
    #: Agency reference (``$id`` of the agency component) when an incident has no lead agency.
    default_agency: Domain = "safecity.local"
