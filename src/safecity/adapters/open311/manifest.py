"""Manifest of the Open311 GeoReport v2 adapter."""

from safecity.adapters.base import Manifest

MANIFEST = Manifest(
    name="open311",
    title="Open311 GeoReport v2 (citizen service requests)",
    standards=("Open311 GeoReport v2",),
    directions=frozenset({"in", "out"}),
    content_types=("application/x-www-form-urlencoded", "application/json", "application/xml"),
    docs="docs/adapters/open311.md",
)
