"""Manifest of the Common Alerting Protocol adapter."""

from safecity.adapters.base import Manifest

MANIFEST = Manifest(
    name="cap",
    title="Common Alerting Protocol (CAP 1.2/1.1 alerts, Atom/RSS feeds; CAP 1.2 Atom out)",
    standards=("OASIS CAP 1.2", "OASIS CAP 1.1", "Atom (RFC 4287)", "RSS 2.0", "XML-DSig"),
    directions=frozenset({"in", "out"}),
    content_types=(
        "application/cap+xml",
        "application/xml",
        "text/xml",
        "application/atom+xml",
        "application/rss+xml",
    ),
    docs="docs/adapters/cap.md",
)
