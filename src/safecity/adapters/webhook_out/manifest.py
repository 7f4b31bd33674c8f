"""Manifest of the outbound webhook adapter."""

from safecity.adapters.base import Manifest

MANIFEST = Manifest(
    name="webhook_out",
    title="Outbound webhooks (HMAC-SHA256 signed, retried with backoff, dead-lettered)",
    standards=("HTTP POST", "HMAC-SHA256 (RFC 2104)"),
    directions=frozenset({"out"}),
    content_types=("application/json",),
    docs="docs/adapters/webhook_out.md",
)
