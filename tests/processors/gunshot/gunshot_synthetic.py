"""Synthetic sensor networks and shots for the gunshot tests."""

from __future__ import annotations

import math

from safecity.processors.gunshot.localiser import Pulse, speed_of_sound

# Eight sensors on a ~1 km urban grid, 5 m up (so the default source height is 0 m).
SENSORS: dict[str, tuple[float, float, float]] = {
    "s1": (-450.0, -400.0, 5.0),
    "s2": (20.0, -480.0, 5.0),
    "s3": (470.0, -380.0, 5.0),
    "s4": (500.0, 60.0, 5.0),
    "s5": (430.0, 470.0, 5.0),
    "s6": (-30.0, 520.0, 5.0),
    "s7": (-480.0, 430.0, 5.0),
    "s8": (-520.0, 10.0, 5.0),
}
SOURCE = (120.0, -80.0, 0.0)
T0 = 1_000.0


def arrivals(
    source: tuple[float, float, float] = SOURCE,
    t0: float = T0,
    temperature_c: float = -1.0,
    sensors: dict[str, tuple[float, float, float]] | None = None,
) -> list[Pulse]:
    """Noise-free direct arrivals of one shot at every sensor."""
    c = speed_of_sound(temperature_c)
    out = []
    for name, (x, y, z) in (sensors or SENSORS).items():
        d = math.dist((x, y, z), source)
        out.append(Pulse(name, x, y, z, t0 + d / c, snr_db=20.0, power_db=90.0, pulse_id=name))
    return out
