"""Manifest of the declarative webhook adapter."""

from safecity.adapters.base import Manifest

MANIFEST = Manifest(
    name="webhook",
    title="Generic webhook with declarative mapping (legacy JSON and CSV)",
    standards=("JSON", "CSV (RFC 4180)"),
    directions=frozenset({"in"}),
    content_types=("application/json", "text/csv"),
    docs="docs/adapters/webhook.md",
)
