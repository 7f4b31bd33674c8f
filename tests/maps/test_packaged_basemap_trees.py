"""The packaged Helsinki basemap carries OpenStreetMap trees (with their attribution), and
``tree_outlines`` turns them into crowns in the form the coverage analysis takes."""

from __future__ import annotations

import gzip
import json
import math
from importlib.resources import files

import pytest

from safecity.maps import basemap_bytes, building_outlines, tree_outlines


def test_the_packaged_basemap_has_a_trees_layer_with_attribution() -> None:
    doc = json.loads(gzip.decompress(basemap_bytes("helsinki")))
    assert "OpenStreetMap" in doc["attribution"] and "ODbL" in doc["attribution"]
    trees = doc["layers"]["trees"]["features"]
    kinds = {f["properties"]["kind"] for f in trees}
    assert kinds == {"tree", "tree_row"}
    points = [f for f in trees if f["properties"]["kind"] == "tree"]
    assert len(points) > 600 and all(f["geometry"]["type"] == "Point" for f in points)
    assert all(f["id"].startswith(("node/", "way/")) for f in trees)
    # Every feature has a crown; an untagged one carries the documented default, and says so
    # by the absence of crown_tagged.
    assert all(1.0 <= f["properties"]["crown_m"] <= 40.0 for f in trees)
    untagged = [f for f in trees if not f["properties"].get("crown_tagged")]
    assert {f["properties"]["crown_m"] for f in untagged} == {6.0}
    assert any(f["properties"].get("evergreen") for f in trees)
    notice = files("safecity.maps").joinpath("data/helsinki/ATTRIBUTION.md").read_text("utf-8")
    assert "ODbL" in notice and "`trees`" in notice and "diameter_crown" in notice


def test_tree_outlines_are_crowns_and_bare_keeps_only_the_evergreens() -> None:
    leaf = tree_outlines("helsinki")
    bare = tree_outlines("helsinki", foliage="bare")
    assert len(leaf) > 600 and 0 < len(bare) < 20
    assert set(map(tuple, map(tuple, bare))) <= set(map(tuple, map(tuple, leaf)))
    ring = leaf[0]
    assert ring[0] == ring[-1] and len(ring) == 17  # a closed 16-gon, like a footprint ring
    lon0 = sum(p[0] for p in ring[:-1]) / 16
    lat0 = sum(p[1] for p in ring[:-1]) / 16
    kx = 111_320 * math.cos(math.radians(lat0))
    radii = [math.hypot((p[0] - lon0) * kx, (p[1] - lat0) * 111_320) for p in ring[:-1]]
    assert min(radii) == pytest.approx(3.0, abs=0.05) and max(radii) == pytest.approx(3.0, abs=0.05)
    assert type(ring) is type(building_outlines("helsinki")[0])
    with pytest.raises(ValueError, match="foliage"):
        tree_outlines("helsinki", foliage="autumn")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a packaged map"):
        tree_outlines("atlantis")
