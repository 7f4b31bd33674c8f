"""Events of the store as a forecast-ready CSV: when, where, what kind, how it came to notice.

The forecasting library reads any event table through a column mapping; this writes the
platform's own events in that shape, with the mapping beside it, so that
``safecity forecast backtest events.csv --mapping-file events.mapping.toml`` runs on a city's
own history exactly as on the public datasets. Least data: time (the city's local wall-clock
time, so a day is the local calendar day), position, event type, the incident type the
catalogue gives it, and how it came to notice. No ids, sources, payload text or references to
people. The read goes through :class:`EventQueries`, so it needs ``events:read`` and each page
is audited with the caller's declared purpose.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from safecity.core.catalogue import classify, discovery_of
from safecity.core.identity import Principal
from safecity.core.records import EventQuery
from safecity.ingest.queries import EventQueries

COLUMNS = ("time", "lon", "lat", "type", "incident_type", "discovered_by")
_PAGE = 5_000


@dataclass
class ExportSummary:
    csv_path: Path
    mapping_path: Path
    written: int = 0
    without_location: int = 0
    first: datetime | None = None
    last: datetime | None = None
    metric_crs: str = ""
    by_type: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "csv": str(self.csv_path),
            "mapping": str(self.mapping_path),
            "written": self.written,
            "without_location": self.without_location,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "metric_crs": self.metric_crs,
            "by_type": dict(sorted(self.by_type.items())),
        }


def utm_crs(lon: float, lat: float) -> str:
    """The UTM zone (WGS 84) holding a point: a metric CRS good to a few metres per kilometre
    across a city."""
    zone = min(60, max(1, math.floor((lon + 180.0) / 6.0) + 1))
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def mapping_path_for(csv_path: Path) -> Path:
    name = csv_path.name.removesuffix(".gz").removesuffix(".csv")
    return csv_path.with_name(f"{name}.mapping.toml")


async def export_events(
    queries: EventQueries,
    principal: Principal,
    csv_path: Path,
    *,
    types: tuple[str, ...] = (),
    start: datetime | None = None,
    end: datetime | None = None,
    timezone: str = "UTC",
) -> ExportSummary:
    """Write the located events of ``types`` (all when empty) in [start, end) to ``csv_path``
    and their column mapping to ``<name>.mapping.toml``; oldest stored first."""
    zone = ZoneInfo(timezone)
    summary = ExportSummary(csv_path, mapping_path_for(csv_path))
    lon_sum = lat_sum = 0.0
    tmp = csv_path.with_name(csv_path.name + ".part")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        after: int | None = None
        while True:
            page = await queries.query(
                principal,
                EventQuery(types=types, start=start, end=end, after_seq=after, limit=_PAGE),
            )
            for stored in page:
                event = stored.event
                if event.location is None:
                    summary.without_location += 1
                    continue
                found = classify(event)
                way = discovery_of(event)
                local = event.time.astimezone(zone).replace(tzinfo=None)
                writer.writerow(
                    (
                        local.isoformat(sep=" ", timespec="seconds"),
                        f"{event.location.lon:.6f}",
                        f"{event.location.lat:.6f}",
                        event.type,
                        found.incident_type if found is not None else "",
                        way.value if way is not None else "",
                    )
                )
                summary.written += 1
                summary.by_type[event.type] = summary.by_type.get(event.type, 0) + 1
                lon_sum += event.location.lon
                lat_sum += event.location.lat
                summary.first = min(summary.first or event.time, event.time)
                summary.last = max(summary.last or event.time, event.time)
            if len(page) < _PAGE:
                break
            after = page[-1].seq
    tmp.replace(csv_path)
    if summary.written:
        summary.metric_crs = utm_crs(lon_sum / summary.written, lat_sum / summary.written)
    else:
        summary.metric_crs = "EPSG:3857"
    summary.mapping_path.write_text(_mapping_toml(csv_path, summary.metric_crs), "utf-8")
    return summary


def _mapping_toml(csv_path: Path, metric_crs: str) -> str:
    # json.dumps quotes strings the way TOML basic strings need.
    return "\n".join(
        [
            f"# Column mapping for {csv_path.name}, written by `safecity events export`.",
            "# category = the catalogue's incident type; add `categories = [...]` to keep some.",
            'time = "time"',
            'x = "lon"',
            'y = "lat"',
            'crs = "EPSG:4326"',
            f"metric_crs = {json.dumps(metric_crs)}",
            'category = "incident_type"',
            "",
        ]
    )
