"""The packaged Helsinki demo city: data, devices, road graph and register entries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import networkx as nx

import safecity
from safecity.core.registry import Sensor, SensorKind
from safecity.sim import city as city_module
from safecity.sim.city import AGENCIES, ATTRIBUTION, PATROL_UNIT_IDS, DemoCity

DATA = Path(city_module.__file__).parent / "data" / "helsinki"
PBF_SHA256 = "b73e9c2c82054d654209b0127f1c3287d5900d6780a6083bf3a45ead8ba3e5ee"
# The extract's header bbox, rounded outwards: lon 24.9352-24.9534, lat 60.1642-60.1791.
HELSINKI = (24.935, 60.164, 24.954, 60.180)


def _records(name: str, key: str) -> list[dict[str, object]]:
    rows = json.loads((DATA / name).read_text(encoding="utf-8"))[key]
    assert isinstance(rows, list)
    return rows


def test_loads_only_package_files() -> None:
    # A fresh interpreter with an audit hook lists every file the load opens.
    probe = (
        "import json, os, sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda e, a: opened.append(os.fsdecode(a[0]))"
        " if e == 'open' and isinstance(a[0], (str, bytes, os.PathLike)) else None)\n"
        "from safecity.sim.city import DemoCity\n"
        "c = DemoCity.load()\n"
        "print(json.dumps({'opened': opened, 'cameras': len(c.cameras)}))\n"
    )
    package_root = Path(safecity.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["cameras"] == 221
    opened = [str(Path(p).resolve()) for p in result["opened"]]
    assert not [p for p in opened if p.startswith("/work/shared")]
    data_files = {p for p in opened if "/data/helsinki/" in p}
    assert {Path(p).name for p in data_files} >= {
        "city.json",
        "cameras.json",
        "lamps.json",
        "roads.json.gz",
        "landmarks.json",
    }
    assert all(p.startswith(str(DATA.resolve())) for p in data_files)


def test_sources_do_not_reference_shared_folder_or_wall_clock() -> None:
    for path in Path(city_module.__file__).parent.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "/work/shared" not in text, path
        assert "datetime.now" not in text and "time.time(" not in text, path


def test_counts_match_the_osm_source(city: DemoCity) -> None:
    assert len(_records("cameras.json", "cameras")) == 221
    assert len(_records("lamps.json", "lamps")) == 586
    assert len(city.cameras) == 221
    assert len(city.lamps) == 586
    meta = json.loads((DATA / "city.json").read_text(encoding="utf-8"))
    assert meta["source_sha256"] == PBF_SHA256


def test_camera_records_keep_the_osm_surveillance_tags(city: DemoCity) -> None:
    rows = _records("cameras.json", "cameras")
    allowed = {
        "id",
        "lon",
        "lat",
        "surveillance:type",
        "camera:type",
        "camera:mount",
        "surveillance:zone",
        "operator",
    }
    assert all(set(row) <= allowed for row in rows)
    assert all(str(row["id"]).startswith("osm-node-") for row in rows)
    tagged = [row for row in rows if "surveillance:type" in row]
    assert len(tagged) == 6
    dome = city.device("camera-osm-node-4096268654")
    assert dome.tag("camera:type") == "dome"
    assert dome.tag("camera:mount") == "pole"
    assert dome.source == "urn:safecity:demo:camera:osm-node-4096268654"


def test_data_folder_is_small_and_attributed() -> None:
    total = sum(p.stat().st_size for p in DATA.iterdir() if p.is_file())
    assert total < 300_000
    attribution = (DATA / "ATTRIBUTION.md").read_text(encoding="utf-8")
    licence = (DATA / "LICENSE-DATA.md").read_text(encoding="utf-8")
    assert "OpenStreetMap contributors" in attribution and PBF_SHA256 in attribution
    assert "ODbL" in licence
    assert "OpenStreetMap contributors" in ATTRIBUTION


def test_every_device_is_inside_the_helsinki_bbox(city: DemoCity) -> None:
    min_lon, min_lat, max_lon, max_lat = HELSINKI
    for device in city.devices():
        assert city.contains(device.lon, device.lat), device.id
        assert min_lon <= device.lon <= max_lon and min_lat <= device.lat <= max_lat, device.id
    assert city.contains(city.centre.lon, city.centre.lat)


def test_device_selection(city: DemoCity) -> None:
    assert len(city.acoustic_sensors) == 98  # one per six lamps, rounded up
    assert len(city.emergency_buttons) == len(city.acoustic_sensors)
    assert all(d.mounted_on and d.mounted_on.startswith("lamp-") for d in city.acoustic_sensors)
    assert {c.name for c in city.crowd_counters} == {
        "People counter, Senaatintori",
        "People counter, Rautatientori",
    }
    assert all((c.capacity or 0) > 0 for c in city.crowd_counters)
    assert len(city.noise_sensors) == 8
    assert len(city.bollards) == 4
    assert len(city.waste_containers) == 12
    # Spread over the area: no two acoustic sensors on the same spot.
    positions = {(d.lon, d.lat) for d in city.acoustic_sensors}
    assert len(positions) == len(city.acoustic_sensors)


def test_road_graph_is_strongly_connected(city: DemoCity) -> None:
    roads = city.roads
    assert roads.number_of_nodes() == 1771
    assert roads.number_of_edges() > 2500
    assert nx.is_strongly_connected(roads)
    for _, _, data in roads.edges(data=True):
        assert data["length_m"] > 0
        assert data["travel_time_s"] > 0
    for node in city.road_nodes:
        lon, lat = city.node_position(node)
        assert city.contains(lon, lat)


def test_lookups(city: DemoCity) -> None:
    square = city.landmark("Rautatientori")
    assert square is not None and square.kind == "square"
    node = city.nearest_node(square.lon, square.lat)
    assert node in city.roads
    assert city.nearest_street(square.lon, square.lat) is not None
    lon, lat = city.node_position(node)
    assert city.distance_to_road_m(lon, lat) < 0.01
    (dist, nearest), *_ = city.nearest(city.cameras, lon, lat)
    assert nearest in city.cameras and dist >= 0


def test_sensors_are_valid_and_unique(city: DemoCity) -> None:
    sensors = city.sensors()
    ids = [s.id for s in sensors]
    assert len(ids) == len(set(ids))
    assert len(sensors) == len(city.devices()) + len(PATROL_UNIT_IDS)
    for sensor in sensors:
        assert Sensor.model_validate(sensor.model_dump()) == sensor
        assert sensor.owner_agency in AGENCIES
        assert sensor.purpose and sensor.legal_basis
        if sensor.location is not None:
            assert city.contains(sensor.location.lon, sensor.location.lat)
    by_kind = Counter(s.kind for s in sensors)
    assert by_kind[SensorKind.CAMERA] == 221
    assert by_kind[SensorKind.LAMPPOST] == 586
    assert by_kind[SensorKind.VEHICLE_TRACKER] == len(PATROL_UNIT_IDS)
    cameras = [s for s in sensors if s.kind is SensorKind.CAMERA]
    lamps = [s for s in sensors if s.kind is SensorKind.LAMPPOST]
    assert all(s.personal_data for s in cameras)
    assert not any(s.personal_data for s in lamps)
    assert {s.owner_agency for s in sensors} == set(AGENCIES)
    trackers = [s for s in sensors if s.kind is SensorKind.VEHICLE_TRACKER]
    assert all(not s.public and s.personal_data for s in trackers)
    # Every simulated device's id is the register id used in payloads and subjects.
    assert {d.id for d in city.devices()} <= set(ids)


def test_load_is_repeatable() -> None:
    a, b = DemoCity.load(), DemoCity.load()
    assert a.devices() == b.devices()
    assert a.sensors() == b.sensors()
