"""Console benchmark, measured in the browser (headless Debian Chromium through Playwright).

    .venv/bin/python benchmarks/console.py [--sensors 10000] [--incidents 1000] [--runs 5]
        [--latency 40]
    .venv/bin/python benchmarks/console.py --screenshot docs/screenshots/console.png

Starts a real server as the browser tests do (uvicorn on loopback, SQLite, the whole runtime on
the system clock), seeds the sensor register directly through the store and opens incidents by
ingesting events spread over Helsinki, then measures

- first render: navigation start → the queue and the incident markers drawn (the console's
  ``console-ready`` performance mark), over several fresh page loads; also when the clustered
  sensor layer is on the map (``console-sensors``);
- ingest to screen: events ingested one at a time through the API, each opening a new priority 1
  incident; the time from the start of the ingest call to the incident's row in the queue
  (recorded in the page by a MutationObserver on the same machine's clock), p50 and p95.

Prints one JSON object. ``--screenshot PATH`` instead builds a small demo-like state (a located
shooting with units dispatched, fires, reports, sensors and units) and saves the console at
1366x768.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests" / "browser"), str(REPO / "tests")]

from browser_support import LiveServer  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from conftest import CHROMIUM, VIEWPORT, serving  # noqa: E402
from safecity.benchmarking import machine  # noqa: E402
from safecity.core.geo import Location  # noqa: E402
from safecity.core.registry import Sensor, SensorKind  # noqa: E402
from safecity.demo import helsinki_settings  # noqa: E402
from safecity.runtime import Runtime, build_runtime  # noqa: E402

LON0, LAT0 = 24.94, 60.19  # the grid's south-west corner is near Helsinki centre
KINDS = [k for k in SensorKind if k is not SensorKind.OTHER]

# Records when each queue row first appears, on the page's wall clock (ms since the epoch).
WATCH_ROWS = """
(() => {
  window.__rowSeen = {};
  const note = (el) => {
    if (el.dataset && el.dataset.id && !(el.dataset.id in window.__rowSeen)) {
      window.__rowSeen[el.dataset.id] = performance.timeOrigin + performance.now();
    }
  };
  const start = () => {
    const list = document.getElementById("queue-list");
    if (!list) { setTimeout(start, 20); return; }
    new MutationObserver((changes) => {
      for (const c of changes) for (const n of c.addedNodes) if (n.nodeType === 1) note(n);
    }).observe(list, { childList: true });
  };
  document.addEventListener("DOMContentLoaded", start);
})();
"""


@contextmanager
def serve(db: Path, sensors: int) -> Iterator[LiveServer]:
    runtime = build_runtime(helsinki_settings(db))
    seed_sensors(runtime, sensors)
    with serving(
        runtime,
        label="benchmark",
        start_timeout_s=30.0,
        stop_timeout_s=5.0,
        request_timeout_s=60.0,
    ) as live:
        yield live


def seed_sensors(runtime: Runtime, count: int) -> None:
    """The register, written straight to the store (the API would audit each one)."""
    rng = random.Random(7)
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        runtime.store.upsert_sensor(
            Sensor(
                id=f"bench-{kind.value}-{i}",
                kind=kind,
                name=f"{kind.value.replace('_', ' ')} {i}",
                owner_agency="helsinki-city",
                location=Location(
                    lon=24.86 + rng.random() * 0.16, lat=60.150 + rng.random() * 0.07
                ),
                measures=("status",),
                purpose="Benchmark device",
                legal_basis="Benchmark",
                personal_data=False,
                retention_days=30,
                public=True,
            )
        )


def event(type_: str, lon: float, lat: float, n: int, **data: Any) -> dict[str, Any]:
    payloads: dict[str, dict[str, Any]] = {
        "camera.fire_smoke": {"camera_id": f"cam-{n}", "kind": "smoke"},
        "gunshot.located": {"rounds": 2, "first_shot_time": _now()},
        "citizen.report": {"category": "violence", "description": "people fighting"},
        "camera.abnormal": {"camera_id": f"cam-{n}", "behaviour": "fight"},
        "call.emergency": {"cad_id": f"cad-{n}", "category": "medical"},
    }
    return {
        "id": f"bench-{type_}-{n}-{time.monotonic_ns()}",
        "source": f"urn:bench:{type_}:{n}",
        "type": type_,
        "time": _now(),
        "location": {"lon": lon, "lat": lat},
        "data": {**payloads[type_], **data},
    }


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def grid(n: int, spacing_m: float = 400.0) -> Iterator[tuple[float, float]]:
    """``n`` points on a grid ``spacing_m`` apart (far enough apart not to be fused)."""
    cols = 40
    dlat = spacing_m / 111_320
    dlon = spacing_m / (111_320 * 0.4985)
    for i in range(n):
        yield LON0 - 0.25 + (i % cols) * dlon, LAT0 - 0.06 + (i // cols) * dlat


def open_incidents(server: LiveServer, count: int) -> int:
    # A city's mix: mostly lower-priority reports, one in ten a fire (priority 1 at night).
    categories = ["waste", "lighting", "vandalism", "theft", "traffic", "noise", "burglary"]
    events = [
        event("camera.fire_smoke", lon, lat, i)
        if i % 10 == 0
        else event("citizen.report", lon, lat, i, category=categories[i % len(categories)])
        for i, (lon, lat) in enumerate(grid(count))
    ]
    for start in range(0, len(events), 1000):
        r = server.post("/v1/events/batch", events[start : start + 1000])
        r.raise_for_status()
    deadline = time.monotonic() + 120
    seen = 0
    while time.monotonic() < deadline:
        seen = len(server.get("/v1/incidents?status=new&limit=1000").json()["items"])
        if seen >= count:
            break
        time.sleep(0.5)
    return seen


def first_render(server: LiveServer, page: Page) -> dict[str, float]:
    page.goto(f"{server.base}/console/#token={server.tokens['op-police']}")
    page.wait_for_function("document.body.dataset.ready === '1'", timeout=60_000)
    ready = page.evaluate("performance.getEntriesByName('console-ready')[0].startTime")
    page.wait_for_function(
        "performance.getEntriesByName('console-sensors').length > 0", timeout=60_000
    )
    sensors = page.evaluate("performance.getEntriesByName('console-sensors')[0].startTime")
    rows = page.locator("#queue-list > li").count()
    markers = page.locator(".sc-incident").count()
    return {"ready_ms": ready, "sensors_ms": sensors, "rows": rows, "incident_markers": markers}


def latency(server: LiveServer, page: Page, count: int) -> list[float]:
    page.wait_for_function("window.__rowSeen !== undefined")
    out: list[float] = []
    for i, (lon, lat) in enumerate(grid(count, spacing_m=600)):
        body = event("gunshot.located", lon + 0.002, lat + 0.004, 100_000 + i)
        started = time.time() * 1000
        r = server.post("/v1/events", body)
        r.raise_for_status()
        key = f"/v1/events/by-key?source={body['source']}&id={body['id']}"
        incident_id = None
        deadline = time.monotonic() + 10
        while incident_id is None and time.monotonic() < deadline:
            incident_id = server.get(key).json().get("incident_id")
            if incident_id is None:
                time.sleep(0.01)
        page.wait_for_function(f"'{incident_id}' in window.__rowSeen", timeout=10_000)
        out.append(page.evaluate(f"window.__rowSeen['{incident_id}']") - started)
        time.sleep(0.1)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve(Path(tmp) / "bench.db", args.sensors) as server,
    ):
        t0 = time.monotonic()
        opened = open_incidents(server, args.incidents)
        seed_s = time.monotonic() - t0
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
            renders = []
            for _ in range(args.runs):
                ctx = browser.new_context(viewport=VIEWPORT)
                page = ctx.new_page()
                renders.append(first_render(server, page))
                ctx.close()
            ctx = browser.new_context(viewport=VIEWPORT)
            ctx.add_init_script(WATCH_ROWS)
            page = ctx.new_page()
            first_render(server, page)
            lat = latency(server, page, args.latency)
            ctx.close()
            browser.close()
        ready = [r["ready_ms"] for r in renders]
        return {
            "benchmark": "console",
            "machine": machine(),
            "sensors": args.sensors,
            "open_incidents": opened,
            "seed_incidents_s": round(seed_s, 2),
            "first_render_ms": {
                "runs": [round(x) for x in ready],
                "median": round(statistics.median(ready)),
                "max": round(max(ready)),
                "target": 1500,
            },
            "sensor_layer_ms": {
                "median": round(statistics.median(r["sensors_ms"] for r in renders)),
            },
            "rows_rendered": renders[-1]["rows"],
            "incident_markers": renders[-1]["incident_markers"],
            "ingest_to_screen_ms": {
                "n": len(lat),
                "p50": round(percentile(lat, 0.5)),
                "p95": round(percentile(lat, 0.95)),
                "max": round(max(lat)),
                "target_p95": 1000,
            },
        }


def screenshot(path: Path) -> None:
    """A demo-like state at 1366x768 for the docs."""
    with tempfile.TemporaryDirectory() as tmp, serve(Path(tmp) / "shot.db", 600) as server:
        units = [
            ("P-11", "helsinki-police", ["patrol", "armed_response"], 24.9460, 60.1710),
            ("P-12", "helsinki-police", ["patrol"], 24.9300, 60.1650),
            ("P-14", "helsinki-police", ["patrol", "armed_response"], 24.9550, 60.1760),
            ("A-21", "helsinki-rescue", ["paramedic"], 24.9280, 60.1720),
            ("F-31", "helsinki-rescue", ["firefighting"], 24.9350, 60.1620),
        ]
        for uid, agency, caps, lon, lat in units:
            user = "sup-police" if agency == "helsinki-police" else "op-rescue"
            body = {
                "id": uid,
                "agency_id": agency,
                "kind": "car",
                "callsign": uid,
                "capabilities": caps,
            }
            server.put(f"/v1/units/{uid}", body, user).raise_for_status()
            pos = {"location": {"lon": lon, "lat": lat}}
            server.post(f"/v1/units/{uid}/position", pos, user).raise_for_status()
            server.post(f"/v1/units/{uid}/status", {"status": "available"}, user).raise_for_status()
        shot = event("gunshot.located", 24.9414, 60.1711, 1)
        shot["data"]["ellipse"] = {"semi_major_m": 60, "semi_minor_m": 25, "orientation_deg": 40}
        others = [
            event("camera.fire_smoke", 24.9290, 60.1640, 2),
            event("citizen.report", 24.9530, 60.1660, 3),
            event("camera.abnormal", 24.9200, 60.1760, 4),
            event("call.emergency", 24.9600, 60.1800, 5),
            event("camera.fire_smoke", 24.9050, 60.1900, 6),
        ]
        server.post("/v1/events/batch", [shot, *others]).raise_for_status()
        time.sleep(1.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
            page = browser.new_context(viewport=VIEWPORT).new_page()
            page.goto(f"{server.base}/console/#token={server.tokens['op-police']}")
            page.wait_for_function("document.body.dataset.ready === '1'")
            row = page.locator("#queue-list li", has_text="Gunshot located")
            row.click()
            page.locator("#inc-dispatch table").wait_for()
            page.get_by_role("button", name="Confirm dispatch of").click()
            page.locator("#confirm").get_by_role("button", name="Confirm dispatch").click()
            page.locator("#inc-status", has_text="dispatched").wait_for()
            page.get_by_label("Message").fill("Armed suspect seen heading north on Mikonkatu")
            page.get_by_role("button", name="Post", exact=True).click()
            page.locator(".msg", has_text="Armed suspect").wait_for()
            page.evaluate("document.getElementById('detail').scrollTop = 0")
            page.locator("#queue-list").focus()
            page.wait_for_timeout(1500)  # basemap and markers
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path))
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sensors", type=int, default=10_000)
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency", type=int, default=40, help="events for ingest-to-screen")
    parser.add_argument("--screenshot", type=Path, help="save a demo-like console here instead")
    args = parser.parse_args()
    if args.screenshot:
        screenshot(args.screenshot)
        print(json.dumps({"screenshot": str(args.screenshot)}))
        return
    print(json.dumps(benchmark(args), indent=2))


if __name__ == "__main__":
    main()
