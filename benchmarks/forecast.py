"""Place-based forecasting benchmark on the shared crime data. Prints one JSON object.

* Chicago aggravated assaults: 150 m cells masked by the police districts; every method is
  fitted on 2016 (one fit at 2017-01-01) and forecasts each day of 2017 from all days before
  it (daily update; the SEPP rows also show weekly re-estimation); hit rate / PAI / PEI* at
  1, 5 and 10 % of the area, mean over the 365 days with 95 % bootstrap intervals, plus the
  pooled hit rate.
* Portland burglary (NIJ calls for service): 600 ft cells masked by the police districts;
  forecast made as of 2016-11-30 for the three months 2016-12-01 .. 2017-02-28 (the last
  three months in the shared copy, NIJ style), scored at 1/5/10 % and with the NIJ rules
  (0.75 mi² of hotspots, PAI and PEI); the same 3-month forecast is also scored at the eight
  earlier quarterly origins (from 2014-12) so that one split is not the whole story.

    .venv/bin/python benchmarks/forecast.py [--only chicago|portland] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from safecity.analytics import data as d
from safecity.analytics.evaluation import (
    backtest,
    bootstrap_mean,
    nij_score,
    score,
    tie_breaker,
)
from safecity.analytics.methods import (
    KDE,
    SEPP,
    Ensemble,
    Forecaster,
    Learned,
    Naive,
    Prospective,
    Retrospective,
)

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "crime"

#: label -> (factory, refit every N days in the daily backtest; None = fit once on 2016).
#: Methods without parameters read a rolling window at every origin anyway.
METHODS: dict[str, tuple[Callable[[], Forecaster], int | None]] = {
    "naive (yesterday)": (lambda: Naive(1), None),
    "naive (last 28 days)": (lambda: Naive(28), None),
    "retrospective (365 days)": (lambda: Retrospective(365), None),
    "kde (300 m, 365 days)": (lambda: KDE(300.0, 365), None),
    "prospective (400 m, 8 weeks)": (lambda: Prospective(400.0, 8), None),
    "sepp (fit once)": (SEPP, None),
    "sepp (refit weekly)": (SEPP, 7),
    "sepp (refit weekly, background smoothed 150 m)": (
        lambda: SEPP(background_bandwidth_m=150.0),
        7,
    ),
    "learned (gradient boosting, fit once)": (Learned, None),
    "ensemble (empirical-Bayes multi-scale, fit once)": (Ensemble, None),
}


def chicago(root: Path) -> dict[str, Any]:
    base = root / "chicago"
    t0 = time.perf_counter()
    events = d.load_events(base / "chicago_aggravated_assaults_2010_2017.csv.gz", d.CHICAGO)
    grid = d.Grid.from_polygon(d.chicago_area(base / "chicago_police_districts_2018.kml"), 150.0)
    counts = grid.counts(events, "2015-01-01", 3 * 365)  # 2015 only feeds lag features
    first = counts.index_of("2017-01-01")
    last = counts.index_of("2017-12-31")
    out: dict[str, Any] = {
        "cells": grid.n_cells,
        "cell_m": 150.0,
        "events_2017_in_area": int(counts.counts[first : last + 1].sum()),
        "load_seconds": round(time.perf_counter() - t0, 2),
        "methods": [],
    }
    for label, (make, refit) in METHODS.items():
        t = time.perf_counter()
        res = backtest(make, counts, first, last, horizon=1, refit_every=refit)
        row = res.summary()
        row["method"] = label
        row["total_seconds"] = round(time.perf_counter() - t, 2)
        out["methods"].append(row)
    return out


def portland(root: Path) -> dict[str, Any]:
    base = root / "portland"
    events = d.load_events(
        base / "nij_portland_burglary_cfs_2012-03_2017-02.csv.gz", d.PORTLAND_NIJ
    )
    cell = 600 * 0.3048
    grid = d.Grid.from_polygon(
        d.portland_area(base / "portland_police_districts_shapefile.zip"), cell
    )
    assert grid.area_geometry is not None
    counts = grid.counts(
        events, "2012-03-01", d.day_number("2017-03-01") - d.day_number("2012-03-01")
    )
    origin = counts.index_of("2016-12-01")
    horizon = counts.n_days - origin
    observed = counts.counts[origin:].sum(axis=0)
    tie = tie_breaker(grid.n_cells)
    out: dict[str, Any] = {
        "cells": grid.n_cells,
        "cell_ft": 600,
        "window": "2016-12-01..2017-02-28",
        "events_in_window": int(observed.sum()),
        "methods": [],
    }
    for full_label, (make, _refit) in METHODS.items():
        if full_label == "sepp (refit weekly)":
            continue  # one forecast origin: refitting makes no difference
        label = full_label.replace("refit weekly, ", "").replace(", fit once", "")
        label = label.replace(" (fit once)", "")
        t = time.perf_counter()
        model = make().fit(counts.head(origin))
        risk = model.predict_window(origin, horizon)
        row: dict[str, Any] = {"method": label, "seconds": round(time.perf_counter() - t, 2)}
        for cov in (0.01, 0.05, 0.10):
            s = score(risk, observed, cov, tie)
            row[f"{cov * 100:g}%"] = {
                "hit_rate": round(s.hit_rate, 4),
                "pai": round(s.pai, 3),
                "pei_star": round(s.pei_star, 3),
            }
        nij = nij_score(risk, observed, cell, grid.area_geometry.area, 0.75, tie)
        row["nij_0.75mi2"] = {
            "cells": nij.cells,
            "hits": nij.hits,
            "events": nij.events,
            "pai": round(nij.pai, 3),
            "pei": round(nij.pei, 3),
        }
        # the same forecast at the eight earlier quarterly origins too (one window holds
        # ~250 events: a single split says little), refitted at every origin
        origins = [origin - 91 * i for i in range(8, -1, -1)]
        hr5, pai5, nij_pais = [], [], []
        for o in origins:
            r = risk if o == origin else make().fit(counts.head(o)).predict_window(o, 90)
            obs = counts.counts[o : o + 90].sum(axis=0)
            s5 = score(r, obs, 0.05, tie)
            hr5.append(s5.hit_rate)
            pai5.append(s5.pai)
            nij_pais.append(nij_score(r, obs, cell, grid.area_geometry.area, 0.75, tie).pai)
        hr_iv = bootstrap_mean(hr5)
        row["rolling_9_quarters"] = {
            "origins": [d.day_label(counts.start + o) for o in (origins[0], origin)],
            "hit_rate_5%": round(hr_iv.mean, 4),
            "hit_rate_5%_ci95": [round(hr_iv.low, 4), round(hr_iv.high, 4)],
            "pai_5%": round(float(np.mean(pai5)), 3),
            "nij_pai_mean": round(float(np.mean(nij_pais)), 3),
        }
        out["methods"].append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["chicago", "portland"])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()
    result: dict[str, Any] = {}
    if args.only in (None, "portland"):
        result["portland_burglary"] = portland(args.data)
    if args.only in (None, "chicago"):
        result["chicago_aggravated_assault"] = chicago(args.data)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
