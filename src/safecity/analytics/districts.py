"""Named areas (police districts, neighbourhoods) and the group of every grid cell.

The fairness card and the demand forecast group cells or events by district. The three shared
datasets ship their districts as KML (Chicago: one ``Placemark`` per district, its ``<name>``),
a shapefile zip (Portland: the ``DISTRICT`` field of the ``.dbf``) and GeoJSON (Vancouver: the
``name`` property). :func:`read_named_areas` reads any of the three; :func:`cell_groups` gives
each active cell the name of the area its centre falls in.
"""

from __future__ import annotations

import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely

from safecity.analytics.data import Grid, Ring, project_rings, rings_to_geometry

#: Name given to cells whose centre lies in no named area.
OUTSIDE = "(none)"


@dataclass(frozen=True)
class NamedArea:
    name: str
    rings: list[list[tuple[float, float]]]


def _kml_areas(path: Path) -> list[NamedArea]:
    import defusedxml.ElementTree as ET  # noqa: N817

    tree = ET.parse(str(path))
    out: list[NamedArea] = []
    for mark in tree.iter():
        if not mark.tag.endswith("Placemark"):
            continue
        name = ""
        rings: list[list[tuple[float, float]]] = []
        for el in mark.iter():
            if el.tag.endswith("}name") or el.tag == "name":
                name = name or (el.text or "").strip()
            if el.tag.endswith("coordinates") and el.text:
                pts = [tok.split(",") for tok in el.text.split()]
                rings.append([(float(p[0]), float(p[1])) for p in pts])
        if rings:
            out.append(NamedArea(name or f"area {len(out) + 1}", rings))
    return out


def _geojson_areas(path: Path, field: str | None) -> list[NamedArea]:
    data = json.loads(path.read_text(encoding="utf-8"))
    out: list[NamedArea] = []
    for i, feat in enumerate(data.get("features", [])):
        props = feat.get("properties") or {}
        key = field or next((k for k in ("name", "NAME", "district", "DISTRICT") if k in props), "")
        name = str(props.get(key, f"area {i + 1}"))
        geom = feat.get("geometry") or {}
        if geom.get("type") not in ("Polygon", "MultiPolygon"):
            continue
        polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        rings = [[(float(p[0]), float(p[1])) for p in ring] for poly in polys for ring in poly]
        out.append(NamedArea(name, rings))
    return out


def _dbf_records(blob: bytes) -> list[dict[str, str]]:
    n_records, header_len, record_len = struct.unpack("<IHH", blob[4:12])
    fields: list[tuple[str, int]] = []
    pos = 32
    while blob[pos] != 0x0D:
        name = blob[pos : pos + 11].split(b"\0")[0].decode("latin-1")
        fields.append((name, blob[pos + 16]))
        pos += 32
    out: list[dict[str, str]] = []
    for r in range(n_records):
        rec = blob[header_len + r * record_len : header_len + (r + 1) * record_len]
        off = 1  # deletion flag
        row: dict[str, str] = {}
        for name, length in fields:
            row[name] = rec[off : off + length].decode("latin-1").strip()
            off += length
        out.append(row)
    return out


def _shapefile_areas(path: Path, field: str | None) -> list[NamedArea]:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        shp = zf.read(next(n for n in names if n.lower().endswith(".shp")))
        dbf_name = next((n for n in names if n.lower().endswith(".dbf")), None)
        records = _dbf_records(zf.read(dbf_name)) if dbf_name else []
    out: list[NamedArea] = []
    pos = 100
    index = 0
    while pos + 8 <= len(shp):
        (length_words,) = struct.unpack(">i", shp[pos + 4 : pos + 8])
        content = shp[pos + 8 : pos + 8 + 2 * length_words]
        pos += 8 + 2 * length_words
        rec = records[index] if index < len(records) else {}
        index += 1
        (shape_type,) = struct.unpack("<i", content[:4])
        if shape_type != 5:
            continue
        key = field or next((k for k in ("DISTRICT", "NAME", "name") if k in rec), "")
        n_parts, n_points = struct.unpack("<ii", content[36:44])
        parts = list(struct.unpack(f"<{n_parts}i", content[44 : 44 + 4 * n_parts]))
        off = 44 + 4 * n_parts
        coords = np.frombuffer(content[off : off + 16 * n_points], dtype="<f8").reshape(-1, 2)
        bounds = [*parts, n_points]
        rings = [
            [(float(a), float(b)) for a, b in coords[bounds[i] : bounds[i + 1]]]
            for i in range(n_parts)
        ]
        out.append(NamedArea(rec.get(key, "") or f"area {index}", rings))
    return out


def read_named_areas(
    path: str | Path, src_crs: str, metric_crs: str, *, field: str | None = None
) -> list[NamedArea]:
    """Named polygons from a KML, GeoJSON or zipped shapefile, projected to ``metric_crs``.

    Several polygons with the same name (a district in parts) are kept as one area. ``field``
    chooses the name property (GeoJSON) or ``.dbf`` field (shapefile); by default ``name`` /
    ``DISTRICT``."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".kml":
        areas = _kml_areas(p)
    elif suffix == ".zip":
        areas = _shapefile_areas(p, field)
    elif suffix in (".geojson", ".json"):
        areas = _geojson_areas(p, field)
    else:
        raise ValueError(f"{p.name}: area files must be .kml, .geojson/.json or a zipped .shp")
    merged: dict[str, list[list[tuple[float, float]]]] = {}
    for area in areas:
        rings = (
            area.rings if src_crs == metric_crs else project_rings(area.rings, src_crs, metric_crs)
        )
        merged.setdefault(area.name, []).extend(rings)
    return [NamedArea(name, rings) for name, rings in merged.items()]


def locate(
    areas: list[NamedArea], x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> npt.NDArray[np.str_]:
    """The name of the area each point lies in (the first that contains it), else OUTSIDE."""
    out = np.full(len(x), OUTSIDE, dtype=object)
    todo = np.ones(len(x), dtype=bool)
    for area in areas:
        rings: list[Ring] = [r for r in area.rings if len(r) >= 3]
        if not rings:
            continue
        geom = rings_to_geometry(rings)
        shapely.prepare(geom)
        inside = np.asarray(shapely.contains_xy(geom, x, y), dtype=bool) & todo
        out[inside] = area.name
        todo &= ~inside
    return np.asarray(out.astype(str))


def cell_groups(grid: Grid, areas: list[NamedArea]) -> npt.NDArray[np.str_]:
    """Name of the area each active cell's centre lies in (``OUTSIDE`` when none)."""
    centres = grid.centres()
    return locate(areas, centres[:, 0], centres[:, 1])


__all__ = ["OUTSIDE", "NamedArea", "cell_groups", "locate", "read_named_areas"]
