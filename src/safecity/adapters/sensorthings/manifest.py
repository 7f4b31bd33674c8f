"""Manifest of the OGC SensorThings API adapter."""

from safecity.adapters.base import Manifest

MANIFEST = Manifest(
    name="sensorthings",
    title="OGC SensorThings API 1.1 (Observations, dataArray, Things, Datastreams)",
    standards=("OGC SensorThings API 1.1 Part 1: Sensing", "OGC 18-088"),
    directions=frozenset({"in"}),
    content_types=("application/json",),
    docs="docs/adapters/sensorthings.md",
)
