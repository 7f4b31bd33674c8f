"""Rebuilding the packaged road networks from the shared drive graphs reproduces them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from safecity.routing import network as network_module

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build_road_networks.py"
PACKAGED = Path(network_module.__file__).parent / "data"
NAMES = ("monaco", "helsinki")
EXPECTED_KEYS = {
    "node_lon": np.float64,
    "node_lat": np.float64,
    "node_osm_id": np.int64,
    "edge_u": np.int32,
    "edge_v": np.int32,
    "edge_travel_time_s": np.float32,
    "edge_length_m": np.float32,
}


@pytest.mark.parametrize("name", NAMES)
def test_packaged_files_have_the_documented_layout(name: str) -> None:
    path = PACKAGED / f"{name}.roads.npz"
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == {*EXPECTED_KEYS, "metadata"}
        for key, dtype in EXPECTED_KEYS.items():
            assert data[key].dtype == dtype, key
        meta = json.loads(str(data["metadata"]))
        u, v = data["edge_u"], data["edge_v"]
        assert np.all((u[1:] > u[:-1]) | ((u[1:] == u[:-1]) & (v[1:] > v[:-1])))  # sorted
    assert meta["name"] == name
    assert meta["licence"] == "ODbL-1.0"
    assert len(meta["source_sha256"]) == 64
    assert meta["upstream"]["commit"]
    assert path.stat().st_size < (1_000_000 if name == "monaco" else 200_000)
    for doc in ("ATTRIBUTION.md", "LICENSE-DATA.md"):
        assert (PACKAGED / doc).is_file()


def test_rebuild_reproduces_the_packaged_files(shared_roads: Path, tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(SCRIPT), str(shared_roads), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in NAMES:
        built, packaged = tmp_path / f"{name}.roads.npz", PACKAGED / f"{name}.roads.npz"
        with np.load(built) as new, np.load(packaged) as old:
            assert new.files == old.files
            for key in new.files:
                np.testing.assert_array_equal(new[key], old[key], err_msg=f"{name}: {key}")
                assert new[key].dtype == old[key].dtype
        # fixed zip timestamps and sorted members: the bytes match too (same zlib)
        assert built.read_bytes() == packaged.read_bytes(), name
