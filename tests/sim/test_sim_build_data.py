"""Rebuilding the packaged demo data from the shared OSM files reproduces it byte for byte."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from safecity.sim import city as city_module

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build_demo_data.py"
SOURCE = Path("/work/shared/data/roads/helsinki")
PACKAGED = Path(city_module.__file__).parent / "data" / "helsinki"


@pytest.mark.skipif(
    not (SOURCE / "helsinki-centre.osm.pbf").is_file() or not SCRIPT.is_file(),
    reason="needs the shared Helsinki OSM files and the build script",
)
@pytest.mark.skipif(importlib.util.find_spec("osmium") is None, reason="the builder needs pyosmium")
def test_rebuild_reproduces_the_packaged_files(tmp_path: Path) -> None:
    out = tmp_path / "helsinki"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--source", str(SOURCE), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    built = sorted(p.name for p in out.iterdir())
    assert built == sorted(p.name for p in PACKAGED.iterdir() if p.is_file())
    for name in built:
        assert (out / name).read_bytes() == (PACKAGED / name).read_bytes(), name
