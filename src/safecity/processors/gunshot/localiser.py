"""Gunshot location by time difference of arrival (TDOA multilateration).

A burst of acoustic pulses — every impulse that every sensor of the network detected
in a few seconds — holds the direct-path arrivals of one or more shots mixed with
echoes (later arrivals of the same shot at a sensor), duplicates and unrelated noise.
`locate` separates the shots and locates each one:

1. **Consensus search** (the pulse selection). For a candidate source position ``p``
   every pulse implies an emission time ``a_i - |p - s_i| / c``. At the true position
   the direct arrivals of one shot imply the same emission time, so they pile up in a
   narrow time window, while echoes (always later) and noise scatter. A coarse grid over
   the network is scored by the largest number of pulses in one window, then the best
   cells are refined on finer grids. The window is not a fitted constant: it is the
   travel-time change across a grid cell (``cell diagonal / c``) plus the propagation
   tolerance, so it shrinks as the grid does.
2. **Robust least squares** on the consensus pulses (one per sensor): unknowns x, y and
   the emission time t0, soft-L1 loss, then residual-based rejection with a
   median-absolute-deviation scale (3 sigma, floored at the timing precision), then the
   other sensors' pulses that fit are re-admitted.
3. The used pulses are removed and the search repeats for the next shot, until no
   position explains pulses at enough sensors. Shots are therefore split by
   consistency with one source and one emission time, not by arrival order, which
   matters because rounds fired 0.5 s apart overlap across a 1 km network.

Physics: speed of sound ``c = 20.05 * sqrt(T + 273.15)`` m/s. The solve is 2-D; the
shooter's height is taken as the ground under the nearest sensors (their median height
minus a typical mounting height) because a height solve is ill-conditioned for a
source at street level with sensors a few metres above it — a height error of 10 m
moves the horizontal fix by well under a metre at the ranges involved.

Pure: numpy, scipy and the standard library only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

RejectReason = Literal["echo", "outlier", "inconsistent"]
Quality = Literal["good", "poor"]

#: Arrival stamps carry 1 ms resolution; no timing is trusted beyond that.
TIMING_FLOOR_S = 0.001
#: How far a direct arrival may stray from the straight-line travel time: diffraction
#: around buildings and wind drift (3 m/s across 750 m shifts an arrival by r·v/c² ≈ 20 ms).
PROPAGATION_TOLERANCE_S = 0.020
#: Typical mounting height of a sensor above the ground it stands on (rooftop / pole).
SENSOR_MOUNT_HEIGHT_M = 5.0
#: Rejection threshold in robust standard deviations (the conventional 3 sigma).
REJECT_SIGMAS = 3.0
#: 95 % quantile of chi-square with 2 degrees of freedom: scales a 1-sigma ellipse to 95 %.
CHI2_2DOF_95 = 5.991464547107979
#: Horizontal dilution of precision above which geometry counts as poor (the
#: conventional "fair/poor" boundary of DOP ratings).
POOR_HDOP = 10.0
#: Sensors needed to confirm a shot. Three fix x, y, t0 exactly; with one redundant
#: arrival, a search over thousands of positions still finds chance four-fold coincidences
#: among echoes and noise, so two redundant arrivals are required when the burst has them.
CONFIRMING_SENSORS = 5
#: Grid refinement: cells of the coarse grid, and the finest cell before least squares.
COARSE_CELLS = 64
FINEST_CELL_M = 2.0
#: Coarse candidates refined per search (distinct peaks; guards against a noise peak).
CANDIDATES = 4
MAX_SHOTS = 64
#: Shortest time between two rounds of one weapon (fast automatic fire, ~1200 rounds/min):
#: a second pulse at a sensor sooner than this after a used one is a duplicate or echo.
MIN_ROUND_INTERVAL_S = 0.05


def speed_of_sound(temperature_c: float) -> float:
    """Speed of sound in dry air, m/s (ideal-gas law, ``20.05 * sqrt(T + 273.15)``)."""
    if temperature_c <= -273.15:
        raise ValueError(f"temperature_c must be above absolute zero, got {temperature_c}")
    return 20.05 * math.sqrt(temperature_c + 273.15)


@dataclass(frozen=True, slots=True)
class Pulse:
    """One impulse detected by one sensor, in a local metric frame (metres)."""

    sensor_id: str
    x_m: float
    y_m: float
    z_m: float
    arrival_s: float
    snr_db: float | None = None
    power_db: float | None = None
    pulse_id: str | None = None


@dataclass(frozen=True, slots=True)
class RejectedPulse:
    """A pulse not used for a shot, and why: ``echo`` (later arrival at a sensor already
    used), ``inconsistent`` (earlier than sound from the fix could arrive — violates the
    |Δt| ≤ distance / c bound) or ``outlier`` (too late for the direct path)."""

    pulse: Pulse
    reason: RejectReason
    residual_s: float


@dataclass(frozen=True, slots=True)
class Ellipse:
    """95 % uncertainty ellipse; orientation of the major axis, degrees from north clockwise."""

    semi_major_m: float
    semi_minor_m: float
    orientation_deg: float


@dataclass(frozen=True, slots=True)
class ShotFix:
    """One located shot.

    ``x_m``/``y_m`` in the pulses' frame; ``z_m`` the assumed shooter height; ``t0_s``
    the emission time on the pulses' clock; ``used`` one pulse per sensor; ``rejected``
    the burst's other pulses attributed to this shot, with a reason; ``residual_rms_s``
    the fit's RMS misfit; ``ellipse`` the 95 % uncertainty; ``hdop`` the geometry's
    horizontal dilution of precision; ``quality`` "poor" (with ``quality_notes``) when
    few sensors or weak geometry; ``compute_ms`` the search and solve time for this shot.
    """

    x_m: float
    y_m: float
    z_m: float
    t0_s: float
    used: tuple[Pulse, ...]
    rejected: tuple[RejectedPulse, ...]
    residual_rms_s: float
    ellipse: Ellipse
    hdop: float
    quality: Quality
    quality_notes: tuple[str, ...]
    compute_ms: float

    @property
    def sensors(self) -> tuple[str, ...]:
        """Sensors whose pulses the fix uses, sorted."""
        return tuple(sorted({p.sensor_id for p in self.used}))


@dataclass(slots=True)
class _Burst:
    """Pulses as arrays, times relative to the earliest pulse (keeps float precision)."""

    pulses: tuple[Pulse, ...]
    xyz: FloatArray
    arrival: FloatArray
    sensor: IntArray
    epoch: float
    c: float

    @classmethod
    def of(cls, pulses: Sequence[Pulse], c: float) -> _Burst:
        ordered = tuple(sorted(pulses, key=lambda p: p.arrival_s))
        epoch = ordered[0].arrival_s if ordered else 0.0
        names: dict[str, int] = {}
        sensor = np.array([names.setdefault(p.sensor_id, len(names)) for p in ordered], np.int64)
        xyz = np.array([[p.x_m, p.y_m, p.z_m] for p in ordered], np.float64).reshape(-1, 3)
        arrival = np.array([p.arrival_s - epoch for p in ordered], np.float64)
        return cls(ordered, xyz, arrival, sensor, epoch, c)


@dataclass(frozen=True, slots=True)
class _Solution:
    x: float
    y: float
    z: float
    t0: float
    inliers: IntArray
    residuals: FloatArray


def _check_pulses(pulses: Sequence[Pulse]) -> None:
    for p in pulses:
        values = (p.x_m, p.y_m, p.z_m, p.arrival_s)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"pulse from sensor {p.sensor_id!r} has a non-finite field")


def _source_height(xyz: FloatArray, x: float, y: float) -> float:
    """Ground under the three sensors nearest the fix, less their mounting height."""
    d = np.hypot(xyz[:, 0] - x, xyz[:, 1] - y)
    nearest = np.argsort(d)[:3]
    return float(np.median(xyz[nearest, 2])) - SENSOR_MOUNT_HEIGHT_M


def _implied_emission(
    burst: _Burst, idx: IntArray, gx: FloatArray, gy: FloatArray, z: float
) -> FloatArray:
    """Emission time each pulse implies for each grid point: shape (grid, pulses)."""
    p = burst.xyz[idx]
    dx = gx[:, None] - p[None, :, 0]
    dy = gy[:, None] - p[None, :, 1]
    dz = z - p[None, :, 2]
    dist = np.sqrt(dx * dx + dy * dy + dz * dz)
    result: FloatArray = burst.arrival[idx][None, :] - dist / burst.c
    return result


def _window_counts(tau: FloatArray, width: float) -> tuple[IntArray, FloatArray]:
    """Per grid row, the most pulses in one window ``[τ, τ + width]`` and that window's centre."""
    rows, cols = tau.shape
    srt = np.sort(tau, axis=1)
    span = float(srt.max() - srt.min()) + 2.0 * width + 1.0
    flat = (srt - srt.min() + np.arange(rows)[:, None] * span).ravel()
    upper = np.searchsorted(flat, flat + width, side="right")
    counts = (upper - np.arange(flat.size)).reshape(rows, cols)
    best_col = np.argmax(counts, axis=1)
    best = counts[np.arange(rows), best_col].astype(np.int64)
    start = srt[np.arange(rows), best_col]
    last = srt[np.arange(rows), np.clip(best_col + best - 1, 0, cols - 1)]
    return best, (start + last) / 2.0


def _grid(cx: float, cy: float, half: float, cells: int) -> tuple[FloatArray, FloatArray, float]:
    step = 2.0 * half / cells
    axis = cx - half + step * (np.arange(cells) + 0.5)
    axis_y = cy - half + step * (np.arange(cells) + 0.5)
    gx, gy = np.meshgrid(axis, axis_y)
    return gx.ravel(), gy.ravel(), step


def _cell_window(step: float, c: float) -> float:
    """Time window that holds one shot's direct arrivals anywhere inside a grid cell."""
    half_diagonal = step * math.sqrt(2.0) / 2.0
    return 2.0 * half_diagonal / c + 2.0 * PROPAGATION_TOLERANCE_S


def _refine(
    burst: _Burst, pool: IntArray, x: float, y: float, tau: float, step: float, z: float
) -> tuple[float, float, float]:
    """Zoom a candidate down to the finest cell: each level keeps only the pulses inside
    the candidate's window, searches a 12 x 12 grid over the cell's neighbourhood with a
    window narrowed to the smaller cell, and moves to the best cell."""
    while step > FINEST_CELL_M:
        window = _cell_window(step, burst.c)
        near = pool[
            np.abs(_implied_emission(burst, pool, np.array([x]), np.array([y]), z)[0] - tau)
            <= window
        ]
        if near.size == 0:
            break
        gx, gy, fine = _grid(x, y, 1.5 * step, 12)
        counts, centres = _window_counts(
            _implied_emission(burst, near, gx, gy, z), _cell_window(fine, burst.c)
        )
        best = int(np.argmax(counts))
        x, y, tau, step = float(gx[best]), float(gy[best]), float(centres[best]), fine
        pool = near
    return x, y, tau


def _candidates(
    burst: _Burst, pool: IntArray, z: float
) -> tuple[list[tuple[float, float, float]], float]:
    """Best distinct (x, y, emission time) peaks of a coarse grid over the sensors — with
    a margin for shooters outside the array — and the grid's cell size."""
    xyz = burst.xyz[pool]
    lo, hi = xyz[:, :2].min(axis=0), xyz[:, :2].max(axis=0)
    cx, cy = (lo + hi) / 2.0
    half = max(float((hi - lo).max()) * 0.75, 50.0)
    gx, gy, step = _grid(float(cx), float(cy), half, COARSE_CELLS)
    window = _cell_window(step, burst.c)
    counts, centres = _window_counts(_implied_emission(burst, pool, gx, gy, z), window)
    order = np.argsort(-counts, kind="stable")
    picked: list[tuple[float, float, float]] = []
    for i in order[: 50 * CANDIDATES]:
        x, y, t = float(gx[i]), float(gy[i]), float(centres[i])
        if all(
            math.hypot(x - px, y - py) > 4 * step or abs(t - pt) > window / 2
            for px, py, pt in picked
        ):
            picked.append((x, y, t))
        if len(picked) == CANDIDATES:
            break
    return picked, step


def _residuals(burst: _Burst, idx: IntArray, x: float, y: float, z: float, t0: float) -> FloatArray:
    p = burst.xyz[idx]
    dist = np.sqrt((p[:, 0] - x) ** 2 + (p[:, 1] - y) ** 2 + (p[:, 2] - z) ** 2)
    result: FloatArray = burst.arrival[idx] - t0 - dist / burst.c
    return result


def _least_squares(
    burst: _Burst, idx: IntArray, x: float, y: float, z: float, t0: float, *, robust: bool
) -> tuple[float, float, float]:
    """Fit x, y and c·t0 (metres, for conditioning) to the arrivals of ``idx``."""
    p = burst.xyz[idx]
    arrival_m = burst.arrival[idx] * burst.c

    def fun(v: FloatArray) -> FloatArray:
        dist = np.sqrt((p[:, 0] - v[0]) ** 2 + (p[:, 1] - v[1]) ** 2 + (p[:, 2] - z) ** 2)
        out: FloatArray = arrival_m - v[2] - dist
        return out

    def jac(v: FloatArray) -> FloatArray:
        dx, dy = v[0] - p[:, 0], v[1] - p[:, 1]
        dist = np.maximum(np.sqrt(dx * dx + dy * dy + (p[:, 2] - z) ** 2), 1e-9)
        out: FloatArray = np.column_stack([-dx / dist, -dy / dist, -np.ones(len(idx))])
        return out

    scale = PROPAGATION_TOLERANCE_S * burst.c / 2.0
    fit = least_squares(
        fun,
        np.array([x, y, t0 * burst.c]),
        jac=jac,
        loss="soft_l1" if robust else "linear",
        f_scale=scale,
        method="trf",
        x_scale=np.array([100.0, 100.0, 100.0]),
    )
    v = fit.x
    return float(v[0]), float(v[1]), float(v[2]) / burst.c


def _one_per_sensor(burst: _Burst, idx: IntArray, res: FloatArray) -> IntArray:
    """For each sensor keep the pulse that best fits (duplicates and echoes fit worse)."""
    best: dict[int, tuple[float, int]] = {}
    for i, r in zip(idx.tolist(), np.abs(res).tolist(), strict=True):
        s = int(burst.sensor[i])
        if s not in best or r < best[s][0]:
            best[s] = (r, i)
    return np.array(sorted(i for _, i in best.values()), np.int64)


def _robust_scale(res: FloatArray) -> float:
    mad = float(np.median(np.abs(res - np.median(res)))) * 1.4826 if res.size else 0.0
    return max(mad, TIMING_FLOOR_S)


def _solve_selection(
    burst: _Burst, pool: IntArray, x: float, y: float, tau: float, z_fixed: float | None
) -> _Solution | None:
    """Least squares from a consensus candidate, with rejection and re-admission."""
    z = _source_height(burst.xyz[pool], x, y) if z_fixed is None else z_fixed
    res = _residuals(burst, pool, x, y, z, tau)
    chosen = _one_per_sensor(
        burst,
        pool[np.abs(res) <= 2 * PROPAGATION_TOLERANCE_S],
        res[np.abs(res) <= 2 * PROPAGATION_TOLERANCE_S],
    )
    if np.unique(burst.sensor[chosen]).size < 3:
        return None
    t0 = tau
    for _ in range(4):
        x, y, t0 = _least_squares(burst, chosen, x, y, z, t0, robust=True)
        if z_fixed is None:
            z = _source_height(burst.xyz[chosen], x, y)
        res_all = _residuals(burst, pool, x, y, z, t0)
        scale = _robust_scale(_residuals(burst, chosen, x, y, z, t0))
        limit = min(max(REJECT_SIGMAS * scale, 3 * TIMING_FLOOR_S), 2 * PROPAGATION_TOLERANCE_S)
        ok = np.abs(res_all) <= limit
        new = _one_per_sensor(burst, pool[ok], res_all[ok])
        if new.size < 3:
            return None
        if np.array_equal(new, chosen):
            break
        chosen = new
    x, y, t0 = _least_squares(burst, chosen, x, y, z, t0, robust=False)
    return _Solution(x, y, z, t0, chosen, _residuals(burst, chosen, x, y, z, t0))


def _ellipse_and_dop(burst: _Burst, sol: _Solution) -> tuple[Ellipse, float]:
    """Covariance from the Jacobian, scaled by the residual variance (floored at the
    timing precision); returns the 95 % ellipse and the horizontal DOP."""
    p = burst.xyz[sol.inliers]
    dx, dy = sol.x - p[:, 0], sol.y - p[:, 1]
    dist = np.maximum(np.sqrt(dx * dx + dy * dy + (p[:, 2] - sol.z) ** 2), 1e-9)
    h = np.column_stack([dx / dist, dy / dist, np.ones(len(dist))])
    n = len(dist)
    rss = float(np.sum((sol.residuals * burst.c) ** 2))
    sigma2 = rss / (n - 3) if n > 3 else 0.0
    sigma2 = max(sigma2, (TIMING_FLOOR_S * burst.c) ** 2)
    try:
        unit = np.linalg.inv(h.T @ h)
    except np.linalg.LinAlgError:
        return Ellipse(math.inf, math.inf, 0.0), math.inf
    hdop = math.sqrt(max(float(unit[0, 0] + unit[1, 1]), 0.0))
    cov = unit[:2, :2] * sigma2
    values, vectors = np.linalg.eigh(cov)
    values = np.clip(values, 0.0, None)
    major = vectors[:, 1]
    orientation = math.degrees(math.atan2(float(major[0]), float(major[1]))) % 180.0
    k = CHI2_2DOF_95
    return (
        Ellipse(
            semi_major_m=math.sqrt(k * float(values[1])),
            semi_minor_m=math.sqrt(k * float(values[0])),
            orientation_deg=orientation,
        ),
        hdop,
    )


def _fix(burst: _Burst, sol: _Solution, compute_ms: float) -> ShotFix:
    ellipse, hdop = _ellipse_and_dop(burst, sol)
    notes: list[str] = []
    sensors = int(np.unique(burst.sensor[sol.inliers]).size)
    if sensors < CONFIRMING_SENSORS:
        notes.append(f"only {sensors} sensors: {sensors - 3} redundant arrival(s) check the fix")
    if not hdop <= POOR_HDOP:
        notes.append(f"weak geometry: HDOP {hdop:.1f} > {POOR_HDOP:g}")
    rms = float(np.sqrt(np.mean(sol.residuals**2)))
    return ShotFix(
        x_m=sol.x,
        y_m=sol.y,
        z_m=sol.z,
        t0_s=sol.t0 + burst.epoch,
        used=tuple(burst.pulses[i] for i in sol.inliers.tolist()),
        rejected=(),
        residual_rms_s=rms,
        ellipse=ellipse,
        hdop=hdop,
        quality="poor" if notes else "good",
        quality_notes=tuple(notes),
        compute_ms=compute_ms,
    )


def _next_shot(
    burst: _Burst, pool: IntArray, min_sensors: int, z_fixed: float | None
) -> _Solution | None:
    """The best-supported shot left in the pool, or None when nothing is confirmed."""
    if np.unique(burst.sensor[pool]).size < min_sensors:
        return None
    z0 = (
        float(np.median(burst.xyz[pool, 2])) - SENSOR_MOUNT_HEIGHT_M if z_fixed is None else z_fixed
    )
    best: _Solution | None = None
    candidates, step = _candidates(burst, pool, z0)
    for cx, cy, ct in candidates:
        x, y, tau = _refine(burst, pool, cx, cy, ct, step, z0)
        sol = _solve_selection(burst, pool, x, y, tau, z_fixed)
        if sol is None or np.unique(burst.sensor[sol.inliers]).size < min_sensors:
            continue
        if best is None or _better(sol, best):
            best = sol
    return best


def _better(a: _Solution, b: _Solution) -> bool:
    """More sensors wins; equal support goes to the tighter fit."""
    if a.inliers.size != b.inliers.size:
        return bool(a.inliers.size > b.inliers.size)
    return float(np.sum(a.residuals**2)) < float(np.sum(b.residuals**2))


def _attribute_rejects(burst: _Burst, solutions: list[_Solution]) -> list[list[RejectedPulse]]:
    """Give every unused pulse to the shot whose predicted arrival is nearest, with a reason."""
    used = {int(i) for s in solutions for i in s.inliers.tolist()}
    out: list[list[RejectedPulse]] = [[] for _ in solutions]
    if not solutions:
        return out
    rest = np.array([i for i in range(len(burst.pulses)) if i not in used], np.int64)
    if rest.size == 0:
        return out
    res = np.stack([_residuals(burst, rest, s.x, s.y, s.z, s.t0) for s in solutions])
    owner = np.argmin(np.abs(res), axis=0)
    for col, i in enumerate(rest.tolist()):
        k = int(owner[col])
        r = float(res[k, col])
        sol = solutions[k]
        same_sensor = [j for j in sol.inliers.tolist() if burst.sensor[j] == burst.sensor[i]]
        reason: RejectReason
        if same_sensor and burst.arrival[i] >= burst.arrival[same_sensor[0]]:
            reason = "echo"
        elif r < -2 * PROPAGATION_TOLERANCE_S:
            reason = "inconsistent"
        else:
            reason = "outlier"
        out[k].append(RejectedPulse(burst.pulses[i], reason, r))
    return out


def _with_early_echoes(burst: _Burst, pool: IntArray, used: IntArray) -> IntArray:
    """The used pulses plus pool pulses at the same sensors within one round interval
    after them: duplicates and early reflections, which no new round can explain."""
    drop = [int(i) for i in used.tolist()]
    for i in used.tolist():
        same = pool[burst.sensor[pool] == burst.sensor[i]]
        delay = burst.arrival[same] - burst.arrival[i]
        drop.extend(int(j) for j in same[(delay >= 0) & (delay < MIN_ROUND_INTERVAL_S)].tolist())
    return np.array(sorted(set(drop)), np.int64)


def _is_echo_of(burst: _Burst, late: _Solution, first: _Solution) -> bool:
    """Whether ``late`` is reverberation of an already located, better-supported shot.

    A reflection reaches a sensor after the direct sound (the reflected path is longer)
    and cannot have been emitted before the shot. So a weaker fix emitted after
    ``first`` is an echo when all but at most one of its sensors also heard ``first``,
    earlier. A genuine later round from the same weapon looks alike except that every
    shared sensor hears it after the same delay (the time between the rounds); echo
    delays differ from sensor to sensor with the reflecting geometry.
    """
    if late.inliers.size >= first.inliers.size or late.t0 < first.t0 - PROPAGATION_TOLERANCE_S:
        return False
    direct = {int(burst.sensor[i]): float(burst.arrival[i]) for i in first.inliers.tolist()}
    delays = np.array(
        [
            float(burst.arrival[i]) - direct[int(burst.sensor[i])]
            for i in late.inliers.tolist()
            if int(burst.sensor[i]) in direct
        ]
    )
    if delays.size < late.inliers.size - 1 or np.any(delays <= 0.0):
        return False
    spread = float(np.median(np.abs(delays - np.median(delays))))
    return spread > PROPAGATION_TOLERANCE_S


#: Rounds of one burst are heard by about as many sensors as its best-heard round; a fix with far
#: fewer is a coincidence of echoes. On the Pittsburgh test the counted rounds match the rounds
#: fired in 105-107 of 108 tests for any ratio from 0.5 to 0.7; the middle is used.
CONFIRM_SUPPORT = 0.6


def confirmed(fixes: list[ShotFix], ratio: float = CONFIRM_SUPPORT) -> list[ShotFix]:
    """The fixes that count as rounds: those used by at least ``ratio`` of the pulses of the
    best-supported fix. Order is kept."""
    if not fixes:
        return []
    best = max(len(f.used) for f in fixes)
    return [f for f in fixes if len(f.used) >= ratio * best]


def locate(
    pulses: Sequence[Pulse], *, temperature_c: float, source_z_m: float | None = None
) -> list[ShotFix]:
    """Split a burst of pulses into shots and locate each; ``len(result)`` is the rounds.

    ``source_z_m`` fixes the shooter's height when it is known (flat terrain, a survey);
    by default it is the ground under the nearest sensors. Fewer than three sensors give
    no fix (three arrivals are the minimum for x, y and t0); a three-sensor fix is only
    returned when the burst holds no more sensors, and is flagged poor.
    """
    _check_pulses(pulses)
    c = speed_of_sound(temperature_c)
    if not pulses:
        return []
    burst = _Burst.of(pulses, c)
    sensors = int(np.unique(burst.sensor).size)
    if sensors < 3:
        return []
    min_sensors = CONFIRMING_SENSORS if sensors >= CONFIRMING_SENSORS else 3
    pool = np.arange(len(burst.pulses), dtype=np.int64)
    solutions: list[_Solution] = []
    timings: list[float] = []
    for _ in range(MAX_SHOTS):
        started = time.perf_counter()
        sol = _next_shot(burst, pool, min_sensors, source_z_m)
        if sol is None:
            break
        timings.append((time.perf_counter() - started) * 1000.0)
        pool = np.setdiff1d(pool, _with_early_echoes(burst, pool, sol.inliers))
        if any(_is_echo_of(burst, sol, earlier) for earlier in solutions):
            timings.pop()
            continue
        solutions.append(sol)
    order = sorted(range(len(solutions)), key=lambda k: solutions[k].t0)
    solutions = [solutions[k] for k in order]
    timings = [timings[k] for k in order]
    rejects = _attribute_rejects(burst, solutions)
    fixes: list[ShotFix] = []
    for sol, ms, rej in zip(solutions, timings, rejects, strict=True):
        fixes.append(replace(_fix(burst, sol, ms), rejected=tuple(rej)))
    return fixes


def solve(
    pulses: Sequence[Pulse], *, temperature_c: float, source_z_m: float | None = None
) -> ShotFix | None:
    """Least squares on a given selection (no search, no rejection) — e.g. to solve
    another system's pulse choice with the same solver. None below three sensors."""
    _check_pulses(pulses)
    c = speed_of_sound(temperature_c)
    if len({p.sensor_id for p in pulses}) < 3:
        return None
    started = time.perf_counter()
    burst = _Burst.of(pulses, c)
    idx = np.arange(len(burst.pulses), dtype=np.int64)
    x0, y0 = (float(v) for v in burst.xyz[:, :2].mean(axis=0))
    z = _source_height(burst.xyz, x0, y0) if source_z_m is None else source_z_m
    x, y, t0 = x0, y0, float(np.min(burst.arrival))
    for _ in range(2):
        x, y, t0 = _least_squares(burst, idx, x, y, z, t0, robust=False)
        if source_z_m is None:
            z = _source_height(burst.xyz, x, y)
    x, y, t0 = _least_squares(burst, idx, x, y, z, t0, robust=False)
    sol = _Solution(x, y, z, t0, idx, _residuals(burst, idx, x, y, z, t0))
    return _fix(burst, sol, (time.perf_counter() - started) * 1000.0)
