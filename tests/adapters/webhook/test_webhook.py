"""Declarative mapping: a legacy CSV or JSON format flows as events with no code."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from safecity.adapters.base import MappingContext
from safecity.adapters.configuration import load_instances, read_file
from safecity.adapters.webhook.config import WebhookConfig
from safecity.adapters.webhook.mapping import parse
from safecity.cli import app
from safecity.core.errors import InvalidInput
from safecity.core.identity import Role
from safecity.runtime import build_runtime
from safecity.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "adapters" / "examples"
RECEIVED = datetime(2026, 11, 21, 12, 30, tzinfo=UTC)


def spec(name: str) -> WebhookConfig:
    return WebhookConfig.model_validate({"type": "webhook", **read_file(EXAMPLES / name)})


def run(config: str, sample: str) -> tuple[list[dict[str, object]], list[tuple[str, str]]]:
    mapped = parse(
        (EXAMPLES / sample).read_bytes(), MappingContext(received_at=RECEIVED, config=spec(config))
    )
    events = [e.to_json_dict() for e in mapped.events]
    refused = [(e.field, e.reason) for r in mapped.rejections for e in r.errors]
    return events, refused


def test_csv_with_projected_coordinates_local_time_and_code_tables() -> None:
    events, refused = run("lamp-controller.toml", "lamp-controller.csv")
    assert [e["type"] for e in events] == [
        "lamp.fault",
        "lamp.emergency_button",
        "lamp.light_level",
    ]
    fault = events[0]
    assert fault["time"] == "2026-11-21T12:05:00Z"  # 14:05 in Helsinki (UTC+2 in November)
    assert fault["data"] == {"lamp_id": "HKI-L-0017", "fault": "lamp_out", "cleared": False}
    loc = fault["location"]
    assert isinstance(loc, dict)
    # EPSG:3067 (385812, 6672091) is by Kamppi, Helsinki.
    assert loc["lon"] == pytest.approx(24.94203, abs=1e-4)
    assert loc["lat"] == pytest.approx(60.16971, abs=1e-4)
    assert events[2]["data"] == {"lamp_id": "HKI-L-0203", "level_pct": 55.0}
    assert refused == [
        ("records[3].code", "value 'X9' is not in the mapping table (B1, E01, E02, L)"),
        (
            "records[4].ts",
            "'31.11.2026 14:08:00' does not match time format "
            "'%d.%m.%Y %H:%M:%S': day is out of range for month",
        ),
    ]


def test_json_records_with_scaling_and_epoch_times() -> None:
    events, refused = run("noise-monitor.toml", "noise-monitor.json")
    assert [e["data"] for e in events] == [
        {"sensor_id": "N-12", "laeq_db": pytest.approx(71.2), "window_s": 60.0},
        {"sensor_id": "N-12", "laeq_db": pytest.approx(90.3), "window_s": 60.0},
    ]
    assert events[0]["time"] == "2026-11-21T12:05:00Z"
    assert refused == [("records[2].lvl", "missing")]


def test_bad_mapping_files_name_the_key() -> None:
    with pytest.raises(ValueError, match="unknown coordinate reference system"):
        WebhookConfig.model_validate(
            {
                **read_file(EXAMPLES / "lamp-controller.toml"),
                "location": {"x": "$.a", "y": "$.b", "crs": "EPSG:999999"},
            }
        )
    with pytest.raises(ValueError, match="unknown time zone"):
        WebhookConfig.model_validate(
            {
                **read_file(EXAMPLES / "noise-monitor.toml"),
                "time": {"value": "$.ts", "zone": "Mars/Olympus"},
            }
        )
    with pytest.raises(InvalidInput) as exc:
        load_instances([{"type": "webhook", "name": "lamps", "source": "x"}])
    fields = {e.field for e in exc.value.errors}
    assert {"adapters[0].id", "adapters[0].event_type", "adapters[0].time"} <= fields


def test_undecodable_documents_are_refused_whole() -> None:
    context = MappingContext(received_at=RECEIVED, config=spec("noise-monitor.toml"))
    with pytest.raises(InvalidInput, match="not valid JSON"):
        parse(b"{oops", context)
    with pytest.raises(InvalidInput, match=r"\$.readings: not found"):
        parse(b'{"other": []}', context)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=300).map(str.encode))
def test_fuzz_never_crashes(raw: bytes) -> None:
    for name in ("lamp-controller.toml", "noise-monitor.toml"):
        try:
            mapped = parse(raw, MappingContext(received_at=RECEIVED, config=spec(name)))
        except InvalidInput:
            continue
        assert len(mapped.events) + len(mapped.rejections) >= 1


def test_mapping_test_command_shows_events_and_errors() -> None:
    result = CliRunner().invoke(
        app,
        [
            "mapping",
            "test",
            str(EXAMPLES / "lamp-controller.toml"),
            str(EXAMPLES / "lamp-controller.csv"),
            "--json",
        ],
    )
    assert result.exit_code == 1  # two records are refused
    report = json.loads(result.output)
    assert len(report["events"]) == 3
    assert report["rejected"][0]["errors"][0]["field"] == "records[3].code"


def test_configured_instance_over_http(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from safecity.core.identity import Agency, User

    settings_ = Settings(
        adapters=[
            {
                "type": "webhook",
                "name": "legacy-lamps",
                "include": str(EXAMPLES / "lamp-controller.toml"),
            }
        ]
    )
    settings_.store.path = tmp_path / "x.db"
    settings_.max_future_skew_s = 10 * 365 * 86_400.0
    runtime = build_runtime(settings_)
    runtime.identity.add_agency(Agency(id="city", name="City"))
    runtime.identity.add_user(
        User(id="gw", agency_id="city", display_name="Gateway", role=Role.INTEGRATOR)
    )
    token = runtime.identity.issue_token("gw").secret
    with TestClient(runtime.api()) as client:
        h = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
        r = client.post(
            "/v1/adapters/legacy-lamps/messages",
            content=(EXAMPLES / "lamp-controller.csv").read_bytes(),
            headers=h,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["accepted"], body["rejected"]) == (3, 2)
        letter = runtime.store.get_dead_letter(body["rejected_parts"][0]["dead_letter_id"])
        assert letter is not None
        assert letter.raw == b"HKI-L-0204;X9;21.11.2026 14:07:30;385650;6672360;"
        assert letter.channel == "legacy-lamps http"
        again = client.post(
            "/v1/adapters/legacy-lamps/messages",
            content=(EXAMPLES / "lamp-controller.csv").read_bytes(),
            headers=h,
        )
        assert again.json()["duplicates"] == 3
        bad = client.post("/v1/adapters/legacy-lamps/messages", content=b"", headers=h)
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        unknown = client.post("/v1/adapters/nope/messages", content=b"x", headers=h)
        assert unknown.status_code == 404


def test_samples_decode() -> None:
    assert orjson.loads((EXAMPLES / "noise-monitor.json").read_bytes())["station"]
