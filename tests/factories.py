"""Builders for realistic test inputs (raw CloudEvents-style dicts and parsed events)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from safecity.core.events import Event, parse_event

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
# Helsinki, Kamppi: the demo city's centre.
LON0, LAT0 = 24.9384, 60.1699
_ids = itertools.count(1)

PAYLOADS: dict[str, dict[str, Any]] = {
    "camera.fire_smoke": {"camera_id": "cam-1", "kind": "smoke"},
    "camera.abnormal": {"camera_id": "cam-2", "behaviour": "fight"},
    "camera.motion": {"camera_id": "cam-3"},
    "gunshot.located": {"rounds": 3, "first_shot_time": "2026-11-21T12:00:00Z"},
    "acoustic.pulse": {"sensor_id": "ac-1", "arrival_time": "2026-11-21T12:00:00.0123Z"},
    "call.emergency": {"cad_id": "cad-1", "category": "fire"},
    "lamp.emergency_button": {"lamp_id": "lamp-1"},
    "noise.level": {"sensor_id": "noise-1", "laeq_db": 62.5},
    "unit.position": {"unit_id": "unit-p1", "speed_kmh": 30},
    "citizen.report": {"category": "violence", "description": "people fighting"},
}


def raw_event(
    type_: str = "camera.fire_smoke",
    *,
    at: datetime = T0,
    lon: float | None = LON0,
    lat: float | None = LAT0,
    source: str = "urn:test:camera",
    id_: str | None = None,
    data: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": id_ or f"ev-{next(_ids)}",
        "source": source,
        "type": type_,
        "time": at.isoformat().replace("+00:00", "Z"),
        "data": data if data is not None else dict(PAYLOADS[type_]),
    }
    if lon is not None and lat is not None:
        body["location"] = {"lon": lon, "lat": lat}
    body.update(extra)
    return body


def event(type_: str = "camera.fire_smoke", **kw: Any) -> Event:
    return parse_event(raw_event(type_, **kw))


def metres_east(metres: float) -> float:
    """Longitude offset for ``metres`` east at the test latitude."""
    import math

    return metres / (111_320 * math.cos(math.radians(LAT0)))


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def sensor_record(**overrides: Any) -> dict[str, Any]:
    """A register entry as an integrator would send it."""
    record: dict[str, Any] = {
        "id": "cam-kamppi-1",
        "kind": "camera",
        "name": "Kamppi square camera",
        "owner_agency": "helsinki-police",
        "location": {"lon": 24.9316, "lat": 60.1692},
        "measures": ["video_analytics"],
        "purpose": "Public-order incidents on the square",
        "legal_basis": "Police Act 872/2011 (demo assumption)",
        "personal_data": True,
        "retention_days": 7,
        "public": True,
    }
    record.update(overrides)
    return record
