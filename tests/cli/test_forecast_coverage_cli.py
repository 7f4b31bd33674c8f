"""`safecity forecast coverage --events`: sample points weigh the forecast risk of their cell,
and a mobile camera goes to a new cluster, not to a long-standing hotspot."""

from __future__ import annotations

import csv
import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safecity.analytics_cli import forecast_app
from safecity.core.registry import SensorKind
from safecity.sim.city import DemoCity

runner = CliRunner()
END = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1]))
    return math.hypot(dx, (a[1] - b[1]) * 111_320)


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A year of synthetic events over the demo city: background, a steady hotspot by one
    lamp post, and a new cluster of the last two weeks by the lamp farthest from any camera."""
    city = DemoCity.load()
    sensors = city.sensors()
    cams = [
        (s.location.lon, s.location.lat)
        for s in sensors
        if s.kind is SensorKind.CAMERA and s.location is not None
    ]
    lamps = {
        s.id: (s.location.lon, s.location.lat)
        for s in sensors
        if s.kind is SensorKind.LAMPPOST and s.location is not None
    }
    bb = city.bbox

    def inside(spot: tuple[float, float]) -> bool:
        corners = [(bb.min_lon, spot[1]), (bb.max_lon, spot[1])]
        corners += [(spot[0], bb.min_lat), (spot[0], bb.max_lat)]
        return min(_metres(spot, c) for c in corners) > 150

    def alone(i: str) -> bool:
        return all(_metres(lamps[i], lamps[j]) > 50 for j in lamps if j != i)

    # Well inside the area, with no other lamp post near it, and far from every camera.
    by_isolation = sorted(lamps, key=lambda i: -min(_metres(lamps[i], c) for c in cams))
    new_lamp = next(i for i in by_isolation if inside(lamps[i]) and alone(i))
    steady_lamp = next(
        i for i in by_isolation if inside(lamps[i]) and _metres(lamps[i], lamps[new_lamp]) > 400
    )
    rng = random.Random(5)
    rows: list[tuple[str, float, float]] = []

    def add(days_ago: float, lon: float, lat: float) -> None:
        rows.append(((END - timedelta(days=days_ago)).strftime("%Y-%m-%d %H:%M"), lon, lat))

    def near(spot: tuple[float, float], metres: float) -> tuple[float, float]:
        east, north = rng.uniform(-metres, metres), rng.uniform(-metres, metres)
        return (
            spot[0] + east / (111_320 * math.cos(math.radians(spot[1]))),
            spot[1] + north / 111_320,
        )

    for _ in range(400):
        add(
            rng.uniform(0, 392),
            rng.uniform(bb.min_lon, bb.max_lon),
            rng.uniform(bb.min_lat, bb.max_lat),
        )
    for i in range(112):  # two a week, all year
        add(3.5 * i + rng.random(), *near(lamps[steady_lamp], 10))
    for _ in range(10):
        add(rng.uniform(0, 14), *near(lamps[new_lamp], 8))
    root = tmp_path_factory.mktemp("coverage")
    path = root / "events.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["when", "lon", "lat"])
        w.writerows(rows)
    mapping = root / "mapping.json"
    mapping.write_text(
        json.dumps(
            {"time": "when", "x": "lon", "y": "lat", "crs": "EPSG:4326", "metric_crs": "EPSG:3067"}
        ),
        encoding="utf-8",
    )
    return {
        "csv": path,
        "mapping": mapping,
        "new": (new_lamp, lamps[new_lamp]),
        "steady": lamps[steady_lamp],
    }


def test_events_weigh_the_points_and_place_the_mobile_camera(town: dict[str, object]) -> None:
    csv_path, mapping = town["csv"], town["mapping"]
    assert isinstance(csv_path, Path) and isinstance(mapping, Path)
    new_lamp, new_spot = town["new"]  # type: ignore[misc]
    steady = town["steady"]
    args = ["coverage", "--k", "1", "--spacing", "25", "--events", str(csv_path)]
    args += ["--mapping-file", str(mapping), "--mobile", "1", "--json"]
    result = runner.invoke(forecast_app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["risk_weighted"] is True
    assert out["risk"]["method"] == "retrospective (365 days)"
    assert out["risk"]["to"] == "2026-10-31" and out["risk"]["events_in_area"] > 400
    assert "gain_risk" in out["placement"]["sites"][0]
    mobile = out["mobile"]
    assert mobile["recent_days"] == 28 and mobile["baseline_days"] == 365
    spots = [(h["lon"], h["lat"]) for h in mobile["hotspots"]]
    assert spots and _metres(spots[0], new_spot) < 110
    assert all(_metres(s, steady) > 110 for s in spots)  # type: ignore[arg-type]
    [site] = mobile["sites"]
    assert site["id"] == new_lamp
    assert mobile["covered_share"] > 0.5 and mobile["reason"] == ""
    # The plain text says the same.
    text = runner.invoke(forecast_app, [*args[:-1], "--recent-days", "21"])
    assert text.exit_code == 0, text.output
    assert f"Mobile camera: {new_lamp}" in text.output


def test_without_events_every_point_weighs_the_same_and_it_says_so(
    town: dict[str, object],
) -> None:
    result = runner.invoke(forecast_app, ["coverage", "--k", "1", "--spacing", "50", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["risk_weighted"] is False and out["mobile"] is None and out["risk"] is None
    assert any("no --events" in n for n in out["notes"])
    # Trees in leaf by default; every camera is the demo's (police) and the demo's agencies
    # are all accessible.
    trees = out["trees"]
    assert trees["foliage"] == "leaf" and trees["crowns"] > 600 and trees["cost_share"] > 0
    assert trees["covered_share_without_trees"] > out["covered_share"]
    assert out["accessible_owners"] == ["helsinki-city", "helsinki-police", "helsinki-rescue"]
    assert out["inaccessible"]["cameras"] == 0 and out["cameras"] == 221
    bad = runner.invoke(forecast_app, ["coverage", "--mapping", "chicago"])
    assert bad.exit_code == 2 and "need --events" in bad.output
    both = runner.invoke(forecast_app, ["coverage", "--events", str(town["csv"])])
    assert both.exit_code == 2 and "exactly one of --mapping" in both.output


def test_foliage_and_cameras_the_control_room_cannot_access() -> None:
    """Bare trees hide less; with only the city's feeds accessible, the demo's (police) cameras
    see nothing for the control room, and what they see is reported apart."""
    args = ["coverage", "--k", "0", "--spacing", "50", "--foliage", "bare"]
    result = runner.invoke(forecast_app, [*args, "--accessible-owner", "helsinki-city", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["trees"]["foliage"] == "bare" and out["trees"]["crowns"] < 20
    assert out["accessible_owners"] == ["helsinki-city"]
    assert out["cameras"] == 0 and out["covered_share"] == 0
    gone = out["inaccessible"]
    assert gone["cameras"] == 221 and gone["owners"] == {"helsinki-police": 221}
    assert 0.05 < gone["only_share"] < 0.3 and gone["only_points"] > 0
    assert out["blind_spots"] == out["sample_points"]
    text = runner.invoke(forecast_app, [*args, "--accessible-owner", "nobody"])
    assert text.exit_code == 0, text.output
    assert "221 cameras the control room cannot access" in text.output
    assert "accessible owner(s) with no camera in the register: nobody" in text.output
