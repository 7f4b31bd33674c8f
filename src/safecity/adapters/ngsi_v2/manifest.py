"""Manifest of the NGSI v2 adapter."""

from safecity.adapters.base import Manifest

MANIFEST = Manifest(
    name="ngsi_v2",
    title="FIWARE NGSI v2 notifications and entities (Orion, Smart Data Models)",
    standards=("FIWARE NGSI v2", "FIWARE Smart Data Models"),
    directions=frozenset({"in"}),
    content_types=("application/json",),
    docs="docs/adapters/ngsi_v2.md",
)
