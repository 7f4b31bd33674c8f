"""Places that make an incident nearby more urgent: schools, hospitals, care homes.

These are places, never people: the index says "a primary school is 80 m away", which any
operator would weigh, and nothing about who is there.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum

from safecity.core.geo import EARTH_RADIUS_M, haversine_m


class PlaceKind(StrEnum):
    """Kinds of vulnerable place, from OpenStreetMap ``amenity`` / ``healthcare`` tags."""

    SCHOOL = "school"
    KINDERGARTEN = "kindergarten"
    HOSPITAL = "hospital"
    CLINIC = "clinic"
    CARE_HOME = "care_home"
    COLLEGE = "college"


#: Kinds whose occupants are mostly children: they weigh more during school hours.
CHILDREN = frozenset({PlaceKind.SCHOOL, PlaceKind.KINDERGARTEN})


@dataclass(frozen=True)
class Place:
    id: str
    kind: PlaceKind
    name: str
    lon: float
    lat: float


@dataclass(frozen=True)
class NearbyPlace:
    place: Place
    distance_m: float


class PlaceIndex:
    """Grid index over places for "what is within R metres" at city scale."""

    _CELL_M = 250.0

    def __init__(self, places: list[Place] | tuple[Place, ...] = ()) -> None:
        self.places: tuple[Place, ...] = tuple(places)
        self._size = math.degrees(self._CELL_M / EARTH_RADIUS_M)
        self._cells: dict[tuple[int, int], list[Place]] = defaultdict(list)
        for place in self.places:
            self._cells[self._key(place.lon, place.lat)].append(place)

    def __len__(self) -> int:
        return len(self.places)

    def _key(self, lon: float, lat: float) -> tuple[int, int]:
        return (math.floor(lon / self._size), math.floor(lat / self._size))

    def near(self, lon: float, lat: float, radius_m: float) -> list[NearbyPlace]:
        """Places within ``radius_m``, nearest first (ties by id, so output is stable)."""
        if not self._cells:
            return []
        dlat = math.degrees(radius_m / EARTH_RADIUS_M)
        dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
        x0, y0 = self._key(lon - dlon, lat - dlat)
        x1, y1 = self._key(lon + dlon, lat + dlat)
        found: list[NearbyPlace] = []
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                for place in self._cells.get((x, y), ()):
                    d = haversine_m(lon, lat, place.lon, place.lat)
                    if d <= radius_m:
                        found.append(NearbyPlace(place, d))
        found.sort(key=lambda n: (n.distance_m, n.place.id))
        return found
