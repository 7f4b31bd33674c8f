"""The one place that chooses and wires store, bus, services and processors from settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safecity.adapters import registry
from safecity.adapters.base import (
    Connector,
    ConnectorContext,
    DeadLetterSink,
    InboundBatchSink,
    InboundSink,
)
from safecity.adapters.configuration import load_instances
from safecity.core.actuators import ActuatorChannel
from safecity.core.areas import AreaMap
from safecity.core.clock import Clock, ManualClock, SystemClock
from safecity.core.errors import FieldError
from safecity.core.identity import Principal, Purpose, Role
from safecity.core.ports import EventBus, Store
from safecity.core.priority import PriorityConfig, PriorityModel
from safecity.governance.audit import AuditLog
from safecity.governance.identity import IdentityService, system_principal
from safecity.governance.registry import SensorRegistry
from safecity.incidents.actuators import ActuatorService
from safecity.incidents.service import IncidentService
from safecity.ingest.adapters import AdapterIntake
from safecity.ingest.queries import EventQueries
from safecity.ingest.service import IngestLimits, IngestService, Rejected
from safecity.maps import PACKAGED as PACKAGED_MAPS
from safecity.maps import load_areas, load_places
from safecity.operations.automations import AutomationService, ChannelNotifier
from safecity.operations.channels import ChannelService
from safecity.operations.dispatch import DispatchService
from safecity.operations.forecasting import DailyForecastJob, ForecastService
from safecity.operations.kpis import KpiService
from safecity.operations.procedures import ProcedureService
from safecity.operations.units import UnitFeedFollower, UnitService
from safecity.processors.correlation import (
    CorrelationConfig,
    CorrelationProcessor,
    CorrelationRule,
    Correlator,
)
from safecity.processors.correlation.engine import (
    DEFAULT_RULES,
    DUPLICATE_REPORTS,
    SHOTS_FIRED,
    CorrelationPlan,
    FusionRule,
    pair_rules,
)
from safecity.processors.gunshot.processor import GunshotProcessor
from safecity.routing.network import PACKAGED as PACKAGED_NETWORKS
from safecity.routing.network import RoadNetwork
from safecity.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


def make_store(settings: Settings, clock: Clock) -> Store:
    from safecity.store.sqlite import SqliteStore

    store = SqliteStore(settings.store.path, clock=clock)
    store.migrate()
    return store


def make_bus(settings: Settings) -> EventBus:
    from safecity.bus.memory import MemoryBus

    del settings
    return MemoryBus()


def correlation_config(settings: Settings) -> CorrelationConfig:
    c = settings.correlation
    rules = dict(DEFAULT_RULES)
    for kind in set(c.radius_m) | set(c.window_s):
        base = rules.get(
            kind, CorrelationRule(c.default_radius_m, timedelta(seconds=c.default_window_s))
        )
        rules[kind] = CorrelationRule(
            c.radius_m.get(kind, base.radius_m),
            timedelta(seconds=c.window_s[kind]) if kind in c.window_s else base.window,
        )
    if c.fusion is None:
        fusion = (SHOTS_FIRED, DUPLICATE_REPORTS, *pair_rules(rules))
    else:
        fusion = tuple(
            FusionRule(
                f.name,
                f.radius_m,
                timedelta(seconds=f.window_s),
                event_types=frozenset(f.event_types),
                incident_types=frozenset(f.incident_types),
                same_incident_type=f.same_incident_type,
            )
            for f in c.fusion
        )
    city = settings.city
    places = _resolve(settings, city.places, PACKAGED_MAPS)
    areas = _resolve(settings, city.areas, PACKAGED_MAPS)
    return CorrelationConfig(
        default=CorrelationRule(c.default_radius_m, timedelta(seconds=c.default_window_s)),
        per_type=rules,
        fusion=fusion,
        priority=PriorityModel(
            PriorityConfig(timezone=city.timezone, vulnerable_radius_m=city.vulnerable_radius_m),
            load_places(places) if places is not None else None,
        ),
        areas=load_areas(areas) if areas is not None else AreaMap(),
    )


def _gunshot(
    settings: Settings, bus: EventBus, clock: Clock, ingest: IngestService
) -> GunshotProcessor | None:
    g = settings.gunshot
    if not g.enabled:
        return None
    localiser = system_principal(role=Role.INTEGRATOR, acting_as="system:gunshot-localiser")

    async def emit(events: list[dict[str, Any]]) -> None:
        await ingest.ingest_objects(events, principal=localiser, channel="gunshot-localiser")

    # A manual clock moves only when its owner steps it; a wall-clock poll would race those
    # steps and make runs differ, so the owner's settle() (which flushes) locates bursts instead.
    poll_s = None if isinstance(clock, ManualClock) else 0.1
    return GunshotProcessor(
        bus, clock, emit, temperature_c=g.temperature_c, settle_s=g.settle_s, poll_s=poll_s
    )


def road_network(settings: Settings) -> RoadNetwork | None:
    """The configured road network for drive times, or None (recommendation off)."""
    found = _resolve(settings, settings.routing.network, PACKAGED_NETWORKS)
    if found is None:
        return None
    return RoadNetwork.load(found) if isinstance(found, str) else RoadNetwork.from_file(found)


def _resolve(settings: Settings, value: str | None, packaged: Sequence[str]) -> str | Path | None:
    """A packaged data name as is; a file path relative to the settings file's folder."""
    if value is None or value in packaged:
        return value
    path = Path(value)
    if not path.is_absolute() and settings.config_dir is not None:
        path = settings.config_dir / path
    return path


@dataclass
class Runtime:
    """A running safecity: every service, sharing one store, one bus and one clock."""

    settings: Settings
    clock: Clock
    store: Store
    bus: EventBus
    audit: AuditLog
    identity: IdentityService
    ingest: IngestService
    events: EventQueries
    incidents: IncidentService
    sensors: SensorRegistry
    correlation: CorrelationProcessor
    adapters: AdapterIntake
    actuators: ActuatorService
    units: UnitService
    unit_feed: UnitFeedFollower
    procedures: ProcedureService
    dispatch: DispatchService
    channels: ChannelService
    automations: AutomationService
    gunshot: GunshotProcessor | None
    kpis: KpiService
    connectors: list[Connector] = field(default_factory=list)
    forecasts: ForecastService | None = None
    forecast_job: DailyForecastJob | None = None

    async def start(self) -> None:
        await self.bus.start()
        await self.correlation.start()
        await self.procedures.start()
        await self.channels.start()
        await self.unit_feed.start()
        await self.automations.start()
        if self.gunshot is not None:
            await self.gunshot.start()
        if self.forecast_job is not None:
            await self.forecast_job.start()
        self.connectors = make_connectors(self)
        for connector in self.connectors:
            await connector.start()
        self.actuators.channels = [c for c in self.connectors if isinstance(c, ActuatorChannel)]

    async def stop(self) -> None:
        if self.forecast_job is not None:
            await self.forecast_job.stop()
        self.actuators.channels = []
        for connector in self.connectors:
            await connector.stop()
        self.connectors = []
        # Bursts still open are located now; their events are ingested before the rest stops.
        if self.gunshot is not None:
            await self.gunshot.stop()
        # Let correlation finish what was accepted before the bus goes away.
        await self.settle(timeout_s=10.0)
        await self.correlation.stop()
        await self.automations.stop()
        await self.unit_feed.stop()
        await self.channels.stop()
        await self.procedures.stop()
        await self.bus.close()
        self.store.close()

    async def settle(self, timeout_s: float = 30.0) -> bool:
        """Wait until correlation has seen every accepted event; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        for _ in range(3):
            while self.correlation.events_seen < self.ingest.accepted:
                if loop.time() > deadline:
                    return False
                await asyncio.sleep(0.005)
            # Then what correlation caused: procedures, channel log, automations, unit feeds.
            if not await self.bus.idle(max(0.1, deadline - loop.time())):
                return False
            # Bursts of pulses quiet by now are located (their events go round once more).
            if self.gunshot is None or not await self.gunshot.flush(self.clock.now()):
                return True
        return True

    def api(self, *, info: dict[str, str] | None = None, manage: bool = True) -> FastAPI:
        """The HTTP app. With ``manage`` the app's lifespan starts and stops this runtime."""
        from safecity.api.app import create_app
        from safecity.api.deps import ApiServices

        a = self.settings.api
        return create_app(
            ApiServices(
                clock=self.clock,
                bus=self.bus,
                identity=self.identity,
                ingest=self.ingest,
                events=self.events,
                incidents=self.incidents,
                sensors=self.sensors,
                audit=self.audit,
                adapters=self.adapters,
                actuators=self.actuators,
                units=self.units,
                procedures=self.procedures,
                dispatch=self.dispatch,
                channels=self.channels,
                automations=self.automations,
                kpis=self.kpis,
                forecasts=self.forecasts,
                max_body_bytes=a.max_body_bytes,
                max_inflight_ingest=a.max_inflight_ingest,
                retry_after_s=a.retry_after_s,
                info=info or {},
                basemap=(
                    self.settings.city.places
                    if self.settings.city.places in PACKAGED_MAPS
                    else None
                ),
                correlated=lambda: self.correlation.events_seen,
            ),
            on_start=[self.start] if manage else [],
            on_stop=[self.stop] if manage else [],
        )


def make_connectors(runtime: Runtime) -> list[Connector]:
    """A connector for every configured adapter instance that has its own transport."""
    found: list[Connector] = []
    for instance in runtime.adapters.instances.values():
        factory = registry.connector_factory(instance.adapter)
        if factory is None:
            continue
        principal = Principal(
            user_id=f"connector-{instance.name}",
            agency_id="safecity",
            role=Role.INTEGRATOR,
            purpose=Purpose.SYSTEM_OPERATIONS,
        )
        found.append(
            factory(
                ConnectorContext(
                    name=instance.name,
                    config=instance.config,
                    bus=runtime.bus,
                    clock=runtime.clock,
                    receive=_inbound(runtime.adapters, principal, instance.name),
                    receive_batch=_inbound_batch(runtime.adapters, principal, instance.name),
                    dead_letter=_dead_letter(runtime.ingest),
                )
            )
        )
    return found


def _inbound(intake: AdapterIntake, principal: Principal, name: str) -> InboundSink:
    async def receive(
        adapter: str, raw: bytes, *, content_type: str | None, origin: str | None
    ) -> None:
        # Refused input is already in the dead-letter store with its reasons.
        with contextlib.suppress(Rejected):
            await intake.receive(
                adapter,
                raw,
                principal=principal,
                channel=f"connector:{name}",
                content_type=content_type,
                origin=origin,
            )

    return receive


def _inbound_batch(intake: AdapterIntake, principal: Principal, name: str) -> InboundBatchSink:
    async def receive_many(
        adapter: str, messages: Sequence[tuple[bytes, str | None]], *, content_type: str | None
    ) -> None:
        await intake.receive_many(
            adapter,
            messages,
            principal=principal,
            channel=f"connector:{name}",
            content_type=content_type,
        )

    return receive_many


def _dead_letter(ingest: IngestService) -> DeadLetterSink:
    async def keep(
        raw: bytes, *, channel: str, content_type: str | None, errors: list[FieldError]
    ) -> int:
        return await ingest.dead_letter_raw(
            raw, channel=channel, content_type=content_type, errors=errors
        )

    return keep


def _audit_correlation(audit: AuditLog, correlator: Correlator) -> Any:
    """Incidents the platform opens or changes by itself are audited like a person's changes."""

    def record(events: int, plan: CorrelationPlan) -> None:
        audit.append(
            actor=correlator.config.actor,
            agency_id=None,
            purpose=Purpose.INCIDENT_RESPONSE.value,
            action="incidents.correlate",
            object_type="incident",
            object_id=None,
            details={
                "events": events,
                "opened": plan.opened[:100],
                "updated": [w.incident.id for w in plan.writes if w.expected_version is not None][
                    :100
                ],
            },
        )

    return record


def build_runtime(settings: Settings | None = None, *, clock: Clock | None = None) -> Runtime:
    settings = settings or Settings()
    clock = clock or SystemClock()
    store = make_store(settings, clock)
    bus = make_bus(settings)
    audit = AuditLog(store, clock)
    ingest = IngestService(
        store,
        bus,
        clock,
        audit,
        IngestLimits(max_future_skew=timedelta(seconds=settings.max_future_skew_s)),
    )
    config = correlation_config(settings)
    correlator = Correlator(config, clock)
    sensors = SensorRegistry(store, audit, clock)
    incidents = IncidentService(
        store, bus, clock, audit, priority=config.priority, areas=config.areas
    )
    units = UnitService(store, bus, clock, audit, incidents)
    procedures = ProcedureService(store, bus, clock, incidents)
    actuators = ActuatorService(store, audit, clock)
    adapters = AdapterIntake(
        ingest, sensors, clock, load_instances(settings.adapters, base=settings.config_dir)
    )
    runtime = Runtime(
        settings=settings,
        clock=clock,
        store=store,
        bus=bus,
        audit=audit,
        identity=IdentityService(store, clock),
        ingest=ingest,
        events=EventQueries(store, audit),
        incidents=incidents,
        sensors=sensors,
        correlation=CorrelationProcessor(
            store, bus, correlator, clock, on_batch=_audit_correlation(audit, correlator)
        ),
        actuators=actuators,
        units=units,
        unit_feed=UnitFeedFollower(units, bus),
        procedures=procedures,
        dispatch=DispatchService(
            store,
            clock,
            audit,
            incidents,
            units,
            procedures,
            road_network(settings),
        ),
        channels=ChannelService(store, bus, clock, audit),
        kpis=KpiService(store, clock, audit, targets=settings.kpis.targets),
        adapters=adapters,
        gunshot=_gunshot(settings, bus, clock, ingest),
        automations=AutomationService(
            store,
            bus,
            clock,
            audit,
            actuators,
            settings.automations.rules,
            webhooks=[i.name for i in adapters.instances.values() if i.adapter == "webhook_out"],
        ),
    )
    runtime.automations.notifier = ChannelNotifier(runtime.channels)
    runtime.forecasts = ForecastService(
        store,
        clock,
        audit,
        settings.forecast,
        timezone=settings.city.timezone,
        areas=config.areas,
        basemaps=PACKAGED_MAPS,
    )
    runtime.forecast_job = DailyForecastJob(runtime.forecasts, clock)
    return runtime
