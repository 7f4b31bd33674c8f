"""Geographic values in WGS84 and the distance arithmetic the domain needs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG), good to ~0.5 % for city-scale distances


class Location(BaseModel):
    """A WGS84 position. Altitude and accuracy are in metres."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lon: float = Field(ge=-180.0, le=180.0, allow_inf_nan=False, description="WGS84 longitude")
    lat: float = Field(ge=-90.0, le=90.0, allow_inf_nan=False, description="WGS84 latitude")
    alt_m: float | None = Field(
        default=None,
        ge=-500.0,
        le=10_000.0,
        allow_inf_nan=False,
        description="Altitude above the WGS84 ellipsoid, metres",
    )
    accuracy_m: float | None = Field(
        default=None,
        ge=0.0,
        le=100_000.0,
        allow_inf_nan=False,
        description="Horizontal accuracy radius, metres",
    )


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distance_m(a: Location, b: Location) -> float:
    """Great-circle distance between two locations, metres."""
    return haversine_m(a.lon, a.lat, b.lon, b.lat)


@dataclass(frozen=True)
class BBox:
    """An axis-aligned box in lon/lat; does not cross the antimeridian."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def __post_init__(self) -> None:
        if not (-180 <= self.min_lon <= self.max_lon <= 180):
            raise ValueError("bbox longitudes must satisfy -180 <= min_lon <= max_lon <= 180")
        if not (-90 <= self.min_lat <= self.max_lat <= 90):
            raise ValueError("bbox latitudes must satisfy -90 <= min_lat <= max_lat <= 90")

    @classmethod
    def parse(cls, text: str) -> BBox:
        """Parse ``min_lon,min_lat,max_lon,max_lat`` (the order GeoJSON and OGC APIs use)."""
        parts = text.split(",")
        if len(parts) != 4:
            raise ValueError(
                "bbox needs four comma-separated numbers: min_lon,min_lat,max_lon,max_lat"
            )
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ValueError("bbox values must be numbers") from None
        if not all(math.isfinite(v) for v in values):
            raise ValueError("bbox values must be finite")
        return cls(*values)

    @classmethod
    def around(cls, lon: float, lat: float, radius_m: float) -> BBox:
        """The box enclosing a circle; used as a cheap pre-filter before an exact distance."""
        dlat = math.degrees(radius_m / EARTH_RADIUS_M)
        coslat = max(math.cos(math.radians(lat)), 1e-6)
        dlon = min(180.0, math.degrees(radius_m / (EARTH_RADIUS_M * coslat)))
        return cls(
            max(-180.0, lon - dlon),
            max(-90.0, lat - dlat),
            min(180.0, lon + dlon),
            min(90.0, lat + dlat),
        )

    def contains(self, lon: float, lat: float) -> bool:
        return self.min_lon <= lon <= self.max_lon and self.min_lat <= lat <= self.max_lat


Ring = Sequence[tuple[float, float]]

#: Tolerance for "on an edge", in degrees (about 1 mm): coordinates are not more precise.
_EDGE_EPS = 1e-8


def _on_segment(x: float, y: float, x1: float, y1: float, x2: float, y2: float) -> bool:
    if not (min(x1, x2) - _EDGE_EPS <= x <= max(x1, x2) + _EDGE_EPS):
        return False
    if not (min(y1, y2) - _EDGE_EPS <= y <= max(y1, y2) + _EDGE_EPS):
        return False
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy)
    # Distance of the point from the segment's line: |cross| / |segment|.
    return abs(dx * (y - y1) - dy * (x - x1)) <= _EDGE_EPS * max(length, 1e-300)


def _ring_position(x: float, y: float, ring: Ring) -> Literal["inside", "boundary", "outside"]:
    """Where (x, y) lies against one ring: crossing number, edges and vertices as boundary."""
    inside = False
    n = len(ring)
    j = n - 1
    for i in range(n):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if _on_segment(x, y, xi, yi, xj, yj):
            return "boundary"
        # Half-open rule: an edge counts when it straddles the ray's latitude, with the lower
        # end included and the upper excluded, so a ray through a vertex counts it once.
        if (yi > y) != (yj > y):
            x_cross = xi + (y - yi) * (xj - xi) / (yj - yi)
            if x < x_cross:
                inside = not inside
        j = i
    return "inside" if inside else "outside"


def locate_in_polygon(
    lon: float, lat: float, polygon: Sequence[Ring]
) -> Literal["inside", "boundary", "outside"]:
    """Point in polygon (planar lon/lat, fine at city scale; no antimeridian crossing).

    ``polygon[0]`` is the outline and the rest are holes (GeoJSON order; rings closed or open).
    A point strictly inside a hole is outside; a point on any ring's edge or vertex is on the
    boundary.
    """
    if not polygon:
        return "outside"
    outer = _ring_position(lon, lat, polygon[0])
    if outer != "inside":
        return outer
    for hole in polygon[1:]:
        where = _ring_position(lon, lat, hole)
        if where == "inside":
            return "outside"
        if where == "boundary":
            return "boundary"
    return "inside"


def point_in_polygon(lon: float, lat: float, polygon: Sequence[Ring]) -> bool:
    """Inside or on the boundary of ``polygon`` (see :func:`locate_in_polygon`)."""
    return locate_in_polygon(lon, lat, polygon) != "outside"
