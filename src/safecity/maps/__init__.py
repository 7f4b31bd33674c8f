"""Packaged operational maps: vulnerable places and named areas, per city, with attribution.

A city points ``priority.places_file`` / ``areas.file`` at its own JSON (same format) or uses
a packaged map by name (``"helsinki"``). Data in ``data/<city>/`` is © OpenStreetMap
contributors, ODbL 1.0 (see each folder's ATTRIBUTION.md).
"""

from __future__ import annotations

import gzip
import json
import math
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from safecity.core.areas import Area, AreaMap
from safecity.core.places import Place, PlaceIndex, PlaceKind

PACKAGED = ("helsinki",)


def _document(name_or_path: str | Path, file_name: str) -> dict[str, Any]:
    if isinstance(name_or_path, str) and name_or_path in PACKAGED:
        text = (files(__name__) / "data" / name_or_path / file_name).read_text(encoding="utf-8")
        origin = f"packaged map {name_or_path!r}"
    else:
        path = Path(name_or_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"{path}: cannot read ({exc.strerror})") from None
        origin = str(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{origin}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{origin}: expected a JSON object")  # noqa: TRY004 - bad data, not a bad call
    doc["_origin"] = origin
    return doc


def load_places(name_or_path: str | Path) -> PlaceIndex:
    """Vulnerable places from a packaged map name or a JSON file ``{"places": [...]}``."""
    doc = _document(name_or_path, "places.json")
    places = []
    for i, row in enumerate(doc.get("places", [])):
        try:
            places.append(
                Place(
                    id=str(row["id"]),
                    kind=PlaceKind(row["kind"]),
                    name=str(row.get("name", "")),
                    lon=float(row["lon"]),
                    lat=float(row["lat"]),
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{doc['_origin']}: places[{i}]: {exc!r}") from None
    return PlaceIndex(places)


def load_areas(name_or_path: str | Path, *, max_m: float = 5_000.0) -> AreaMap:
    """Named areas: ``{"areas": [{"name", "centre": [lon, lat]} | {"name", "polygon": ...}]}``."""
    doc = _document(name_or_path, "areas.json")
    areas = []
    for i, row in enumerate(doc.get("areas", [])):
        try:
            polygon = tuple(
                tuple((float(x), float(y)) for x, y in ring) for ring in row.get("polygon", ())
            )
            centre = row.get("centre")
            areas.append(
                Area(
                    name=str(row["name"]),
                    polygon=polygon,
                    centre=(float(centre[0]), float(centre[1])) if centre else None,
                )
            )
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise ValueError(f"{doc['_origin']}: areas[{i}]: {exc!r}") from None
    return AreaMap(areas, max_m=max_m)


def basemap_bytes(name: str) -> bytes:
    """The offline basemap of a packaged map, gzipped JSON as built by
    ``scripts/build_basemap.py``: ``{"layers": {"roads"|"buildings"|"water"|"green"|"places"|
    "trees": FeatureCollection}, "attribution", "bbox"}``. Raises ValueError for an unknown map."""
    if name not in PACKAGED:
        raise ValueError(f"{name!r} is not a packaged map (known: {', '.join(PACKAGED)})")
    return (files(__name__) / "data" / name / "basemap.json.gz").read_bytes()


def _basemap(name: str) -> dict[str, Any]:
    doc = json.loads(gzip.decompress(basemap_bytes(name)))
    if not isinstance(doc, dict):
        raise ValueError(f"packaged basemap {name!r}: expected a JSON object")  # noqa: TRY004
    return doc


def building_outlines(name: str) -> list[list[tuple[float, float]]]:
    """The outer rings (lon, lat) of the packaged basemap's building footprints: what the
    camera-coverage analysis needs to cast shadows. Raises ValueError for an unknown map."""
    doc = _basemap(name)
    rings: list[list[tuple[float, float]]] = []
    for feature in doc.get("layers", {}).get("buildings", {}).get("features", []):
        geometry = feature.get("geometry") or {}
        kind = geometry.get("type")
        coordinates = geometry.get("coordinates", [])
        polygons = (
            [coordinates] if kind == "Polygon" else coordinates if kind == "MultiPolygon" else []
        )
        rings.extend(
            [(float(p[0]), float(p[1])) for p in polygon[0]]
            for polygon in polygons
            if polygon and len(polygon[0]) >= 4
        )
    return rings


#: Foliage of :func:`tree_outlines`: ``leaf`` (every crown) or ``bare`` (evergreens only).
Foliage = Literal["leaf", "bare"]
#: Vertices of a crown's circle.
_CROWN_VERTICES = 16


def tree_outlines(name: str, *, foliage: Foliage = "leaf") -> list[list[tuple[float, float]]]:
    """Tree crowns of the packaged basemap as outer rings (lon, lat), the form
    :func:`building_outlines` gives: each ``natural=tree`` a circle of its ``crown_m`` diameter
    (16 vertices), each ``natural=tree_row`` its line buffered to ``crown_m`` wide. With
    ``foliage="bare"`` (leaves fallen) only the trees tagged evergreen are kept. Raises
    ValueError for an unknown map or foliage."""
    if foliage not in ("leaf", "bare"):
        raise ValueError(f"foliage must be 'leaf' or 'bare', not {foliage!r}")
    doc = _basemap(name)
    rings: list[list[tuple[float, float]]] = []
    for feature in doc.get("layers", {}).get("trees", {}).get("features", []):
        props = feature.get("properties") or {}
        if foliage == "bare" and not props.get("evergreen"):
            continue
        geometry = feature.get("geometry") or {}
        kind = geometry.get("type")
        coordinates = geometry.get("coordinates", [])
        lines = (
            [[coordinates]]
            if kind == "Point"
            else [coordinates]
            if kind == "LineString"
            else coordinates
            if kind == "MultiLineString"
            else []
        )
        radius = float(props.get("crown_m", 0.0)) / 2.0
        if radius <= 0:
            continue
        for line in lines:
            if line:
                rings.extend(_crown_rings([(float(p[0]), float(p[1])) for p in line], radius))
    return rings


def _crown_rings(
    line: list[tuple[float, float]], radius_m: float
) -> list[list[tuple[float, float]]]:
    """A point (one vertex) or line buffered by ``radius_m``, in a local equirectangular frame
    at its first vertex (exact enough over a few hundred metres)."""
    from shapely.geometry import LineString, Point

    lon0, lat0 = line[0]
    kx = 111_320.0 * math.cos(math.radians(lat0))
    ky = 111_320.0
    xy = [((lon - lon0) * kx, (lat - lat0) * ky) for lon, lat in line]
    shape = Point(xy[0]) if len(xy) == 1 else LineString(xy)
    buffered = shape.buffer(radius_m, quad_segs=_CROWN_VERTICES // 4)
    polygons = list(getattr(buffered, "geoms", [buffered]))
    return [
        [(round(lon0 + x / kx, 7), round(lat0 + y / ky, 7)) for x, y in poly.exterior.coords]
        for poly in polygons
        if not poly.is_empty
    ]
