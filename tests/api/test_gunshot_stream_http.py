"""Acoustic pulses from lamppost sensors come in over HTTP; the platform locates the shot
itself, emits a located-gunshot event that opens the incident, and links the pulses to it."""

from __future__ import annotations

import math
from datetime import timedelta

from factories import LAT0, LON0, T0, raw_event
from safecity.core.clock import ManualClock
from safecity.core.geo import haversine_m
from safecity.core.identity import Role
from safecity.runtime import Runtime
from support import Api, settle

SENSORS = {  # (east m, north m) around the test centre: a ring of lamppost sensors
    "ac-1": (-220.0, -140.0),
    "ac-2": (210.0, -180.0),
    "ac-3": (240.0, 190.0),
    "ac-4": (-190.0, 230.0),
    "ac-5": (20.0, -260.0),
    "ac-6": (-280.0, 40.0),
}
SHOOTER = (35.0, 50.0)


def offset(east: float, north: float) -> tuple[float, float]:
    lat = LAT0 + north / 111_320.0
    lon = LON0 + east / (111_320.0 * math.cos(math.radians(LAT0)))
    return lon, lat


def pulses(temperature_c: float, rounds: int = 2) -> list[dict[str, object]]:
    speed = 20.05 * math.sqrt(temperature_c + 273.15)
    shooter = offset(*SHOOTER)
    out = []
    for r in range(rounds):
        fired = T0 + timedelta(seconds=0.6 * r)
        for sensor_id, (east, north) in SENSORS.items():
            lon, lat = offset(east, north)
            distance = haversine_m(lon, lat, *shooter)
            arrival = fired + timedelta(seconds=distance / speed)
            out.append(
                raw_event(
                    "acoustic.pulse",
                    source=f"urn:test:lamp-acoustic:{sensor_id}",
                    lon=lon,
                    lat=lat,
                    at=arrival,
                    data={
                        "sensor_id": sensor_id,
                        "arrival_time": arrival.isoformat().replace("+00:00", "Z"),
                        "snr_db": 30.0,
                    },
                )
            )
    return out


def test_pulses_are_located_into_a_gunshot_that_opens_the_incident(
    api: Api, runtime: Runtime, clock: ManualClock
) -> None:
    temperature = runtime.settings.gunshot.temperature_c
    r = api.client.post(
        "/v1/events/batch", json=pulses(temperature), headers=api.h(Role.INTEGRATOR)
    )
    assert r.status_code in (200, 202), r.text
    settle(api, runtime)
    assert api.client.get("/v1/incidents", headers=api.h()).json()["items"] == []
    clock.advance(timedelta(seconds=1))  # the burst has been quiet for the settle time
    settle(api, runtime)
    (incident,) = api.client.get("/v1/incidents", headers=api.h()).json()["items"]
    assert incident["type"] == "shooting"
    events = api.client.get(f"/v1/incidents/{incident['id']}/events", headers=api.h()).json()
    types = [e["event"]["type"] for e in events["items"]]
    assert types.count("gunshot.located") == 1
    assert types.count("acoustic.pulse") == 12  # every pulse is evidence on the incident
    located = next(e["event"] for e in events["items"] if e["event"]["type"] == "gunshot.located")
    assert located["source"] == "urn:safecity:gunshot-localiser"
    lon, lat = located["location"]["lon"], located["location"]["lat"]
    assert haversine_m(lon, lat, *offset(*SHOOTER)) < 3.0
    data = located["data"]
    assert data["rounds"] == 2
    assert data["ellipse"]["semi_major_m"] >= data["ellipse"]["semi_minor_m"] > 0
    assert sorted(data["sensors_used"]) == sorted(SENSORS)
