"""`safecity events export`: the store's events as a forecast-ready CSV with its mapping, which
`safecity forecast backtest` then reads, feedback-loop check included."""

from __future__ import annotations

import csv
import json
import random
from datetime import timedelta
from pathlib import Path

import orjson
from typer.testing import CliRunner

from factories import LAT0, LON0, T0, metres_east, raw_event
from safecity.cli import app
from safecity.runtime import build_runtime
from safecity.settings import Settings

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _history(days: int = 60) -> list[dict[str, object]]:
    """Calls (some officer-initiated), reports and camera events round a hotspot, over weeks."""
    rng = random.Random(11)
    out: list[dict[str, object]] = []
    for i in range(600):
        hot = i % 2 == 0
        spread = 40 if hot else 1_500
        lon = LON0 + metres_east(rng.uniform(-spread, spread))
        lat = LAT0 + rng.uniform(-spread, spread) / 111_320
        at = T0 - timedelta(days=1) - timedelta(seconds=rng.uniform(0, days * 86_400))
        kind = i % 3
        if kind == 0:
            data = {
                "cad_id": f"cad-{i}",
                "category": "assault",
                "discovered_by": "patrol" if hot else "public",
            }
            out.append(
                raw_event("call.emergency", at=at, lon=lon, lat=lat, source="urn:t:cad", data=data)
            )
        elif kind == 1:
            data = {"category": "theft", "description": "bike gone", "reporter_ref": "r-1"}
            out.append(
                raw_event("citizen.report", at=at, lon=lon, lat=lat, source="urn:t:app", data=data)
            )
        else:
            out.append(raw_event("camera.abnormal", at=at, lon=lon, lat=lat))
    out.append(raw_event("camera.abnormal", at=T0 - timedelta(days=2), lon=None, lat=None))
    return out


def test_exported_events_feed_a_backtest_with_the_feedback_check(tmp_path: Path) -> None:
    db = str(tmp_path / "city.db")
    history = tmp_path / "history.ndjson"
    history.write_bytes(b"\n".join(orjson.dumps(e) for e in _history()) + b"\n")
    code, out = invoke("ingest", str(history), "--db", db, "--json")
    assert code == 0, out

    target = tmp_path / "events.csv"
    code, out = invoke(
        "events", "export", str(target), "--db", db, "--purpose", "system-operations", "--json"
    )
    assert code == 0, out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["written"] == 600 and summary["without_location"] == 1
    assert summary["metric_crs"] == "EPSG:32635"  # Helsinki is in UTM zone 35N
    mapping = tmp_path / "events.mapping.toml"
    assert summary["mapping"] == str(mapping) and mapping.is_file()

    with target.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # Least data: when, where, what kind, how it came to notice; no ids, sources or payloads.
    assert list(rows[0]) == ["time", "lon", "lat", "type", "incident_type", "discovered_by"]
    assert {r["discovered_by"] for r in rows} == {"public", "patrol", "sensor"}
    assert not any("r-1" in v or "cad-" in v or "urn:" in v for r in rows for v in r.values())

    result = runner.invoke(
        app,
        [
            "forecast",
            "backtest",
            str(target),
            "--mapping-file",
            str(mapping),
            "--cell",
            "150",
            "--score-start",
            (T0 - timedelta(days=14)).date().isoformat(),
            "--horizon",
            "week",
            "--method",
            "retrospective",
            "--discovered-column",
            "discovered_by",
            "--patrol-values",
            "patrol",
            "--public-values",
            "public",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["periods"] == 2  # two weeks scored
    retro = body["methods"][0]
    assert retro["method"].startswith("retrospective")
    assert retro["5%"]["hit_rate"] > 0.3  # half the events are in one hotspot
    feedback = body["fairness"]["feedback"]
    assert feedback["available"] is True and 0 < feedback["patrol_share"] < 1

    # The export was read for a declared purpose, and the read is in the audit log.
    settings = Settings()
    settings.store.path = Path(db)
    store = build_runtime(settings).store
    try:
        reads = [a for a in store.list_audit(limit=1000) if a.action == "events.query"]
    finally:
        store.close()
    assert reads and all(a.purpose == "system-operations" for a in reads)


def test_an_unknown_event_type_or_purpose_is_refused_by_name(tmp_path: Path) -> None:
    code, out = invoke("events", "export", str(tmp_path / "x.csv"), "--type", "no.such")
    assert code == 2 and "no.such" in out
    code, out = invoke("events", "export", str(tmp_path / "x.csv"), "--purpose", "curiosity")
    assert code == 2 and "--purpose" in out and "curiosity" in out
