"""Runs the gunshot tracker on the bus: acoustic pulses in, located gunshots out as events.

Each ``acoustic.pulse`` carries its sensor's position (the event location) and the arrival
time; once a burst has been quiet for the settle time it is located and one
``gunshot.located`` event is emitted through the normal ingest path, so the located shot is
stored, correlated (it opens or joins the shooting incident) and audited like any other event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson

from safecity.core.clock import Clock
from safecity.core.events import Event, parse_event
from safecity.core.ids import new_id
from safecity.core.payloads import AcousticPulseDetected
from safecity.core.ports import BusMessage, EventBus, Subscription
from safecity.processors.gunshot.tracker import (
    DEFAULT_SETTLE_S,
    GunshotTracker,
    LocatedBurst,
    LocatedShot,
)

log = logging.getLogger(__name__)

SOURCE = "urn:safecity:gunshot-localiser"
Emit = Callable[[list[dict[str, Any]]], Awaitable[None]]


class GunshotProcessor:
    def __init__(
        self,
        bus: EventBus,
        clock: Clock,
        emit: Emit,
        *,
        temperature_c: Callable[[], float] | float = 10.0,
        settle_s: float = DEFAULT_SETTLE_S,
        poll_s: float | None = 0.1,
        source: str = SOURCE,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._emit = emit
        self._source = source
        self._poll_s = poll_s
        self.tracker = GunshotTracker(temperature_c, settle_s=settle_s)
        self._settle = timedelta(seconds=settle_s)
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.pulses = 0
        self.without_position = 0
        #: (sensor, arrival, (source, id)) of recent pulses, to name a located shot's evidence.
        self._recent: deque[tuple[str, datetime, tuple[str, str]]] = deque(maxlen=20_000)
        self.located: list[LocatedBurst] = []

    async def start(self) -> None:
        self._sub = await self._bus.subscribe(
            "events.acoustic.pulse", self._on_pulses, durable="gunshot", max_batch=1000
        )
        if self._poll_s is not None:
            self._task = asyncio.create_task(self._poll(self._poll_s), name="gunshot-poll")

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.stop()
            self._sub = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Bursts still open are located now rather than lost.
        await self.flush(self._clock.now() + self._settle)

    @property
    def pending(self) -> int:
        return self.tracker.pending_pulses

    async def _on_pulses(self, batch: Sequence[BusMessage]) -> None:
        now = self._clock.now()
        for message in batch:
            event = (
                message.local
                if isinstance(message.local, Event)
                else parse_event(orjson.loads(message.data))
            )
            data = event.data
            if not isinstance(data, AcousticPulseDetected):
                continue
            if event.location is None:
                self.without_position += 1  # a pulse is useless without where it was heard
                continue
            self.pulses += 1
            self._recent.append((data.sensor_id, data.arrival_time, event.key))
            self.tracker.add(
                data.sensor_id,
                event.location.lon,
                event.location.lat,
                event.location.alt_m,
                data.arrival_time,
                data.snr_db,
                now,
            )

    async def _poll(self, every_s: float) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.flush(self._clock.now())
            except Exception:
                log.exception("gunshot localiser poll failed")

    async def flush(self, now: datetime) -> list[LocatedBurst]:
        """Locate every burst quiet since ``now - settle`` and emit its event."""
        async with self._lock:
            bursts = await asyncio.to_thread(self.tracker.due, now)
            events = [event_for(b, self._source, self._evidence(b)) for b in bursts if b.shots]
            for burst in bursts:
                if not burst.shots:
                    log.info("gunshot burst not located: %s", burst.reason)
            if events:
                await self._emit(events)
            self.located.extend(b for b in bursts if b.shots)
            del self.located[:-100]
            return bursts

    def _evidence(self, burst: LocatedBurst) -> list[tuple[str, str]]:
        sensors = set(burst.sensors)
        return [
            key
            for sensor, arrival, key in self._recent
            if sensor in sensors and burst.first_arrival <= arrival <= burst.last_arrival
        ]


def _best(shots: Sequence[LocatedShot]) -> LocatedShot:
    # The best-supported shot places the burst: most sensors, then the tightest ellipse.
    return min(shots, key=lambda s: (-len(s.sensors), s.ellipse.semi_major_m))


def event_for(
    burst: LocatedBurst, source: str, evidence: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """The ``gunshot.located`` event (as ingest takes it) for a located burst."""
    best = _best(burst.shots)
    first = burst.first_shot_time or best.time
    ellipse = best.ellipse
    return {
        "id": new_id("gs", burst.located_at),
        "source": source,
        "type": "gunshot.located",
        "time": _stamp(first),
        "location": {
            "lon": round(best.lon, 7),
            "lat": round(best.lat, 7),
            "accuracy_m": round(ellipse.semi_major_m, 1),
        },
        "severity": "severe",
        "confidence": 0.9 if best.quality != "poor" else 0.6,
        "data": {
            "rounds": len(burst.shots),  # confirmed rounds only (see localiser.confirmed)
            "first_shot_time": _stamp(first),
            "sensors_used": list(burst.sensors)[:200],
            "uncertainty_m": round(ellipse.semi_major_m, 1),
            "ellipse": {
                "semi_major_m": round(ellipse.semi_major_m, 1),
                "semi_minor_m": round(ellipse.semi_minor_m, 1),
                "orientation_deg": round(ellipse.orientation_deg % 360.0, 1) % 360.0,
            },
            "pulses": burst.pulse_count,
            "quality": best.quality,
            "evidence": [{"source": src, "id": eid} for src, eid in evidence[:2000]],
            "classification": "gunfire",
        },
    }


def _stamp(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")
