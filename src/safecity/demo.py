"""The demo city, wired: Helsinki centre's simulated feeds through the real ingest path.

Live mode serves the API on localhost and feeds events in real time; headless mode runs a
scripted, time-bounded demo on a simulated clock as fast as the machine allows and summarises.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from safecity.core.actuators import ActuatorCommand, CommandName, CommandOutcome, CommandResult
from safecity.core.clock import Clock, ManualClock, SystemClock
from safecity.core.geo import Location
from safecity.core.identity import Agency, Principal, Role, User
from safecity.core.messages import decode_incident_change
from safecity.core.operations import UnitDefinition
from safecity.core.payloads import UnitState
from safecity.core.ports import BusMessage
from safecity.core.records import IncidentQuery
from safecity.governance.identity import system_principal
from safecity.ingest.service import Rejected
from safecity.processors.automation.examples import EXAMPLE_RULES
from safecity.processors.automation.rules import AutomationConfig
from safecity.runtime import Runtime, build_runtime
from safecity.settings import Settings
from safecity.sim.city import (
    AGENCY_CITY,
    AGENCY_POLICE,
    AGENCY_RESCUE,
    ATTRIBUTION,
    PATROL_UNIT_IDS,
    DemoCity,
)
from safecity.sim.feeds import encode, frigate_cameras
from safecity.sim.scenario import CitySimulator, SimConfig

AGENCIES = (
    Agency(id=AGENCY_POLICE, name="Helsinki Police Department", kind="police"),
    Agency(id=AGENCY_RESCUE, name="Helsinki City Rescue Department", kind="fire"),
    Agency(id=AGENCY_CITY, name="City of Helsinki", kind="municipality"),
)
USERS = (
    User(
        id="demo-operator",
        agency_id=AGENCY_POLICE,
        display_name="Demo operator",
        role=Role.OPERATOR,
    ),
    User(
        id="demo-supervisor",
        agency_id=AGENCY_POLICE,
        display_name="Demo supervisor",
        role=Role.SUPERVISOR,
    ),
    User(
        id="demo-feeds", agency_id=AGENCY_CITY, display_name="Demo city feeds", role=Role.INTEGRATOR
    ),
    User(
        id="demo-rescue",
        agency_id=AGENCY_RESCUE,
        display_name="Demo rescue dispatcher",
        role=Role.OPERATOR,
    ),
)
#: The rescue department's units, at Erottaja fire station (no vehicle trackers in the demo:
#: their crews report status through the API, and they are placed at their station).
RESCUE_STATION = "Erottajan paloasema"
RESCUE_UNITS = (
    ("ems-1", "ambulance", "EMS 1", ("paramedic",)),
    ("ems-2", "ambulance", "EMS 2", ("paramedic",)),
    ("fire-1", "fire_engine", "Engine 1", ("fire_suppression", "rescue")),
)
#: A legacy gateway in the demo sends one malformed message this often, so the dead-letter
#: path is visible; its source says what it is.
BROKEN_EVERY_S = 45
LEGACY_SOURCE = "urn:safecity:demo:legacy-lamp-gateway"


async def _seed(runtime: Runtime, city: DemoCity) -> dict[str, str]:
    for agency in AGENCIES:
        runtime.identity.ensure_agency(agency)
    for user in USERS:
        runtime.identity.ensure_user(user)
    tokens = {u.id: runtime.identity.issue_token(u.id, label="demo").secret for u in USERS}
    admin = system_principal(AGENCY_CITY)
    for sensor in city.sensors():
        await runtime.sensors.upsert(admin, sensor)
    await _seed_units(runtime, city)
    return tokens


async def _seed_units(runtime: Runtime, city: DemoCity) -> None:
    """Police patrols (the simulator drives them and their trackers report status) and the
    rescue department's ambulances and engine at their station, clocked on."""
    admin = system_principal(role=Role.ADMIN)
    for i, unit_id in enumerate(PATROL_UNIT_IDS, start=1):
        armed = i % 2 == 1  # every other patrol carries the armed-response kit
        await runtime.units.register(
            admin,
            UnitDefinition(
                id=unit_id,
                agency_id=AGENCY_POLICE,
                kind="patrol_car",
                callsign=f"P-{i}",
                capabilities=("patrol", "armed_response") if armed else ("patrol",),
                home_station="Helsinki police, city centre",
            ),
        )
    station = city.landmark(RESCUE_STATION)
    home = Location(lon=station.lon, lat=station.lat) if station is not None else None
    for unit_id, kind, callsign, capabilities in RESCUE_UNITS:
        await runtime.units.register(
            admin,
            UnitDefinition(
                id=unit_id,
                agency_id=AGENCY_RESCUE,
                kind=kind,
                callsign=callsign,
                capabilities=capabilities,
                home_station=RESCUE_STATION,
                home=home,
            ),
        )
        await runtime.units.set_status(admin, unit_id, UnitState.AVAILABLE, note="shift start")


class SimDevices:
    """The simulated lamps and bollards take commands like real ones: an automation's or an
    operator's command changes the device, which then reports its new state as an event."""

    def __init__(self, sim: CitySimulator) -> None:
        self._sim = sim
        self._lamps = {d.id for d in sim.city.lamps}
        self._bollards = {d.id for d in sim.city.bollards}
        self.commands: list[ActuatorCommand] = []

    def handles(self, device_id: str) -> bool:
        return device_id in self._lamps or device_id in self._bollards

    async def send(self, command: ActuatorCommand) -> CommandResult:
        self.commands.append(command)
        if command.command is CommandName.LIGHT_LEVEL:
            done = self._sim.command_lamp(command.device_id, int(command.value))
        else:
            done = self._sim.command_bollard(command.device_id, str(command.value))
        outcome = CommandOutcome.ACKNOWLEDGED if done else CommandOutcome.REFUSED
        return CommandResult(command, outcome, "simulated device", command.issued_at)


def helsinki_settings(db: Path) -> Settings:
    """Settings for the packaged Helsinki centre on the store at ``db``: its time zone, its
    vulnerable places, districts and road network (the demo's, the tests' and benchmarks')."""
    settings = Settings()
    settings.store.path = db
    settings.city.timezone = "Europe/Helsinki"
    settings.city.places = "helsinki"
    settings.city.areas = "helsinki"
    settings.routing.network = "helsinki"
    return settings


def demo_settings(city: DemoCity, db: Path, port: int, air_temperature_c: float) -> Settings:
    """The demo's configuration: Helsinki's map, roads, districts, automations, Frigate NVR."""
    settings = helsinki_settings(db)
    settings.api.port = port
    settings.city.name = city.name
    settings.gunshot.temperature_c = round(air_temperature_c, 1)
    settings.automations = AutomationConfig(rules=EXAMPLE_RULES)
    # The demo's NVR is a Frigate server; Frigate sends no positions, so its cameras are placed.
    settings.adapters = [frigate_cameras([(c.id, c.lon, c.lat) for c in city.cameras])]
    return settings


def _broken_message(n: int, at: datetime) -> dict[str, Any]:
    stamp = at.isoformat().replace("+00:00", "Z")
    variants: list[dict[str, Any]] = [
        {
            "id": f"legacy-{n}",
            "source": LEGACY_SOURCE,
            "type": "lamp.fault",
            "time": stamp,
            "location": {"lon": 24.94, "lat": 91.7},
            "data": {"lamp_id": "L-17", "fault": "lamp_out"},
        },
        {
            "id": f"legacy-{n}",
            "source": LEGACY_SOURCE,
            "type": "lamp.flicker",
            "time": stamp,
            "data": {"lamp_id": "L-17"},
        },
        {
            "id": f"legacy-{n}",
            "source": LEGACY_SOURCE,
            "type": "lamp.light_level",
            "time": stamp,
            "data": {"lamp_id": "L-17", "level_pct": "bright"},
        },
    ]
    return variants[n % len(variants)]


class _Feeder:
    """Moves the simulator forward and pushes its events through ingest."""

    def __init__(self, runtime: Runtime, sim: CitySimulator, feeds: Principal) -> None:
        self.runtime = runtime
        self.sim = sim
        self.feeds = feeds
        self.broken_sent = 0
        self._next_broken: datetime = sim.now + timedelta(seconds=BROKEN_EVERY_S)
        #: Messages sent per wire format (adapter name, or "cloudevents" for the native API).
        self.messages: Counter[str] = Counter()

    async def tick(self, until: datetime) -> int:
        wires, native = encode(self.sim.step(until))
        items: list[Any] = native
        while self._next_broken <= until:
            items.append(_broken_message(self.broken_sent, self._next_broken))
            self.broken_sent += 1
            self._next_broken += timedelta(seconds=BROKEN_EVERY_S)
        for wire in wires:
            self.messages[wire.adapter] += 1
            # A refused message is already dead-lettered with its reasons; the feed goes on.
            with contextlib.suppress(Rejected):
                await self.runtime.adapters.receive(
                    wire.adapter,
                    wire.raw,
                    principal=self.feeds,
                    channel="demo-feeds",
                    content_type=wire.content_type,
                    origin=wire.origin,
                )
        if items:
            self.messages["cloudevents"] += len(items)
            await self.runtime.ingest.ingest_objects(
                items, principal=self.feeds, channel="demo-feeds"
            )
        return len(wires) + len(items)

    async def follow_dispatches(self, batch: Sequence[BusMessage]) -> None:
        # A person's dispatch decision moves the simulated units (never the other way round).
        for message in batch:
            change = decode_incident_change(message)
            loc = change.incident.location
            if change.action == "dispatched" and loc is not None:
                for unit in change.incident.units:
                    if unit in self.sim.unit_ids:
                        self.sim.dispatch(unit, loc.lon, loc.lat, incident_id=change.incident.id)


async def _summary(
    runtime: Runtime, sim: CitySimulator, feeder: _Feeder, started: float, sim_seconds: float
) -> dict[str, Any]:
    incidents = await asyncio.to_thread(runtime.store.list_incidents, IncidentQuery(limit=100_000))
    by_type = Counter(i.type for i in incidents)
    wall = time.perf_counter() - started
    return {
        "city": sim.city.name,
        "attribution": ATTRIBUTION,
        "simulated_seconds": round(sim_seconds, 1),
        "wall_seconds": round(wall, 2),
        "events_ingested": runtime.ingest.accepted,
        "duplicates": runtime.ingest.duplicates,
        "rejects": runtime.ingest.rejected,
        "dead_letters": runtime.store.count_dead_letters(),
        "incidents_opened": len(incidents),
        "incidents_by_type": dict(sorted(by_type.items())),
        "situations_started": dict(sorted(sim.situations_started.items())),
        "events_linked_to_incidents": sum(i.event_count for i in incidents),
        "sensors_registered": len(sim.sensors()),
        "messages_by_format": dict(sorted(feeder.messages.items())),
        "events_per_wall_second": round(runtime.ingest.accepted / wall, 1) if wall else None,
    }


async def run_demo(
    *,
    duration_s: float | None,
    headless: bool,
    seed: int,
    port: int,
    db: Path | None,
    quiet: bool,
    console: Console,
    start: datetime | None = None,
    story: bool = False,
) -> dict[str, Any]:
    """Run the demo; returns the summary (also printed by the CLI in headless mode).
    ``start`` (headless only) fixes the simulated start, so a seed repeats a run exactly.
    ``story`` (headless) works one shooting through to closed via the API instead."""
    workdir = None
    if db is None:
        workdir = tempfile.TemporaryDirectory(prefix="safecity-demo-")
        db = Path(workdir.name) / "demo.db"
    city = DemoCity.load()
    if start is None or not headless:
        start = datetime.now(UTC).replace(microsecond=0)
    clock: Clock = ManualClock(start) if headless else SystemClock()
    sim = CitySimulator(
        city, clock, seed=seed, config=SimConfig(first_situation=None) if story else SimConfig()
    )
    settings = demo_settings(city, db, port, sim.air_temperature(start))
    # A headless run covers minutes of simulated time: the daily forecast job has nothing to do
    # there, and its wall-clock timer would only make runs differ.
    settings.forecast.enabled = not headless
    runtime = build_runtime(settings, clock=clock)
    devices = SimDevices(sim)
    try:
        tokens = await _seed(runtime, city)
        feeds = Principal(
            user_id="demo-feeds",
            agency_id=AGENCY_CITY,
            role=Role.INTEGRATOR,
            purpose=system_principal(role=Role.INTEGRATOR).purpose,
        )
        feeder = _Feeder(runtime, sim, feeds)
        if story:
            from safecity.demo_story import run_story

            assert isinstance(clock, ManualClock)
            return await run_story(runtime, feeder, devices, clock, tokens)
        if headless:
            return await _headless(runtime, feeder, devices, clock, duration_s or 300.0)
        return await _live(runtime, feeder, devices, tokens, duration_s, port, quiet, console)
    finally:
        if workdir is not None:
            workdir.cleanup()


async def _headless(
    runtime: Runtime, feeder: _Feeder, devices: SimDevices, clock: Clock, duration_s: float
) -> dict[str, Any]:
    assert isinstance(clock, ManualClock)
    await runtime.start()
    runtime.actuators.channels.append(devices)
    await runtime.bus.subscribe("incidents.dispatched", feeder.follow_dispatches)
    started = time.perf_counter()
    begin = clock.now()
    try:
        elapsed = 0.0
        while elapsed < duration_s:
            step = min(1.0, duration_s - elapsed)
            await feeder.tick(clock.advance(timedelta(seconds=step)))
            # Each simulated second is worked through before the next, so a seed repeats a run
            # exactly however fast or slow the machine is.
            await runtime.settle(60.0)
            elapsed += step
        await runtime.settle(60.0)
        return await _summary(
            runtime, feeder.sim, feeder, started, (clock.now() - begin).total_seconds()
        )
    finally:
        await runtime.stop()


async def _live(
    runtime: Runtime,
    feeder: _Feeder,
    devices: SimDevices,
    tokens: dict[str, str],
    duration_s: float | None,
    port: int,
    quiet: bool,
    console: Console,
) -> dict[str, Any]:
    import uvicorn

    app = runtime.api(info={"mode": "demo", "city": feeder.sim.city.name})
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            raise RuntimeError(f"the API could not start on 127.0.0.1:{port} (port in use?)")
        await asyncio.sleep(0.05)
    await runtime.bus.subscribe("incidents.dispatched", feeder.follow_dispatches)
    runtime.actuators.channels.append(devices)
    base = f"http://127.0.0.1:{port}"
    if not quiet:
        op = tokens["demo-operator"]
        lines = [
            f"[bold]safecity demo[/]: {feeder.sim.city.name} ({ATTRIBUTION})",
            f"  console        {base}/console/#token={op}",
            f"  rescue console {base}/console/#token={tokens['demo-rescue']}",
            f"  public portal  {base}/portal/",
            f"  API docs       {base}/docs",
            f"  incidents      curl -H 'Authorization: Bearer {op}' {base}/v1/incidents",
            f"  live stream    ws://127.0.0.1:{port}/v1/stream?access_token={op}",
            f"  register       {base}/public/v1/sensors",
            f"  operator token {op}",
            f"  supervisor     {tokens['demo-supervisor']}",
        ]
        for line in lines:
            console.print(line, soft_wrap=True)  # never wrap: tokens must copy whole
        console.print("  Ctrl-C stops the demo.")
    started = time.perf_counter()
    begin = runtime.clock.now()
    last_report = 0.0
    try:
        while not server.should_exit:
            now = runtime.clock.now()
            elapsed = (now - begin).total_seconds()
            if duration_s is not None and elapsed >= duration_s:
                break
            await feeder.tick(now)
            if not quiet and elapsed - last_report >= 10:
                last_report = elapsed
                open_count = len(
                    await asyncio.to_thread(
                        runtime.store.list_incidents, IncidentQuery(statuses=("new",), limit=1000)
                    )
                )
                console.print(
                    f"  [{elapsed:5.0f} s] events {runtime.ingest.accepted}, "
                    f"new incidents {open_count}, rejected {runtime.ingest.rejected}"
                )
            await asyncio.sleep(0.5)
        await runtime.settle(10.0)
        return await _summary(
            runtime, feeder.sim, feeder, started, (runtime.clock.now() - begin).total_seconds()
        )
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
