"""Routing test fixtures: a hand-built tiny network, and the shared OSM drive graphs if present.

The tiny network lies on the equator (0.001° ≈ 111 m):

    0 ──10 s──▶ 1 ◀──10 s──▶ 2        0 → 2 directly: 60 s over 200 m (shorter, slower)
    ▲           │                     1 → 3 → 0: 20 s + 20 s (the way back from 1 to 0)
    └──20 s── 3 ◀┘                    4 ◀──▶ 5: an island, reachable from nowhere else
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from safecity.routing.network import RoadNetwork

NODES = [
    (0.000, 0.000),  # 0
    (0.001, 0.000),  # 1
    (0.002, 0.000),  # 2
    (0.001, -0.001),  # 3
    (0.010, 0.010),  # 4 (island)
    (0.011, 0.010),  # 5 (island)
]
EDGES = [  # (u, v, seconds, metres)
    (0, 1, 10.0, 111.0),
    (1, 2, 10.0, 111.0),
    (2, 1, 10.0, 111.0),
    (1, 3, 20.0, 157.0),
    (3, 0, 20.0, 157.0),
    (0, 2, 60.0, 200.0),
    (4, 5, 10.0, 111.0),
    (5, 4, 10.0, 111.0),
]


#: The shared data directory: the repo root's parent / shared / data / roads.
SHARED_ROADS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "roads"
MONACO_GRAPHML = SHARED_ROADS / "monaco" / "monaco-drive.graphml.gz"


@pytest.fixture(scope="session")
def shared_roads() -> Path:
    """The shared roads directory; tests needing it skip when it is absent."""
    if not MONACO_GRAPHML.is_file():
        pytest.skip(f"shared road data not present at {SHARED_ROADS}")
    return SHARED_ROADS


@pytest.fixture(scope="session")
def monaco_graph(shared_roads: Path) -> Any:
    """The shared Monaco drive graph loaded with networkx (about 2 s, so once per session)."""
    import networkx as nx

    return nx.read_graphml(shared_roads / "monaco" / "monaco-drive.graphml.gz", node_type=int)


@pytest.fixture(scope="session")
def tiny() -> RoadNetwork:
    return RoadNetwork.from_arrays(
        lon=[lon for lon, _ in NODES],
        lat=[lat for _, lat in NODES],
        edge_u=[e[0] for e in EDGES],
        edge_v=[e[1] for e in EDGES],
        travel_time_s=[e[2] for e in EDGES],
        length_m=[e[3] for e in EDGES],
        name="tiny",
    )
