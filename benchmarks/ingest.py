"""Ingest benchmark: sustained batched HTTP ingest into SQLite with correlation on, the library
ceiling, and ingest-to-incident latency at a steady rate. Prints one JSON object.

    .venv/bin/python benchmarks/ingest.py [--events N] [--batch B] [--rate R] [--seconds S]
"""

from __future__ import annotations

import argparse
import json

from safecity.benchmarking import full_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    result = full_run(args.events, args.batch, args.rate, args.seconds)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
