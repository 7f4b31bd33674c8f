"""Dispatch-recommendation benchmark on the packaged Monaco road network. Prints one JSON object.

Units are placed at random road nodes (seeded), incidents at random points in the network's
bounding box; each sample is one full ``recommend()`` call (snapping, one reverse Dijkstra,
ranking, team cover) with a two-capability requirement.

    .venv/bin/python benchmarks/_dispatch.py [--repeat N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from safecity.routing.network import RoadNetwork
from safecity.routing.recommend import UnitCandidate, recommend

SIZES = (10, 100, 500, 1000, 5000)
TARGET_MS = 20.0
TARGET_UNITS = 500
KINDS = ("police", "fire", "ambulance")
CAPABILITIES = ("armed", "medic", "ladder", "hazmat", "k9", "rescue")
STATUSES = ("available", "available", "available", "busy", "off_duty")


def make_units(network: RoadNetwork, count: int, rng: np.random.Generator) -> list[UnitCandidate]:
    """``count`` units at random nodes with random kinds, capabilities and statuses."""
    nodes = rng.integers(0, network.node_count, size=count)
    units = []
    for i, node in enumerate(nodes.tolist()):
        caps = frozenset(c for c in CAPABILITIES if rng.random() < 0.25)
        units.append(
            UnitCandidate(
                unit_id=f"unit-{i:05d}",
                agency_id=f"agency-{i % 3}",
                kind=KINDS[i % len(KINDS)],
                capabilities=caps,
                status=STATUSES[int(rng.integers(0, len(STATUSES)))],
                lon=float(network.lon[node]),
                lat=float(network.lat[node]),
            )
        )
    return units


def percentiles(samples_ms: list[float]) -> dict[str, float]:
    """p50/p95/p99/max of a list of milliseconds, rounded to 0.01 ms."""
    values = np.asarray(samples_ms)
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "max_ms": round(float(values.max()), 2),
    }


def run(repeat: int = 200, seed: int = 20260101) -> dict[str, Any]:
    """Latency of ``recommend()`` per fleet size on Monaco, plus the network load time."""
    start = time.perf_counter()
    network = RoadNetwork.load("monaco")
    load_ms = (time.perf_counter() - start) * 1000
    rng = np.random.default_rng(seed)
    box = network.bbox
    required = frozenset({"medic", "ladder"})
    results: dict[str, Any] = {}
    for size in SIZES:
        units = make_units(network, size, rng)
        samples = []
        for _ in range(repeat):
            lon = float(rng.uniform(box.min_lon, box.max_lon))
            lat = float(rng.uniform(box.min_lat, box.max_lat))
            t0 = time.perf_counter()
            recommend(network, lon, lat, units, required_capabilities=required)
            samples.append((time.perf_counter() - t0) * 1000)
        results[str(size)] = percentiles(samples)
    target = results[str(TARGET_UNITS)]["p95_ms"]
    return {
        "benchmark": "dispatch recommendation (safecity.routing.recommend)",
        "network": repr(network),
        "network_load_ms": round(load_ms, 2),
        "repeat_per_size": repeat,
        "seed": seed,
        "latency_by_units": results,
        "target": f"p95 <= {TARGET_MS} ms for {TARGET_UNITS} units",
        "target_met": target <= TARGET_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20260101)
    args = parser.parse_args()
    print(json.dumps(run(args.repeat, args.seed), indent=2))


if __name__ == "__main__":
    main()
