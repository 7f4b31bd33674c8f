"""The demo's operations story: one shooting in Helsinki centre, worked through to closed.

Everything a person does goes through the HTTP API with the demo users' tokens, as the console
would: the control room acknowledges, asks for a recommendation, confirms units, ticks the
procedure, talks in the incident's channel, and closes the incident; the ambulance crew reports
its status. Everything the platform does happens by itself: it locates the shot from the
lamppost acoustic sensors' pulses, fuses the camera event, call and citizen report into the
incident, scores it, attaches the procedure, brightens the lamps by rule, follows the patrol car
by its tracker, and computes the response times. The returned record says what happened.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from safecity.core.clock import ManualClock
from safecity.core.geo import haversine_m

if TYPE_CHECKING:
    from safecity.demo import SimDevices, _Feeder
    from safecity.runtime import Runtime

#: Where the story's shots are fired: the station square, under cameras and smart lamps.
SCENE = "Rautatientori"
STEP_S = 0.5


class StoryError(RuntimeError):
    """A step of the story did not happen as it should have."""


class _Story:
    def __init__(
        self,
        runtime: Runtime,
        feeder: _Feeder,
        clock: ManualClock,
        client: httpx.AsyncClient,
        tokens: dict[str, str],
    ) -> None:
        self.runtime = runtime
        self.feeder = feeder
        self.clock = clock
        self.client = client
        self.tokens = tokens
        self.record: dict[str, Any] = {}

    def h(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def call(self, method: str, path: str, user: str, **kw: Any) -> Any:
        r = await self.client.request(method, path, headers=self.h(user), **kw)
        if r.status_code >= 400:
            raise StoryError(f"{method} {path} as {user}: {r.status_code} {r.text}")
        return r.json()

    async def advance(self, seconds: float) -> None:
        steps = max(1, round(seconds / STEP_S))
        for _ in range(steps):
            now = self.clock.advance(timedelta(seconds=STEP_S))
            await self.feeder.tick(now)
            await self.runtime.settle(60.0)

    async def until(self, seconds: float, done: Any) -> bool:
        """Advance in steps until ``await done()`` is true, for at most ``seconds``."""
        for _ in range(max(1, round(seconds / STEP_S))):
            if await done():
                return True
            await self.advance(STEP_S)
        return bool(await done())


async def run_story(
    runtime: Runtime,
    feeder: _Feeder,
    devices: SimDevices,
    clock: ManualClock,
    tokens: dict[str, str],
) -> dict[str, Any]:
    started = time.perf_counter()
    await runtime.start()
    await runtime.bus.subscribe("incidents.dispatched", feeder.follow_dispatches)
    runtime.actuators.channels.append(devices)
    app = runtime.api(manage=False)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://safecity") as client:
            story = _Story(runtime, feeder, clock, client, tokens)
            await _play(story)
            story.record["wall_seconds"] = round(time.perf_counter() - started, 2)
            return story.record
    finally:
        await runtime.stop()


async def _play(s: _Story) -> None:
    iid = await _shots(s)
    team, ranked = await _respond(s, iid)
    ambulances = [u for u in team if ranked[u]["agency_id"] != "helsinki-police"]
    await _ambulance_crew(s, iid, ambulances, ranked)
    await _work_through(s, iid, ambulances)
    await _report(s, iid)


async def _shots(s: _Story) -> str:
    """Shots at the square; the platform locates them and opens the incident."""
    sim = s.feeder.sim
    scene = sim.city.landmark(SCENE)
    if scene is None:
        raise StoryError(f"the demo city has no {SCENE}")
    await s.advance(5.0)  # patrols report in, lamps settle
    fired_at = s.clock.now() + timedelta(seconds=5)
    sim.trigger("shooting", at=fired_at, lon=scene.lon, lat=scene.lat)
    record = s.record
    record["scene"] = SCENE

    incident: dict[str, Any] = {}

    async def located() -> bool:
        found = await s.call("GET", "/v1/incidents?type=shooting", "demo-operator")
        for item in found["items"]:
            loc = item.get("location")
            if loc and haversine_m(loc["lon"], loc["lat"], scene.lon, scene.lat) < 400:
                incident.update(item)
                return True
        return False

    if not await s.until(30.0, located):
        raise StoryError("no shooting incident opened within 30 s of the shots")
    iid = str(incident["id"])
    base = f"/v1/incidents/{iid}"
    truth = next(r for r in sim.situation_log if r.kind == "shooting" and r.started_at == fired_at)
    record["incident_id"] = iid
    record["shots_fired_at"] = _iso(fired_at)

    events = (await s.call("GET", f"{base}/events?limit=1000", "demo-operator"))["items"]
    shot = next(e for e in events if e["event"]["type"] == "gunshot.located")
    pulses = [e for e in events if e["event"]["type"] == "acoustic.pulse"]
    last_pulse = max(datetime.fromisoformat(e["received_at"]) for e in pulses)
    located_at = datetime.fromisoformat(shot["received_at"])
    loc = shot["event"]["location"]
    record["gunshot"] = {
        "error_m": round(haversine_m(loc["lon"], loc["lat"], truth.lon, truth.lat), 1),
        "uncertainty": shot["event"]["data"]["ellipse"],
        "rounds": shot["event"]["data"]["rounds"],
        "sensors": len(shot["event"]["data"]["sensors_used"]),
        "pulses_linked": len(pulses),
        "located_after_last_pulse_s": round((located_at - last_pulse).total_seconds(), 2),
    }
    return iid


async def _respond(s: _Story, iid: str) -> tuple[list[str], dict[str, Any]]:
    """The control room acknowledges, takes the lead, and confirms the recommended team."""
    base = f"/v1/incidents/{iid}"
    record = s.record
    await s.advance(10.0)
    await s.call("POST", f"{base}/acknowledge", "demo-operator", json={"note": "shots, station"})
    await s.call("POST", f"{base}/assign", "demo-operator", json={"agency_id": "helsinki-police"})
    recommendation = await s.call("GET", f"{base}/recommendation", "demo-operator")
    team = list(recommendation["team"])
    if not team:
        raise StoryError(f"no units recommended: {recommendation}")
    ranked = {u["unit_id"]: u for u in recommendation["ranked"]}
    record["recommendation"] = {
        "required": recommendation["required_capabilities"],
        "team": [
            {
                "unit": ranked[u]["callsign"],
                "agency": ranked[u]["agency_id"],
                "drive_time_s": ranked[u]["drive_time_s"],
            }
            for u in team
        ],
        "alternatives": len(recommendation["ranked"]) - len(team),
        "computed_ms": recommendation["computed_ms"],
    }
    await s.call(
        "POST",
        f"{base}/dispatch",
        "demo-operator",
        json={"units": team, "note": "as recommended"},
    )
    for step in ("confirm", "warn-units", "armed-response"):
        await s.call("POST", f"{base}/checklist/{step}", "demo-operator", json={})
    await s.call(
        "POST",
        f"{base}/channel/messages",
        "demo-operator",
        json={
            "body": "Armed patrol on its way; EMS please stage at the post office corner.",
            "requires_ack": True,
        },
    )
    return team, ranked


async def _ambulance_crew(
    s: _Story, iid: str, ambulances: list[str], ranked: dict[str, Any]
) -> None:
    """The ambulance crew reports through the API (the patrol cars do by their trackers)."""
    base = f"/v1/incidents/{iid}"
    await s.advance(20.0)
    for unit in ambulances:
        await s.call(
            "POST",
            f"/v1/units/{unit}/status",
            "demo-rescue",
            json={"status": "en_route", "incident_id": iid},
        )
    thread = await s.call("GET", f"{base}/channel", "demo-rescue")
    for message in thread["messages"]:
        if message.get("requires_ack"):
            await s.call("POST", f"/v1/messages/{message['id']}/ack", "demo-rescue")
    drive = max((ranked[u]["drive_time_s"] for u in ambulances), default=0.0)
    await s.advance(max(drive, 5.0))
    for unit in ambulances:
        await s.call(
            "POST",
            f"/v1/units/{unit}/status",
            "demo-rescue",
            json={"status": "on_scene", "incident_id": iid, "note": "staged"},
        )
    await s.call("POST", f"{base}/checklist/stage-ems", "demo-rescue", json={})


async def _work_through(s: _Story, iid: str, ambulances: list[str]) -> None:
    """The patrol arrives, the rest of the evidence comes in, the scene is cleared."""
    base = f"/v1/incidents/{iid}"

    async def police_on_scene() -> bool:
        units = (await s.call("GET", "/v1/units?status=on_scene", "demo-operator"))["items"]
        return any(u["agency_id"] == "helsinki-police" and u["incident_id"] == iid for u in units)

    if not await s.until(600.0, police_on_scene):
        raise StoryError("the dispatched patrol did not reach the scene within 10 minutes")

    async def fused() -> bool:
        types = {
            e["event"]["type"]
            for e in (await s.call("GET", f"{base}/events?limit=1000", "demo-operator"))["items"]
        }
        return {"camera.abnormal", "citizen.report"} <= types

    await s.until(240.0, fused)
    await s.call("POST", f"{base}/checklist/cordon", "demo-operator", json={"note": "set"})
    await s.advance(120.0)
    for unit in ambulances:
        await s.call(
            "POST",
            f"/v1/units/{unit}/status",
            "demo-rescue",
            json={"status": "available", "note": "no casualties"},
        )
    await s.call(
        "POST",
        f"{base}/close",
        "demo-supervisor",
        json={"reason": "Scene cleared; no casualties; casings and footage secured."},
    )
    await s.advance(2.0)


async def _report(s: _Story, iid: str) -> None:
    """What the incident's record says, as any authorised reader sees it."""
    base = f"/v1/incidents/{iid}"
    final = await s.call("GET", base, "demo-operator")
    events = (await s.call("GET", f"{base}/events?limit=1000", "demo-operator"))["items"]
    by_type: dict[str, int] = {}
    reasons: dict[str, str] = {}
    for e in events:
        kind = e["event"]["type"]
        by_type[kind] = by_type.get(kind, 0) + 1
        why = e.get("link_reason", {})
        reasons.setdefault(kind, why.get("fusion_rule") or why.get("rule", ""))
    traces = (await s.call("GET", f"{base}/automations", "demo-operator"))["items"]
    fired = [t for t in traces if t["fired"]]
    lamps = [r for t in fired for r in t["results"] if r.get("kind") == "brighten_lamps"]
    kpis = await s.call("GET", f"{base}/kpis", "demo-supervisor")
    decisions = (await s.call("GET", f"{base}/dispatches", "demo-operator"))["items"]
    s.record.update(
        {
            "status": final["status"],
            "priority": final["priority"],
            "priority_factors": [
                f"{f['name']} {f['points']:+g}: {f['detail']}"
                for f in final["assessment"]["factors"]
            ],
            "area": final["area"],
            "agencies": final["agencies"],
            "linked_events": dict(sorted(by_type.items())),
            "link_reasons": dict(sorted(reasons.items())),
            "dispatch_followed_recommendation": decisions[0]["followed_recommendation"],
            "automations_fired": [t["rule_id"] for t in fired],
            "lamps_brightened": sum(len(r.get("devices", [])) for r in lamps),
            "lamp_outcome": lamps[0]["outcome"] if lamps else None,
            "checklist_done": sum(1 for i in final["procedure"]["items"] if i["done_at"]),
            "checklist_steps": len(final["procedure"]["items"]),
            "kpis_s": kpis.get("kpis", kpis),
        }
    )


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")
