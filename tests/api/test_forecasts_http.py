"""The daily place-based forecast, demand and coverage through the API, on the platform's own
events and register, with a manual clock."""

from __future__ import annotations

import gzip
import json
import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from factories import LAT0, LON0, T0, metres_east, raw_event, sensor_record
from safecity.core.clock import ManualClock
from safecity.core.identity import Agency, Role
from safecity.maps import basemap_bytes
from safecity.runtime import Runtime
from safecity.settings import Settings
from support import Api

#: The planted hotspot: 600 m east and 300 m north of the centre.
HOT_LON = LON0 + metres_east(600)
HOT_LAT = LAT0 + 300 / 111_320


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The packaged Helsinki districts as named areas, in the city's own time zone."""
    settings.city.areas = "helsinki"
    settings.city.timezone = "Europe/Helsinki"
    return settings


def _north(metres: float) -> float:
    return metres / 111_320


def _events(n_background: int = 300, n_hot: int = 80, weeks: int = 6) -> list[dict[str, Any]]:
    rng = random.Random(7)
    out: list[dict[str, Any]] = []
    span = weeks * 7 * 86_400
    for i in range(n_background + n_hot):
        hot = i < n_hot
        if hot:
            lon = HOT_LON + metres_east(rng.uniform(-30, 30))
            lat = HOT_LAT + _north(rng.uniform(-30, 30))
        else:
            lon = LON0 + metres_east(rng.uniform(-1_500, 1_500))
            lat = LAT0 + _north(rng.uniform(-1_500, 1_500))
        at = T0 - timedelta(days=1) - timedelta(seconds=rng.uniform(0, span))
        kind = rng.choice(["call", "report", "camera"])
        if kind == "call":
            ev = raw_event(
                "call.emergency",
                at=at,
                lon=lon,
                lat=lat,
                source="urn:test:cad",
                data={
                    "cad_id": f"cad-{i}",
                    "category": "assault",
                    # Officers on patrol find some of the hotspot's assaults themselves.
                    "discovered_by": "patrol" if hot and i % 2 else "public",
                },
            )
        elif kind == "report":
            ev = raw_event(
                "citizen.report",
                at=at,
                lon=lon,
                lat=lat,
                source="urn:test:portal",
                data={"category": "theft", "description": "bike stolen"},
            )
        else:
            ev = raw_event("camera.abnormal", at=at, lon=lon, lat=lat)
        out.append(ev)
    # Not counted: fire is not among the forecast's incident types.
    out.append(raw_event("camera.fire_smoke", at=T0 - timedelta(days=2), lon=LON0, lat=LAT0))
    return out


def _ingest(api: Api, events: list[dict[str, Any]]) -> None:
    for i in range(0, len(events), 200):
        r = api.client.post(
            "/v1/events/batch", json=events[i : i + 200], headers=api.h(Role.INTEGRATOR)
        )
        assert r.status_code == 200, r.text


@pytest.fixture
def seeded(api: Api) -> Api:
    _ingest(api, _events())
    return api


def _centre_distance_m(feature: dict[str, Any], lon: float, lat: float) -> float:
    ring = feature["geometry"]["coordinates"][0][:4]
    clon = sum(p[0] for p in ring) / 4
    clat = sum(p[1] for p in ring) / 4
    dx = (clon - lon) * 111_320 * math.cos(math.radians(lat))
    return math.hypot(dx, (clat - lat) * 111_320)


def test_publishing_now_ranks_the_planted_hotspot_first_with_a_card(seeded: Api) -> None:
    api = seeded
    r = api.client.get("/v1/forecasts/latest", headers=api.h(Role.ANALYST))
    assert r.status_code == 404

    r = api.client.post("/v1/forecasts/run", headers=api.h(Role.ANALYST))
    assert r.status_code == 200, r.text
    assert r.json()["published"] is True

    r = api.client.get("/v1/forecasts/latest", headers=api.h(Role.ANALYST))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["date"] == T0.date().isoformat()
    assert body["method"] == "retrospective"
    assert body["window"]["days"] == 365
    assert body["window"]["end"] == (T0.date() - timedelta(days=1)).isoformat()
    assert body["events_counted"] == 380  # the fire is not counted
    top = body["cells"]["features"][0]
    assert top["properties"]["rank"] == 1 and top["properties"]["flagged"] is True
    # The hotspot's events lie within 30 m of its centre, so at most across a cell's edge.
    assert _centre_distance_m(top, HOT_LON, HOT_LAT) < 110
    assert top["properties"]["risk"] > 5 * body["cells"]["features"][-1]["properties"]["risk"]
    assert top["geometry"]["type"] == "Polygon"
    assert body["cells_flagged"] == max(1, round(0.05 * body["cells_total"]))
    card = body["card"]
    assert card["flagged_cells"] == body["cells_flagged"]
    groups = {g["group"]: g for g in card["groups"]}
    assert len(groups) > 3 and top["properties"]["area"] in groups
    assert sum(g["cells"] for g in groups.values()) == body["cells_total"]
    assert sum(g["flagged_cells"] for g in groups.values()) == body["cells_flagged"]
    # The hotspot's area carries more than its share of the flagged cells.
    assert groups[top["properties"]["area"]]["exposure_ratio"] > 1

    # The feedback-loop check: patrol finds against public reports, by area; camera events are
    # counted as found by sensors and left out of the comparison.
    found = body["discovery"]
    assert sum(found.values()) == body["events_counted"]
    assert found["patrol"] > 0 and found["public"] > 0 and found["sensor"] > 0
    assert found["unknown"] == 0
    feedback = card["feedback"]
    assert feedback["available"] is True and feedback["ipw"] is True
    assert feedback["events"] == found["public"] + found["patrol"]
    assert math.isclose(feedback["patrol_share"], found["patrol"] / feedback["events"])
    by_area = {g["group"]: g for g in feedback["groups"]}
    assert sum(g["by_patrol"] for g in by_area.values()) == found["patrol"]
    hot = by_area[top["properties"]["area"]]
    assert hot["patrol_share"] == max(g["patrol_share"] for g in by_area.values())
    # Reweighting as if patrols were everywhere alike lowers the patrolled area's share.
    assert hot["event_share_ipw"] < hot["event_share"]
    assert any("found by sensors" in note for note in body["notes"])

    same = api.client.get(f"/v1/forecasts/{body['date']}", headers=api.h(Role.SUPERVISOR))
    assert same.status_code == 200 and same.json() == body
    missing = api.client.get("/v1/forecasts/2020-01-01", headers=api.h(Role.ANALYST))
    assert missing.status_code == 404


def test_the_daily_job_publishes_once_the_clock_passes_the_configured_time(
    seeded: Api, runtime: Runtime, clock: ManualClock
) -> None:
    job = runtime.forecast_job
    assert job is not None
    portal = seeded.client.portal
    assert portal is not None
    # T0 is 14:00 in Helsinki, past 05:00: the job catches up with today at its first look.
    portal.call(job.tick)
    assert runtime.store.get_forecast(T0.date()) is not None
    # Before 05:00 Helsinki time (03:00 UTC) the next day nothing happens; after it, the next
    # day's forecast appears.
    clock.set(datetime(2026, 11, 22, 2, 59, tzinfo=UTC))
    assert portal.call(job.tick) is None
    assert runtime.store.get_forecast(T0.date() + timedelta(days=1)) is None
    clock.set(datetime(2026, 11, 22, 3, 0, 30, tzinfo=UTC))
    run = portal.call(job.tick)
    # (The job's own loop may have ticked first; then this tick has nothing left to do.)
    assert run is None or (run.published and run.forecast is not None)
    assert runtime.store.get_forecast(T0.date() + timedelta(days=1)) is not None
    assert portal.call(job.tick) is None  # once a day
    latest = seeded.client.get("/v1/forecasts/latest", headers=seeded.h(Role.ANALYST))
    assert latest.json()["date"] == "2026-11-22"
    audit = runtime.store.list_audit(object_type="forecast", limit=50)
    assert any(
        a.action == "forecasts.publish"
        and a.object_id == "2026-11-22"
        and a.details["reason"] == "daily"
        for a in audit
    )


def test_demand_returns_a_forecast_per_area_and_staffing_rows(seeded: Api) -> None:
    r = seeded.client.get(
        "/v1/forecasts/demand?days=28&horizon_h=24", headers=seeded.h(Role.ANALYST)
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["horizon_h"] == 24
    areas = body["areas"]
    assert len(areas) > 3 and all(len(a["forecast"]) == 24 for a in areas)
    assert sum(a["history_events"] for a in areas) > 0
    assert len(body["staffing"]) == 3 * len(areas)  # three 8-hour shifts per area
    assert all(row["staff"] >= 0 for row in body["staffing"])
    assert body["backtest"] is not None and body["backtest"]["origins"] > 0
    short = seeded.client.get(
        "/v1/forecasts/demand?days=7&horizon_h=24", headers=seeded.h(Role.ANALYST)
    ).json()
    assert short["backtest"] is None and "not enough history" in short["backtest_note"]


def test_coverage_plans_new_cameras_on_lamp_posts(api: Api) -> None:
    h = api.h(Role.ADMIN)
    cams = [("cam-a", 0.0, 0.0, 90.0), ("cam-b", 120.0, 40.0, 270.0)]
    for cam_id, east, north, direction in cams:
        record = sensor_record(
            id=cam_id,
            location={"lon": LON0 + metres_east(east), "lat": LAT0 + _north(north)},
            view={"direction_deg": direction, "fov_deg": 90.0, "range_m": 40.0},
        )
        r = api.client.put(f"/v1/sensors/{cam_id}", json=record, headers=h)
        assert r.status_code == 200, r.text
    for i, (east, north) in enumerate([(60, 100), (-40, 80), (150, -60)]):
        record = sensor_record(
            id=f"lamp-{i}",
            kind="lamppost",
            name=f"Lamp {i}",
            location={"lon": LON0 + metres_east(east), "lat": LAT0 + _north(north)},
            measures=["light_level"],
            personal_data=False,
        )
        r = api.client.put(f"/v1/sensors/lamp-{i}", json=record, headers=h)
        assert r.status_code == 200, r.text

    r = api.client.get("/v1/planning/coverage?k=2&method=exact", headers=api.h(Role.ANALYST))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cameras"] == 2 and body["candidate_sites"] == 3
    assert 0 < body["covered_share"] < 1
    assert body["blind_spot_count"] > 0
    assert len(body["blind_spots"]) == min(200, body["blind_spot_count"])
    greedy = body["greedy"]
    assert len(greedy["sites"]) == 2
    assert greedy["covered_share"] > greedy["existing_share"]
    assert greedy["sites"][0]["gain"] >= greedy["sites"][1]["gain"] > 0
    assert body["exact"] is not None
    assert body["exact"]["covered_share"] >= greedy["covered_share"] - 1e-9
    assert math.isfinite(body["outdoor_m2"])
    assert body["risk_weighted"] is False and body["forecast_date"] is None

    # With a published forecast, sample points weigh the risk of their cell.
    near_lamp = [
        raw_event(
            "camera.abnormal",
            at=T0 - timedelta(days=2, minutes=i),
            lon=LON0 + metres_east(60 + i % 5),
            lat=LAT0 + _north(100 + i % 3),
        )
        for i in range(20)
    ]
    _ingest(api, near_lamp)
    assert api.client.post("/v1/forecasts/run", headers=api.h(Role.ANALYST)).status_code == 200
    weighted = api.client.get("/v1/planning/coverage?k=1", headers=api.h(Role.ANALYST)).json()
    assert weighted["risk_weighted"] is True
    assert weighted["forecast_date"] == T0.date().isoformat()
    assert len(weighted["greedy"]["sites"]) == 1 and weighted["exact"] is None


def test_permissions_and_bad_parameters(api: Api) -> None:
    for method, path in [
        ("GET", "/v1/forecasts/latest"),
        ("POST", "/v1/forecasts/run"),
        ("GET", "/v1/forecasts/demand"),
        ("GET", "/v1/forecasts/2026-11-21"),
        ("GET", "/v1/planning/coverage"),
    ]:
        r = api.client.request(method, path, headers=api.h(Role.INTEGRATOR))
        assert r.status_code == 403, (path, r.text)
    assert api.client.get("/v1/forecasts/latest").status_code == 401

    def field(path: str) -> str:
        r = api.client.get(path, headers=api.h(Role.ANALYST))
        assert r.status_code == 422, r.text
        return str(r.json()["errors"][0]["field"])

    assert field("/v1/forecasts/demand?days=3") == "query.days"
    assert field("/v1/forecasts/demand?horizon_h=1000") == "query.horizon_h"
    assert field("/v1/forecasts/not-a-date") == "path.day"
    assert field("/v1/planning/coverage?k=-1") == "query.k"
    assert field("/v1/planning/coverage?method=best") == "query.method"
    assert field("/v1/planning/coverage?mobile=6") == "query.mobile"
    assert field("/v1/planning/coverage?mobile=-1") == "query.mobile"
    assert field("/v1/planning/coverage?foliage=autumn") == "query.foliage"


def test_a_mobile_camera_is_recommended_for_a_new_cluster_not_a_steady_hotspot(
    api: Api,
) -> None:
    h = api.h(Role.ADMIN)
    record = sensor_record(
        id="cam-fixed",
        location={"lon": LON0, "lat": LAT0},
        view={"direction_deg": 90.0, "fov_deg": 90.0, "range_m": 40.0},
    )
    assert api.client.put("/v1/sensors/cam-fixed", json=record, headers=h).status_code == 200
    lamps = {"lamp-west": (-400.0, 0.0), "lamp-new": (300.0, 250.0), "lamp-south": (0.0, -300.0)}
    for lamp_id, (east, north) in lamps.items():
        record = sensor_record(
            id=lamp_id,
            kind="lamppost",
            name=lamp_id,
            location={"lon": LON0 + metres_east(east), "lat": LAT0 + _north(north)},
            measures=["light_level"],
            personal_data=False,
        )
        assert api.client.put(f"/v1/sensors/{lamp_id}", json=record, headers=h).status_code == 200

    def event(days_ago: float, east: float, north: float) -> dict[str, Any]:
        return raw_event(
            "camera.abnormal",
            at=T0 - timedelta(days=days_ago),
            lon=LON0 + metres_east(east),
            lat=LAT0 + _north(north),
        )

    rng = random.Random(11)
    events = [
        # Background over the last year.
        event(rng.uniform(1, 390), rng.uniform(-800, 800), rng.uniform(-800, 800))
        for _ in range(200)
    ]
    # A long-standing hotspot next to the west lamp: about two events a week all year.
    events += [
        event(1 + 3.5 * i + rng.random(), -400 + rng.uniform(-15, 15), 0) for i in range(110)
    ]
    # A new cluster next to another lamp, in the last two weeks only.
    events += [
        event(rng.uniform(1, 14), 300 + rng.uniform(-10, 10), 250 + rng.uniform(-10, 10))
        for _ in range(9)
    ]
    _ingest(api, events)

    r = api.client.get("/v1/planning/coverage?k=1", headers=api.h(Role.ANALYST))
    assert r.status_code == 200, r.text
    mobile = r.json()["mobile"]
    assert mobile["recent_days"] == 28 and mobile["baseline_days"] == 365
    assert mobile["window_end"] == (T0.date() - timedelta(days=1)).isoformat()
    hotspots = mobile["hotspots"]["features"]
    assert hotspots, mobile
    # The cluster's cells (it may straddle a cell edge), the most significant first.
    spot = (LON0 + metres_east(300), LAT0 + _north(250))
    near = [f for f in hotspots if _centre_distance_m(f, *spot) < 160]
    assert near and near[0] == hotspots[0]
    assert sum(f["properties"]["recent"] for f in near) >= 5
    props = near[0]["properties"]
    assert props["recent"] >= 3 and props["q"] < 0.05 and props["ratio"] > 10
    assert props["excess"] == pytest.approx(props["recent"] - props["expected"], abs=1e-5)
    assert set(props) == {"cell", "recent", "expected", "ratio", "excess", "q", "area"}
    # The steady hotspot is busy, but not new.
    west = (LON0 + metres_east(-400), LAT0)
    assert all(_centre_distance_m(f, *west) > 110 for f in hotspots)
    [site] = mobile["sites"]
    assert site["id"] == "lamp-new"
    assert {f["properties"]["cell"] for f in near} <= set(site["cells"])
    assert 0 < site["share"] <= mobile["covered_share"] <= 1
    # The lamp stands where the recent events fell: it sees most of the excess.
    assert mobile["covered_share"] > 0.6 and mobile["fixed_share"] == 0
    assert mobile["reason"] == ""

    none = api.client.get("/v1/planning/coverage?k=1&mobile=0", headers=api.h(Role.ANALYST))
    assert none.status_code == 200 and none.json()["mobile"] is None


def test_no_emerging_hotspot_means_no_mobile_site(api: Api) -> None:
    record = sensor_record(
        id="lamp-0",
        kind="lamppost",
        name="Lamp 0",
        location={"lon": LON0, "lat": LAT0},
        measures=["light_level"],
        personal_data=False,
    )
    api.client.put("/v1/sensors/lamp-0", json=record, headers=api.h(Role.ADMIN))
    body = api.client.get("/v1/planning/coverage?mobile=2", headers=api.h(Role.ANALYST)).json()
    mobile = body["mobile"]
    assert mobile["hotspots"]["features"] == [] and mobile["sites"] == []
    assert mobile["reason"]


def _nearest_deciduous_tree() -> tuple[float, float]:
    """The packaged basemap's tree nearest the test centre that is not tagged evergreen."""
    doc = json.loads(gzip.decompress(basemap_bytes("helsinki")))
    spots = [
        tuple(f["geometry"]["coordinates"])
        for f in doc["layers"]["trees"]["features"]
        if f["properties"]["kind"] == "tree" and not f["properties"].get("evergreen")
    ]
    return min(
        spots, key=lambda p: math.hypot((p[0] - LON0) / metres_east(1), (p[1] - LAT0) * 111_320)
    )


def test_trees_in_leaf_hide_views_and_private_cameras_do_not_count(
    api: Api, runtime: Runtime, settings: Settings
) -> None:
    """A camera looking past a street tree loses part of its view in leaf, not bare; a private
    camera counts only while its owner is accessible, and what only it sees is reported."""
    runtime.identity.add_agency(Agency(id="kamppi-mall", name="Kamppi mall", kind="private"))
    tree_lon, tree_lat = _nearest_deciduous_tree()
    h = api.h(Role.ADMIN)
    cams = [
        # 12 m west of the tree, looking east past it.
        ("cam-street", "helsinki-police", tree_lon - metres_east(12), tree_lat, 90.0),
        # The mall's camera on its own facade, 150 m south, looking south.
        ("cam-mall", "kamppi-mall", tree_lon, tree_lat - _north(150), 180.0),
    ]
    for cam_id, owner, lon, lat, direction in cams:
        record = sensor_record(
            id=cam_id,
            owner_agency=owner,
            location={"lon": lon, "lat": lat},
            view={"direction_deg": direction, "fov_deg": 60.0, "range_m": 40.0},
        )
        r = api.client.put(f"/v1/sensors/{cam_id}", json=record, headers=h)
        assert r.status_code == 200, r.text

    def get(query: str) -> dict[str, Any]:
        r = api.client.get(
            f"/v1/planning/coverage?k=0&mobile=0{query}", headers=api.h(Role.ANALYST)
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    # A city whose control room can use the mall's feed lists it: both cameras count.
    settings.forecast.accessible_owners = ["helsinki-police", "helsinki-rescue", "kamppi-mall"]
    leaf = get("")
    assert leaf["accessible_owners"] == ["helsinki-police", "helsinki-rescue", "kamppi-mall"]
    assert leaf["cameras"] == 2 and leaf["inaccessible"]["cameras"] == 0
    trees = leaf["trees"]
    assert trees["foliage"] == "leaf" and trees["crowns"] > 0
    assert trees["cost_share"] > 0
    assert trees["covered_share_without_trees"] == pytest.approx(
        leaf["covered_share"] + trees["cost_share"], abs=1e-5
    )
    bare = get("&foliage=bare")
    assert bare["trees"]["foliage"] == "bare" and bare["trees"]["crowns"] < trees["crowns"]
    assert bare["covered_share"] > leaf["covered_share"]
    assert bare["covered_share"] == pytest.approx(trees["covered_share_without_trees"], abs=1e-5)

    # By default a private owner's feed is not the control room's: its camera does not count.
    settings.forecast.accessible_owners = None
    private = get("")
    assert private["accessible_owners"] == ["helsinki-police", "helsinki-rescue"]
    assert private["cameras"] == 1
    gone = private["inaccessible"]
    assert gone["cameras"] == 1 and gone["owners"] == {"kamppi-mall": 1}
    assert gone["only_m2"] > 0 and gone["only_points"] > 0
    assert private["covered_share"] + gone["only_share"] == pytest.approx(
        leaf["covered_share"], abs=1e-4
    )
    assert private["blind_spot_count"] == leaf["blind_spot_count"] + gone["only_points"]
