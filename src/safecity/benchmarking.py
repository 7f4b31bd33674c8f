"""Ingest benchmarks: the library path (the ceiling) and the HTTP path through a real server.

Used by ``benchmarks/ingest.py`` (the full run) and ``safecity bench`` (a quick one).
"""

from __future__ import annotations

import asyncio
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from safecity.core.identity import DEFAULT_PURPOSE, Agency, Principal, Role, User
from safecity.core.records import IncidentQuery
from safecity.runtime import build_runtime
from safecity.settings import Settings
from safecity.tuning import tune_gc_for_throughput

# Helsinki centre; events fall on a 2 km square so correlation has real work to do.
_LON, _LAT = 24.944, 60.171
_MIX = (
    ("noise.level", 0.40),
    ("unit.position", 0.30),
    ("camera.motion", 0.15),
    ("camera.fire_smoke", 0.05),
    ("camera.abnormal", 0.05),
    ("lamp.emergency_button", 0.05),
)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def make_events(n: int, *, start: datetime, seed: int = 1, run: str = "b") -> list[dict[str, Any]]:
    """A realistic mix: mostly routine readings, ~15 % that open or join incidents."""
    rng = random.Random(seed)  # noqa: S311 - benchmark data, not secrets
    kinds = [k for k, _ in _MIX]
    weights = [w for _, w in _MIX]
    payload: dict[str, Callable[[int], dict[str, Any]]] = {
        "noise.level": lambda i: {
            "sensor_id": f"noise-{i % 50}",
            "laeq_db": 55 + 20 * rng.random(),
        },
        "unit.position": lambda i: {"unit_id": f"unit-{i % 20}", "speed_kmh": 30.0},
        "camera.motion": lambda i: {"camera_id": f"cam-{i % 200}"},
        "camera.fire_smoke": lambda i: {"camera_id": f"cam-{i % 200}", "kind": "smoke"},
        "camera.abnormal": lambda i: {"camera_id": f"cam-{i % 200}", "behaviour": "fight"},
        "lamp.emergency_button": lambda i: {"lamp_id": f"lamp-{i % 500}"},
    }
    out = []
    for i in range(n):
        kind = rng.choices(kinds, weights)[0]
        at = start + timedelta(milliseconds=i)
        out.append(
            {
                "id": f"{run}-{i}",
                "source": f"urn:bench:{kind.split('.')[0]}",
                "type": kind,
                "time": at.isoformat().replace("+00:00", "Z"),
                "location": {
                    "lon": _LON + (rng.random() - 0.5) * 0.036,
                    "lat": _LAT + (rng.random() - 0.5) * 0.018,
                },
                "data": payload[kind](i),
            }
        )
    return out


_BENCH_OPERATOR_TOKEN = "sc_bench_operator"  # noqa: S105 - benchmark-only, temporary database
_BENCH_INGEST_TOKEN = "sc_bench_integrator"  # noqa: S105 - benchmark-only, temporary database


def _settings(db: Path) -> Settings:
    s = Settings()
    s.store.path = db
    return s


def _seed_token(db: Path) -> str:
    rt = build_runtime(_settings(db))
    try:
        rt.identity.add_agency(Agency(id="bench", name="Benchmark"))
        rt.identity.add_user(
            User(id="bench", agency_id="bench", display_name="Benchmark", role=Role.INTEGRATOR)
        )
        rt.identity.add_user(
            User(
                id="bench-op", agency_id="bench", display_name="Bench operator", role=Role.OPERATOR
            )
        )
        # Fixed tokens on a throw-away database, so the load generator can address the server.
        rt.identity.issue_token("bench-op", secret=_BENCH_OPERATOR_TOKEN)
        return rt.identity.issue_token("bench", secret=_BENCH_INGEST_TOKEN).secret
    finally:
        rt.store.close()


async def library_ingest(events: int, batch: int) -> dict[str, Any]:
    """The ceiling: the same validate-persist-publish-correlate path as HTTP, without HTTP."""
    with tempfile.TemporaryDirectory() as tmp:
        runtime = build_runtime(_settings(Path(tmp) / "lib.db"))
        await runtime.start()
        tune_gc_for_throughput()  # as `safecity serve` does, so the ratio compares like with like
        principal = Principal("bench", "bench", Role.INTEGRATOR, DEFAULT_PURPOSE[Role.INTEGRATOR])
        bodies = _bodies(events, batch, "lib")
        try:
            started = time.perf_counter()
            for body in bodies:
                await runtime.ingest.ingest_body(
                    body,
                    principal=principal,
                    channel="bench",
                    content_type="application/json",
                    batch=True,
                )
            stored = time.perf_counter() - started
            await runtime.settle(120)
            settled = time.perf_counter() - started
            incidents = len(runtime.store.list_incidents(IncidentQuery(limit=1_000_000)))
        finally:
            await runtime.stop()
    return {**_rates(events, batch, stored, settled), "incidents": incidents}


def _rates(events: int, batch: int, stored: float, settled: float) -> dict[str, Any]:
    """``events_per_s`` counts until correlation has handled every event (the sustained rate);
    ``events_per_s_stored`` until the last batch was acknowledged."""
    return {
        "events": events,
        "batch": batch,
        "seconds": round(settled, 3),
        "events_per_s": round(events / settled, 1),
        "events_per_s_stored": round(events / stored, 1),
    }


def _bodies(events: int, batch: int, run: str) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(hours=1)
    items = make_events(events, start=start, run=run)
    return [orjson.dumps(items[i : i + batch]) for i in range(0, len(items), batch)]


@contextmanager
def server(db: Path, port: int) -> Iterator[str]:
    """A real ``safecity serve`` in its own process (its own core), on loopback."""
    import httpx2

    env = {**os.environ, "SAFECITY_STORE__PATH": str(db)}
    base = f"http://127.0.0.1:{port}"
    # A file, not a pipe: a pipe nobody reads could fill and stall the server.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-m", "safecity", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx2.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"server did not start: {log.read().decode()[-2000:]}")
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _correlated(client: Any, base: str) -> int:
    r = await client.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {_BENCH_OPERATOR_TOKEN}"}
    )
    for line in r.text.splitlines():
        if line.startswith("safecity_correlation_events_total"):
            return int(float(line.split()[-1]))
    return 0


async def http_ingest(events: int, batch: int, port: int, concurrency: int = 4) -> dict[str, Any]:
    """Sustained batched ingest through the HTTP API of a real server, correlation on."""
    import httpx2

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "http.db"
        token = _seed_token(db)
        bodies = _bodies(events, batch, "http")
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with server(db, port) as base:
            async with httpx2.AsyncClient(
                timeout=60, limits=httpx2.Limits(max_connections=concurrency)
            ) as client:
                queue = list(reversed(bodies))
                statuses: dict[int, int] = {}

                async def worker() -> None:
                    while queue:
                        body = queue.pop()
                        r = await client.post(
                            f"{base}/v1/events/batch", content=body, headers=headers
                        )
                        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                        if r.status_code == 429:
                            queue.append(body)
                            await asyncio.sleep(0.01)

                started = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(concurrency)))
                stored = time.perf_counter() - started
                while await _correlated(client, base) < events:
                    if time.perf_counter() - started > 300:
                        break
                    await asyncio.sleep(0.01)
                settled = time.perf_counter() - started
    return {
        **_rates(events, batch, stored, settled),
        "concurrency": concurrency,
        "http_statuses": statuses,
    }


async def http_latency(rate: int, seconds: float, port: int, batch: int = 20) -> dict[str, Any]:
    """Ingest-to-incident latency at a steady rate: from sending a batch over HTTP to seeing each
    of its events in an incident change on the live stream (WebSocket)."""
    import httpx2
    import websockets

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "lat.db"
        token = _seed_token(db)
        total = int(rate * seconds)
        start = datetime.now(UTC) - timedelta(seconds=5)
        # Every event here opens or joins an incident, so each one has a latency to measure.
        rng = random.Random(3)  # noqa: S311
        items: list[dict[str, Any]] = [
            {
                "id": f"lat-{i}",
                "source": "urn:bench:camera",
                "type": "camera.fire_smoke",
                "time": (start + timedelta(microseconds=i)).isoformat().replace("+00:00", "Z"),
                "location": {
                    "lon": _LON + (rng.random() - 0.5) * 0.036,
                    "lat": _LAT + (rng.random() - 0.5) * 0.018,
                },
                "data": {"camera_id": f"cam-{i % 200}", "kind": "smoke"},
            }
            for i in range(total)
        ]
        batches = [items[i : i + batch] for i in range(0, total, batch)]
        bodies = [orjson.dumps(b) for b in batches]
        sent_at: dict[str, float] = {}
        seen_at: dict[str, float] = {}
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with server(db, port) as base:
            ws_url = (
                f"ws://127.0.0.1:{port}/v1/stream?topics=incident"
                f"&access_token={_BENCH_OPERATOR_TOKEN}"
            )
            async with websockets.connect(ws_url, max_size=None) as ws:
                await ws.recv()  # hello

                async def listen() -> None:
                    while len(seen_at) < total:
                        frame = orjson.loads(await ws.recv())
                        now = time.perf_counter()
                        for ref in frame["data"]["events"]:
                            seen_at.setdefault(ref["id"], now)

                listener = asyncio.create_task(listen())
                async with httpx2.AsyncClient(timeout=30) as client:
                    interval = batch / rate
                    t0 = time.perf_counter()
                    pending = []
                    for n, (body, chunk) in enumerate(zip(bodies, batches, strict=True)):
                        due = t0 + n * interval
                        delay = due - time.perf_counter()
                        if delay > 0:
                            await asyncio.sleep(delay)
                        now = time.perf_counter()
                        for item in chunk:
                            sent_at[item["id"]] = now
                        pending.append(
                            asyncio.create_task(
                                client.post(
                                    f"{base}/v1/events/batch", content=body, headers=headers
                                )
                            )
                        )
                    await asyncio.gather(*pending)
                    achieved = total / (time.perf_counter() - t0)
                try:
                    await asyncio.wait_for(listener, timeout=60)
                except TimeoutError:
                    listener.cancel()
    lat = sorted((seen_at[k] - sent_at[k]) * 1000 for k in sent_at if k in seen_at)
    return {
        "target_rate": rate,
        "achieved_rate": round(achieved, 1),
        "events": total,
        "measured": len(lat),
        "p50_ms": round(statistics.median(lat), 2) if lat else None,
        "p99_ms": round(lat[int(len(lat) * 0.99) - 1], 2) if lat else None,
        "max_ms": round(lat[-1], 2) if lat else None,
    }


def quick_bench(events: int = 50_000, batch: int = 1000) -> dict[str, Any]:
    lib = asyncio.run(library_ingest(events, batch))
    http = asyncio.run(http_ingest(events, batch, port=free_port()))
    return {
        "library_events_per_s": lib["events_per_s"],
        "http_events_per_s": http["events_per_s"],
        "http_to_library_ratio": round(http["events_per_s"] / lib["events_per_s"], 3),
        "events": events,
        "batch": batch,
    }


def free_port() -> int:
    """A TCP port free on loopback now, for servers that benchmarks and tests start."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def full_run(
    events: int = 100_000, batch: int = 1000, rate: int = 1000, seconds: float = 20.0
) -> dict[str, Any]:
    lib = asyncio.run(library_ingest(events, batch))
    http = asyncio.run(http_ingest(events, batch, port=free_port()))
    latency = asyncio.run(http_latency(rate, seconds, port=free_port()))
    return {
        "benchmark": "ingest",
        "machine": machine(),
        "library": lib,
        "http": http,
        "latency": latency,
        "http_to_library_ratio": round(http["events_per_s"] / lib["events_per_s"], 3),
        "targets": {"http_events_per_s": 20_000, "latency_p99_ms": 50},
    }
