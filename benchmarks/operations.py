"""Operations benchmark: fusion under a mixed load, gunshot accuracy, dispatch latency.

    .venv/bin/python benchmarks/operations.py [--only fusion|gunshot|dispatch] [--rate 5000]
        [--seconds 20] [--burst 50000] [--gunshot-dir ../shared/data/gunshot/pittsburgh-2018]

Prints one JSON object. Fusion runs the whole platform in process (SQLite store, in-process
bus, correlation with the fusion matrix and priority, procedures, automations with the example
rules, the incident-channel log, the unit feed and the gunshot localiser) and measures:

- throughput: events ingested as fast as the library path takes them, until every one has been
  correlated and everything it caused has settled;
- latency at a steady rate (default 5,000 events/s): for every event that opens or joins an
  incident, the time from the start of its ingest call to the incident change that links it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from safecity.benchmarking import machine
from safecity.core.identity import DEFAULT_PURPOSE, Agency, Principal, Role
from safecity.core.messages import decode_incident_change
from safecity.core.operations import UnitDefinition
from safecity.core.payloads import UnitState
from safecity.core.ports import BusMessage
from safecity.demo import helsinki_settings
from safecity.governance.identity import system_principal
from safecity.processors.automation.examples import EXAMPLE_RULES
from safecity.processors.automation.rules import AutomationConfig
from safecity.runtime import Runtime, build_runtime
from safecity.tuning import tune_gc_for_throughput

REPO = Path(__file__).resolve().parents[1]
_LON, _LAT = 24.944, 60.171  # Helsinki centre; events fall on a 2 km square
#: A control room's mix: mostly telemetry, some situations from several kinds of source.
MIX: tuple[tuple[str, float], ...] = (
    ("unit.position", 0.30),
    ("noise.level", 0.25),
    ("camera.motion", 0.15),
    ("lamp.light_level", 0.08),
    ("camera.abnormal", 0.05),
    ("call.emergency", 0.05),
    ("citizen.report", 0.05),
    ("lamp.emergency_button", 0.03),
    ("camera.fire_smoke", 0.02),
    ("gunshot.located", 0.02),
)
_DATA: dict[str, Any] = {
    "unit.position": lambda r, i: {"unit_id": f"u-{i % 50}", "speed_kmh": 30},
    "noise.level": lambda r, i: {"sensor_id": f"n-{i % 40}", "laeq_db": r.uniform(45, 70)},
    "camera.motion": lambda r, i: {"camera_id": f"c-{i % 200}"},
    "lamp.light_level": lambda r, i: {"lamp_id": f"l-{i % 500}", "level_pct": 60.0},
    "camera.abnormal": lambda r, i: {"camera_id": f"c-{i % 200}", "behaviour": "fight"},
    "call.emergency": lambda r, i: {"cad_id": f"cad-{i}", "category": "assault"},
    "citizen.report": lambda r, i: {"category": "violence", "description": "fight"},
    "lamp.emergency_button": lambda r, i: {"lamp_id": f"l-{i % 500}"},
    "camera.fire_smoke": lambda r, i: {"camera_id": f"c-{i % 200}", "kind": "smoke"},
    "gunshot.located": lambda r, i: {"rounds": 2, "first_shot_time": _stamp(_now())},
}


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def make_events(n: int, seed: int, run: str) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    out = []
    for i in range(n):
        kind = rng.choices(kinds, weights)[0]
        out.append(
            {
                "id": f"{run}-{i}",
                "source": f"urn:bench:{kind}:{i % 97}",
                "type": kind,
                "time": _stamp(_now()),
                "location": {
                    "lon": _LON + rng.uniform(-0.018, 0.018),
                    "lat": _LAT + rng.uniform(-0.009, 0.009),
                },
                "confidence": round(rng.uniform(0.5, 1.0), 2),
                "data": _DATA[kind](rng, i),
            }
        )
    return out


def _runtime(db: Path) -> Runtime:
    settings = helsinki_settings(db)
    settings.automations = AutomationConfig(rules=EXAMPLE_RULES)
    runtime = build_runtime(settings)
    for agency, kind in (
        ("helsinki-police", "police"),
        ("helsinki-rescue", "fire"),
        ("helsinki-city", "municipality"),
    ):
        runtime.identity.ensure_agency(Agency(id=agency, name=agency, kind=kind))
    return runtime


async def _register_units(runtime: Runtime) -> None:
    # The trackers in the mix belong to registered units, as in a real city.
    admin = system_principal(role=Role.ADMIN)
    for i in range(50):
        await runtime.units.register(
            admin,
            UnitDefinition(
                id=f"u-{i}",
                agency_id="helsinki-police",
                kind="patrol_car",
                callsign=f"P-{i}",
                capabilities=("patrol", "armed_response") if i % 2 else ("patrol",),
            ),
        )
        await runtime.units.set_status(admin, f"u-{i}", UnitState.AVAILABLE)


_FEED = Principal(
    user_id="bench",
    agency_id="helsinki-city",
    role=Role.INTEGRATOR,
    purpose=DEFAULT_PURPOSE[Role.INTEGRATOR],
)


async def fusion_throughput(events: int, batch: int = 500) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        runtime = _runtime(Path(tmp) / "ops.db")
        await runtime.start()
        await _register_units(runtime)
        try:
            items = make_events(events, seed=1, run="t")
            started = time.perf_counter()
            for i in range(0, len(items), batch):
                await runtime.ingest.ingest_objects(
                    items[i : i + batch], principal=_FEED, channel="bench"
                )
            stored = time.perf_counter() - started
            await runtime.settle(600.0)
            settled = time.perf_counter() - started
            return {
                "events": events,
                "batch": batch,
                "stored_per_s": round(events / stored, 1),
                "fused_per_s": round(events / settled, 1),
                "seconds_to_settle": round(settled, 2),
            }
        finally:
            await runtime.stop()


async def fusion_latency(rate: int, seconds: float, batch: int = 50) -> dict[str, Any]:
    """Paced ingest at ``rate``; latency of each correlated event to its incident change."""
    with tempfile.TemporaryDirectory() as tmp:
        runtime = _runtime(Path(tmp) / "lat.db")
        await runtime.start()
        await _register_units(runtime)
        sent_at: dict[tuple[str, str], float] = {}
        latencies: list[float] = []

        async def on_change(messages: Sequence[BusMessage]) -> None:
            now = time.perf_counter()
            for message in messages:
                for key in decode_incident_change(message).events:
                    start = sent_at.pop(key, None)
                    if start is not None:
                        latencies.append(now - start)

        await runtime.bus.subscribe("incidents.>", on_change, max_batch=1000)
        try:
            total = int(rate * seconds)
            items = make_events(total, seed=2, run="l")
            interval = batch / rate
            started = time.perf_counter()
            behind = 0
            for n, i in enumerate(range(0, total, batch)):
                due = started + n * interval
                pause = due - time.perf_counter()
                if pause > 0:
                    await asyncio.sleep(pause)
                else:
                    behind += 1
                chunk = items[i : i + batch]
                t = time.perf_counter()
                for item in chunk:
                    sent_at[(item["source"], item["id"])] = t
                await runtime.ingest.ingest_objects(chunk, principal=_FEED, channel="bench")
            elapsed = time.perf_counter() - started
            await runtime.settle(120.0)
            latencies.sort()
            return {
                "target_rate": rate,
                "achieved_rate": round(total / elapsed, 1),
                "seconds": seconds,
                "batches_late": behind,
                "correlated_events": len(latencies),
                "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
                "p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 1)
                if latencies
                else None,
                "p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1)
                if latencies
                else None,
                "max_ms": round(1000 * latencies[-1], 1) if latencies else None,
            }
        finally:
            await runtime.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=["fusion", "gunshot", "dispatch"])
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=50_000)
    parser.add_argument(
        "--gunshot-dir",
        type=Path,
        default=REPO.parent / "shared" / "data" / "gunshot" / "pittsburgh-2018",
    )
    args = parser.parse_args()
    tune_gc_for_throughput()
    result: dict[str, Any] = {"machine": machine()}
    if args.only in (None, "fusion"):
        result["fusion_throughput"] = asyncio.run(fusion_throughput(args.burst))
        result["fusion_latency"] = asyncio.run(fusion_latency(args.rate, args.seconds))
    if args.only in (None, "gunshot"):
        import _gunshot

        result["gunshot"] = _gunshot.run(args.gunshot_dir)
    if args.only in (None, "dispatch"):
        import _dispatch

        result["dispatch"] = _dispatch.run()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
