"""Build the packaged offline basemap of Helsinki centre (``maps/data/helsinki/basemap.json.gz``).

A dev-time tool, never imported by the package. From the shared OSM extract it keeps what a
control-room map needs to be legible without a tile server: roads (class and name), building
footprints, water (lakes, ponds, basins as polygons; the sea's coastline and streams as lines),
green areas (parks, gardens, grass, woods), named places (districts, squares, stations) as
points, and trees (``natural=tree`` nodes as points, ``natural=tree_row`` ways as lines, each with
a crown diameter ``crown_m``: what camera coverage needs to cast foliage shadows). The document
is a set of GeoJSON FeatureCollections, one per layer, coordinates rounded to 6 decimals
(~0.1 m), gzipped with mtime 0: the same input gives the same bytes::

    .venv/bin/python scripts/build_basemap.py [--source FILE] [--out FILE]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import osmium

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "roads" / "helsinki" / "helsinki-centre.osm.pbf"
DEFAULT_OUT = REPO / "src" / "safecity" / "maps" / "data" / "helsinki" / "basemap.json.gz"
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"
DIGITS = 6
LAYERS = ("water", "green", "buildings", "roads", "places", "trees")
#: Crown diameter (m) of a tree or tree row whose ``diameter_crown`` is not tagged (or not sane).
#: An assumption, not a measurement: a mid-sized street tree (lime, maple, birch) of a city
#: centre; no survey of Helsinki's street trees was at hand. Such features carry no
#: ``crown_tagged`` property, so the assumption stays visible in the data.
DEFAULT_CROWN_M = 6.0
#: ``diameter_crown`` values outside this range (m) are taken as mistagged and ignored.
CROWN_RANGE_M = (1.0, 40.0)

#: highway=* values that are not drawn (indoor, planned or point-like features).
SKIP_HIGHWAYS = frozenset(
    {"platform", "elevator", "corridor", "proposed", "construction", "bus_stop", "crossing"}
)
#: (key, value) -> green kind.
GREEN_TAGS: dict[tuple[str, str], str] = {
    ("leisure", "park"): "park",
    ("leisure", "garden"): "garden",
    ("leisure", "playground"): "park",
    ("landuse", "grass"): "grass",
    ("landuse", "village_green"): "grass",
    ("landuse", "recreation_ground"): "park",
    ("natural", "wood"): "wood",
    ("landuse", "forest"): "wood",
    ("natural", "scrub"): "scrub",
    ("natural", "heath"): "scrub",
}
#: (key, value) -> water kind, for areas.
WATER_AREA_TAGS: dict[tuple[str, str], str] = {
    ("natural", "water"): "water",
    ("waterway", "riverbank"): "water",
    ("landuse", "basin"): "basin",
    ("landuse", "pond"): "water",
    ("landuse", "reservoir"): "water",
}
#: Line features drawn in the water layer (the extract cuts the sea: only its coastline is there).
WATER_LINE_TAGS: dict[tuple[str, str], str] = {
    ("natural", "coastline"): "coastline",
    ("waterway", "river"): "river",
    ("waterway", "stream"): "stream",
    ("waterway", "canal"): "canal",
}
PLACE_KINDS = frozenset({"city", "suburb", "quarter", "neighbourhood", "square"})


def _pt(lon: float, lat: float) -> list[float]:
    return [round(lon, DIGITS), round(lat, DIGITS)]


def _line(points: list[list[float]]) -> list[list[float]]:
    """Drop consecutive duplicates left by rounding."""
    out: list[list[float]] = []
    for p in points:
        if not out or out[-1] != p:
            out.append(p)
    return out


def _crown(tags: Any) -> dict[str, Any]:
    """``crown_m`` from OSM ``diameter_crown`` (metres; "8", "8 m", "8.5m") when tagged and in
    ``CROWN_RANGE_M``, else ``DEFAULT_CROWN_M``; ``evergreen`` when the tags say the tree keeps
    its leaves (``leaf_cycle=evergreen``; without a ``leaf_cycle``, ``leaf_type=needleleaved``
    or the older ``type=conifer``)."""
    out: dict[str, Any] = {"crown_m": DEFAULT_CROWN_M}
    raw = (tags.get("diameter_crown") or "").strip().removesuffix("m").strip()
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        value = math.nan
    if CROWN_RANGE_M[0] <= value <= CROWN_RANGE_M[1]:
        out = {"crown_m": round(value, 1), "crown_tagged": True}
    cycle = tags.get("leaf_cycle")
    if cycle == "evergreen" or (
        cycle is None and (tags.get("leaf_type") == "needleleaved" or tags.get("type") == "conifer")
    ):
        out["evergreen"] = True
    return out


def _match(tags: Any, table: dict[tuple[str, str], str]) -> str | None:
    for (key, value), kind in table.items():
        if tags.get(key) == value:
            return kind
    return None


def _feature(osm_id: str, geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    properties = {k: v for k, v in props.items() if v not in (None, "")}
    return {"type": "Feature", "id": osm_id, "properties": properties, "geometry": geometry}


class _Collector(osmium.SimpleHandler):
    def __init__(self) -> None:
        super().__init__()
        self.layers: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in LAYERS}

    def node(self, n: Any) -> None:
        tags = n.tags
        if tags.get("natural") == "tree":
            key = f"node/{n.id}"
            point = {"type": "Point", "coordinates": _pt(n.location.lon, n.location.lat)}
            self.layers["trees"][key] = _feature(key, point, kind="tree", **_crown(tags))
            return
        name = tags.get("name")
        if not name:
            return
        kind = tags.get("place") if tags.get("place") in PLACE_KINDS else None
        if kind is None and (
            tags.get("railway") == "station" or tags.get("public_transport") == "station"
        ):
            kind = "metro_station" if tags.get("station") == "subway" else "station"
        if kind is None:
            return
        point = {"type": "Point", "coordinates": _pt(n.location.lon, n.location.lat)}
        self.layers["places"][f"node/{n.id}"] = _feature(
            f"node/{n.id}", point, kind=kind, name=name
        )

    def way(self, w: Any) -> None:
        tags = w.tags
        highway = tags.get("highway")
        water = _match(tags, WATER_LINE_TAGS)
        tree_row = tags.get("natural") == "tree_row"
        if (highway is None or highway in SKIP_HIGHWAYS) and water is None and not tree_row:
            return
        # A way the extract cuts lacks the nodes outside it: each run of present nodes is a part.
        parts: list[list[list[float]]] = [[]]
        for nd in w.nodes:
            if nd.location.valid():
                parts[-1].append(_pt(nd.lon, nd.lat))
            elif parts[-1]:
                parts.append([])
        lines = [line for line in (_line(p) for p in parts) if len(line) >= 2]
        if not lines:
            return
        geometry: dict[str, Any] = (
            {"type": "LineString", "coordinates": lines[0]}
            if len(lines) == 1
            else {"type": "MultiLineString", "coordinates": lines}
        )
        key = f"way/{w.id}"
        if tree_row:
            self.layers["trees"][key] = _feature(key, geometry, kind="tree_row", **_crown(tags))
        elif water is not None:
            self.layers["water"][key] = _feature(key, geometry, kind=water, name=tags.get("name"))
        elif highway is not None:
            self.layers["roads"][key] = _feature(
                key,
                geometry,
                **{
                    "class": highway,
                    "name": tags.get("name"),
                    "tunnel": tags.get("tunnel") == "yes" or None,
                },
            )

    def area(self, a: Any) -> None:
        tags = a.tags
        layer: str | None = None
        kind: str | None = None
        if tags.get("building") and tags.get("building") != "no":
            layer = "buildings"
        elif (water := _match(tags, WATER_AREA_TAGS)) is not None:
            layer, kind = "water", water
        elif (green := _match(tags, GREEN_TAGS)) is not None:
            layer, kind = "green", green
        square = tags.get("place") == "square" and tags.get("name")
        if layer is None and not square:
            return
        polygons: list[list[list[list[float]]]] = []
        for outer in a.outer_rings():
            rings = [_line([_pt(n.lon, n.lat) for n in outer])]
            rings.extend(
                _line([_pt(n.lon, n.lat) for n in inner]) for inner in a.inner_rings(outer)
            )
            rings = [r for r in rings if len(r) >= 4]
            if rings:
                polygons.append(rings)
        if not polygons:
            return
        key = f"{'way' if a.from_way() else 'relation'}/{a.orig_id()}"
        if square:
            # A named square is a place label at the mean of its outer vertices.
            ring = polygons[0][0][:-1]
            lon = sum(p[0] for p in ring) / len(ring)
            lat = sum(p[1] for p in ring) / len(ring)
            point = {"type": "Point", "coordinates": _pt(lon, lat)}
            self.layers["places"][key] = _feature(key, point, kind="square", name=tags["name"])
        if layer is None:
            return
        geometry: dict[str, Any] = (
            {"type": "Polygon", "coordinates": polygons[0]}
            if len(polygons) == 1
            else {"type": "MultiPolygon", "coordinates": polygons}
        )
        name = tags.get("name") if layer != "buildings" else None
        self.layers[layer][key] = _feature(key, geometry, kind=kind, name=name)


def build(source: Path, out: Path) -> dict[str, int]:
    collector = _Collector()
    collector.apply_file(str(source), locations=True)
    lons: list[float] = []
    lats: list[float] = []
    layers: dict[str, Any] = {}
    for name in LAYERS:
        features = [collector.layers[name][k] for k in sorted(collector.layers[name])]
        layers[name] = {"type": "FeatureCollection", "features": features}
    for f in layers["roads"]["features"]:
        geometry = f["geometry"]
        parts = geometry["coordinates"]
        for part in parts if geometry["type"] == "MultiLineString" else [parts]:
            lons.extend(p[0] for p in part)
            lats.extend(p[1] for p in part)
    document = {
        "type": "safecity.basemap",
        "version": 1,
        "attribution": ATTRIBUTION,
        "source": source.name,
        "source_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "bbox": [min(lons), min(lats), max(lons), max(lats)],
        "layers": layers,
    }
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    return {name: len(layers[name]["features"]) for name in LAYERS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    counts = build(args.source, args.out)
    size = args.out.stat().st_size
    print(f"{args.out}: {size:,} bytes; " + ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
