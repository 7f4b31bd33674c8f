"""Manifest of the NENA EIDO adapter."""

from safecity.adapters.base import Manifest

MANIFEST = Manifest(
    name="eido",
    title="NENA EIDO (Emergency Incident Data Object) and its WebSocket conveyance messages",
    standards=("NENA-STA-021 EIDO 1.0", "NENA-STA-024 EIDO conveyance"),
    directions=frozenset({"in", "out"}),
    content_types=("application/emergency.eido+json", "application/json"),
    docs="docs/adapters/eido.md",
)
