"""Gunshot-location benchmark on a live-fire test directory. Prints one JSON object.

Every test's pulses (all of them, echoes and other rounds included) go to the localiser,
which chooses its own pulses; fixes are scored against the surveyed shooter position.
The vendor's published pulse choice, solved with the same least squares, is the
comparison row. Default data: ShotSpotter's Pittsburgh 2018 test (CC BY 4.0), expected
at ``../shared/data/gunshot/pittsburgh-2018`` beside the repository.

    .venv/bin/python benchmarks/_gunshot.py [DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from safecity.processors.gunshot.evaluation import Accuracy, evaluate

DEFAULT_DIR = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "gunshot" / "pittsburgh-2018"
)
TARGET_MEDIAN_M = 5.0
TARGET_WITHIN_25M = 0.97
TARGET_SOLVE_MS = 1000.0


def _row(acc: Accuracy) -> dict[str, Any]:
    return {
        "shots": acc.shots,
        "located": acc.located,
        "missed": acc.missed,
        "false_fixes": acc.false_fixes,
        "median_m": acc.median_m,
        "p90_m": acc.p90_m,
        "max_m": acc.max_m,
        "within_25m": acc.within_25m,
    }


def run(directory: Path) -> dict[str, Any]:
    """Accuracy (overall and per firing position), vendor comparison and solve time per shot."""
    report = evaluate(directory)
    ours = report.ours
    return {
        "directory": str(directory.resolve()),
        "tests": report.tests,
        "ours": _row(ours),
        "ours_by_position": {k: _row(v) for k, v in report.ours_by_position.items()},
        "vendor_tuples": _row(report.vendor) if report.vendor else None,
        "vendor_by_position": {k: _row(v) for k, v in report.vendor_by_position.items()},
        "solve_ms_per_shot": {
            "mean": report.mean_solve_ms,
            "p99": report.p99_solve_ms,
            "max": report.max_solve_ms,
        },
        "targets": {
            "median_m": TARGET_MEDIAN_M,
            "within_25m": TARGET_WITHIN_25M,
            "solve_ms_per_shot": TARGET_SOLVE_MS,
            "met": bool(
                ours.median_m is not None
                and ours.median_m <= TARGET_MEDIAN_M
                and ours.within_25m is not None
                and ours.within_25m >= TARGET_WITHIN_25M
                and report.max_solve_ms is not None
                and report.max_solve_ms < TARGET_SOLVE_MS
            ),
        },
        "skipped": report.skipped,
    }


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    print(json.dumps(run(target), indent=2))
