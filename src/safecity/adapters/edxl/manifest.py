"""Manifest of the EDXL Distribution Element adapter."""

from safecity.adapters.base import Manifest

MANIFEST = Manifest(
    name="edxl",
    title="EDXL Distribution Element 1.0 envelopes (carrying CAP alerts and other XML)",
    standards=("OASIS EDXL-DE 1.0",),
    directions=frozenset({"in"}),
    content_types=("application/xml", "text/xml"),
    docs="docs/adapters/edxl.md",
)
