"""Demo city simulator: Helsinki centre map data and a seeded, deterministic event generator."""

from safecity.sim.city import ATTRIBUTION, ATTRIBUTION_URL, DemoCity, Device, Landmark
from safecity.sim.scenario import (
    SITUATION_KINDS,
    CitySimulator,
    SimConfig,
    SituationRecord,
)

__all__ = [
    "ATTRIBUTION",
    "ATTRIBUTION_URL",
    "SITUATION_KINDS",
    "CitySimulator",
    "DemoCity",
    "Device",
    "Landmark",
    "SimConfig",
    "SituationRecord",
]
