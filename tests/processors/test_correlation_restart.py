"""Correlation survives a stop: what was accepted but not yet correlated is correlated on start."""

from __future__ import annotations

import asyncio

from factories import LON0, later, metres_east, raw_event
from safecity.core.clock import ManualClock
from safecity.core.identity import Principal, Purpose, Role
from safecity.core.records import IncidentQuery
from safecity.processors.correlation.processor import CHECKPOINT
from safecity.runtime import build_runtime
from safecity.settings import Settings

FEEDS = Principal("feeds", "city", Role.INTEGRATOR, Purpose.SYSTEM_OPERATIONS)


def test_events_accepted_while_correlation_was_down_are_correlated_on_start(
    settings: Settings, clock: ManualClock
) -> None:
    async def scenario() -> None:
        # A first run correlates one fire and stops.
        first = build_runtime(settings, clock=clock)
        await first.start()
        await first.ingest.ingest_objects([raw_event()], principal=FEEDS, channel="test")
        await first.settle()
        assert first.store.get_checkpoint(CHECKPOINT) == 1
        await first.stop()

        # Events accepted with no correlation running (the process died after the commit).
        down = build_runtime(settings, clock=clock)
        await down.ingest.ingest_objects(
            [
                raw_event(at=later(30), lon=LON0 + metres_east(50)),
                raw_event("camera.abnormal", at=later(40)),
            ],
            principal=FEEDS,
            channel="test",
        )
        down.store.close()

        # The next start picks them up: the nearby smoke joins the fire, the fight opens one.
        again = build_runtime(settings, clock=clock)
        await again.start()
        assert again.correlation.replayed == 2
        incidents = again.store.list_incidents(IncidentQuery())
        assert sorted((i.type, i.event_count) for i in incidents) == [("fire", 2), ("violence", 1)]
        assert again.store.get_checkpoint(CHECKPOINT) == 3
        await again.stop()

        # Replaying again changes nothing.
        last = build_runtime(settings, clock=clock)
        await last.start()
        assert last.correlation.replayed == 0
        assert len(last.store.list_incidents(IncidentQuery())) == 2
        await last.stop()

    asyncio.run(scenario())
