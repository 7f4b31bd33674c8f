"""Streaming gunshot location: pulses in one by one (WGS84), located bursts out.

Grouping. Two pulses can come from the same shot only if their arrival times differ
by no more than the sound's travel time between their sensors (|Δt| ≤ distance / c,
plus the propagation tolerance); a later pulse at the same sensor within the
reverberation time is that sensor's echo. A pulse joins every open burst it is so
linked to (merging them), otherwise it opens a new burst. The grouping therefore
follows the network's acoustic extent without a fixed window, and shots in different
parts of a city at the same moment stay separate.

Settling. A burst is located once no pulse has joined it for ``settle_s`` (by the
``received`` clock). The default, 0.8 s, is the longest silence expected between two
direct arrivals of one shot — successive sensors hearing it are one sensor spacing
(≈250–300 m in a dense urban array) further away, i.e. up to ≈0.8 s — and keeps the fix
within 1 s of the last detection (0.8 s + tens of ms of compute). A pulse that arrives
after its burst was located opens a new burst, which is reported (usually as "fewer
than 3 sensors") rather than silently merged.

Projection: each burst is solved in an azimuthal-equidistant frame centred on its
sensors (pyproj), exact to millimetres at city scale.

Time is injected (``received``, ``now``); memory is bounded by ``max_pulses``: when
exceeded, the oldest open burst is dropped and counted in ``dropped_pulses``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from pyproj import Transformer

from safecity.processors.gunshot.localiser import (
    PROPAGATION_TOLERANCE_S,
    Ellipse,
    Pulse,
    ShotFix,
    confirmed,
    locate,
    speed_of_sound,
)

DEFAULT_SETTLE_S = 0.8
#: Reverberation time of a street canyon: later pulses at a sensor within it are echoes.
REVERBERATION_S = 1.5
DEFAULT_MAX_PULSES = 5000
_EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class LocatedShot:
    """One shot of a burst, in WGS84."""

    lon: float
    lat: float
    time: datetime
    ellipse: Ellipse
    quality: str
    quality_notes: tuple[str, ...]
    sensors: tuple[str, ...]
    residual_rms_s: float


@dataclass(frozen=True, slots=True)
class LocatedBurst:
    """The outcome of one burst: its shots, or no shot and the reason why."""

    shots: tuple[LocatedShot, ...]
    first_shot_time: datetime | None
    sensors: tuple[str, ...]
    pulse_count: int
    first_arrival: datetime
    last_arrival: datetime
    located_at: datetime
    latency_s: float
    reason: str | None = None

    @property
    def rounds(self) -> int:
        """Number of shots located in the burst."""
        return len(self.shots)


@dataclass(slots=True)
class _Detection:
    sensor_id: str
    lon: float
    lat: float
    alt_m: float | None
    arrival: datetime
    snr_db: float | None
    received: datetime


@dataclass(slots=True)
class _OpenBurst:
    last_received: datetime
    detections: list[_Detection] = field(default_factory=list)


def _distance_m(a: _Detection, b: _Detection) -> float:
    """Great-circle distance (haversine): adequate for the link test's tolerance."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class GunshotTracker:
    """Groups streamed pulses into bursts and locates each burst once it has settled."""

    def __init__(
        self,
        temperature_c: Callable[[], float] | float,
        *,
        settle_s: float = DEFAULT_SETTLE_S,
        max_pulses: int = DEFAULT_MAX_PULSES,
    ) -> None:
        if settle_s <= 0:
            raise ValueError("settle_s must be positive")
        if max_pulses < 1:
            raise ValueError("max_pulses must be at least 1")
        self._temperature = temperature_c
        self._settle = timedelta(seconds=settle_s)
        self._max_pulses = max_pulses
        self._open: list[_OpenBurst] = []
        self.dropped_pulses = 0

    def _temperature_c(self) -> float:
        t = self._temperature
        return float(t() if callable(t) else t)

    @property
    def pending_pulses(self) -> int:
        """Pulses held in bursts not yet located."""
        return sum(len(b.detections) for b in self._open)

    def add(
        self,
        sensor_id: str,
        lon: float,
        lat: float,
        alt_m: float | None,
        arrival: datetime,
        snr_db: float | None,
        received: datetime,
    ) -> None:
        """Take one detection. ``arrival`` and ``received`` must be timezone-aware."""
        if arrival.tzinfo is None or received.tzinfo is None:
            raise ValueError("arrival and received must be timezone-aware datetimes")
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise ValueError(f"lon/lat out of range: {lon}, {lat}")
        det = _Detection(sensor_id, lon, lat, alt_m, arrival, snr_db, received)
        c = speed_of_sound(self._temperature_c())
        linked = [b for b in self._open if self._links(b, det, c)]
        if linked:
            target = linked[0]
            for other in linked[1:]:
                target.detections.extend(other.detections)
                target.last_received = max(target.last_received, other.last_received)
                self._open.remove(other)
            target.last_received = max(target.last_received, received)
        else:
            target = _OpenBurst(last_received=received)
            self._open.append(target)
        target.detections.append(det)
        self._bound_memory()

    @staticmethod
    def _links(burst: _OpenBurst, det: _Detection, c: float) -> bool:
        for other in burst.detections:
            dt = abs((det.arrival - other.arrival).total_seconds())
            if other.sensor_id == det.sensor_id:
                if dt <= REVERBERATION_S:
                    return True
            elif dt <= _distance_m(other, det) / c + PROPAGATION_TOLERANCE_S:
                return True
        return False

    def _bound_memory(self) -> None:
        while self.pending_pulses > self._max_pulses and len(self._open) > 1:
            oldest = min(self._open, key=_received)
            self._open.remove(oldest)
            self.dropped_pulses += len(oldest.detections)
        if self.pending_pulses > self._max_pulses:
            burst = self._open[0]
            excess = len(burst.detections) - self._max_pulses
            del burst.detections[:excess]
            self.dropped_pulses += excess

    def due(self, now: datetime) -> list[LocatedBurst]:
        """Locate and hand over every burst that has been quiet for ``settle_s``."""
        ready = [b for b in self._open if now - _received(b) >= self._settle]
        self._open = [b for b in self._open if b not in ready]
        return [self._locate(b, now) for b in sorted(ready, key=_first_arrival)]

    def _locate(self, burst: _OpenBurst, now: datetime) -> LocatedBurst:
        dets = sorted(burst.detections, key=lambda d: d.arrival)
        sensors = sorted({d.sensor_id for d in dets})

        def result(
            shots: tuple[LocatedShot, ...], used: list[str], reason: str | None
        ) -> LocatedBurst:
            return LocatedBurst(
                shots=shots,
                first_shot_time=min(s.time for s in shots) if shots else None,
                sensors=tuple(used),
                pulse_count=len(dets),
                first_arrival=dets[0].arrival,
                last_arrival=dets[-1].arrival,
                located_at=now,
                latency_s=(now - burst.last_received).total_seconds(),
                reason=reason,
            )

        if len(sensors) < 3:
            return result(
                (),
                sensors,
                f"only {len(sensors)} sensor(s) heard it; 3 are needed for x, y and time",
            )
        frame = _Frame.around(dets)
        epoch = dets[0].arrival
        fixes = confirmed(
            locate([frame.pulse(d, epoch) for d in dets], temperature_c=self._temperature_c())
        )
        if not fixes:
            return result((), sensors, "no position is consistent with the arrivals")
        shots = tuple(frame.shot(f, epoch) for f in fixes)
        return result(shots, sorted({s for shot in shots for s in shot.sensors}), None)


def _received(burst: _OpenBurst) -> datetime:
    return burst.last_received


def _first_arrival(burst: _OpenBurst) -> datetime:
    return min(d.arrival for d in burst.detections)


@dataclass(frozen=True, slots=True)
class _Frame:
    """Azimuthal-equidistant local frame centred on a burst's sensors."""

    forward: Transformer
    inverse: Transformer
    default_alt: float

    @classmethod
    def around(cls, dets: list[_Detection]) -> _Frame:
        lon0 = float(np.mean([d.lon for d in dets]))
        lat0 = float(np.mean([d.lat for d in dets]))
        local = f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m +no_defs"
        alts = [d.alt_m for d in dets if d.alt_m is not None and math.isfinite(d.alt_m)]
        return cls(
            forward=Transformer.from_crs("EPSG:4326", local, always_xy=True),
            inverse=Transformer.from_crs(local, "EPSG:4326", always_xy=True),
            default_alt=float(np.median(alts)) if alts else 0.0,
        )

    def pulse(self, det: _Detection, epoch: datetime) -> Pulse:
        x, y = self.forward.transform(det.lon, det.lat)
        alt = det.alt_m if det.alt_m is not None and math.isfinite(det.alt_m) else self.default_alt
        return Pulse(
            sensor_id=det.sensor_id,
            x_m=float(x),
            y_m=float(y),
            z_m=float(alt),
            arrival_s=(det.arrival - epoch).total_seconds(),
            snr_db=det.snr_db,
        )

    def shot(self, fix: ShotFix, epoch: datetime) -> LocatedShot:
        lon, lat = self.inverse.transform(fix.x_m, fix.y_m)
        return LocatedShot(
            lon=float(lon),
            lat=float(lat),
            time=epoch + timedelta(seconds=fix.t0_s),
            ellipse=fix.ellipse,
            quality=fix.quality,
            quality_notes=fix.quality_notes,
            sensors=fix.sensors,
            residual_rms_s=fix.residual_rms_s,
        )
