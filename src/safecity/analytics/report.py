"""Plots and a one-file HTML report for forecast backtests, written by hand.

No plotting library: the plots are small SVG documents (hit rate against area coverage per
method; a map of the flagged cells against the events that followed), and the report is one
HTML file with inline CSS and SVG and no external assets, so it opens offline and can be
archived with the forecast. All text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

import numpy as np
import numpy.typing as npt

from safecity.analytics.data import Grid

FloatArray = npt.NDArray[np.float64]
#: Area coverages of the hit-rate curves: 0 to 20 % in steps of 0.5 %.
CURVE_COVERAGES = tuple(round(i * 0.005, 4) for i in range(41))
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
)


def hit_rate_curve(
    risk: FloatArray,
    observed: npt.NDArray[np.integer] | FloatArray,
    coverages: Sequence[float] = CURVE_COVERAGES,
    tie: FloatArray | None = None,
) -> FloatArray:
    """Hit rate of one forecast at each coverage (NaN when the period has no events). The
    flagged cells are ranked as in the evaluation (ties by ``tie``), ``round(c * cells)`` at
    coverage ``c`` (at least one above zero)."""
    obs = np.asarray(observed, dtype=np.float64)
    total = float(obs.sum())
    if total <= 0:
        return np.full(len(coverages), math.nan)
    t = tie if tie is not None else np.zeros(len(obs))
    order = np.lexsort((-t, -np.asarray(risk, dtype=np.float64)))
    cum = np.concatenate([[0.0], np.cumsum(obs[order])])
    ks = [0 if c <= 0 else max(1, round(c * len(obs))) for c in coverages]
    return np.asarray([cum[k] / total for k in ks], dtype=np.float64)


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def curves_svg(
    curves: Mapping[str, Sequence[float]],
    coverages: Sequence[float] = CURVE_COVERAGES,
    *,
    width: int = 860,
    height: int = 420,
    title: str = "Hit rate against area coverage",
) -> str:
    """Line chart: hit rate (0–1) against the share of the area flagged, one line per method."""
    left, right, top, bottom = 56, 340, 30, 44
    pw, ph = width - left - right, height - top - bottom
    xmax = max(coverages) if coverages else 0.2
    finite = [v for vals in curves.values() for v in vals if math.isfinite(v)]
    ymax = min(1.0, max(0.1, math.ceil((max(finite) if finite else 0.1) * 10) / 10))

    def px(c: float) -> float:
        return left + pw * c / xmax

    def py(h: float) -> float:
        return top + ph * (1 - h / ymax)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>',
    ]
    for i in range(5):
        c = xmax * i / 4
        out.append(
            f'<line x1="{_fmt(px(c))}" y1="{top}" x2="{_fmt(px(c))}" y2="{top + ph}" '
            f'stroke="#eee"/><text x="{_fmt(px(c))}" y="{top + ph + 16}" font-size="11" '
            f'text-anchor="middle">{c * 100:g} %</text>'
        )
    for i in range(6):
        h = ymax * i / 5
        out.append(
            f'<line x1="{left}" y1="{_fmt(py(h))}" x2="{left + pw}" y2="{_fmt(py(h))}" '
            f'stroke="#eee"/><text x="{left - 6}" y="{_fmt(py(h) + 4)}" font-size="11" '
            f'text-anchor="end">{h:.2f}</text>'
        )
    out.append(
        f'<text x="{left + pw / 2}" y="{height - 6}" font-size="12" text-anchor="middle">'
        "share of the area flagged</text>"
        f'<text x="14" y="{top + ph / 2}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + ph / 2})">hit rate</text>'
    )
    for i, (name, vals) in enumerate(curves.items()):
        colour = PALETTE[i % len(PALETTE)]
        pts = [
            f"{_fmt(px(c))},{_fmt(py(v))}"
            for c, v in zip(coverages, vals, strict=False)
            if math.isfinite(v)
        ]
        if pts:
            out.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                f'points="{" ".join(pts)}"/>'
            )
        ly = top + 12 + 18 * i
        out.append(
            f'<line x1="{left + pw + 10}" y1="{ly}" x2="{left + pw + 28}" y2="{ly}" '
            f'stroke="{colour}" stroke-width="3"/><text x="{left + pw + 32}" y="{ly + 4}" '
            f'font-size="11">{escape(name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def map_svg(
    grid: Grid,
    flagged: npt.NDArray[np.int64] | Sequence[int],
    events_x: FloatArray,
    events_y: FloatArray,
    *,
    width: int = 760,
    title: str = "Flagged cells and the events that followed",
) -> str:
    """Map of the flagged cells (filled squares) against the events of the scored window
    (dots; red when inside a flagged cell), over the study area's outline."""
    xmin, ymin = grid.x0, grid.y0
    xmax = grid.x0 + grid.nx * grid.cell_size
    ymax = grid.y0 + grid.ny * grid.cell_size
    span = max(xmax - xmin, ymax - ymin, 1e-9)
    s = (width - 20) / span
    height = int((ymax - ymin) * s) + 50

    def sx(x: float) -> float:
        return 10 + (x - xmin) * s

    def sy(y: float) -> float:
        return 40 + (ymax - y) * s

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="10" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    geom = grid.area_geometry
    if geom is not None:
        simple = geom.simplify(grid.cell_size / 2)
        polys = list(getattr(simple, "geoms", [simple]))
        for poly in polys:
            exterior = getattr(poly, "exterior", None)
            if exterior is None:
                continue
            d = " ".join(f"{_fmt(sx(x))},{_fmt(sy(y))}" for x, y in exterior.coords)
            out.append(f'<polygon points="{d}" fill="#f4f4f4" stroke="#888" stroke-width="0.6"/>')
    else:
        out.append(
            f'<rect x="10" y="40" width="{_fmt((xmax - xmin) * s)}" '
            f'height="{_fmt((ymax - ymin) * s)}" fill="#f4f4f4" stroke="#888"/>'
        )
    centres = grid.centres()
    cw = max(grid.cell_size * s, 0.8)
    half = grid.cell_size / 2
    for c in np.asarray(flagged, dtype=np.int64):
        x, y = centres[c]
        out.append(
            f'<rect x="{_fmt(sx(x - half))}" y="{_fmt(sy(y + half))}" width="{cw:.2f}" '
            f'height="{cw:.2f}" fill="#1f77b4" fill-opacity="0.55"/>'
        )
    cells = grid.cell_index(np.asarray(events_x), np.asarray(events_y))
    flag_set = {int(c) for c in np.asarray(flagged)}
    for x, y, c in zip(np.asarray(events_x), np.asarray(events_y), cells, strict=True):
        colour = "#d62728" if int(c) in flag_set else "#222"
        out.append(
            f'<circle cx="{_fmt(sx(float(x)))}" cy="{_fmt(sy(float(y)))}" r="2.2" fill="{colour}"/>'
        )
    out.append(
        f'<text x="10" y="34" font-size="11">blue: flagged cells ({len(flag_set)}); '
        "dots: events (red = in a flagged cell)</text></svg>"
    )
    return "".join(out)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em;color:#222;
max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f2f2f2}
.note{color:#555;font-size:.9em}.warn{color:#a33}
"""


def _cell(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return "–" if not math.isfinite(v) else f"{v:.{digits}f}"
    return escape(str(v))


def results_table_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """The backtest results table from :meth:`BacktestResult.summary`-like rows."""
    covs = ("1%", "5%", "10%")
    head = ["method", "periods"]
    for c in covs:
        head += [f"HR {c} (95 % CI)", f"PAI {c}", f"PEI* {c}"]
    head += ["fit s", "forecast s", "total s"]
    out = ["<table><thead><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        tds = [_cell(row.get("method")), _cell(row.get("periods"))]
        for c in covs:
            m = row.get(c) or {}
            ci = m.get("hit_rate_ci95") or [None, None]
            tds.append(f"{_cell(m.get('hit_rate'))} ({_cell(ci[0])}–{_cell(ci[1])})")
            tds += [_cell(m.get("pai"), 2), _cell(m.get("pei_star"))]
        tds += [
            _cell(row.get("fit_seconds"), 2),
            _cell(row.get("predict_seconds"), 2),
            _cell(row.get("total_seconds"), 2),
        ]
        out.append("<tr>" + "".join(f"<td>{t}</td>" for t in tds) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def fairness_card_html(card: Mapping[str, Any]) -> str:
    """The fairness and feedback card (from :meth:`FairnessCard.to_dict`) as HTML."""
    cov = card.get("coverage") or 0.0
    out = [
        f"<p>Flagged: {_cell(card.get('flagged_cells'))} of {_cell(card.get('cells'))} cells "
        f"({cov * 100:g} % of the area); {_cell(card.get('events'), 0)} events scored.</p>",
        "<h3>Exposure, calibration and accuracy by group</h3><table><thead><tr>",
    ]
    head = [
        "group",
        "cells",
        "area share",
        "event share",
        "flagged cells",
        "share of flagged",
        "share of group flagged",
        "exposure ratio",
        "predicted",
        "observed",
        "observed / predicted",
        "hit rate",
    ]
    out += [f"<th>{escape(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for g in card.get("groups", []):
        vals = [
            _cell(g.get("group")),
            _cell(g.get("cells")),
            _cell(g.get("area_share")),
            _cell(g.get("event_share")),
            _cell(g.get("flagged_cells")),
            _cell(g.get("flagged_share")),
            _cell(g.get("flagged_area_share")),
            _cell(g.get("exposure_ratio"), 2),
            _cell(g.get("predicted"), 1),
            _cell(g.get("observed"), 0),
            _cell(g.get("calibration_ratio"), 2),
            _cell(g.get("hit_rate")),
        ]
        out.append("<tr>" + "".join(f"<td>{v}</td>" for v in vals) + "</tr>")
    out.append("</tbody></table>")
    pers = card.get("persistence") or []
    out.append(
        "<ul>"
        f"<li>Accuracy parity: hit-rate gap between groups {_cell(card.get('hit_rate_gap'))}, "
        f"lowest / highest {_cell(card.get('hit_rate_ratio'), 2)}</li>"
        f"<li>Concentration: Gini of predicted risk {_cell(card.get('gini'))}; "
        f"top 1 % of cells hold {_cell(card.get('top1_share'))} of the risk</li>"
        f"<li>Persistence: Jaccard of consecutive flagged sets, mean "
        f"{_cell(card.get('persistence_mean'))} over {len(pers)} pairs</li></ul>"
    )
    pooled = card.get("pooled_parity")
    if pooled and pooled.get("windows", 0) > 1:
        out.append(
            f"<h3>Accuracy parity pooled over {_cell(pooled.get('windows'))} forecasts</h3>"
            f"<p>All hits / all events per group; gap {_cell(pooled.get('gap'))}, lowest / "
            f"highest {_cell(pooled.get('ratio'), 2)}.</p><table><thead><tr><th>group</th>"
            "<th>events</th><th>hits</th><th>hit rate</th></tr></thead><tbody>"
        )
        for name, ev, hit, rate in zip(
            pooled.get("groups", []),
            pooled.get("events", []),
            pooled.get("hits", []),
            pooled.get("hit_rates", []),
            strict=False,
        ):
            vals = [_cell(name), _cell(ev, 0), _cell(hit, 0), _cell(rate)]
            out.append("<tr>" + "".join(f"<td>{v}</td>" for v in vals) + "</tr>")
        out.append("</tbody></table>")
    fb = card.get("feedback") or {}
    cls = "note" if fb.get("available") else "warn"
    out.append(
        f'<h3>Feedback-loop check</h3><p class="{cls}">{escape(str(fb.get("message", "")))}</p>'
    )
    if fb.get("groups"):
        out.append(
            "<table><thead><tr><th>group</th><th>events</th><th>by patrol</th>"
            "<th>by public</th><th>patrol share</th><th>event share</th>"
            "<th>event share (IPW)</th></tr></thead><tbody>"
        )
        for g in fb["groups"]:
            vals = [
                _cell(g.get("group")),
                _cell(g.get("events")),
                _cell(g.get("by_patrol")),
                _cell(g.get("by_public")),
                _cell(g.get("patrol_share")),
                _cell(g.get("event_share")),
                _cell(g.get("event_share_ipw")),
            ]
            out.append("<tr>" + "".join(f"<td>{v}</td>" for v in vals) + "</tr>")
        out.append("</tbody></table>")
    return "".join(out)


def html_report(
    *,
    title: str,
    meta: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    curves: str,
    map_: str,
    card: Mapping[str, Any] | None,
    card_title: str = "",
) -> str:
    """One self-contained HTML page: settings, results table, curves, map, fairness card."""
    meta_rows = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in meta.items()
    )
    # inline SVG needs no namespace attribute; dropping it keeps the page free of URLs
    curves = curves.replace(' xmlns="http://www.w3.org/2000/svg"', "")
    map_ = map_.replace(' xmlns="http://www.w3.org/2000/svg"', "")
    card_html = (
        fairness_card_html(card) if card is not None else "<p>No fairness card computed.</p>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><table>{meta_rows}</table>"
        '<h2>Results</h2><p class="note">Hit rate, PAI and PEI* at 1, 5 and 10 % of the area: '
        "mean over the scored periods with a 95 % bootstrap interval.</p>"
        f"{results_table_html(rows)}"
        f"<h2>Hit-rate curves</h2>{curves}"
        f"<h2>Map</h2>{map_}"
        f'<h2>Fairness and feedback card</h2><p class="note">{escape(card_title)}</p>'
        f"{card_html}</body></html>\n"
    )


__all__ = [
    "CURVE_COVERAGES",
    "curves_svg",
    "fairness_card_html",
    "hit_rate_curve",
    "html_report",
    "map_svg",
    "results_table_html",
]
