"""Manifest of the NGSI-LD adapter."""

from safecity.adapters.base import Manifest

MANIFEST = Manifest(
    name="ngsi_ld",
    title="ETSI NGSI-LD notifications and entities (FIWARE Smart Data Models)",
    standards=("ETSI GS CIM 009 (NGSI-LD)", "FIWARE Smart Data Models"),
    directions=frozenset({"in", "out"}),
    content_types=("application/json", "application/ld+json"),
    docs="docs/adapters/ngsi_ld.md",
)
