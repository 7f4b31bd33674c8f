"""Build the packaged operational map of Helsinki centre (``src/safecity/maps/data/helsinki``).

A dev-time tool, never imported by the package. From the shared OSM extract it keeps the
vulnerable places the priority model weighs (schools, kindergartens, hospitals, clinics, care
homes, colleges) and the named districts that serve as operational areas. Output is
byte-identical for the same input, so a rebuild can be checked with ``git diff``::

    .venv/bin/python scripts/build_maps.py [--source DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import osmium

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "roads" / "helsinki"
DEFAULT_OUT = REPO / "src" / "safecity" / "maps" / "data" / "helsinki"
PBF_NAME = "helsinki-centre.osm.pbf"
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"
COORD_DIGITS = 7

#: (tag key, tag value) -> place kind (safecity.core.places.PlaceKind values).
PLACE_TAGS: dict[tuple[str, str], str] = {
    ("amenity", "school"): "school",
    ("amenity", "kindergarten"): "kindergarten",
    ("amenity", "childcare"): "kindergarten",
    ("amenity", "hospital"): "hospital",
    ("healthcare", "hospital"): "hospital",
    ("amenity", "clinic"): "clinic",
    ("healthcare", "clinic"): "clinic",
    ("amenity", "nursing_home"): "care_home",
    ("social_facility", "nursing_home"): "care_home",
    ("social_facility", "group_home"): "care_home",
    ("amenity", "college"): "college",
    ("amenity", "university"): "college",
}
DISTRICT_TAGS = {("place", "suburb"), ("place", "quarter"), ("place", "neighbourhood")}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Collector(osmium.SimpleHandler):
    def __init__(self) -> None:
        super().__init__()
        self.places: dict[str, dict[str, Any]] = {}
        self.districts: dict[str, dict[str, Any]] = {}

    def _kind(self, tags: Any) -> str | None:
        for (key, value), kind in PLACE_TAGS.items():
            if tags.get(key) == value:
                return kind
        return None

    def _add(self, osm_id: str, tags: Any, lon: float, lat: float) -> None:
        kind = self._kind(tags)
        if kind is not None:
            self.places[osm_id] = {
                "id": osm_id,
                "kind": kind,
                "name": tags.get("name", ""),
                "lon": round(lon, COORD_DIGITS),
                "lat": round(lat, COORD_DIGITS),
            }

    def node(self, n: Any) -> None:
        self._add(f"osm-node-{n.id}", n.tags, n.location.lon, n.location.lat)
        if any(n.tags.get(k) == v for k, v in DISTRICT_TAGS) and n.tags.get("name"):
            self.districts[n.tags["name"]] = {
                "name": n.tags["name"],
                "centre": [
                    round(n.location.lon, COORD_DIGITS),
                    round(n.location.lat, COORD_DIGITS),
                ],
                "osm_id": f"osm-node-{n.id}",
            }

    def way(self, w: Any) -> None:
        if self._kind(w.tags) is None:
            return
        coords = [(nd.lon, nd.lat) for nd in w.nodes if nd.location.valid()]
        if not coords:
            return
        # A footprint's vertex mean is within metres of its centroid at this size.
        lon = sum(c[0] for c in coords) / len(coords)
        lat = sum(c[1] for c in coords) / len(coords)
        self._add(f"osm-way-{w.id}", w.tags, lon, lat)


def build(source: Path, out: Path) -> None:
    pbf = source / PBF_NAME
    collector = _Collector()
    collector.apply_file(str(pbf), locations=True)
    header = {
        "attribution": ATTRIBUTION,
        "source": PBF_NAME,
        "source_sha256": sha256(pbf),
    }
    out.mkdir(parents=True, exist_ok=True)
    places = sorted(collector.places.values(), key=lambda p: p["id"])
    areas = sorted(collector.districts.values(), key=lambda a: a["name"])
    for name, key, rows in (("places.json", "places", places), ("areas.json", "areas", areas)):
        lines = [json.dumps(row, ensure_ascii=False, sort_keys=True) for row in rows]
        head = json.dumps(header, ensure_ascii=False, sort_keys=True)[:-1]
        body = ",\n".join(lines)
        (out / name).write_text(f'{head}, "{key}": [\n{body}\n]}}\n', encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    build(args.source, args.out)


if __name__ == "__main__":
    main()
