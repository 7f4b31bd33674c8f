"""`safecity forecast`: backtest with a report and fairness card on a small synthetic city, a
clear error for a mapping column the CSV lacks, demand per district, coverage of the demo city."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from safecity.analytics_cli import forecast_app

runner = CliRunner()

# A 2 km x 2 km town in UTM 10N metres, split into a west and an east district.
X0, Y0 = 490_000.0, 5_450_000.0
HOTSPOTS = [(300.0, 300.0), (1500.0, 700.0), (900.0, 1600.0)]


def _rectangle(name: str, x0: float, y0: float, x1: float, y1: float) -> dict[str, object]:
    """A named GeoJSON polygon feature, in the synthetic town's metric coordinates."""
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {
        "type": "Feature",
        "properties": {"name": name},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def _town(tmp_path: Path) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(5)
    rows = ["when,easting,northing,kind"]
    start = np.datetime64("2021-01-01T00:00", "m")
    for day in range(120):
        for _ in range(rng.poisson(6)):
            if rng.random() < 0.7:
                hx, hy = HOTSPOTS[rng.integers(len(HOTSPOTS))]
                x, y = hx + rng.normal(0, 60), hy + rng.normal(0, 60)
            else:
                x, y = rng.uniform(0, 2000), rng.uniform(0, 2000)
            t = start + np.timedelta64(day * 1440 + int(rng.integers(1440)), "m")
            when = str(t).replace("T", " ")
            rows.append(f"{when},{X0 + x:.1f},{Y0 + y:.1f},theft")
    csv = tmp_path / "events.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        'time = "when"\nx = "easting"\ny = "northing"\ncrs = "EPSG:32610"\n', encoding="utf-8"
    )

    def square(name: str, x0: float, x1: float) -> dict[str, object]:
        return _rectangle(name, X0 + x0, Y0, X0 + x1, Y0 + 2000)

    area = tmp_path / "districts.geojson"
    area.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [square("west", 0, 1000), square("east", 1000, 2000)],
            }
        ),
        encoding="utf-8",
    )
    return csv, mapping, area


def _base(csv: Path, mapping: Path, area: Path) -> list[str]:
    return [
        "backtest",
        str(csv),
        "--mapping-file",
        str(mapping),
        "--area",
        str(area),
        "--area-crs",
        "EPSG:32610",
        "--cell",
        "200",
        "--fit-start",
        "2021-01-01",
        "--score-start",
        "2021-04-01",
        "--score-end",
        "2021-04-30",
        "--method",
        "naive",
        "--method",
        "retrospective",
        "--method",
        "kde",
    ]


def test_backtest_json_and_html_report(tmp_path: Path) -> None:
    csv, mapping, area = _town(tmp_path)
    report = tmp_path / "report.html"
    result = runner.invoke(
        forecast_app, [*_base(csv, mapping, area), "--json", "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["cells"] == 100
    assert out["periods"] == 30
    labels = [m["method"] for m in out["methods"]]
    assert labels == ["naive (yesterday)", "retrospective (365 days)", "kde (300 m, 365 days)"]
    retro = out["methods"][1]["5%"]
    assert retro["hit_rate"] > 0.3  # the hotspots are found
    assert retro["hit_rate_ci95"][0] <= retro["hit_rate"] <= retro["hit_rate_ci95"][1]
    curve = out["curves"]["hit_rate"]["retrospective (365 days)"]
    assert curve[0] == 0.0
    assert all(a <= b + 1e-9 for a, b in itertools.pairwise(curve))
    card = out["fairness"]
    assert {g["group"] for g in card["groups"]} == {"west", "east"}
    assert sum(g["cells"] for g in card["groups"]) == 100
    assert card["feedback"]["available"] is False
    assert "no discovery flag" in card["feedback"]["message"]
    assert card["pooled_parity"]["windows"] == 30
    assert sum(card["pooled_parity"]["events"]) == out["events_scored"]

    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<table>" in page
    assert "retrospective (365 days)" in page
    assert page.count("<svg") == 2
    assert "<polyline" in page  # the hit-rate curves
    assert "Fairness and feedback card" in page
    assert "pooled over 30 forecasts" in page
    assert "no discovery flag" in page
    assert "west" in page
    assert "http" not in page  # nothing external: no scripts, styles, fonts or images
    assert not re.search(r"<(script|link|img)\b", page)


def test_backtest_table_with_progress(tmp_path: Path) -> None:
    csv, mapping, area = _town(tmp_path)
    args = [*_base(csv, mapping, area), "--horizon", "week", "--no-progress"]
    result = runner.invoke(forecast_app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "retrospective (365 days)" in result.output
    assert "fairness card" in result.output
    assert "pooled over 4 forecasts" in result.output
    assert "4 periods of 7 days" in result.output


def test_a_missing_mapping_column_is_named(tmp_path: Path) -> None:
    csv, _, _area = _town(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps({"time": "when", "x": "lon", "y": "northing", "crs": "EPSG:32610"}),
        encoding="utf-8",
    )
    result = runner.invoke(
        forecast_app,
        ["backtest", str(csv), "--mapping-file", str(bad), "--score-start", "2021-04-01"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 2
    assert "'lon'" in result.output
    assert "not in events.csv" in result.output
    unknown = runner.invoke(
        forecast_app,
        ["backtest", str(csv), "--mapping", "chicago", "--score-start", "2021-04-01"],
        env={"COLUMNS": "200"},
    )
    assert unknown.exit_code == 2
    assert "'date'" in unknown.output


def test_demand_per_district(tmp_path: Path) -> None:
    csv, mapping, area = _town(tmp_path)
    result = runner.invoke(
        forecast_app,
        [
            "demand",
            str(csv),
            "--mapping-file",
            str(mapping),
            "--area-groups",
            str(area),
            "--area-crs",
            "EPSG:32610",
            "--start",
            "2021-01-04",
            "--weeks",
            "12",
            "--horizon-h",
            "48",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out["events_per_area"]) == {"west", "east"}
    assert out["hourly_counts"]["areas"] == ["west", "east"]
    assert len(out["hourly_counts"]["counts"][0]) == 12 * 168
    assert sum(out["events_per_area"].values()) == out["events"] > 0
    bt = out["backtest"]
    assert bt["origins"] > 0
    assert bt["mase_profile"] > 0
    assert bt["mase_seasonal_naive"] > 0
    shifts = out["staffing"]
    assert len(shifts) == 2 * 6  # two districts, six 8-hour shifts in 48 hours
    assert all(s["units"] >= 0 for s in shifts)


def test_coverage_of_the_demo_city() -> None:
    result = runner.invoke(forecast_app, ["coverage", "--k", "2", "--spacing", "50", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["cameras"] > 0
    assert out["candidate_sites"] > 0
    assert 0 < out["covered_share"] < 1
    assert 0 < out["blind_spots"] <= out["sample_points"]
    sites = out["placement"]["sites"]
    assert len(sites) == 2
    assert sites[0]["gain_points"] >= sites[1]["gain_points"] > 0
    assert out["placement"]["covered_share_after"] > out["placement"]["covered_share_before"]


def test_registered_as_safecity_forecast() -> None:
    from safecity.cli import app

    result = runner.invoke(app, ["forecast", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for command in ("backtest", "demand", "coverage"):
        assert command in result.output


def test_backtest_without_an_area_uses_the_bounding_box(tmp_path: Path) -> None:
    csv, mapping, _ = _town(tmp_path)
    result = runner.invoke(
        forecast_app,
        [
            "backtest",
            str(csv),
            "--mapping-file",
            str(mapping),
            "--cell",
            "250",
            "--fit-end",
            "2021-04-20",
            "--method",
            "naive-28",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["cells"] == 64  # 2 km / 250 m = 8 x 8
    assert out["scored"].startswith("2021-04-21")
    assert [g["group"] for g in out["fairness"]["groups"]] == ["all"]
    bad = runner.invoke(
        forecast_app,
        [
            "backtest",
            str(csv),
            "--mapping-file",
            str(mapping),
            "--fit-end",
            "2021-04-10",
            "--score-start",
            "2021-04-20",
        ],
        env={"COLUMNS": "200"},
    )
    assert bad.exit_code == 2
    assert "--fit-end must be the day before --score-start" in bad.output


def test_a_second_layer_of_groups_gets_its_own_card(tmp_path: Path) -> None:
    csv, mapping, area = _town(tmp_path)

    def band(name: str, y0: float, y1: float) -> dict[str, object]:
        return _rectangle(name, X0, Y0 + y0, X0 + 2000, Y0 + y1)

    layer = tmp_path / "income.geojson"
    layer.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [band("south half", 0, 1000), band("north half", 1000, 2000)],
            }
        ),
        encoding="utf-8",
    )
    result = runner.invoke(
        forecast_app, [*_base(csv, mapping, area), "--groups", str(layer), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    by_layer = out["fairness_by_layer"]
    assert by_layer["layer"] == "income.geojson"
    assert {g["group"] for g in by_layer["groups"]} == {"south half", "north half"}
    assert sum(g["cells"] for g in by_layer["groups"]) == 100
    # The district card is still there, grouped by the districts.
    assert {g["group"] for g in out["fairness"]["groups"]} == {"west", "east"}


def test_the_feedback_loop_check_reads_how_events_came_to_light(tmp_path: Path) -> None:
    csv, mapping, area = _town(tmp_path)
    lines = csv.read_text(encoding="utf-8").splitlines()
    # Every third event was found by a patrol, the rest reported by the public.
    rows = [lines[0] + ",origin"] + [
        f"{line},{'patrol' if i % 3 == 0 else 'phone'}" for i, line in enumerate(lines[1:])
    ]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    args = [*_base(csv, mapping, area), "--json", "--discovered-column", "origin"]
    refused = runner.invoke(forecast_app, args)
    assert refused.exit_code != 0 and "--patrol-values" in refused.output
    result = runner.invoke(forecast_app, [*args, "--patrol-values", "patrol", "--ipw"])
    assert result.exit_code == 0, result.output
    feedback = json.loads(result.output)["fairness"]["feedback"]
    assert feedback["available"] is True
    assert feedback["ipw"] is True
    assert 0.2 < feedback["patrol_share"] < 0.5
    assert {g["group"] for g in feedback["groups"]} <= {"west", "east"}


def test_events_neither_patrol_nor_public_are_left_out_of_the_feedback_check(
    tmp_path: Path,
) -> None:
    csv, mapping, area = _town(tmp_path)
    lines = csv.read_text(encoding="utf-8").splitlines()
    ways = itertools.cycle(["patrol", "public", "sensor"])
    rows = [lines[0] + ",origin"] + [f"{line},{next(ways)}" for line in lines[1:]]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    args = [*_base(csv, mapping, area), "--json", "--discovered-column", "origin"]
    everything = runner.invoke(forecast_app, [*args, "--patrol-values", "patrol"])
    assert everything.exit_code == 0, everything.output
    as_public = json.loads(everything.output)["fairness"]["feedback"]
    result = runner.invoke(
        forecast_app, [*args, "--patrol-values", "patrol", "--public-values", "public"]
    )
    assert result.exit_code == 0, result.output
    feedback = json.loads(result.output)["fairness"]["feedback"]
    # Sensor finds no longer count as public reports: fewer events are compared, and patrols
    # found a larger share of them.
    assert 0 < feedback["events"] < as_public["events"]
    assert feedback["patrol_share"] > as_public["patrol_share"]
    assert feedback["public_share"] + feedback["patrol_share"] == 1.0
    clash = runner.invoke(
        forecast_app, [*args, "--patrol-values", "patrol", "--public-values", "patrol"]
    )
    assert clash.exit_code == 2 and "both" in clash.output
