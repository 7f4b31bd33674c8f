"""The day's place-based forecast, demand per area and camera coverage, from the platform's data.

:class:`ForecastService` reads the platform's own event store and register and runs the
``safecity.analytics`` methods on them (see ``docs/forecasting.md``):

* **forecast**: events of the configured types (and incident types) over the last
  ``window_days`` local calendar days, projected to a local metric frame centred on the city,
  counted on square cells (150 m by default) over the configured areas' extent (else the
  events' extent) plus a margin; the configured method scores every cell and the top
  ``coverage`` share is flagged. The published forecast lists the top cells as GeoJSON squares
  with their risk, rank and named area, and a fairness card per area. Cells and areas only:
  nothing here is about people.
* **daily job**: :class:`DailyForecastJob` publishes each local day's forecast once the city's
  clock passes ``daily_at``; :meth:`ForecastService.publish_now` runs it on demand.
* **demand**: hourly counts per named area, the hour-of-week profile forecast, its MASE
  backtest against the seasonal-naive baseline, and staff per shift (Erlang C).
* **coverage**: what the registered cameras the control room can use see (buildings and tree
  crowns cast shadows; the trees' cost and the area seen only by cameras of other owners are
  reported), the blind spots, and the lamp posts where K new cameras would cover the most
  forecast risk (greedy, or exact with CP-SAT); and, for cells whose last four weeks are far
  above their own long-run rate (emerging hotspots), the lamp posts where a mobile camera
  would test them before fixed cameras or patrols follow.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from safecity.core.areas import AreaMap
from safecity.core.catalogue import (
    EventTypeList,
    IncidentTypeList,
    classify,
    discovery_of,
)
from safecity.core.clock import Clock
from safecity.core.errors import FieldError, InvalidInput, NotFound
from safecity.core.identity import Ident, Permission, Principal, Role
from safecity.core.payloads import Discovery
from safecity.core.ports import Store
from safecity.core.records import EventQuery, StoredEvent
from safecity.core.registry import Sensor, SensorKind
from safecity.governance.access import require
from safecity.governance.audit import AuditLog
from safecity.governance.identity import system_principal

log = logging.getLogger(__name__)

Method = Literal["retrospective", "kde", "prospective", "sepp", "naive", "learned"]
PlacementMethod = Literal["greedy", "exact"]
#: Coverage with trees in leaf (crowns block views) or bare (only evergreens block).
Foliage = Literal["leaf", "bare"]

#: Event types whose events may count towards the forecast (each is then classified).
DEFAULT_EVENT_TYPES = (
    "gunshot.located",
    "camera.abnormal",
    "call.emergency",
    "citizen.report",
    "cad.incident",
    "access.bollard_state",
)
#: Incident types (by the catalogue's classification of each event) that count.
DEFAULT_INCIDENT_TYPES = ("violence", "shooting", "property_crime")
#: Calls for service and reports: what demand and staffing are about.
DEFAULT_DEMAND_TYPES = (
    "call.emergency",
    "citizen.report",
    "cad.incident",
    "lamp.emergency_button",
    "gunshot.located",
    "camera.abnormal",
)
_PAGE = 5_000
_MAX_EVENTS = 500_000
_MAX_CELLS = 400_000
_NO_AREA = "(no area)"
_BLIND_SPOTS_LISTED = 200
_MAX_SAMPLES = 20_000
_MAX_MOBILE = 5
#: Agency kind of owners whose camera feeds the control room cannot use by default.
PRIVATE_AGENCY_KIND = "private"
#: Emerging hotspots: the recent days tested against the forecast window before them.
_RECENT_DAYS = 28
_EMERGING_LISTED = 200


class ForecastSettings(BaseModel):
    """The daily place-based forecast (see docs/forecasting.md)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(default=True, description="Publish a forecast every day at daily_at")
    daily_at: str = Field(
        default="05:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Local time (city.timezone) the day's forecast is published, HH:MM",
    )
    method: Method = Field(
        default="retrospective",
        description="Forecasting method; the retrospective 365-day map is the best or tied-best "
        "on the documented benchmarks",
    )
    cell_m: float = Field(default=150.0, ge=25, le=2_000, description="Cell side, metres")
    window_days: int = Field(default=365, ge=7, le=3_650, description="Days of history used")
    event_types: EventTypeList = Field(default_factory=lambda: list(DEFAULT_EVENT_TYPES))
    incident_types: IncidentTypeList = Field(
        default_factory=lambda: list(DEFAULT_INCIDENT_TYPES),
        description="Only events the catalogue classifies as one of these count",
    )
    coverage: float = Field(default=0.05, gt=0, le=0.5, description="Share of cells flagged")
    top_cells: int = Field(default=100, ge=1, le=5_000, description="Cells listed per forecast")
    margin_m: float = Field(default=300.0, ge=0, le=10_000, description="Margin round the area")
    demand_event_types: EventTypeList = Field(default_factory=lambda: list(DEFAULT_DEMAND_TYPES))
    feedback_ipw: bool = Field(
        default=True,
        description="The card's feedback-loop check also gives each area's event share "
        "reweighted by the inverse probability of patrol discovery",
    )
    accessible_owners: list[Ident] | None = Field(
        default=None,
        max_length=200,
        description="Coverage: owner agencies whose camera feeds the control room can use; "
        "cameras of other owners (e.g. private CCTV registered for transparency) do not count "
        "as seeing. Unset: every agency in the platform's agencies table except those of "
        "kind 'private' (register private CCTV owners with that kind)",
    )

    @property
    def publish_time(self) -> time:
        hour, minute = self.daily_at.split(":")
        return time(int(hour), int(minute))


# --- response models ---------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PolygonGeometry(_Model):
    type: Literal["Polygon"] = "Polygon"
    coordinates: list[list[tuple[float, float]]] = Field(description="One ring, lon/lat")


class CellProperties(_Model):
    rank: int = Field(description="1 is the highest risk")
    risk: float = Field(description="The method's risk score (ranks cells)")
    flagged: bool = Field(description="Within the top coverage share of cells")
    area: str = Field(description="Named area of the cell's centre")
    cell: int = Field(description="Raster index of the cell in this forecast's grid")


class CellFeature(_Model):
    type: Literal["Feature"] = "Feature"
    geometry: PolygonGeometry
    properties: CellProperties


class CellCollection(_Model):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[CellFeature]


class DataWindow(_Model):
    start: date = Field(description="First local day of the history used")
    end: date = Field(description="Last local day of the history used")
    days: int


class GroupRowModel(_Model):
    group: str
    cells: int
    area_share: float | None
    event_share: float | None
    flagged_cells: int
    flagged_share: float | None
    flagged_area_share: float | None
    exposure_ratio: float | None = Field(description="flagged_share / area_share")
    predicted: float | None
    observed: float | None
    calibration_ratio: float | None
    hits: float | None
    hit_rate: float | None


class FeedbackGroupModel(_Model):
    group: str
    events: int
    by_patrol: int
    by_public: int
    patrol_share: float | None
    event_share: float | None
    event_share_ipw: float | None = None


class FeedbackModel(_Model):
    available: bool
    message: str
    events: int = 0
    patrol_share: float | None = None
    public_share: float | None = None
    ipw: bool = False
    groups: list[FeedbackGroupModel] = Field(default_factory=list)


class FairnessCardModel(_Model):
    """Who carries the forecast's attention, per named area (docs/forecasting.md)."""

    coverage: float
    cells: int
    flagged_cells: int
    events: float | None
    groups: list[GroupRowModel]
    hit_rate_gap: float | None
    hit_rate_ratio: float | None
    gini: float | None
    top1_share: float | None
    persistence: list[float | None]
    persistence_mean: float | None
    feedback: FeedbackModel
    basis: str = Field(description="What 'observed' means on this card")


class GridSpec(_Model):
    """The forecast's grid: an azimuthal equidistant frame centred on (lon0, lat0)."""

    lon0: float
    lat0: float
    x0: float
    y0: float
    nx: int
    ny: int
    cell_m: float


class Forecast(_Model):
    """One day's published place-based forecast."""

    date: _dt.date = Field(description="The local day forecast")
    published_at: datetime
    method: str
    coverage: float = Field(description="Share of cells flagged")
    window: DataWindow
    event_types: list[str]
    incident_types: list[str]
    events_counted: int = Field(description="Events in the window inside the grid")
    events_outside: int = Field(description="Events in the window outside the grid")
    discovery: dict[str, int] = Field(
        default_factory=dict,
        description="Events counted by how they came to notice (public, patrol, sensor, "
        "unknown); the card's feedback check compares patrol with public",
    )
    cells_total: int
    cells_flagged: int
    grid: GridSpec
    cells: CellCollection = Field(description="The top cells, highest risk first")
    card: FairnessCardModel
    notes: list[str] = Field(default_factory=list)


class ForecastRun(_Model):
    forecast: Forecast | None
    published: bool
    reason: str = ""


class ShiftRow(_Model):
    area: str
    shift_start: datetime
    expected: float = Field(description="Events expected in the shift")
    peak_per_hour: float
    staff: int = Field(description="Units (or call takers) needed for the busiest hour")


class AreaDemand(_Model):
    area: str
    history_events: int
    forecast_total: float
    forecast: list[float] = Field(description="Expected events per hour from `start`")


class DemandBacktestModel(_Model):
    horizon_h: int
    origins: int
    mase_profile: float
    mase_naive: float
    mae_profile: float
    mae_naive: float
    beats_baseline: bool
    rmse_profile: float = Field(
        description="Root mean squared error per area and hour; squared error rewards the "
        "expected count staffing needs, where MASE on sparse series rewards forecasting zero"
    )
    rmse_naive: float
    beats_baseline_rmse: bool


class DemandReport(_Model):
    start: datetime = Field(description="First forecast hour")
    horizon_h: int
    history_days: int
    event_types: list[str]
    areas: list[AreaDemand]
    backtest: DemandBacktestModel | None
    backtest_note: str
    shift_h: int
    staffing: list[ShiftRow]


class SiteResult(_Model):
    id: str
    lon: float
    lat: float
    gain: float = Field(description="Risk newly covered by this site, in the order chosen")


class PlacementResult(_Model):
    method: str
    sites: list[SiteResult]
    covered_share: float = Field(description="Risk covered with these sites added")
    existing_share: float = Field(description="Risk covered by the existing cameras")
    optimal: bool
    upper_bound_share: float | None = None
    seconds: float


class EmergingProperties(_Model):
    cell: int = Field(description="Raster index of the cell in this check's grid")
    recent: int = Field(description="Events in the cell over the recent days")
    expected: float = Field(description="Events its long-run rate predicts for those days")
    ratio: float = Field(description="recent / expected")
    excess: float = Field(description="recent - expected")
    q: float = Field(description="Benjamini-Hochberg adjusted p-value of the Poisson test")
    area: str = Field(description="Named area of the cell's centre")


class EmergingFeature(_Model):
    type: Literal["Feature"] = "Feature"
    geometry: PolygonGeometry
    properties: EmergingProperties


class EmergingCollection(_Model):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[EmergingFeature]


class MobileSiteResult(_Model):
    id: str
    lon: float
    lat: float
    excess: float = Field(description="Excess events newly seen by this site, in the order chosen")
    share: float = Field(description="Share of all emerging cells' excess this site newly sees")
    cells: list[int] = Field(description="Raster indices of the emerging cells it sees")


class MobileResult(_Model):
    """Where mobile camera(s) should go to test new hotspots before fixed cameras follow."""

    recent_days: int
    baseline_days: int = Field(description="Days of history the recent days are tested against")
    window_end: date = Field(description="Last local day counted")
    cells_tested: int
    hotspots: EmergingCollection = Field(
        description="Emerging cells (q < 0.05, at least 3 recent events), most significant "
        "first; at most 200 listed"
    )
    sites: list[MobileSiteResult]
    excess: float = Field(description="Total excess events (recent - expected) of those cells")
    fixed_share: float = Field(description="Share of the excess the fixed cameras already see")
    covered_share: float = Field(description="Share of the excess the mobile site(s) newly see")
    reason: str = Field(default="", description="Why no site is recommended, when none is")


class TreesResult(_Model):
    """What the tree crowns cost the cameras the control room can use."""

    foliage: Foliage = Field(
        description="leaf: every crown blocks views (the worst case); bare: only evergreens"
    )
    crowns: int = Field(description="Tree crowns (and tree rows) blocking views")
    covered_share_without_trees: float = Field(description="Outdoor area seen with no trees")
    cost_share: float = Field(description="Outdoor area the trees hide: without minus with")


class InaccessibleResult(_Model):
    """Registered cameras whose owner's feed the control room cannot use, and what only they
    see: a blind spot for the control room that the public may think is watched."""

    cameras: int
    owners: dict[str, int] = Field(description="Cameras per owner agency")
    only_m2: float = Field(description="Outdoor area seen only by these cameras")
    only_share: float = Field(description="The same as a share of the outdoor area")
    only_points: int = Field(description="Sample points seen only by these cameras")


class CoverageResult(_Model):
    cameras: int = Field(
        description="Cameras that count: located, with a view, active, owner accessible"
    )
    candidate_sites: int
    buildings: int
    outdoor_m2: float
    covered_m2: float
    covered_share: float = Field(description="Outdoor area the cameras see")
    sample_spacing_m: float
    blind_spot_count: int
    blind_spots: list[tuple[float, float]] = Field(description="lon/lat, at most 200")
    trees: TreesResult
    accessible_owners: list[str] = Field(
        description="Owner agencies whose cameras count (the setting, else every agency)"
    )
    inaccessible: InaccessibleResult
    risk_weighted: bool
    forecast_date: date | None
    greedy: PlacementResult
    exact: PlacementResult | None = None
    mobile: MobileResult | None = Field(
        default=None, description="Mobile camera(s) for emerging hotspots (none when mobile=0)"
    )
    notes: list[str] = Field(default_factory=list)


# --- the service -------------------------------------------------------------------------------


@dataclass
class _Frame:
    """A local azimuthal equidistant frame (metres) centred on the city."""

    lon0: float
    lat0: float

    def _crs(self) -> str:
        return f"+proj=aeqd +lat_0={self.lat0} +lon_0={self.lon0} +datum=WGS84 +units=m +no_defs"

    @cached_property
    def _to_metric(self) -> Any:
        from pyproj import Transformer

        return Transformer.from_crs("EPSG:4326", self._crs(), always_xy=True)

    @cached_property
    def _to_lonlat(self) -> Any:
        from pyproj import Transformer

        return Transformer.from_crs(self._crs(), "EPSG:4326", always_xy=True)

    def forward(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._to_metric.transform(lon, lat)
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def back(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self._to_lonlat.transform(x, y)
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


@dataclass
class _Window:
    """Counted events of a run of local days on the forecast's grid."""

    first: date
    events: list[StoredEvent]
    frame: _Frame
    grid: Any
    x: np.ndarray
    y: np.ndarray
    counts: Any
    basis: str
    notes: list[str]
    local: np.ndarray  # each event's local wall-clock epoch seconds


def _make_forecaster(method: str, window: int) -> Any:
    from safecity.analytics import methods as m

    if method == "retrospective":
        return m.Retrospective(window)
    if method == "kde":
        return m.KDE(window=window)
    if method == "prospective":
        return m.Prospective()
    if method == "sepp":
        return m.SEPP(window=window)
    if method == "naive":
        return m.Naive(28)
    return m.Learned(train_days=min(180, window))


def _discoveries(
    events: Sequence[StoredEvent], cells: np.ndarray, cell_groups: np.ndarray
) -> tuple[dict[str, int], np.ndarray | None, np.ndarray | None]:
    """How the grid's events came to notice: counts by way, and for the feedback check the
    patrol flag and the area of each event found by a patrol or reported by the public (None
    when there is none, so the card says the check cannot be made)."""
    found = {"public": 0, "patrol": 0, "sensor": 0, "unknown": 0}
    flags: list[bool] = []
    areas: list[str] = []
    for stored, cell in zip(events, cells.tolist(), strict=True):
        if cell < 0:
            continue
        way = discovery_of(stored.event)
        found[way.value if way is not None else "unknown"] += 1
        if way in (Discovery.PUBLIC, Discovery.PATROL):
            flags.append(way is Discovery.PATROL)
            areas.append(str(cell_groups[cell]))
    if not flags:
        return found, None, None
    return found, np.asarray(flags, dtype=bool), np.asarray(areas, dtype=np.str_)


def _grid_over(extent: tuple[float, float, float, float], cell_m: float, notes: list[str]) -> Any:
    """The grid over ``extent``; cells are doubled until it has at most ``_MAX_CELLS``."""
    from safecity.analytics.data import Grid

    cell = cell_m
    xmin, ymin, xmax, ymax = extent
    while math.ceil((xmax - xmin) / cell) * math.ceil((ymax - ymin) / cell) > _MAX_CELLS:
        cell *= 2
    if cell != cell_m:
        notes.append(f"cells enlarged to {cell:g} m to keep the grid under {_MAX_CELLS} cells")
    return Grid.from_bbox(xmin, ymin, xmax, ymax, cell)


def _left_out_of_feedback(found: dict[str, int], by_patrol: np.ndarray | None) -> list[str]:
    if by_patrol is None or not (found["sensor"] or found["unknown"]):
        return []
    return [
        f"the feedback check compares the {len(by_patrol)} events found by patrols or reported "
        f"by the public; {found['sensor']} found by sensors and {found['unknown']} of unknown "
        "origin are left out"
    ]


def _clean_card(raw: dict[str, Any], basis: str) -> FairnessCardModel:
    return FairnessCardModel.model_validate({**raw, "basis": basis})


class ForecastService:
    """Forecasts, demand and coverage from the platform's own store, checked and audited."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        audit: AuditLog,
        settings: ForecastSettings | None = None,
        *,
        timezone: str = "UTC",
        areas: AreaMap | None = None,
        basemaps: Sequence[str] = (),
    ) -> None:
        self._store = store
        self._clock = clock
        self._audit = audit
        self.settings = settings or ForecastSettings()
        self.zone = ZoneInfo(timezone)
        self.areas = areas or AreaMap()
        self._basemaps = tuple(basemaps)
        self._outlines: dict[
            tuple[str, str], list[tuple[tuple[float, float, float, float], Any]]
        ] = {}
        self._lock = asyncio.Lock()

    # --- forecasts ---------------------------------------------------------------------------

    def today(self) -> date:
        return self._clock.now().astimezone(self.zone).date()

    async def published(self, day: date) -> bool:
        """Whether a forecast for ``day`` is stored (for the daily job; not audited)."""
        return await asyncio.to_thread(self._store.get_forecast, day) is not None

    async def latest(self, principal: Principal) -> Forecast:
        require(principal, Permission.EVENTS_READ)
        raw = await asyncio.to_thread(self._store.latest_forecast)
        found = None if raw is None else _public(raw)
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "forecasts.read",
            "forecast",
            None if found is None else found.date.isoformat(),
            outcome="ok" if found is not None else "not_found",
        )
        if found is None:
            raise NotFound("forecast", "latest")
        return found

    async def get(self, principal: Principal, day: date) -> Forecast:
        require(principal, Permission.EVENTS_READ)
        raw = await asyncio.to_thread(self._store.get_forecast, day)
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "forecasts.read",
            "forecast",
            day.isoformat(),
            outcome="ok" if raw is not None else "not_found",
        )
        if raw is None:
            raise NotFound("forecast", day.isoformat())
        return _public(raw)

    async def publish_now(self, principal: Principal) -> ForecastRun:
        """Compute and publish today's (local) forecast now, replacing one published before."""
        require(principal, Permission.EVENTS_READ)
        return await self.publish(principal, self.today(), reason="on demand")

    async def publish(
        self, principal: Principal, day: date, *, reason: str, skip_empty: bool = False
    ) -> ForecastRun:
        async with self._lock:
            now = self._clock.now()
            doc = await asyncio.to_thread(self._compute, day, now, allow_empty=not skip_empty)
            if doc is None:
                # Nothing to forecast yet (the daily job tries again); nothing read out either.
                return ForecastRun(forecast=None, published=False, reason="no events to forecast")
            await asyncio.to_thread(
                self._store.save_forecast, day, now, json.dumps(doc, separators=(",", ":"))
            )
            run = ForecastRun(forecast=_public(doc), published=True, reason=reason)
            await asyncio.to_thread(
                self._audit.record,
                principal,
                "forecasts.publish",
                "forecast",
                day.isoformat(),
                details={
                    "reason": reason,
                    "method": self.settings.method,
                    "events": None if run.forecast is None else run.forecast.events_counted,
                },
            )
            return run

    def _load(self, types: Sequence[str], start: datetime, end: datetime) -> list[StoredEvent]:
        out: list[StoredEvent] = []
        after: int | None = None
        while len(out) < _MAX_EVENTS:
            page = self._store.query_events(
                EventQuery(start=start, end=end, types=tuple(types), after_seq=after, limit=_PAGE)
            )
            out.extend(page)
            if len(page) < _PAGE:
                break
            after = page[-1].seq
        return out

    def _counted(self, events: list[StoredEvent]) -> list[StoredEvent]:
        wanted = set(self.settings.incident_types)
        out = []
        for stored in events:
            if stored.event.location is None:
                continue
            found = classify(stored.event)
            if found is not None and found.incident_type in wanted:
                out.append(stored)
        return out

    def _frame_and_extent(
        self, lons: np.ndarray, lats: np.ndarray
    ) -> tuple[_Frame, tuple[float, float, float, float] | None, str]:
        """The local frame and the grid's extent: the configured areas' polygons; for areas
        given only by centres, the events within ``max_m`` of them (the reach of a centre)
        together with the centres; else the events."""
        rings: list[tuple[float, float]] = []
        centres: list[tuple[float, float]] = []
        for area in self.areas.areas:
            for ring in area.polygon:
                rings.extend(ring)
            if area.centre is not None and not area.polygon:
                centres.append(area.centre)
        events = np.column_stack([lons, lats]) if len(lons) else np.zeros((0, 2))
        if rings or centres:
            arr = np.asarray(rings + centres, dtype=np.float64)
            basis = "configured areas"
        elif len(events):
            arr = events
            basis = "events"
        else:
            return _Frame(0.0, 0.0), None, "none"
        lo, hi = arr.min(axis=0), arr.max(axis=0)
        frame = _Frame(float((lo[0] + hi[0]) / 2), float((lo[1] + hi[1]) / 2))
        x, y = frame.forward(arr[:, 0], arr[:, 1])
        xmin, ymin, xmax, ymax = float(x.min()), float(y.min()), float(x.max()), float(y.max())
        if centres and len(events):
            reach = self.areas.max_m
            ex, ey = frame.forward(events[:, 0], events[:, 1])
            near = (
                (ex >= xmin - reach)
                & (ex <= xmax + reach)
                & (ey >= ymin - reach)
                & (ey <= ymax + reach)
            )
            if near.any():
                xmin, xmax = min(xmin, float(ex[near].min())), max(xmax, float(ex[near].max()))
                ymin, ymax = min(ymin, float(ey[near].min())), max(ymax, float(ey[near].max()))
                basis = "configured areas and their events"
        m = self.settings.margin_m
        return frame, (xmin - m, ymin - m, xmax + m, ymax + m), basis

    def _window(self, day: date, days: int) -> _Window:
        """The counted events of the ``days`` local days before ``day``, framed and counted on
        the forecast's grid (shared by the forecast and the emerging-hotspot check)."""
        from safecity.analytics.data import EventTable

        s = self.settings
        first = day - timedelta(days=days)
        start = datetime.combine(first, time(0), self.zone).astimezone(UTC)
        end = datetime.combine(day, time(0), self.zone).astimezone(UTC)
        events = self._counted(self._load(s.event_types, start, end))
        lons = np.asarray([e.event.location.lon for e in events if e.event.location], np.float64)
        lats = np.asarray([e.event.location.lat for e in events if e.event.location], np.float64)
        frame, extent, basis = self._frame_and_extent(lons, lats)
        notes: list[str] = []
        if extent is None:
            extent = (-s.margin_m, -s.margin_m, s.margin_m, s.margin_m)
            notes.append("no events and no configured areas: an empty grid round (0, 0)")
        grid = _grid_over(extent, s.cell_m, notes)
        x, y = frame.forward(lons, lats)
        # Local wall-clock seconds, so a day is the city's calendar day.
        local = np.asarray(
            [
                int(e.event.time.astimezone(self.zone).replace(tzinfo=UTC).timestamp())
                for e in events
            ],
            dtype=np.int64,
        )
        table = EventTable(local, x, y, "local-aeqd")
        d0 = (first - date(1970, 1, 1)).days
        counts = grid.counts(table, d0, days)
        return _Window(first, events, frame, grid, x, y, counts, basis, notes, local)

    def _compute(
        self, day: date, now: datetime, *, allow_empty: bool = False
    ) -> dict[str, Any] | None:
        from safecity.analytics.fairness import fairness_card, flag_cells

        s = self.settings
        w = self._window(day, s.window_days)
        if not w.events and not allow_empty:
            return None
        first, events, frame, grid = w.first, w.events, w.frame, w.grid
        x, y, counts, notes = w.x, w.y, w.counts, w.notes
        cell = grid.cell_size
        counted = int(counts.counts.sum())
        if counted:
            forecaster = _make_forecaster(s.method, s.window_days).fit(counts)
            risk = np.asarray(forecaster.predict(counts.n_days), dtype=np.float64)
        else:
            risk = np.zeros(grid.n_cells, dtype=np.float64)
            notes.append("no events counted in the window: every cell has zero risk")
        tie = np.random.default_rng(0).random(grid.n_cells)
        flagged = flag_cells(risk, s.coverage, tie)
        order = np.lexsort((-tie, -risk))
        groups = self._cell_groups(grid, frame)
        if not len(self.areas):
            notes.append("no named areas configured (city.areas): the card has one group")
        observed = counts.counts.sum(axis=0).astype(np.float64)
        history = self._previous_flagged(day, grid, frame)
        found, by_patrol, event_groups = _discoveries(events, grid.cell_index(x, y), groups)
        card = fairness_card(
            risk,
            observed,
            groups,
            coverage=s.coverage,
            history=history,
            tie=tie,
            discovered_by_patrol=by_patrol,
            event_groups=event_groups,
            ipw=s.feedback_ipw,
        )
        notes.extend(_left_out_of_feedback(found, by_patrol))
        is_flagged = np.zeros(grid.n_cells, dtype=bool)
        is_flagged[flagged] = True
        features = _features(order[: s.top_cells], risk, is_flagged, groups, grid, frame)
        nonzero = np.flatnonzero(risk > 0)
        spec = {
            "lon0": frame.lon0,
            "lat0": frame.lat0,
            "x0": grid.x0,
            "y0": grid.y0,
            "nx": grid.nx,
            "ny": grid.ny,
            "cell_m": cell,
        }
        notes.append(f"grid over the extent of the {w.basis} plus {s.margin_m:g} m")
        public = {
            "date": day.isoformat(),
            "published_at": now.isoformat(),
            "method": s.method,
            "coverage": s.coverage,
            "window": {
                "start": first.isoformat(),
                "end": (day - timedelta(days=1)).isoformat(),
                "days": s.window_days,
            },
            "event_types": list(s.event_types),
            "incident_types": list(s.incident_types),
            "events_counted": counted,
            "events_outside": len(events) - counted,
            "discovery": found,
            "cells_total": grid.n_cells,
            "cells_flagged": len(flagged),
            "grid": spec,
            "cells": {"type": "FeatureCollection", "features": features},
            "card": {
                **card.to_dict(),
                "basis": "observed = events per cell in the data window (the forecast day's "
                "own events are not known yet); hit rates and calibration are in-sample",
            },
            "notes": notes,
        }
        return {
            "forecast": public,
            "risk": [
                [int(grid.raster_of_cell[c]), round(float(risk[c]), 9)] for c in nonzero.tolist()
            ],
            "flagged": [int(grid.raster_of_cell[c]) for c in flagged.tolist()],
        }

    def _cell_groups(self, grid: Any, frame: _Frame) -> np.ndarray:
        """The named area of each cell's centre (``(no area)`` outside every area)."""
        if not len(self.areas):
            return np.asarray([_NO_AREA] * grid.n_cells, dtype=np.str_)
        centres = grid.centres()
        clon, clat = frame.back(centres[:, 0], centres[:, 1])
        return np.asarray(
            [
                self.areas.locate(float(a), float(b)) or _NO_AREA
                for a, b in zip(clon, clat, strict=True)
            ],
            dtype=np.str_,
        )

    def _area_at(self, centre: np.ndarray, frame: _Frame) -> str:
        """The named area of one cell centre (metric, in ``frame``)."""
        if not len(self.areas):
            return _NO_AREA
        lon, lat = frame.back(np.asarray([centre[0]]), np.asarray([centre[1]]))
        return self.areas.locate(float(lon[0]), float(lat[0])) or _NO_AREA

    def _previous_flagged(self, day: date, grid: Any, frame: _Frame) -> list[set[int]]:
        """Flagged sets (as this grid's cell indices) of the last week's forecasts on the same
        grid, oldest first, for the card's persistence."""
        out: list[set[int]] = []
        for back in range(7, 0, -1):
            raw = self._store.get_forecast(day - timedelta(days=back))
            if raw is None:
                continue
            doc = json.loads(raw)
            g = doc["forecast"]["grid"]
            same = (
                g["nx"] == grid.nx
                and g["ny"] == grid.ny
                and math.isclose(g["x0"], grid.x0)
                and math.isclose(g["y0"], grid.y0)
                and math.isclose(g["cell_m"], grid.cell_size)
                and math.isclose(g["lon0"], frame.lon0)
                and math.isclose(g["lat0"], frame.lat0)
            )
            if same:
                cells = grid.cell_of_raster[np.asarray(doc["flagged"], dtype=np.int64)]
                out.append({int(c) for c in cells.tolist() if c >= 0})
        return out

    # --- demand ------------------------------------------------------------------------------

    async def demand(
        self, principal: Principal, *, days: int = 56, horizon_h: int = 72
    ) -> DemandReport:
        require(principal, Permission.EVENTS_READ)
        errors = []
        if not 7 <= days <= 365:
            errors.append(FieldError("query.days", "must be between 7 and 365"))
        if not 8 <= horizon_h <= 336:
            errors.append(FieldError("query.horizon_h", "must be between 8 and 336"))
        if errors:
            raise InvalidInput(errors)
        report = await asyncio.to_thread(self._demand, days, horizon_h)
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "forecasts.demand",
            "forecast",
            None,
            details={"days": days, "horizon_h": horizon_h, "areas": len(report.areas)},
        )
        return report

    def _demand(self, days: int, horizon_h: int) -> DemandReport:
        from safecity.analytics import demand as dm

        end = self._clock.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(days=days)
        types = self.settings.demand_event_types
        events = self._load(types, start, end)
        names: list[str] = []
        for stored in events:
            loc = stored.event.location
            if loc is None:
                names.append(_NO_AREA)
            elif len(self.areas):
                names.append(self.areas.locate(loc.lon, loc.lat) or _NO_AREA)
            else:
                names.append("all")
        order = tuple(sorted(set(names))) or ("all",)
        hourly = dm.HourlyCounts.from_events(
            [e.event.time for e in events], names, start=start, end=end, names=order
        )
        forecast = dm.area_forecast(hourly.counts, horizon_h)
        backtest: DemandBacktestModel | None = None
        weeks = min(8, (hourly.hours - horizon_h) // dm.WEEK_H)
        if weeks >= 2:
            bt = dm.backtest(hourly, horizon_h=horizon_h, history_weeks=weeks)
            backtest = DemandBacktestModel(
                horizon_h=bt.horizon_h,
                origins=bt.origins,
                mase_profile=_finite(bt.mase_profile),
                mase_naive=_finite(bt.mase_naive),
                mae_profile=bt.mae_profile,
                mae_naive=bt.mae_naive,
                beats_baseline=bt.beats_baseline,
                rmse_profile=bt.rmse_profile,
                rmse_naive=bt.rmse_naive,
                beats_baseline_rmse=bt.beats_baseline_rmse,
            )
            note = (
                f"rolling origins every 24 h, each fitted on the {weeks} weeks before it; "
                "MASE below 1 beats the seasonal-naive forecast"
            )
        else:
            need = math.ceil((2 * dm.WEEK_H + horizon_h) / 24)
            note = (
                f"not enough history for a backtest: it needs at least {need} days "
                f"(two weeks plus the horizon); {days} were asked for"
            )
        shift_h = 8
        rows = dm.staffing(forecast, order, end, shift_h=shift_h)
        return DemandReport(
            start=end,
            horizon_h=horizon_h,
            history_days=days,
            event_types=list(types),
            areas=[
                AreaDemand(
                    area=name,
                    history_events=int(hourly.counts[i].sum()),
                    forecast_total=round(float(forecast[i].sum()), 3),
                    forecast=[round(float(v), 4) for v in forecast[i]],
                )
                for i, name in enumerate(order)
            ],
            backtest=backtest,
            backtest_note=note,
            shift_h=shift_h,
            staffing=[
                ShiftRow(
                    area=r.area,
                    shift_start=r.shift_start,
                    expected=r.expected,
                    peak_per_hour=r.peak_per_hour,
                    staff=r.staff,
                )
                for r in rows
            ],
        )

    # --- coverage ----------------------------------------------------------------------------

    async def coverage(
        self,
        principal: Principal,
        *,
        k: int = 3,
        method: PlacementMethod = "greedy",
        mobile: int = 1,
        foliage: Foliage = "leaf",
    ) -> CoverageResult:
        require(principal, Permission.SENSORS_READ)
        require(principal, Permission.EVENTS_READ)
        errors = []
        if not 0 <= k <= 50:
            errors.append(FieldError("query.k", "must be between 0 and 50"))
        if not 0 <= mobile <= _MAX_MOBILE:
            errors.append(FieldError("query.mobile", f"must be between 0 and {_MAX_MOBILE}"))
        if errors:
            raise InvalidInput(errors)
        if foliage not in ("leaf", "bare"):
            raise InvalidInput([FieldError("query.foliage", "must be leaf or bare")])
        result = await asyncio.to_thread(self._coverage, k, method, mobile, foliage)
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "planning.coverage",
            "sensor",
            None,
            details={
                "k": k,
                "method": method,
                "mobile": mobile,
                "foliage": foliage,
                "cameras": result.cameras,
                "inaccessible_cameras": result.inaccessible.cameras,
            },
        )
        return result

    def _sensors(self, kind: SensorKind) -> list[Sensor]:
        out: list[Sensor] = []
        offset = 0
        while True:
            page = self._store.list_sensors(kind=kind.value, limit=1000, offset=offset)
            out.extend(page)
            if len(page) < 1000:
                return out
            offset += len(page)

    def _accessible_owners(self) -> list[str]:
        configured = self.settings.accessible_owners
        if configured is not None:
            return sorted(set(configured))
        # Private owners register their cameras for transparency; their feeds are theirs.
        return sorted(a.id for a in self._store.list_agencies() if a.kind != PRIVATE_AGENCY_KIND)

    def _coverage(
        self, k: int, method: PlacementMethod, mobile: int = 0, foliage: Foliage = "leaf"
    ) -> CoverageResult:
        from safecity.analytics import coverage as cv

        cams = [
            s
            for s in self._sensors(SensorKind.CAMERA)
            if s.location is not None and s.view is not None and s.status == "active"
        ]
        lamps = [
            s
            for s in self._sensors(SensorKind.LAMPPOST)
            if s.location is not None and s.status == "active"
        ]
        located = [s.location for s in cams + lamps if s.location is not None]
        if not located:
            raise InvalidInput(
                [FieldError("register", "no located cameras (with a view) or lamp posts")]
            )
        pad_lat = 60.0 / 111_320
        lat_mid = sum(p.lat for p in located) / len(located)
        pad_lon = pad_lat / max(0.05, math.cos(math.radians(lat_mid)))
        w = min(p.lon for p in located) - pad_lon
        e = max(p.lon for p in located) + pad_lon
        s_ = min(p.lat for p in located) - pad_lat
        n = max(p.lat for p in located) + pad_lat
        area = [(w, s_), (e, s_), (e, n), (w, n), (w, s_)]
        notes: list[str] = []
        buildings, source = self._outlines_in("buildings", (w, s_, e, n))
        if source is None:
            notes.append(
                "no packaged basemap covers the area: buildings and trees are not modelled"
            )
            trees: list[list[tuple[float, float]]] = []
        else:
            trees = self._outlines_in(f"trees-{foliage}", (w, s_, e, n), source)[0]
        width_m = (e - w) * 111_320 * math.cos(math.radians(lat_mid))
        height_m = (n - s_) * 111_320
        spacing = max(10.0, math.sqrt(width_m * height_m / _MAX_SAMPLES))
        model = cv.CoverageModel.build(area, buildings, trees=trees, spacing_m=spacing)
        owners = self._accessible_owners()
        registered = [cv.Camera.of(c) for c in cams]
        cameras, _ = cv.split_by_owner(registered, owners)
        sites = [cv.Site.of(s) for s in lamps]
        report = cv.coverage(model, registered, accessible_owners=owners)
        lonlat = model.sample_lonlat()
        weights, forecast_day = self._risk_weights(lonlat)
        if weights is None:
            notes.append("no published forecast risk here: every outdoor point weighs the same")
        where = {s.id: s for s in sites}

        def result(p: Any) -> PlacementResult:
            total = p.total_risk or 1.0
            return PlacementResult(
                method=p.method,
                sites=[
                    SiteResult(id=i, lon=where[i].lon, lat=where[i].lat, gain=round(g, 6))
                    for i, g in zip(p.sites, p.gains, strict=True)
                ],
                covered_share=round(p.covered_risk / total, 6),
                existing_share=round(p.existing_risk / total, 6),
                optimal=p.optimal,
                upper_bound_share=None
                if p.upper_bound is None
                else round(p.upper_bound / total, 6),
                seconds=p.seconds,
            )

        greedy = cv.place(model, sites, k, risk=weights, existing=cameras, method="greedy")
        exact = None
        if method == "exact":
            exact = cv.place(
                model, sites, k, risk=weights, existing=cameras, method="exact", time_limit_s=10.0
            )
        return CoverageResult(
            cameras=len(cameras),
            candidate_sites=len(sites),
            buildings=len(buildings),
            outdoor_m2=report.outdoor_m2,
            covered_m2=report.covered_m2,
            covered_share=round(report.covered_share, 6),
            sample_spacing_m=round(spacing, 2),
            blind_spot_count=len(report.blind_spots),
            blind_spots=[
                (round(a, 7), round(b, 7)) for a, b in report.blind_spots[:_BLIND_SPOTS_LISTED]
            ],
            trees=TreesResult(
                foliage=foliage,
                crowns=report.trees,
                covered_share_without_trees=round(report.covered_share_without_trees, 6),
                cost_share=round(report.trees_cost_share, 6),
            ),
            accessible_owners=owners,
            inaccessible=InaccessibleResult(
                cameras=report.inaccessible_cameras,
                owners=report.inaccessible_owners,
                only_m2=report.inaccessible_only_m2,
                only_share=round(report.inaccessible_only_share, 6),
                only_points=report.inaccessible_only_points,
            ),
            risk_weighted=weights is not None,
            forecast_date=forecast_day,
            greedy=result(greedy),
            exact=None if exact is None else result(exact),
            mobile=None if mobile == 0 else self._mobile(model, lonlat, cameras, sites, mobile),
            notes=notes,
        )

    def _mobile(
        self,
        model: Any,
        lonlat: tuple[np.ndarray, np.ndarray],
        cameras: Sequence[Any],
        sites: Sequence[Any],
        mobile: int,
    ) -> MobileResult:
        """Emerging hotspots in the counted events (the last ``_RECENT_DAYS`` local days against
        the ``window_days`` before them, on the forecast's grid) and the lamp posts where
        ``mobile`` cameras would see most of their excess events not seen by fixed cameras."""
        from safecity.analytics import coverage as cv
        from safecity.analytics.emerging import emerging_hotspots

        s = self.settings
        day = self.today()
        w = self._window(day, s.window_days + _RECENT_DAYS)
        found = emerging_hotspots(w.counts, recent_days=_RECENT_DAYS, baseline_days=s.window_days)
        x, y = w.frame.forward(*lonlat)
        cell_of_sample = w.grid.cell_index(x, y)
        excess = found.excess
        hotspots = {int(c): float(e) for c, e in zip(found.cells, excess, strict=True)}
        # Where inside those cells their recent events fell.
        recent_from = (w.counts.start + w.counts.n_days - _RECENT_DAYS) * 86_400
        in_hotspot = np.isin(w.grid.cell_index(w.x, w.y), found.cells) & (w.local >= recent_from)
        recent = [
            (loc.lon, loc.lat)
            for e, keep in zip(w.events, in_hotspot.tolist(), strict=True)
            if keep and (loc := e.event.location) is not None
        ]
        plan = cv.place_mobile(
            model,
            sites,
            hotspots,
            cell_of_sample,
            mobile=mobile,
            existing=cameras,
            within=cv.event_density(model, recent),
        )
        total = plan.excess or 1.0
        centres = w.grid.centres()
        raster = w.grid.raster_of_cell
        features = [
            EmergingFeature(
                geometry=PolygonGeometry(
                    coordinates=[_square(centres[c], w.grid.cell_size, w.frame)]
                ),
                properties=EmergingProperties(
                    cell=int(raster[c]),
                    recent=int(found.recent[i]),
                    expected=round(float(found.expected[i]), 6),
                    ratio=round(float(found.ratio[i]), 4),
                    excess=round(float(excess[i]), 6),
                    q=float(found.q[i]),
                    area=self._area_at(centres[c], w.frame),
                ),
            )
            for i, c in enumerate(found.cells.tolist()[:_EMERGING_LISTED])
        ]
        return MobileResult(
            recent_days=found.recent_days,
            baseline_days=found.baseline_days,
            window_end=day - timedelta(days=1),
            cells_tested=found.tested,
            hotspots=EmergingCollection(features=features),
            sites=[
                MobileSiteResult(
                    id=site.id,
                    lon=site.lon,
                    lat=site.lat,
                    excess=site.excess,
                    share=round(site.excess / total, 6),
                    cells=[int(raster[c]) for c, _ in site.cells],
                )
                for site in plan.sites
            ],
            excess=plan.excess,
            fixed_share=round(plan.fixed_share, 6),
            covered_share=round(plan.covered_share, 6),
            reason=found.reason or plan.reason,
        )

    def _outlines_in(
        self,
        layer: str,
        bbox: tuple[float, float, float, float],
        basemap: str | None = None,
    ) -> tuple[list[list[tuple[float, float]]], str | None]:
        """The rings of ``layer`` (``buildings``, ``trees-leaf``, ``trees-bare``) of the first
        packaged basemap (or of ``basemap``) with any in ``bbox``, and that basemap's name."""
        from safecity.maps import building_outlines, tree_outlines

        w, s, e, n = bbox
        for name in self._basemaps if basemap is None else (basemap,):
            if (name, layer) not in self._outlines:
                try:
                    if layer == "buildings":
                        outlines = building_outlines(name)
                    else:
                        foliage: Foliage = "bare" if layer == "trees-bare" else "leaf"
                        outlines = tree_outlines(name, foliage=foliage)
                except ValueError:
                    outlines = []
                rows: list[tuple[tuple[float, float, float, float], Any]] = []
                for ring in outlines:
                    xs = [p[0] for p in ring]
                    ys = [p[1] for p in ring]
                    rows.append(((min(xs), min(ys), max(xs), max(ys)), ring))
                self._outlines[(name, layer)] = rows
            rows = self._outlines[(name, layer)]
            if not rows:
                continue
            found = [
                ring
                for (bw, bs, be, bn), ring in rows
                if bw <= e and be >= w and bs <= n and bn >= s
            ]
            if found:
                return found, name
        return [], None

    def _risk_weights(
        self, lonlat: tuple[np.ndarray, np.ndarray]
    ) -> tuple[np.ndarray | None, date | None]:
        raw = self._store.latest_forecast()
        lon, lat = lonlat
        if raw is None or not len(lon):
            return None, None
        doc = json.loads(raw)
        g = doc["forecast"]["grid"]
        risk = {int(c): float(r) for c, r in doc.get("risk", [])}
        if not risk:
            return None, None
        x, y = _Frame(float(g["lon0"]), float(g["lat0"])).forward(lon, lat)
        col = np.floor((x - g["x0"]) / g["cell_m"]).astype(np.int64)
        row = np.floor((y - g["y0"]) / g["cell_m"]).astype(np.int64)
        ok = (col >= 0) & (col < g["nx"]) & (row >= 0) & (row < g["ny"])
        raster = np.where(ok, row * int(g["nx"]) + col, -1)
        weights = np.asarray([risk.get(int(r), 0.0) for r in raster.tolist()], dtype=np.float64)
        if float(weights.sum()) <= 0:
            return None, None
        return weights, date.fromisoformat(doc["forecast"]["date"])


def _features(
    order: np.ndarray,
    risk: np.ndarray,
    is_flagged: np.ndarray,
    groups: np.ndarray,
    grid: Any,
    frame: _Frame,
) -> list[dict[str, Any]]:
    """The listed cells as GeoJSON squares in lon/lat, highest risk first."""
    features: list[dict[str, Any]] = []
    centres = grid.centres()
    for rank, c in enumerate(order.tolist(), start=1):
        if risk[c] <= 0:
            break
        ring = _square(centres[c], grid.cell_size, frame)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "rank": rank,
                    "risk": round(float(risk[c]), 9),
                    "flagged": bool(is_flagged[c]),
                    "area": str(groups[c]),
                    "cell": int(grid.raster_of_cell[c]),
                },
            }
        )
    return features


def _square(centre: np.ndarray, side: float, frame: _Frame) -> list[tuple[float, float]]:
    """The ring of the cell with this metric centre, in lon/lat."""
    cx, cy = float(centre[0]), float(centre[1])
    half = side / 2
    rx = np.asarray([cx - half, cx + half, cx + half, cx - half, cx - half])
    ry = np.asarray([cy - half, cy - half, cy + half, cy + half, cy - half])
    rlon, rlat = frame.back(rx, ry)
    return [(round(float(a), 7), round(float(b), 7)) for a, b in zip(rlon, rlat, strict=True)]


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 1e9


def _public(raw: str | dict[str, Any]) -> Forecast:
    doc = json.loads(raw) if isinstance(raw, str) else raw
    return Forecast.model_validate(doc["forecast"])


# --- the daily job -----------------------------------------------------------------------------


class DailyForecastJob:
    """Publishes each local day's forecast once the clock passes ``daily_at``.

    The loop calls :meth:`tick` every ``poll_s`` seconds (or when woken). A tick publishes the
    local day's forecast when the time has come and the day has none yet: a server started
    after ``daily_at`` catches up, and a day with no events to forecast is tried again on the
    next tick. A failed run is logged and not retried that day. Tests call ``await job.tick()``
    after moving a manual clock.
    """

    def __init__(
        self,
        service: ForecastService,
        clock: Clock,
        *,
        poll_s: float = 30.0,
        start_delay_s: float = 15.0,
    ) -> None:
        self._service = service
        self._clock = clock
        self._poll_s = poll_s
        self._start_delay_s = start_delay_s
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.attempted: date | None = None
        self.principal = system_principal(role=Role.ANALYST, acting_as="system:forecasts")

    def due(self, day: date) -> datetime:
        return datetime.combine(
            day, self._service.settings.publish_time, self._service.zone
        ).astimezone(UTC)

    async def tick(self) -> ForecastRun | None:
        """Publish today's forecast if it is due and not attempted yet; else None."""
        now = self._clock.now()
        day = now.astimezone(self._service.zone).date()
        if now < self.due(day) or self.attempted == day:
            return None
        self.attempted = day
        if await self._service.published(day):
            return None  # published before a restart, or on demand
        try:
            run = await self._service.publish(self.principal, day, reason="daily", skip_empty=True)
        except Exception:
            log.exception("the daily forecast for %s failed", day)
            return None
        if not run.published:
            self.attempted = None  # no events yet: try again on the next tick
        return run

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._task is None and self._service.settings.enabled:
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="daily-forecast")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        # The first look comes a little after start-up, so it never competes with it.
        delay = self._start_delay_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            await self.tick()
            delay = self._poll_s
