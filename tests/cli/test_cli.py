"""The `safecity` command line: administration, file ingest, register, demo, OpenAPI check."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from factories import raw_event, sensor_record
from safecity.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "cli.db")


def test_admin_creates_agency_user_and_token(db: str) -> None:
    assert invoke("admin", "add-agency", "hki-police", "Helsinki Police", "--db", db)[0] == 0
    code, out = invoke("admin", "add-user", "op1", "hki-police", "operator", "--db", db)
    assert code == 0 and "op1" in out
    code, out = invoke("admin", "issue-token", "op1", "--label", "console", "--db", db)
    assert code == 0
    assert out.strip().splitlines()[-1].startswith("sc_")
    code, out = invoke("admin", "add-user", "op2", "no-such-agency", "operator", "--db", db)
    assert code == 2 and "agency 'no-such-agency' not found" in out


def test_ingest_file_reports_and_dead_letters_bad_lines(db: str, tmp_path: Path) -> None:
    # Time is "now" so the future-skew check does not apply to this file's recorded events.
    good = [raw_event(id_=f"f-{i}", at=_recent()) for i in range(3)]
    bad = raw_event(id_="f-bad", at=_recent(), location={"lon": 0, "lat": 200})
    lines = [orjson.dumps(e) for e in good] + [
        b"{not json",
        orjson.dumps(bad),
        orjson.dumps(good[0]),
    ]
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    code, out = invoke("ingest", str(path), "--db", db, "--json")
    assert code == 0, out
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["accepted"], summary["duplicate"], summary["rejected"]) == (3, 1, 2)
    fields = {e["field"] for item in summary["first_errors"] for e in item["errors"]}
    assert fields == {"line 4", "line 5.location.lat"}
    code, out = invoke("incidents", "--db", db, "--json")
    incidents = json.loads(out)
    assert len(incidents) == 1 and incidents[0]["event_count"] == 3


def test_ingest_broken_json_array_is_refused_and_kept(db: str, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(b'[{"id": 1,')
    code, out = invoke("ingest", str(path), "--db", db)
    assert code == 2
    assert "not valid JSON" in out and "dead letter" in out


def test_sensor_register_add_list_remove(db: str, tmp_path: Path) -> None:
    invoke(
        "admin", "add-agency", "hki-city", "City of Helsinki", "--kind", "municipality", "--db", db
    )
    sensor = sensor_record(
        id="noise-kamppi-1",
        kind="noise",
        name="Kamppi noise meter",
        owner_agency="hki-city",
        measures=["sound_level"],
        purpose="Night-time noise complaints",
        legal_basis="Environmental Protection Act",
        personal_data=False,
        retention_days=30,
    )
    path = tmp_path / "sensors.json"
    path.write_bytes(orjson.dumps([sensor]))
    assert invoke("sensors", "add", str(path), "--db", db)[0] == 0
    code, out = invoke("sensors", "list", "--db", db, "--json")
    listed = json.loads(out)
    assert [s["id"] for s in listed] == ["noise-kamppi-1"]
    assert listed[0]["retention_days"] == 30
    assert invoke("sensors", "remove", "noise-kamppi-1", "--db", db)[0] == 0
    code, out = invoke("sensors", "remove", "noise-kamppi-1", "--db", db)
    assert code == 2 and "not found" in out
    bad = tmp_path / "bad.json"
    bad.write_bytes(orjson.dumps({**sensor, "retention_days": -1}))
    code, out = invoke("sensors", "add", str(bad), "--db", db)
    assert code == 2 and "retention_days" in out


def test_openapi_check_detects_a_stale_document(tmp_path: Path) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n")
    code, out = invoke("openapi", "--check", str(stale))
    assert code == 2 and "stale" in out
    fresh = tmp_path / "fresh.json"
    assert invoke("openapi", "--output", str(fresh))[0] == 0
    assert invoke("openapi", "--check", str(fresh))[0] == 0
    assert "/v1/events/batch" in json.loads(fresh.read_text())["paths"]


def test_every_command_has_help() -> None:
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["demo", "--help"],
        ["ingest", "--help"],
        ["incidents", "--help"],
        ["sensors", "--help"],
        ["bench", "--help"],
        ["admin", "--help"],
    ):
        code, out = invoke(*args)
        assert code == 0 and "Usage" in out


def _recent() -> object:
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(minutes=1)


def test_bench_prints_throughput_and_ratio() -> None:
    code, out = invoke("bench", "--events", "2000", "--batch", "500", "--json")
    assert code == 0, out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["library_events_per_s"] > 0
    assert result["http_events_per_s"] > 0
    assert 0 < result["http_to_library_ratio"] < 10


def test_adapters_parse_opens_envelopes_and_exits_1_on_refusals() -> None:
    from support import INTEROP

    folder = INTEROP / "edxl" / "edxl-de-1.0"
    code, out = invoke(
        "adapters", "parse", "--standard", "edxl", "--json", str(folder / "bushfire_valid.edxlde")
    )
    assert code == 0
    (report,) = json.loads(out)
    assert [len(e["events"]) for e in report["enclosed"]] == [1] * 7
    assert report["enclosed"][0]["events"][0]["type"] == "alert.issued"
    code, out = invoke(
        "adapters", "parse", "--standard", "edxl", "--json", str(folder / "bushfire_invalid.edxlde")
    )
    assert code == 1
    refused = [e for e in json.loads(out)[0]["enclosed"] if "rejected" in e]
    assert [e["where"] for e in refused] == ["contentObject[1]", "contentObject[2]"]
