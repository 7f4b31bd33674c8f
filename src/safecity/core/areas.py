"""Named operational areas (districts, beats, stations' patches) an incident lies in.

An area is a polygon, or only a centre point when a city has no boundaries to hand: then the
nearest centre within ``max_m`` names the area (a Voronoi split), which is what a dispatcher
would do with a map of district names.
"""

from __future__ import annotations

from dataclasses import dataclass

from safecity.core.geo import Ring, haversine_m, point_in_polygon


@dataclass(frozen=True)
class Area:
    name: str
    polygon: tuple[Ring, ...] = ()
    centre: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not self.polygon and self.centre is None:
            raise ValueError(f"area {self.name!r} needs a polygon or a centre")


class AreaMap:
    def __init__(self, areas: tuple[Area, ...] | list[Area] = (), *, max_m: float = 5_000.0):
        self.areas = tuple(areas)
        self.max_m = max_m

    def __len__(self) -> int:
        return len(self.areas)

    def locate(self, lon: float, lat: float) -> str | None:
        """The area containing the point; else the nearest centre within ``max_m``; else None."""
        for area in self.areas:
            if area.polygon and point_in_polygon(lon, lat, area.polygon):
                return area.name
        best: tuple[float, str] | None = None
        for area in self.areas:
            if area.centre is None or area.polygon:
                continue
            d = haversine_m(lon, lat, *area.centre)
            if d <= self.max_m and (best is None or (d, area.name) < best):
                best = (d, area.name)
        return best[1] if best else None
