"""Event tables and grids for place-based forecasting.

An :class:`EventTable` is a typed set of point events (time + metric x/y) read from any CSV
through a small :class:`CsvMapping`; a :class:`Grid` covers a study area with square cells and
turns events into :class:`DailyCounts` (events per cell per day). Everything is about places:
the tables keep no person attributes, only when and where something was recorded.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import struct
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Ring = Sequence[tuple[float, float]]

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class CsvMapping:
    """How to read one CSV event file.

    ``time`` is one column (ISO date or date-time, e.g. ``2016-01-01 13:05`` or ``2016-01-01``)
    or a tuple of integer columns (year, month, day[, hour[, minute]]). ``x``/``y`` are the
    coordinate columns in ``crs`` (longitude/latitude for ``EPSG:4326``); they are projected to
    ``metric_crs`` (a CRS whose unit is the metre). Rows whose category is not in ``categories``
    (when both are given), whose coordinates are missing, or equal to (0, 0) are dropped.
    """

    time: str | tuple[str, ...]
    x: str
    y: str
    crs: str
    metric_crs: str
    category: str | None = None
    categories: frozenset[str] | None = None


@dataclass(frozen=True)
class EventTable:
    """Point events: ``times`` in epoch seconds (local wall-clock time treated as UTC, so a day is
    the local calendar day), ``x``/``y`` in metres in ``crs``; ``categories`` when the source has
    them."""

    times: IntArray
    x: FloatArray
    y: FloatArray
    crs: str
    categories: npt.NDArray[np.str_] | None = None

    def __post_init__(self) -> None:
        if not (len(self.times) == len(self.x) == len(self.y)):
            raise ValueError("times, x and y must have the same length")

    def __len__(self) -> int:
        return len(self.times)

    @property
    def days(self) -> IntArray:
        """Day number since 1970-01-01 of each event."""
        return np.floor_divide(self.times, SECONDS_PER_DAY)

    def select(self, mask: npt.NDArray[np.bool_]) -> EventTable:
        cats = None if self.categories is None else self.categories[mask]
        return EventTable(self.times[mask], self.x[mask], self.y[mask], self.crs, cats)

    def between(self, start: str | np.datetime64, end: str | np.datetime64) -> EventTable:
        """Events with ``start <= time < end`` (dates or date-times)."""
        lo = _epoch_seconds(start)
        hi = _epoch_seconds(end)
        return self.select((self.times >= lo) & (self.times < hi))


def _epoch_seconds(value: str | np.datetime64) -> int:
    return int(np.datetime64(str(value), "s").astype(np.int64))


def day_number(value: str | np.datetime64) -> int:
    """Day number since 1970-01-01 of a date."""
    return int(np.datetime64(str(value), "D").astype(np.int64))


def day_label(day: int) -> str:
    return str(np.datetime64(day, "D"))


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return io.TextIOWrapper(path.open("rb"), encoding="utf-8", newline="")


def _parse_time(row: dict[str, str], spec: str | tuple[str, ...]) -> int | None:
    if isinstance(spec, str):
        raw = row.get(spec, "").strip()
        if not raw:
            return None
        return _epoch_seconds(raw.replace(" ", "T"))
    parts = [row.get(c, "").strip() for c in spec]
    if any(p == "" for p in parts[:3]):
        return None
    nums = [int(float(p)) if p else 0 for p in parts]
    nums += [0] * (5 - len(nums))
    year, month, dom, hour, minute = nums[:5]
    day = day_number(f"{year:04d}-{month:02d}-{dom:02d}")
    return day * SECONDS_PER_DAY + hour * 3600 + minute * 60


def load_events(path: str | Path, mapping: CsvMapping) -> EventTable:
    """Read a CSV (optionally gzip-compressed) into an :class:`EventTable`."""
    times: list[int] = []
    xs: list[float] = []
    ys: list[float] = []
    cats: list[str] = []
    with _open_text(Path(path)) as fh:
        for row in csv.DictReader(fh):
            cat = row.get(mapping.category, "") if mapping.category else ""
            if mapping.categories is not None and cat not in mapping.categories:
                continue
            sx, sy = row.get(mapping.x, "").strip(), row.get(mapping.y, "").strip()
            if not sx or not sy:
                continue
            fx, fy = float(sx), float(sy)
            if not (math.isfinite(fx) and math.isfinite(fy)) or (fx == 0.0 and fy == 0.0):
                continue
            t = _parse_time(row, mapping.time)
            if t is None:
                continue
            times.append(t)
            xs.append(fx)
            ys.append(fy)
            cats.append(cat)
    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    if mapping.crs != mapping.metric_crs:
        tr = Transformer.from_crs(mapping.crs, mapping.metric_crs, always_xy=True)
        x, y = (np.asarray(a, dtype=np.float64) for a in tr.transform(x, y))
    order = np.argsort(np.asarray(times, dtype=np.int64), kind="stable")
    t_arr = np.asarray(times, dtype=np.int64)[order]
    cat_arr = np.asarray(cats, dtype=np.str_)[order] if mapping.category else None
    return EventTable(t_arr, x[order], y[order], mapping.metric_crs, cat_arr)


# --------------------------------------------------------------------------- study areas


def project_rings(
    rings: Iterable[Ring], src_crs: str, dst_crs: str
) -> list[list[tuple[float, float]]]:
    """Project polygon rings (lists of (x, y)) between CRSs."""
    tr = Transformer.from_crs(src_crs, dst_crs, always_xy=True)
    out: list[list[tuple[float, float]]] = []
    for ring in rings:
        arr = np.asarray(ring, dtype=np.float64)
        px, py = tr.transform(arr[:, 0], arr[:, 1])
        out.append(list(zip(np.asarray(px).tolist(), np.asarray(py).tolist(), strict=True)))
    return out


def rings_to_geometry(rings: Iterable[Ring]) -> BaseGeometry:
    """Union of polygons given as outer rings; a ring inside another is treated as a hole
    (even-odd rule), which is what shapefile and KML rings mean for the areas used here."""
    polys = [Polygon(r) for r in rings if len(r) >= 3]
    polys = [p if p.is_valid else p.buffer(0) for p in polys]
    geom: BaseGeometry = polys[0]
    for p in polys[1:]:
        geom = geom.symmetric_difference(p)
    return geom


def read_kml_rings(path: str | Path) -> list[list[tuple[float, float]]]:
    """Every ``<coordinates>`` ring of a KML file as (lon, lat) tuples."""
    import defusedxml.ElementTree as ET  # noqa: N817

    tree = ET.parse(str(path))
    rings: list[list[tuple[float, float]]] = []
    for el in tree.iter():
        if el.tag.endswith("coordinates") and el.text:
            pts = [tuple(float(v) for v in tok.split(",")[:2]) for tok in el.text.split()]
            rings.append([(p[0], p[1]) for p in pts])
    return rings


def read_geojson_rings(path: str | Path) -> list[list[tuple[float, float]]]:
    """Every polygon ring of a GeoJSON FeatureCollection (Polygon / MultiPolygon)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    rings: list[list[tuple[float, float]]] = []
    for feat in data.get("features", []):
        geom = feat.get("geometry") or {}
        polys = [geom["coordinates"]] if geom.get("type") == "Polygon" else geom["coordinates"]
        for poly in polys:
            rings.extend([(float(p[0]), float(p[1])) for p in ring] for ring in poly)
    return rings


def read_shapefile_rings(path: str | Path) -> list[list[tuple[float, float]]]:
    """Polygon rings of an ESRI shapefile (``.shp``, or a ``.zip`` holding one), in the file's
    own coordinates. Only polygon shapes (type 5) are read."""
    p = Path(path)
    if p.suffix == ".zip":
        with zipfile.ZipFile(p) as zf:
            name = next(n for n in zf.namelist() if n.lower().endswith(".shp"))
            blob = zf.read(name)
    else:
        blob = p.read_bytes()
    rings: list[list[tuple[float, float]]] = []
    pos = 100
    while pos + 8 <= len(blob):
        (length_words,) = struct.unpack(">i", blob[pos + 4 : pos + 8])
        content = blob[pos + 8 : pos + 8 + 2 * length_words]
        pos += 8 + 2 * length_words
        (shape_type,) = struct.unpack("<i", content[:4])
        if shape_type != 5:
            continue
        n_parts, n_points = struct.unpack("<ii", content[36:44])
        parts = list(struct.unpack(f"<{n_parts}i", content[44 : 44 + 4 * n_parts]))
        off = 44 + 4 * n_parts
        coords = np.frombuffer(content[off : off + 16 * n_points], dtype="<f8").reshape(-1, 2)
        bounds = [*parts, n_points]
        rings.extend(
            [(float(a), float(b)) for a, b in coords[bounds[i] : bounds[i + 1]]]
            for i in range(n_parts)
        )
    return rings


# --------------------------------------------------------------------------- grid


@dataclass
class Grid:
    """Square cells of ``cell_size`` metres over a bounding box, optionally masked by a polygon.

    Cells are indexed two ways: ``raster`` (row-major over the full ``ny x nx`` box) and
    ``cell`` (0..n_cells-1 over the active cells only, i.e. those whose centre lies in the study
    area). Forecasts and counts use cell indices."""

    x0: float
    y0: float
    nx: int
    ny: int
    cell_size: float = 150.0
    active: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    area_geometry: BaseGeometry | None = None

    def __post_init__(self) -> None:
        if self.active.size == 0:
            self.active = np.ones(self.nx * self.ny, dtype=bool)
        if self.active.shape != (self.nx * self.ny,):
            raise ValueError("active mask must have nx*ny entries")
        self.raster_of_cell: IntArray = np.flatnonzero(self.active).astype(np.int64)
        self.cell_of_raster: IntArray = np.full(self.nx * self.ny, -1, dtype=np.int64)
        self.cell_of_raster[self.raster_of_cell] = np.arange(len(self.raster_of_cell))

    @classmethod
    def from_bbox(
        cls, xmin: float, ymin: float, xmax: float, ymax: float, cell_size: float = 150.0
    ) -> Grid:
        nx = max(1, math.ceil((xmax - xmin) / cell_size))
        ny = max(1, math.ceil((ymax - ymin) / cell_size))
        return cls(xmin, ymin, nx, ny, cell_size)

    @classmethod
    def from_polygon(cls, rings: Iterable[Ring], cell_size: float = 150.0) -> Grid:
        """Cells whose centre falls inside the polygon (rings in metric coordinates)."""
        geom = rings_to_geometry(list(rings))
        xmin, ymin, xmax, ymax = geom.bounds
        g = cls.from_bbox(xmin, ymin, xmax, ymax, cell_size)
        cx, cy = g.raster_centres()
        shapely.prepare(geom)
        inside = np.asarray(shapely.contains_xy(geom, cx, cy), dtype=bool)
        return cls(g.x0, g.y0, g.nx, g.ny, cell_size, inside, geom)

    @property
    def n_cells(self) -> int:
        return len(self.raster_of_cell)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ny, self.nx)

    @property
    def cell_area(self) -> float:
        return self.cell_size * self.cell_size

    def raster_centres(self) -> tuple[FloatArray, FloatArray]:
        cols = np.arange(self.nx * self.ny) % self.nx
        rows = np.arange(self.nx * self.ny) // self.nx
        return (
            np.asarray(self.x0 + (cols + 0.5) * self.cell_size, dtype=np.float64),
            np.asarray(self.y0 + (rows + 0.5) * self.cell_size, dtype=np.float64),
        )

    def centres(self) -> FloatArray:
        """(n_cells, 2) centre coordinates of the active cells."""
        cx, cy = self.raster_centres()
        return np.column_stack([cx[self.raster_of_cell], cy[self.raster_of_cell]])

    def cell_index(self, x: FloatArray, y: FloatArray) -> IntArray:
        """Active-cell index of each point, -1 when outside the grid or study area."""
        col = np.floor((np.asarray(x) - self.x0) / self.cell_size).astype(np.int64)
        row = np.floor((np.asarray(y) - self.y0) / self.cell_size).astype(np.int64)
        ok = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        out = np.full(col.shape, -1, dtype=np.int64)
        out[ok] = self.cell_of_raster[row[ok] * self.nx + col[ok]]
        return out

    def to_raster(self, values: npt.NDArray[np.floating] | npt.NDArray[np.integer]) -> FloatArray:
        """Per-cell values (..., n_cells) as a (..., ny, nx) raster, zero outside the area."""
        v = np.asarray(values, dtype=np.float64)
        out = np.zeros((*v.shape[:-1], self.nx * self.ny), dtype=np.float64)
        out[..., self.raster_of_cell] = v
        return out.reshape(*v.shape[:-1], self.ny, self.nx)

    def from_raster(self, raster: FloatArray) -> FloatArray:
        """Inverse of :meth:`to_raster`: keep the active cells."""
        r = np.asarray(raster, dtype=np.float64)
        return r.reshape(*r.shape[:-2], self.nx * self.ny)[..., self.raster_of_cell]

    def counts(self, events: EventTable, start: str | int, n_days: int) -> DailyCounts:
        """Events per active cell per day for ``n_days`` days from ``start`` (date or day
        number); events outside the grid, the area or the period are dropped."""
        d0 = start if isinstance(start, int) else day_number(start)
        day = events.days - d0
        cell = self.cell_index(events.x, events.y)
        ok = (day >= 0) & (day < n_days) & (cell >= 0)
        out = np.zeros((n_days, self.n_cells), dtype=np.int32)
        np.add.at(out, (day[ok], cell[ok]), 1)
        return DailyCounts(self, d0, out)


@dataclass(frozen=True)
class DailyCounts:
    """``counts[t, c]``: events in active cell ``c`` on day ``start + t`` (day numbers since
    1970-01-01)."""

    grid: Grid
    start: int
    counts: npt.NDArray[np.int32]

    @property
    def n_days(self) -> int:
        return int(self.counts.shape[0])

    def head(self, until: int) -> DailyCounts:
        """Only days ``[0, until)``: what a forecaster may see at origin ``until``."""
        return DailyCounts(self.grid, self.start, self.counts[:until])

    def index_of(self, date: str | np.datetime64) -> int:
        return day_number(date) - self.start


# --------------------------------------------------------------------------- shared datasets

CHICAGO = CsvMapping(
    time="date", x="longitude", y="latitude", crs="EPSG:4326", metric_crs="EPSG:26916"
)
"""Chicago aggravated assaults (crimemappingdata): WGS84 lon/lat → UTM 16N."""

PORTLAND_NIJ = CsvMapping(
    time="occ_date", x="x_coordina", y="y_coordina", crs="EPSG:2913", metric_crs="EPSG:2838"
)
"""Portland NIJ CFS extracts: Oregon North (HARN) international feet → the same zone in metres.
For the monthly all-CFS files use :func:`portland_all_cfs`."""

VANCOUVER = CsvMapping(
    time=("YEAR", "MONTH", "DAY", "HOUR", "MINUTE"),
    x="X",
    y="Y",
    crs="EPSG:32610",
    metric_crs="EPSG:32610",
    category="TYPE",
)
"""Vancouver VPD 2020 (UTM 10N metres); rows with X = Y = 0 (withheld locations) are dropped."""


def portland_all_cfs(category: str | None = None) -> CsvMapping:
    """Mapping for the monthly NIJ all-CFS files, optionally one ``CATEGORY``."""
    return CsvMapping(
        time="occ_date",
        x="x_coordina",
        y="y_coordina",
        crs="EPSG:2913",
        metric_crs="EPSG:2838",
        category="CATEGORY",
        categories=None if category is None else frozenset({category}),
    )


def vancouver(types: Iterable[str] | None = None) -> CsvMapping:
    """Vancouver mapping restricted to some ``TYPE`` values."""
    return CsvMapping(
        time=VANCOUVER.time,
        x="X",
        y="Y",
        crs="EPSG:32610",
        metric_crs="EPSG:32610",
        category="TYPE",
        categories=None if types is None else frozenset(types),
    )


def chicago_area(path: str | Path) -> list[list[tuple[float, float]]]:
    """Chicago police-district polygons (KML) in UTM 16N metres."""
    return project_rings(read_kml_rings(path), "EPSG:4326", CHICAGO.metric_crs)


def portland_area(path: str | Path) -> list[list[tuple[float, float]]]:
    """Portland police districts (NIJ shapefile zip, EPSG:2913 ft) in metres."""
    return project_rings(read_shapefile_rings(path), "EPSG:2913", PORTLAND_NIJ.metric_crs)


def vancouver_area(path: str | Path) -> list[list[tuple[float, float]]]:
    """Vancouver neighbourhoods (GeoJSON, WGS84) in UTM 10N metres."""
    return project_rings(read_geojson_rings(path), "EPSG:4326", VANCOUVER.metric_crs)


__all__ = [
    "CHICAGO",
    "PORTLAND_NIJ",
    "VANCOUVER",
    "CsvMapping",
    "DailyCounts",
    "EventTable",
    "Grid",
    "chicago_area",
    "day_label",
    "day_number",
    "load_events",
    "portland_all_cfs",
    "portland_area",
    "read_geojson_rings",
    "read_kml_rings",
    "read_shapefile_rings",
    "rings_to_geometry",
    "vancouver",
    "vancouver_area",
]
