"""City-scale geometry for the simulator: local metres, bearings, segments and the sun."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from safecity.core.geo import EARTH_RADIUS_M

_M_PER_DEG_LAT = math.radians(1.0) * EARTH_RADIUS_M


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude at a latitude (equirectangular)."""
    return _M_PER_DEG_LAT * math.cos(math.radians(lat)), _M_PER_DEG_LAT


def offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    """The point ``east_m`` east and ``north_m`` north of (lon, lat)."""
    kx, ky = metres_per_degree(lat)
    return lon + east_m / kx, lat + north_m / ky


def bearing_deg(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Initial compass bearing from the first point to the second, in [0, 360)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    value = round(math.degrees(math.atan2(x, y)) % 360.0, 1)
    return 0.0 if value >= 360.0 else value


def segment_distance_m(
    lon: float, lat: float, a: tuple[float, float], b: tuple[float, float]
) -> float:
    """Distance in metres from a point to the straight segment a-b (all given as lon, lat)."""
    kx, ky = metres_per_degree(lat)
    px, py = (lon - a[0]) * kx, (lat - a[1]) * ky
    bx, by = (b[0] - a[0]) * kx, (b[1] - a[1]) * ky
    length2 = bx * bx + by * by
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, (px * bx + py * by) / length2))
    return math.hypot(px - t * bx, py - t * by)


def sun_elevation_deg(when: datetime, lon: float, lat: float) -> float:
    """Apparent solar elevation (degrees, no refraction) by the NOAA low-accuracy formulae."""
    utc = when.astimezone(UTC)
    day = utc.timetuple().tm_yday
    hours = utc.hour + utc.minute / 60 + utc.second / 3600
    gamma = 2 * math.pi / 365 * (day - 1 + (hours - 12) / 24)
    eq_time = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    true_solar_min = hours * 60 + eq_time + 4 * lon
    hour_angle = math.radians(true_solar_min / 4 - 180)
    phi = math.radians(lat)
    cos_zenith = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(
        hour_angle
    )
    return 90.0 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def solar_hour(when: datetime, lon: float) -> float:
    """Local mean solar time in hours [0, 24): a time-zone-free measure of day and night."""
    utc = when.astimezone(UTC)
    hours = utc.hour + utc.minute / 60 + utc.second / 3600 + lon / 15.0
    return hours % 24.0
