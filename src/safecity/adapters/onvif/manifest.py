"""Manifest of the ONVIF event adapter."""

from safecity.adapters.base import Manifest

MANIFEST = Manifest(
    name="onvif",
    title="ONVIF camera events (WS-BaseNotification XML, onvif-ej JSON over MQTT)",
    standards=("ONVIF Core event service", "ONVIF Profile M / onvif-ej"),
    directions=frozenset({"in"}),
    content_types=("application/soap+xml", "application/xml", "application/json"),
    docs="docs/adapters/onvif.md",
)
