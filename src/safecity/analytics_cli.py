"""`safecity forecast`: backtest place-based forecasts, forecast demand, plan camera coverage.

Lives outside :mod:`safecity.analytics` (which may import only ``safecity.core``) because the
coverage command reads the demo city. Heavy imports happen inside the commands, so loading the
CLI stays quick.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from safecity.analytics.data import CsvMapping, DailyCounts, EventTable, Grid
    from safecity.analytics.districts import NamedArea
    from safecity.analytics.methods.base import Forecaster

forecast_app = typer.Typer(
    help="Place-based forecasting: backtests with a report and fairness card, demand and "
    "camera coverage.",
    no_args_is_help=True,
)
console = Console()
err = Console(stderr=True)

FT = 0.3048


class MappingName(StrEnum):
    chicago = "chicago"
    portland_burglary = "portland-burglary"
    portland_vehicle = "portland-vehicle"
    vancouver = "vancouver"


class Horizon(StrEnum):
    day = "day"
    week = "week"
    quarter = "quarter"


class PlaceMethod(StrEnum):
    greedy = "greedy"
    exact = "exact"


class FoliageName(StrEnum):
    leaf = "leaf"
    bare = "bare"


def _fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True, markup=True, highlight=False)
    raise typer.Exit(2)


# --------------------------------------------------------------------------- methods


def _methods() -> dict[str, tuple[str, Callable[[], Forecaster], int | None]]:
    """CLI name -> (label as in the benchmark table, factory, refit every N days or None)."""
    from safecity.analytics.methods import (
        KDE,
        SEPP,
        Ensemble,
        Learned,
        Naive,
        Prospective,
        Retrospective,
    )

    return {
        "naive": ("naive (yesterday)", lambda: Naive(1), None),
        "naive-28": ("naive (last 28 days)", lambda: Naive(28), None),
        "retrospective": ("retrospective (365 days)", lambda: Retrospective(365), None),
        "kde": ("kde (300 m, 365 days)", lambda: KDE(300.0, 365), None),
        "prospective": ("prospective (400 m, 8 weeks)", lambda: Prospective(400.0, 8), None),
        "sepp": ("sepp (fit once)", SEPP, None),
        "sepp-weekly": ("sepp (refit weekly)", SEPP, 7),
        "sepp-smooth": (
            "sepp (refit weekly, background smoothed 150 m)",
            lambda: SEPP(background_bandwidth_m=150.0),
            7,
        ),
        "learned": ("learned (gradient boosting, fit once)", Learned, None),
        "ensemble": ("ensemble (empirical-Bayes multi-scale, fit once)", Ensemble, None),
    }


METHOD_NAMES = (
    "naive",
    "naive-28",
    "retrospective",
    "kde",
    "prospective",
    "sepp",
    "sepp-weekly",
    "sepp-smooth",
    "learned",
    "ensemble",
)


# --------------------------------------------------------------------------- inputs


def _builtin_mapping(name: MappingName) -> CsvMapping:
    from safecity.analytics import data as d

    if name is MappingName.chicago:
        return d.CHICAGO
    if name is MappingName.vancouver:
        return d.VANCOUVER
    return d.PORTLAND_NIJ  # both Portland extracts share their columns


def _mapping_from_file(path: Path) -> CsvMapping:
    import tomllib

    from safecity.analytics.data import CsvMapping

    try:
        raw = path.read_text(encoding="utf-8")
        spec: dict[str, Any] = (
            tomllib.loads(raw) if path.suffix.lower() == ".toml" else json.loads(raw)
        )
    except (OSError, ValueError) as exc:
        _fail(f"cannot read the mapping file {path}: {exc}")
    spec = spec.get("mapping", spec)
    missing = [k for k in ("time", "x", "y", "crs") if k not in spec]
    if missing:
        _fail(f"{path}: the mapping needs {', '.join(missing)} (time, x, y, crs, [metric_crs])")
    time_spec = spec["time"]
    cats = spec.get("categories")
    crs = str(spec["crs"])
    return CsvMapping(
        time=time_spec if isinstance(time_spec, str) else tuple(str(c) for c in time_spec),
        x=str(spec["x"]),
        y=str(spec["y"]),
        crs=crs,
        metric_crs=str(spec.get("metric_crs", crs)),
        category=spec.get("category"),
        categories=None if cats is None else frozenset(str(c) for c in cats),
    )


def _resolve_mapping(name: MappingName | None, file: Path | None) -> CsvMapping:
    if (name is None) == (file is None):
        _fail("give exactly one of --mapping NAME or --mapping-file FILE")
    return _builtin_mapping(name) if name is not None else _mapping_from_file(file)  # type: ignore[arg-type]


def _check_columns(csv_path: Path, mapping: CsvMapping) -> None:
    import csv
    import gzip

    try:
        if csv_path.suffix == ".gz":
            with gzip.open(csv_path, "rt", encoding="utf-8", newline="") as gz:
                header = next(csv.reader(gz), [])
        else:
            with csv_path.open(encoding="utf-8", newline="") as fh:
                header = next(csv.reader(fh), [])
    except OSError as exc:
        _fail(f"cannot read {csv_path}: {exc}")
    cols = [mapping.time] if isinstance(mapping.time, str) else list(mapping.time)
    cols += [mapping.x, mapping.y] + ([mapping.category] if mapping.category else [])
    for col in cols:
        if col not in header:
            _fail(
                f"column {col!r} of the mapping is not in {csv_path.name} "
                f"(columns: {', '.join(header) or 'none'})"
            )


def _load(csv_path: Path, mapping: CsvMapping) -> EventTable:
    from safecity.analytics.data import load_events

    _check_columns(csv_path, mapping)
    try:
        events = load_events(csv_path, mapping)
    except (ValueError, KeyError) as exc:
        _fail(f"cannot read events from {csv_path}: {exc}")
    if len(events) == 0:
        _fail(f"no events with a time and coordinates in {csv_path}")
    return events


def _area_crs(path: Path, mapping: CsvMapping, given: str | None) -> str:
    if given:
        return given
    return mapping.crs if path.suffix.lower() in (".zip", ".shp") else "EPSG:4326"


def _named_areas(path: Path, mapping: CsvMapping, crs: str | None) -> list[NamedArea]:
    from safecity.analytics.districts import read_named_areas

    try:
        areas = read_named_areas(path, _area_crs(path, mapping, crs), mapping.metric_crs)
    except (OSError, ValueError, KeyError, StopIteration) as exc:
        _fail(f"cannot read the areas in {path}: {exc}")
    if not areas:
        _fail(f"no polygons in {path}")
    return areas


def _parse_cell(text: str) -> float:
    t = text.strip().lower()
    try:
        if t.endswith("ft"):
            return float(t[:-2]) * FT
        return float(t.removesuffix("m"))
    except ValueError:
        _fail(f"--cell must be a size in metres or feet (150, 150m, 600ft), got {text!r}")


def _day(text: str | None, option: str) -> int | None:
    from safecity.analytics.data import day_number

    if text is None:
        return None
    try:
        return day_number(text)
    except ValueError:
        _fail(f"{option} must be a date (YYYY-MM-DD), got {text!r}")


@contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[str], None]]:
    if not enabled:
        yield lambda _label: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("backtest", total=total)

        def tick(label: str) -> None:
            bar.update(task, advance=1, description=label)

        yield tick


# --------------------------------------------------------------------------- backtest


def _recording(inner: Forecaster, on_window: Callable[[int, int, Any], None]) -> Forecaster:
    """A forecaster that delegates to ``inner`` and reports every window forecast."""
    from safecity.analytics.methods.base import Forecaster as Base

    class Recording(Base):
        def fit(self, counts: Any) -> Any:
            inner.fit(counts)
            return self

        def update(self, counts: Any) -> Any:
            inner.update(counts)
            return self

        def predict(self, day: int) -> Any:
            return inner.predict(day)

        def predict_window(self, start: int, length: int) -> Any:
            risk = inner.predict_window(start, length)
            on_window(start, length, risk)
            return risk

    return Recording()


#: The options every command reading an event CSV shares.
MappingOption = Annotated[
    MappingName | None, typer.Option("--mapping", help="A built-in column mapping")
]
MappingFileOption = Annotated[
    Path | None,
    typer.Option(help="TOML or JSON mapping: time, x, y, crs[, metric_crs, category]"),
]
CellOption = Annotated[str, typer.Option(help="Cell size: metres, or feet with 'ft'")]


@forecast_app.command("backtest")
def backtest_cmd(
    csv_path: Annotated[Path, typer.Argument(help="Event CSV (or .csv.gz)", dir_okay=False)],
    mapping: MappingOption = None,
    mapping_file: MappingFileOption = None,
    area: Annotated[
        Path | None,
        typer.Option(help="Study area and its districts: .kml, .geojson or zipped .shp"),
    ] = None,
    area_crs: Annotated[
        str | None,
        typer.Option(help="CRS of --area (default: EPSG:4326; a shapefile: the data's CRS)"),
    ] = None,
    method: Annotated[
        list[str] | None,
        typer.Option(
            "--method", help=f"Method (repeatable; default all): {', '.join(METHOD_NAMES)}"
        ),
    ] = None,
    cell: CellOption = "150",
    fit_start: Annotated[
        str | None, typer.Option(help="First day of history (default: first event)")
    ] = None,
    fit_end: Annotated[
        str | None, typer.Option(help="Last day of history before scoring (= score-start - 1)")
    ] = None,
    score_start: Annotated[
        str | None, typer.Option(help="First forecast origin (default: fit-end + 1)")
    ] = None,
    score_end: Annotated[
        str | None, typer.Option(help="Last scored day (default: last event)")
    ] = None,
    horizon: Annotated[Horizon, typer.Option(help="Days forecast from each origin")] = Horizon.day,
    step: Annotated[
        int | None, typer.Option(min=1, help="Days between origins (default: the horizon)")
    ] = None,
    nij: Annotated[
        float | None,
        typer.Option(help="Also score with the NIJ 2017 rules at this hotspot area (mi²)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
    report: Annotated[
        Path | None, typer.Option(help="Write an HTML report here", dir_okay=False)
    ] = None,
    progress: Annotated[bool, typer.Option(help="Progress bar (not with --json)")] = True,
    groups: Annotated[
        Path | None,
        typer.Option(
            help="Another layer of named polygons (e.g. a city's demographic areas) for a "
            "second fairness card: .kml, .geojson or zipped .shp, same CRS rules as --area",
            dir_okay=False,
        ),
    ] = None,
    discovered_column: Annotated[
        str | None,
        typer.Option(
            help="Column saying how each event came to light, for the feedback-loop check "
            "(e.g. a CAD's call source); needs --patrol-values"
        ),
    ] = None,
    patrol_values: Annotated[
        str | None,
        typer.Option(help="Comma-separated values of that column meaning 'found by a patrol'"),
    ] = None,
    public_values: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated values meaning 'reported by the public'; rows with neither "
            "kind of value (e.g. found by sensors) are left out of the check. Default: every "
            "value that is not a patrol value"
        ),
    ] = None,
    ipw: Annotated[
        bool,
        typer.Option(help="Reweight the feedback check by the inverse probability of discovery"),
    ] = False,
) -> None:
    """Rolling-origin backtest of place-based forecasts: hit rate, PAI and PEI* at 1/5/10 %."""
    registry = _methods()
    chosen = method or list(METHOD_NAMES)
    unknown = [m for m in chosen if m not in registry]
    if unknown:
        _fail(f"unknown method {', '.join(unknown)} (known: {', '.join(METHOD_NAMES)})")
    cmap = _resolve_mapping(mapping, mapping_file)
    cell_m = _parse_cell(cell)
    if cell_m <= 0:
        _fail("--cell must be positive")
    events = _load(csv_path, cmap)
    discovery = _discovery(csv_path, cmap, events, discovered_column, patrol_values, public_values)
    areas = _named_areas(area, cmap, area_crs) if area is not None else None
    f0, s0, s1 = _dates(events, fit_start, fit_end, score_start, score_end)
    setup = _Setup.build(events, areas, cell_m, f0, s0, s1, horizon, step)
    layer: tuple[str, Any] | None = None
    if groups is not None:
        from safecity.analytics.districts import cell_groups

        layer = (groups.name, cell_groups(setup.grid, _named_areas(groups, cmap, area_crs)))
    show = progress and not as_json
    runs: list[_Run] = []
    with _progress(show, len(setup.origins) * len(chosen)) as tick:
        for name in chosen:
            label, make, refit = registry[name]
            runs.append(_run_method(setup, label, make, refit, nij, tick))
    if not setup.origins:
        _fail("no forecast origin fits between --score-start and --score-end")
    _outputs(setup, runs, csv_path, area, nij, as_json, report, layer, (discovery, ipw))


def _discovery(
    csv_path: Path,
    mapping: CsvMapping,
    events: EventTable,
    column: str | None,
    patrol: str | None,
    public: str | None = None,
) -> Any:
    """Per event: 1.0 found by a patrol, 0.0 reported by the public, NaN neither (left out of
    the feedback check); None without a discovery column."""
    if column is None:
        if patrol is not None or public is not None:
            _fail("--patrol-values and --public-values need --discovered-column")
        return None
    if not patrol:
        _fail("--discovered-column needs --patrol-values (the values that mean 'patrol')")
    if mapping.categories is not None:
        _fail("--discovered-column cannot be combined with a mapping that filters categories")
    import numpy as np

    # The same rows again, reading the discovery column where the category would be: the
    # loader keeps or drops rows by time and coordinates only, so the rows line up.
    read = _load(csv_path, replace(mapping, category=column, categories=None))
    if len(read) != len(events) or read.categories is None:
        _fail(f"cannot read column {column!r} alongside the events")
    said = read.categories.astype(str)
    by_patrol = np.isin(said, sorted({v.strip() for v in patrol.split(",") if v.strip()}))
    flags = np.where(by_patrol, 1.0, 0.0)
    if public is not None:
        by_public = np.isin(said, sorted({v.strip() for v in public.split(",") if v.strip()}))
        if (by_patrol & by_public).any():
            _fail("a value is in both --patrol-values and --public-values")
        flags[~(by_patrol | by_public)] = np.nan
    return flags


@dataclass
class _Setup:
    events: EventTable
    grid: Grid
    groups: Any
    counts: DailyCounts
    first: int
    last: int
    horizon: int
    step: int
    origins: list[int]
    tie: Any
    study_m2: float

    @classmethod
    def build(
        cls,
        events: EventTable,
        areas: list[NamedArea] | None,
        cell_m: float,
        f0: int,
        s0: int,
        s1: int,
        horizon: Horizon,
        step: int | None,
    ) -> _Setup:
        import numpy as np

        from safecity.analytics import data as d
        from safecity.analytics.districts import cell_groups
        from safecity.analytics.evaluation import HORIZONS, tie_breaker

        if areas is not None:
            grid = d.Grid.from_polygon([r for a in areas for r in a.rings], cell_m)
            groups: Any = cell_groups(grid, areas)
        else:
            sel = (events.days >= f0) & (events.days <= s1)
            if not sel.any():
                _fail("no events between --fit-start and --score-end")
            ex, ey = events.x[sel], events.y[sel]
            grid = d.Grid.from_bbox(
                float(ex.min()),
                float(ey.min()),
                float(ex.max()) + 1e-6,
                float(ey.max()) + 1e-6,
                cell_m,
            )
            groups = np.full(grid.n_cells, "all")
        counts = grid.counts(events, f0, s1 - f0 + 1)
        first, last = s0 - f0, s1 - f0
        h = min(HORIZONS[horizon.value], last - first + 1)
        stp = step or h
        origins = [o for o in range(first, last + 1, stp) if o + h <= counts.n_days]
        geom = grid.area_geometry
        study_m2 = geom.area if geom is not None else grid.n_cells * grid.cell_area
        return cls(
            events,
            grid,
            groups,
            counts,
            first,
            last,
            h,
            stp,
            origins,
            tie_breaker(grid.n_cells),
            study_m2,
        )


@dataclass
class _Run:
    row: dict[str, Any]
    curve: list[float]
    flagged_sets: list[set[int]]
    last: dict[str, Any]
    parity: dict[str, Any]


def _dates(
    events: EventTable,
    fit_start: str | None,
    fit_end: str | None,
    score_start: str | None,
    score_end: str | None,
) -> tuple[int, int, int]:
    f0 = _day(fit_start, "--fit-start")
    f1 = _day(fit_end, "--fit-end")
    s0 = _day(score_start, "--score-start")
    s1 = _day(score_end, "--score-end")
    f0 = int(events.days.min()) if f0 is None else f0
    if s0 is None:
        if f1 is None:
            _fail("give --score-start or --fit-end")
        s0 = f1 + 1
    if f1 is None:
        f1 = s0 - 1
    s1 = int(events.days.max()) if s1 is None else s1
    if f1 != s0 - 1:
        _fail(
            "--fit-end must be the day before --score-start: each forecast sees every day "
            "before its origin"
        )
    if not f0 <= f1 < s0 <= s1:
        _fail("dates must satisfy fit-start <= fit-end < score-start <= score-end")
    return f0, s0, s1


def _run_method(
    setup: _Setup,
    label: str,
    make: Callable[[], Forecaster],
    refit: int | None,
    nij: float | None,
    tick: Callable[[str], None],
) -> _Run:
    import numpy as np

    from safecity.analytics.evaluation import backtest, nij_score
    from safecity.analytics.fairness import ParityAccumulator, flag_cells
    from safecity.analytics.report import CURVE_COVERAGES, hit_rate_curve

    counts, tie = setup.counts, setup.tie
    curve_rows: list[Any] = []
    flagged_sets: list[set[int]] = []
    nij_rows: list[Any] = []
    last_window: dict[str, Any] = {}
    parity = ParityAccumulator(setup.groups)

    def on_window(start: int, length: int, risk: Any) -> None:
        observed = counts.counts[start : start + length].sum(axis=0)
        curve_rows.append(hit_rate_curve(risk, observed, CURVE_COVERAGES, tie))
        flagged = flag_cells(risk, 0.05, tie)
        flagged_sets.append(set(flagged.tolist()))
        parity.add(flagged, observed)
        if nij is not None:
            cell_m = setup.grid.cell_size
            nij_rows.append(nij_score(risk, observed, cell_m, setup.study_m2, nij, tie))
        last_window.update(start=start, length=length, risk=risk, observed=observed)
        tick(label)

    t = time.perf_counter()
    try:
        res = backtest(
            lambda: _recording(make(), on_window),
            counts,
            setup.first,
            setup.last,
            horizon=setup.horizon,
            step=setup.step,
            refit_every=refit,
        )
    except ValueError as exc:
        _fail(f"{label}: {exc}")
    row = res.summary()
    row["method"] = label
    row["total_seconds"] = round(time.perf_counter() - t, 2)
    if nij is not None and nij_rows:
        row[f"nij_{nij:g}mi2"] = {
            "cells": nij_rows[0].cells,
            "hits_mean": round(float(np.mean([r.hits for r in nij_rows])), 3),
            "events_mean": round(float(np.mean([r.events for r in nij_rows])), 3),
            "pai": round(float(np.nanmean([r.pai for r in nij_rows])), 3),
            "pei": round(float(np.nanmean([r.pei for r in nij_rows])), 3),
        }
    curve: list[float] = []
    if curve_rows:
        arr = np.vstack(curve_rows)
        ok = np.isfinite(arr[:, -1])
        if ok.any():
            curve = [float(v) for v in arr[ok].mean(axis=0)]
    return _Run(row, curve, flagged_sets, last_window, parity.result().to_dict())


def _num(v: float) -> str:
    return f"{v:.3f}" if math.isfinite(v) else "n/a"


def _hr5(run: _Run) -> float:
    v = run.row["5%"]["hit_rate"]
    return float(v) if isinstance(v, float) and math.isfinite(v) else -1.0


def _outputs(
    setup: _Setup,
    runs: list[_Run],
    csv_path: Path,
    area: Path | None,
    nij: float | None,
    as_json: bool,
    report: Path | None,
    layer: tuple[str, Any] | None = None,
    feedback: tuple[Any, bool] = (None, False),
) -> None:
    import numpy as np

    from safecity.analytics import data as d
    from safecity.analytics.fairness import fairness_card, flag_cells
    from safecity.analytics.report import CURVE_COVERAGES, curves_svg, html_report, map_svg

    counts, events = setup.counts, setup.events
    rows = [r.row for r in runs]
    curves = {r.row["method"]: r.curve for r in runs if r.curve}
    best = max(runs, key=_hr5)
    lw = best.last
    flags, ipw = feedback
    found: Any = None
    event_groups: Any = None
    if flags is not None:
        # The events of the card's window, each with its flag and the group of its cell.
        lo = counts.start + lw["start"]
        sel = (events.days >= lo) & (events.days < lo + lw["length"])
        cells = setup.grid.cell_index(events.x[sel], events.y[sel])
        known = flags[sel]
        keep = (cells >= 0) & ~np.isnan(known)
        found = known[keep] > 0.5
        event_groups = setup.groups[cells[keep]]
    card = fairness_card(
        lw["risk"],
        lw["observed"],
        setup.groups,
        coverage=0.05,
        history=best.flagged_sets[:-1],
        discovered_by_patrol=found,
        event_groups=event_groups,
        ipw=ipw,
        tie=setup.tie,
    )
    # The same forecast judged by a second layer the city supplies (e.g. demographic areas).
    layer_card = (
        fairness_card(lw["risk"], lw["observed"], layer[1], coverage=0.05, tie=setup.tie)
        if layer is not None
        else None
    )
    window = d.day_label(counts.start + lw["start"])
    if lw["length"] > 1:
        window += f" .. {d.day_label(counts.start + lw['start'] + lw['length'] - 1)}"
    meta: dict[str, Any] = {
        "data": csv_path.name,
        "cells": setup.grid.n_cells,
        "cell_m": round(setup.grid.cell_size, 3),
        "history_from": d.day_label(counts.start),
        "scored": f"{d.day_label(counts.start + setup.first)} .. "
        f"{d.day_label(counts.start + setup.last)}",
        "horizon_days": setup.horizon,
        "step_days": setup.step,
        "periods": len(setup.origins),
        "events_scored": int(counts.counts[setup.first : setup.last + 1].sum()),
        "groups": f"districts of {area.name}" if area is not None else "one group (no --area)",
    }
    method = best.row["method"]
    if report is not None:
        lo = counts.start + lw["start"]
        sel = (events.days >= lo) & (events.days < lo + lw["length"])
        page = html_report(
            title=f"Forecast backtest: {csv_path.name}",
            meta=meta,
            rows=rows,
            curves=curves_svg(curves, CURVE_COVERAGES),
            map_=map_svg(
                setup.grid,
                flag_cells(lw["risk"], 0.05, setup.tie),
                events.x[sel],
                events.y[sel],
                title=f"{method}: flagged 5 % and events, {window}",
            ),
            card={**card.to_dict(), "pooled_parity": best.parity},
            card_title=f"{method} (best hit rate at 5 %), window {window}, 5 % of the area; "
            f"persistence over its {len(best.flagged_sets)} forecasts.",
        )
        try:
            report.write_text(page, encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write {report}: {exc}")
    if as_json:
        out = {
            **meta,
            "methods": rows,
            "curves": {
                "coverages": list(CURVE_COVERAGES),
                "hit_rate": {
                    k: [round(v, 4) if math.isfinite(v) else None for v in vs]
                    for k, vs in curves.items()
                },
            },
            "fairness": {
                "method": method,
                "window": window,
                **card.to_dict(),
                "pooled_parity": best.parity,
            },
        }
        if layer is not None and layer_card is not None:
            out["fairness_by_layer"] = {"layer": layer[0], **layer_card.to_dict()}
        if report is not None:
            out["report"] = str(report)
        print(json.dumps(out, indent=2))
        return
    _print_backtest(meta, rows, nij)
    gap = best.parity["gap"]
    pooled_gap = float(gap) if gap is not None else math.nan
    console.print(
        f"fairness card ({method}, {window}): Gini {_num(card.gini)}, top 1 % holds "
        f"{_num(card.top1_share)} of the risk, hit-rate gap between groups "
        f"{_num(card.hit_rate_gap)} (pooled over {best.parity['windows']} forecasts: "
        f"{_num(pooled_gap)}), persistence {_num(card.persistence_mean)}. "
        f"{card.feedback.message}",
        highlight=False,
        markup=False,
    )
    if layer is not None and layer_card is not None:
        console.print(
            f"fairness card by {layer[0]}: hit-rate gap between its groups "
            f"{_num(layer_card.hit_rate_gap)}, flagged-area exposure by group in --json",
            highlight=False,
            markup=False,
        )
    if report is not None:
        console.print(f"report written to {report}", markup=False, highlight=False)


def _print_backtest(meta: dict[str, Any], rows: list[dict[str, Any]], nij: float | None) -> None:
    console.print(
        f"{meta['data']}: {meta['cells']} cells of {meta['cell_m']} m, scored {meta['scored']} "
        f"({meta['periods']} periods of {meta['horizon_days']} days, "
        f"{meta['events_scored']} events)",
        highlight=False,
        markup=False,
    )
    table = Table(show_lines=False)
    for col in ("method", "HR 1 %", "HR 5 % (95 % CI)", "PAI 5 %", "HR 10 %"):
        table.add_column(col)
    if nij is not None:
        table.add_column(f"NIJ hits ({nij:g} mi²)")
        table.add_column("NIJ PAI")
        table.add_column("NIJ PEI")
    table.add_column("total s", justify="right")
    for r in rows:
        m5 = r["5%"]
        cells = [
            str(r["method"]),
            f"{r['1%']['hit_rate']:.3f}",
            f"{m5['hit_rate']:.3f} ({m5['hit_rate_ci95'][0]:.3f}–{m5['hit_rate_ci95'][1]:.3f})",
            f"{m5['pai']:.2f}",
            f"{r['10%']['hit_rate']:.3f}",
        ]
        if nij is not None:
            n = r.get(f"nij_{nij:g}mi2") or {}
            cells += [
                f"{n.get('hits_mean', math.nan):g}",
                f"{n.get('pai', math.nan):.2f}",
                f"{n.get('pei', math.nan):.3f}",
            ]
        cells.append(f"{r['total_seconds']:.1f}")
        table.add_row(*cells)
    console.print(table)


# --------------------------------------------------------------------------- demand


@forecast_app.command("demand")
def demand_cmd(
    csv_path: Annotated[Path, typer.Argument(help="Event CSV with times of day", dir_okay=False)],
    area_groups: Annotated[
        Path, typer.Option(help="Districts: .kml, .geojson or zipped .shp with names")
    ],
    mapping: MappingOption = None,
    mapping_file: MappingFileOption = None,
    area_crs: Annotated[str | None, typer.Option(help="CRS of --area-groups")] = None,
    start: Annotated[
        str | None,
        typer.Option(help="First hour of the data used (date; default: --weeks before the end)"),
    ] = None,
    weeks: Annotated[int, typer.Option(min=2, help="Weeks of hourly counts to use")] = 12,
    horizon_h: Annotated[int, typer.Option(min=1, help="Hours forecast from each origin")] = 72,
    history_weeks: Annotated[int, typer.Option(min=1, help="Weeks each forecast sees")] = 8,
    shift_h: Annotated[int, typer.Option(min=1, help="Shift length in hours")] = 8,
    handling_min: Annotated[float, typer.Option(help="Minutes a unit spends on a job")] = 30.0,
    answer_within_min: Annotated[float, typer.Option(help="Target wait, minutes")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")] = False,
) -> None:
    """Hourly events per district, a backtest against the seasonal-naive baseline (MASE), and
    the units each district needs per shift for the next horizon."""
    from datetime import UTC, datetime, timedelta

    import numpy as np

    from safecity.analytics import demand as dm
    from safecity.analytics.districts import OUTSIDE, locate

    cmap = _resolve_mapping(mapping, mapping_file)
    events = _load(csv_path, cmap)
    areas = _named_areas(area_groups, cmap, area_crs)
    hours = weeks * dm.WEEK_H
    if start is None:
        end_day = int(events.days.max()) + 1
        t0 = (end_day * 86_400) - hours * 3600
    else:
        day = _day(start, "--start")
        assert day is not None
        t0 = day * 86_400
    t1 = t0 + hours * 3600
    sel = (events.times >= t0) & (events.times < t1)
    if not sel.any():
        _fail("no events in the chosen weeks")
    names = locate(areas, events.x[sel], events.y[sel])
    inside = names != OUTSIDE
    epoch = datetime.fromtimestamp(0, UTC).replace(tzinfo=None)  # local wall clock
    times = [epoch + timedelta(seconds=int(s)) for s in events.times[sel][inside]]
    begin = epoch + timedelta(seconds=int(t0))
    order = tuple(a.name for a in areas)
    data = dm.HourlyCounts.from_events(
        times,
        [str(n) for n in names[inside]],
        start=begin,
        end=begin + timedelta(hours=hours),
        names=order,
    )
    hist_w = min(history_weeks, weeks - 1)
    try:
        bt = dm.backtest(data, horizon_h=horizon_h, history_weeks=hist_w)
    except ValueError as exc:
        _fail(f"backtest: {exc}")
    need = hist_w * dm.WEEK_H
    fc = dm.area_forecast(data.counts[:, -need:], horizon_h, weeks=hist_w)
    next_start = begin + timedelta(hours=hours)
    shifts = dm.staffing(
        fc,
        data.areas,
        next_start,
        shift_h=shift_h,
        handling_s=handling_min * 60.0,
        answer_within_s=answer_within_min * 60.0,
    )
    per_area = {a: int(data.counts[i].sum()) for i, a in enumerate(data.areas)}
    result: dict[str, Any] = {
        "data": csv_path.name,
        "from": begin.isoformat(),
        "to": next_start.isoformat(),
        "events": int(data.counts.sum()),
        "events_outside_areas": int((~inside).sum()),
        "events_per_area": per_area,
        "backtest": {
            "horizon_h": bt.horizon_h,
            "origins": bt.origins,
            "history_weeks": hist_w,
            "mase_profile": round(bt.mase_profile, 4),
            "mase_seasonal_naive": round(bt.mase_naive, 4),
            "mae_profile": round(bt.mae_profile, 4),
            "mae_seasonal_naive": round(bt.mae_naive, 4),
            "beats_baseline": bt.beats_baseline,
            "mase_profile_all_areas": round(bt.mase_profile_total, 4),
            "mase_seasonal_naive_all_areas": round(bt.mase_naive_total, 4),
            "beats_baseline_all_areas": bt.beats_baseline_total,
            "mase_zero_forecast": round(bt.mase_zero, 4),
            "sparse": bt.sparse,
            "rmse_profile": round(bt.rmse_profile, 4),
            "rmse_seasonal_naive": round(bt.rmse_naive, 4),
            "rmse_zero_forecast": round(bt.rmse_zero, 4),
            "beats_baseline_rmse": bt.beats_baseline_rmse,
        },
        "staffing": [
            {
                "area": s.area,
                "shift_start": s.shift_start.isoformat(),
                "expected": s.expected,
                "peak_per_hour": s.peak_per_hour,
                "units": s.staff,
            }
            for s in shifts
        ],
    }
    if as_json:
        result["hourly_counts"] = {
            "start": begin.isoformat(),
            "areas": list(data.areas),
            "counts": np.asarray(data.counts, dtype=int).tolist(),
        }
        print(json.dumps(result, indent=2))
        return
    _print_demand(result, shifts, data.areas, shift_h)


def _print_demand(
    result: dict[str, Any], shifts: list[Any], areas: tuple[str, ...], shift_h: int
) -> None:
    from datetime import datetime

    b = result["backtest"]
    console.print(
        f"{result['data']}: {result['events']} events in {len(areas)} areas, "
        f"{result['from']} .. {result['to']}. Backtest ({b['origins']} origins, "
        f"{b['horizon_h']} h ahead): MASE profile {b['mase_profile']:.3f} vs seasonal naive "
        f"{b['mase_seasonal_naive']:.3f} ({'beats' if b['beats_baseline'] else 'does not beat'} "
        "the baseline)",
        highlight=False,
        markup=False,
    )
    console.print(
        f"All areas summed: MASE profile {b['mase_profile_all_areas']:.3f} vs seasonal naive "
        f"{b['mase_seasonal_naive_all_areas']:.3f}"
        + (
            ". Per area the counts are sparse: forecasting zero scores "
            f"{b['mase_zero_forecast']:.3f}, so judge the per-area figures with care."
            if b["sparse"]
            else ""
        ),
        highlight=False,
        markup=False,
    )
    console.print(
        f"Per area, RMSE (rewards the expected count): profile {b['rmse_profile']:.3f} vs "
        f"seasonal naive {b['rmse_seasonal_naive']:.3f} vs zero {b['rmse_zero_forecast']:.3f}",
        highlight=False,
        markup=False,
    )
    starts = sorted({s.shift_start for s in shifts})
    table = Table(title=f"Units needed per {shift_h} h shift (expected events)")
    table.add_column("area")
    for st in starts:
        table.add_column(st.strftime("%a %d %H:%M"), justify="right")
    by_area: dict[str, dict[datetime, Any]] = {}
    for s in shifts:
        by_area.setdefault(s.area, {})[s.shift_start] = s
    for a in areas:
        row = by_area.get(a, {})
        table.add_row(
            a, *(f"{row[st].staff} ({row[st].expected:g})" if st in row else "" for st in starts)
        )
    console.print(table)


# --------------------------------------------------------------------------- coverage


@forecast_app.command("coverage")
def coverage_cmd(
    k: Annotated[int, typer.Option(min=0, help="New cameras to place")] = 5,
    method: Annotated[
        PlaceMethod, typer.Option(help="greedy or exact (CP-SAT)")
    ] = PlaceMethod.greedy,
    spacing: Annotated[float, typer.Option(min=1.0, help="Sample spacing in metres")] = 10.0,
    events_csv: Annotated[
        Path | None,
        typer.Option(
            "--events",
            help="Event CSV over the city: weighs sample points by forecast risk and places "
            "the mobile camera",
            dir_okay=False,
        ),
    ] = None,
    mapping: MappingOption = None,
    mapping_file: MappingFileOption = None,
    cell: CellOption = "150",
    mobile: Annotated[
        int, typer.Option(min=0, max=5, help="Mobile cameras for emerging hotspots")
    ] = 1,
    recent_days: Annotated[
        int, typer.Option(min=7, max=182, help="Days an emerging hotspot is tested on")
    ] = 28,
    foliage: Annotated[
        FoliageName,
        typer.Option(
            help="leaf: tree crowns block views (the worst case for a camera); bare: leaves "
            "fallen, only evergreen trees block"
        ),
    ] = FoliageName.leaf,
    accessible_owner: Annotated[
        list[str] | None,
        typer.Option(
            "--accessible-owner",
            help="Owner agency whose camera feeds the control room can use (repeat for more; "
            "default: every agency the demo registers). Other owners' cameras do not count as "
            "seeing; what only they see is reported apart",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Camera coverage of the demo city: covered share, blind spots, and the lamp posts where
    K new cameras would see the most; with --events, weighted by the forecast risk, and where
    a mobile camera should test an emerging hotspot. Buildings and tree crowns cast shadows."""

    from safecity.analytics.coverage import (
        Camera,
        CoverageModel,
        Site,
        coverage,
        place,
        split_by_owner,
    )
    from safecity.core.registry import SensorKind
    from safecity.maps import building_outlines, tree_outlines
    from safecity.sim.city import AGENCIES, DemoCity

    cmap = None
    if events_csv is None:
        if mapping is not None or mapping_file is not None:
            _fail("--mapping and --mapping-file need --events CSV")
    else:
        cmap = _resolve_mapping(mapping, mapping_file)
    started = time.perf_counter()
    city = DemoCity.load()
    sensors = city.sensors()
    registered = [
        Camera.of(s)
        for s in sensors
        if s.kind is SensorKind.CAMERA and s.view is not None and s.location is not None
    ]
    owners = sorted(set(accessible_owner)) if accessible_owner else sorted(AGENCIES)
    cams, _ = split_by_owner(registered, owners)
    sites = [
        Site.of(s) for s in sensors if s.kind is SensorKind.LAMPPOST and s.location is not None
    ]
    buildings = building_outlines("helsinki")
    trees = tree_outlines("helsinki", foliage=foliage.value)
    bb = city.bbox
    area = [
        (bb.min_lon, bb.min_lat),
        (bb.max_lon, bb.min_lat),
        (bb.max_lon, bb.max_lat),
        (bb.min_lon, bb.max_lat),
        (bb.min_lon, bb.min_lat),
    ]
    model = CoverageModel.build(area, buildings, trees=trees, spacing_m=spacing)
    rep = coverage(model, registered, accessible_owners=owners)
    risk_info: dict[str, Any] | None = None
    weights = None
    mobile_out: dict[str, Any] | None = None
    notes: list[str] = []
    idle = [o for o in accessible_owner or () if not any(c.owner == o for c in registered)]
    if idle:
        notes.append(f"accessible owner(s) with no camera in the register: {', '.join(idle)}")
    if events_csv is not None and cmap is not None:
        risk_info, weights, mobile_out = _risk_and_mobile(
            model, cams, sites, area, events_csv, cmap, _parse_cell(cell), mobile, recent_days
        )
        notes.extend(risk_info.pop("notes"))
    else:
        notes.append(
            "no --events: every sample point weighs the same and no mobile camera is placed"
        )
    plc = place(model, sites, k, risk=weights, existing=cams, method=method.value)
    where = {s.id: (s.lon, s.lat) for s in sites}
    result: dict[str, Any] = {
        "city": city.name,
        "cameras": rep.cameras,
        "candidate_sites": len(sites),
        "outdoor_m2": rep.outdoor_m2,
        "covered_m2": rep.covered_m2,
        "covered_share": round(rep.covered_share, 4),
        "sample_spacing_m": rep.sample_spacing_m,
        "sample_points": len(model.samples),
        "blind_spots": len(rep.blind_spots),
        "trees": {
            "foliage": foliage.value,
            "crowns": rep.trees,
            "covered_share_without_trees": round(rep.covered_share_without_trees, 4),
            "cost_share": round(rep.trees_cost_share, 4),
        },
        "accessible_owners": owners,
        "inaccessible": {
            "cameras": rep.inaccessible_cameras,
            "owners": rep.inaccessible_owners,
            "only_m2": rep.inaccessible_only_m2,
            "only_share": round(rep.inaccessible_only_share, 4),
            "only_points": rep.inaccessible_only_points,
        },
        "risk_weighted": weights is not None,
        "risk": risk_info,
        "placement": {
            "method": plc.method,
            "optimal": plc.optimal,
            "seconds": plc.seconds,
            "covered_share_before": round(plc.existing_risk / plc.total_risk, 4)
            if plc.total_risk
            else 0.0,
            "covered_share_after": round(plc.covered_share, 4),
            "sites": [
                {
                    "id": sid,
                    "lon": where[sid][0],
                    "lat": where[sid][1],
                    ("gain_risk" if weights is not None else "gain_points"): gain,
                    "gain_share": round(gain / plc.total_risk, 5) if plc.total_risk else 0.0,
                }
                for sid, gain in zip(plc.sites, plc.gains, strict=True)
            ],
        },
        "mobile": mobile_out,
        "notes": notes,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if as_json:
        print(json.dumps(result, indent=2))
        return
    _print_coverage(result, k, spacing)


def _risk_and_mobile(
    model: Any,
    cams: list[Any],
    sites: list[Any],
    area: list[tuple[float, float]],
    events_csv: Path,
    cmap: CsvMapping,
    cell_m: float,
    mobile: int,
    recent_days: int,
) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """Forecast risk per sample point (retrospective, the events' last 365 days) and the
    mobile camera(s) for the emerging hotspots of the last ``recent_days``."""
    import numpy as np
    from pyproj import Transformer

    from safecity.analytics.coverage import event_density, place_mobile
    from safecity.analytics.data import Grid, day_label
    from safecity.analytics.emerging import emerging_hotspots
    from safecity.analytics.methods import Retrospective

    events = _load(events_csv, cmap)
    to_metric = Transformer.from_crs("EPSG:4326", cmap.metric_crs, always_xy=True)
    to_lonlat = Transformer.from_crs(cmap.metric_crs, "EPSG:4326", always_xy=True)
    (w, s), (e, n) = area[0], area[2]
    xmin, ymin, xmax, ymax = (
        float(v) for v in to_metric.transform_bounds(w, s, e, n, densify_pts=21)
    )
    grid = Grid.from_bbox(xmin, ymin, xmax, ymax, cell_m)
    baseline = 365
    end = int(events.days.max()) + 1
    days = baseline + recent_days
    counts = grid.counts(events, end - days, days)
    in_area = int(counts.counts.sum())
    notes: list[str] = []
    slon, slat = model.sample_lonlat()
    sx, sy = (np.asarray(v, dtype=np.float64) for v in to_metric.transform(slon, slat))
    cell_of_sample = grid.cell_index(sx, sy)
    risk = np.asarray(Retrospective(baseline).fit(counts).predict(days), dtype=np.float64)
    weights: Any = np.where(cell_of_sample >= 0, risk[np.clip(cell_of_sample, 0, None)], 0.0)
    if float(weights.sum()) <= 0:
        weights = None
        notes.append(
            "no event of the last 365 days falls in the city's area: every sample point "
            "weighs the same"
        )
    found = emerging_hotspots(counts, recent_days=recent_days, baseline_days=baseline)
    hotspots = {int(c): float(v) for c, v in zip(found.cells, found.excess, strict=True)}
    cells_of_events = grid.cell_index(events.x, events.y)
    recent = np.isin(cells_of_events, found.cells) & (events.days >= end - recent_days)
    rlon, rlat = to_lonlat.transform(events.x[recent], events.y[recent])
    where_recent = list(
        zip(
            np.asarray(rlon, dtype=float).tolist(),
            np.asarray(rlat, dtype=float).tolist(),
            strict=True,
        )
    )
    plan = place_mobile(
        model,
        sites,
        hotspots,
        cell_of_sample,
        mobile=mobile,
        existing=cams,
        within=event_density(model, where_recent),
    )
    centres = grid.centres()
    clon, clat = to_lonlat.transform(centres[:, 0], centres[:, 1])
    info: dict[str, Any] = {
        "events": events_csv.name,
        "events_in_area": in_area,
        "method": "retrospective (365 days)",
        "from": day_label(end - baseline),
        "to": day_label(end - 1),
        "cell_m": round(grid.cell_size, 2),
        "notes": notes,
    }
    mobile_out: dict[str, Any] = {
        "recent_days": found.recent_days,
        "baseline_days": found.baseline_days,
        "recent_from": day_label(end - recent_days),
        "cells_tested": found.tested,
        "hotspots": [
            {
                "cell": int(c),
                "lon": round(float(clon[c]), 6),
                "lat": round(float(clat[c]), 6),
                "recent": int(found.recent[i]),
                "expected": round(float(found.expected[i]), 4),
                "ratio": round(float(found.ratio[i]), 2),
                "q": float(found.q[i]),
            }
            for i, c in enumerate(found.cells.tolist())
        ],
        "sites": [
            {
                "id": m.id,
                "lon": m.lon,
                "lat": m.lat,
                "excess": m.excess,
                "share": round(m.excess / plan.excess, 4) if plan.excess else 0.0,
                "cells": [c for c, _ in m.cells],
            }
            for m in plan.sites
        ],
        "excess": plan.excess,
        "fixed_share": round(plan.fixed_share, 4),
        "covered_share": round(plan.covered_share, 4),
        "reason": found.reason or plan.reason,
    }
    return info, weights, mobile_out


def _print_coverage(result: dict[str, Any], k: int, spacing: float) -> None:
    p = result["placement"]
    seen = "risk" if result["risk_weighted"] else "sample points"
    console.print(
        f"{result['city']}: {result['cameras']} cameras see {result['covered_share']:.1%} of "
        f"the outdoor area ({result['covered_m2']:,.0f} of {result['outdoor_m2']:,.0f} m²); "
        f"{result['blind_spots']} of {result['sample_points']} sample points ({spacing:g} m "
        f"apart) are blind spots. {k} new cameras on lamp posts ({p['method']}) raise the seen "
        f"{seen} from {p['covered_share_before']:.1%} to {p['covered_share_after']:.1%}.",
        highlight=False,
        markup=False,
    )
    t = result["trees"]
    console.print(
        f"Trees ({t['foliage']}: {t['crowns']} crowns block views) hide "
        f"{t['cost_share']:.1%} of the outdoor area: {t['covered_share_without_trees']:.1%} "
        "would be seen without them.",
        highlight=False,
        markup=False,
    )
    i = result["inaccessible"]
    if i["cameras"]:
        owners = ", ".join(f"{o} ({n})" for o, n in i["owners"].items())
        console.print(
            f"{i['cameras']} cameras the control room cannot access (owners: {owners}) do not "
            f"count; {i['only_share']:.1%} of the outdoor area ({i['only_m2']:,.0f} m², "
            f"{i['only_points']} sample points) is seen only by them: a blind spot for the "
            "control room that the public may think is watched.",
            highlight=False,
            markup=False,
        )
    table = Table()
    for col in ("#", "site", "lon", "lat", f"new {seen} seen", "share"):
        table.add_column(col)
    for i, s in enumerate(p["sites"], 1):
        gain = s.get("gain_risk", s.get("gain_points", 0.0))
        table.add_row(
            str(i),
            s["id"],
            f"{s['lon']:.6f}",
            f"{s['lat']:.6f}",
            f"{gain:g}",
            f"{s['gain_share']:.2%}",
        )
    console.print(table)
    for note in result["notes"]:
        console.print(f"note: {note}", highlight=False, markup=False)
    m = result["mobile"]
    if m is None:
        return
    console.print(
        f"Emerging hotspots (last {m['recent_days']} days from {m['recent_from']} against the "
        f"{m['baseline_days']} before; {m['cells_tested']} cells tested): "
        f"{len(m['hotspots'])}",
        highlight=False,
        markup=False,
    )
    for h in m["hotspots"][:10]:
        console.print(
            f"  cell {h['cell']} at {h['lon']:.5f}, {h['lat']:.5f}: {h['recent']} events, "
            f"{h['expected']:g} expected (x{h['ratio']:g}), q = {h['q']:.2g}",
            highlight=False,
            markup=False,
        )
    if not m["sites"]:
        console.print(f"No mobile camera: {m['reason']}", highlight=False, markup=False)
        return
    for site in m["sites"]:
        console.print(
            f"Mobile camera: {site['id']} ({site['lon']:.6f}, {site['lat']:.6f}) sees "
            f"{site['share']:.0%} of the excess events of cells {site['cells']}",
            highlight=False,
            markup=False,
        )
    console.print(
        f"The fixed cameras already see {m['fixed_share']:.0%} of the excess; with the mobile "
        f"camera(s) {m['fixed_share'] + m['covered_share']:.0%}.",
        highlight=False,
        markup=False,
    )
