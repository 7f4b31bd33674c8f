"""Manifest of the MQTT adapter."""

from safecity.adapters.base import Manifest

MANIFEST = Manifest(
    name="mqtt",
    title="MQTT broker connector and JSON telemetry mapped by topic",
    standards=("MQTT 3.1.1 (any MQTT 5 broker)",),
    directions=frozenset({"in"}),
    content_types=("application/json",),
    docs="docs/adapters/mqtt.md",
)
