"""Manifest of the Frigate NVR adapter."""

from safecity.adapters.base import Manifest

MANIFEST = Manifest(
    name="frigate",
    title="Frigate NVR object detection over MQTT (events, reviews)",
    standards=("Frigate MQTT API (v0.10 to current)",),
    directions=frozenset({"in"}),
    content_types=("application/json",),
    docs="docs/adapters/frigate.md",
)
