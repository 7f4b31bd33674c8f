"""The demo city end to end: headless summary, and a live server with incidents within seconds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2
import pytest
from typer.testing import CliRunner

from safecity.benchmarking import free_port
from safecity.cli import app


def test_headless_demo_prints_a_json_summary() -> None:
    result = CliRunner().invoke(
        app, ["demo", "--headless", "--duration", "180", "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert summary["city"] == "Helsinki centre"
    assert "OpenStreetMap" in summary["attribution"]
    assert summary["simulated_seconds"] == 180
    assert summary["events_ingested"] > 200
    assert summary["incidents_opened"] >= 3
    assert summary["rejects"] >= 3  # the legacy gateway's malformed messages
    assert summary["dead_letters"] == summary["rejects"]
    assert summary["sensors_registered"] > 1000
    assert sum(summary["situations_started"].values()) >= 3


def test_headless_demo_is_deterministic_for_a_seed() -> None:
    def run() -> dict[str, object]:
        out = (
            CliRunner()
            .invoke(
                app,
                [
                    "demo",
                    "--headless",
                    "--duration",
                    "60",
                    "--json",
                    "--seed",
                    "3",
                    "--start",
                    "2026-11-20T16:00:00+00:00",
                ],
            )
            .output
        )
        summary = json.loads(out.strip().splitlines()[-1])
        return {
            k: summary[k]
            for k in (
                "events_ingested",
                "incidents_by_type",
                "rejects",
                "messages_by_format",
                "situations_started",
            )
        }

    assert run() == run()


@pytest.fixture
def live_demo() -> Iterator[tuple[str, str]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "safecity", "demo", "--duration", "60", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
    )
    token = ""
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not token:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        if "operator token" in line:
            token = line.split()[-1]
    try:
        assert token.startswith("sc_"), "demo did not print an operator token"
        yield f"http://127.0.0.1:{port}", token
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stdout.close()


def test_live_demo_serves_incidents_within_seconds(live_demo: tuple[str, str]) -> None:
    base, token = live_demo
    assert httpx2.get(f"{base}/health").json()["status"] == "ok"
    headers = {"Authorization": f"Bearer {token}"}
    incidents: list[dict[str, object]] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not incidents:
        incidents = httpx2.get(f"{base}/v1/incidents", headers=headers).json()["items"]
        time.sleep(0.5)
    assert incidents, "no incident appeared within 20 s of the demo starting"
    register = httpx2.get(f"{base}/public/v1/sensors?kind=camera").json()["items"]
    assert len(register) > 0
    assert all(s["public"] for s in register)
    docs = httpx2.get(f"{base}/docs")
    assert docs.status_code == 200
