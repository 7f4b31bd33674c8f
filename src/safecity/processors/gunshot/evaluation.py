"""Accuracy of the gunshot localiser on live-fire test firings.

Reads any directory laid out like ShotSpotter's published Pittsburgh test
(``…/FP<n>/test_<NNN>/test_<NNN>.{survey,allpulses,nlos-tuples,weather}.json``): every
``*.allpulses.json`` with a sibling ``*.survey.json`` is one test. All of a test's pulses
go to `locate` — our own pulse selection — and the fixes are scored against the surveyed
shooter position. The vendor's own per-shot pulse choice (``*.nlos-tuples.json``), when
present, is solved with the same least-squares solver as a comparison row; it is never an
input to our localiser.

Matching: a survey gives the shooter's position, the number of rounds and the minute,
not per-shot times, and every round of a test is fired from the same spot. So the
best-supported fixes (most sensors) are taken as the rounds, as many as were fired; a
round without a fix is a miss and a fix beyond the rounds is a false fix. Ranking by
support, not by distance to the survey, keeps the truth out of the matching.

Temperature: the test's ``weather.json`` when present, else the caller's value, else
-1 °C (the Pittsburgh test's reported temperature).
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from safecity.processors.gunshot.localiser import Pulse, ShotFix, confirmed, locate, solve

if TYPE_CHECKING:
    from rich.table import Table

DEFAULT_TEMPERATURE_C = -1.0
WITHIN_M = 25.0
_FIRING_POSITION = re.compile(r"^FP\d+$", re.IGNORECASE)


class EvaluationError(ValueError):
    """A test file is missing a field or holds a malformed value."""

    def __init__(self, file: Path, field_name: str, problem: str) -> None:
        super().__init__(f"{file}: field {field_name!r}: {problem}")
        self.file = file
        self.field_name = field_name
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Accuracy:
    """2-D error figures over a set of surveyed shots (misses count against the share)."""

    shots: int
    located: int
    missed: int
    false_fixes: int
    median_m: float | None
    p90_m: float | None
    max_m: float | None
    within_25m: float | None

    @classmethod
    def of(cls, errors: list[float | None], false_fixes: int) -> Accuracy:
        found = np.array([e for e in errors if e is not None], np.float64)
        shots = len(errors)
        return cls(
            shots=shots,
            located=int(found.size),
            missed=shots - int(found.size),
            false_fixes=false_fixes,
            median_m=float(np.median(found)) if found.size else None,
            p90_m=float(np.percentile(found, 90)) if found.size else None,
            max_m=float(found.max()) if found.size else None,
            within_25m=float(np.sum(found <= WITHIN_M)) / shots if shots else None,
        )


@dataclass(frozen=True, slots=True)
class _TestOutcome:
    firing_position: str
    errors: list[float | None]
    false_fixes: int
    per_shot_ms: list[float]
    vendor_errors: list[float | None] | None
    vendor_false: int
    vendor_missing_pulses: int


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """Measured accuracy of our localiser and of the vendor's pulse choice."""

    directory: str
    tests: int
    ours: Accuracy
    ours_by_position: dict[str, Accuracy]
    vendor: Accuracy | None
    vendor_by_position: dict[str, Accuracy]
    vendor_missing_pulses: int
    mean_solve_ms: float | None
    p99_solve_ms: float | None
    max_solve_ms: float | None
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict."""
        return asdict(self)

    def to_table(self) -> Table:
        """A rich table: one row per firing position and overall, for our pulse
        selection ("ours") and for the vendor's tuples solved the same way ("vendor")."""
        from rich.table import Table

        table = Table(title="Gunshot 2-D error vs survey (m)", caption=_caption(self))
        headers = ("pulses", "FP", "shots", "found", "missed", "false", "median", "p90", "max")
        for name in (*headers, f"≤{WITHIN_M:g}m"):
            table.add_column(name, justify="left" if name in ("pulses", "FP") else "right")
        rows = [("ours", self.ours_by_position, self.ours)]
        if self.vendor is not None:
            rows.append(("vendor", self.vendor_by_position, self.vendor))
        for label, by_position, overall in rows:
            for position, acc in sorted(by_position.items()):
                table.add_row(label, position, *_cells(acc))
            table.add_row(label, "all", *_cells(overall), style="bold")
        return table


def _caption(report: EvaluationReport) -> str:
    parts = [f"{report.tests} tests in {report.directory}"]
    if report.mean_solve_ms is not None:
        parts.append(
            f"solve per shot: mean {report.mean_solve_ms:.1f} ms, "
            f"p99 {report.p99_solve_ms:.1f} ms, max {report.max_solve_ms:.1f} ms"
        )
    if report.skipped:
        parts.append(
            f"{len(report.skipped)} test(s) skipped: "
            + "; ".join(f"{s['file']}: {s['reason']}" for s in report.skipped)
        )
    return "\n".join(parts)


def _metres(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _cells(acc: Accuracy) -> list[str]:
    share = "—" if acc.within_25m is None else f"{100 * acc.within_25m:.1f}%"
    return [
        str(acc.shots),
        str(acc.located),
        str(acc.missed),
        str(acc.false_fixes),
        _metres(acc.median_m),
        _metres(acc.p90_m),
        _metres(acc.max_m),
        share,
    ]


def _load(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationError(file, "(file)", f"cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise EvaluationError(
            file, "(file)", f"is not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from None


def _number(file: Path, obj: Any, name: str, where: str = "") -> float:
    if not isinstance(obj, dict) or name not in obj:
        raise EvaluationError(file, where + name, "missing")
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EvaluationError(file, where + name, f"expected a finite number, got {value!r}")
    return float(value)


def _text(file: Path, obj: Any, name: str, where: str = "") -> str:
    if not isinstance(obj, dict) or not isinstance(obj.get(name), str):
        raise EvaluationError(file, where + name, "missing or not a string")
    text: str = obj[name]
    return text


def _timestamp(file: Path, value: str, where: str) -> float:
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise EvaluationError(file, where, f"not an ISO-8601 time: {value!r}") from None


def read_pulses(file: Path) -> list[Pulse]:
    """Pulses of an ``*.allpulses.json`` file (local metric frame, seconds since 1970)."""
    data = _load(file)
    if not isinstance(data, list):
        raise EvaluationError(file, "(root)", "expected a list of pulses")
    pulses = []
    for n, item in enumerate(data):
        where = f"[{n}]."
        location = item.get("location") if isinstance(item, dict) else None
        snr = item.get("signal_to_noise_dB") if isinstance(item, dict) else None
        power = item.get("power_dB_SPL") if isinstance(item, dict) else None
        pulses.append(
            Pulse(
                sensor_id=_text(file, item, "serial_number", where),
                x_m=_number(file, location, "x", where + "location."),
                y_m=_number(file, location, "y", where + "location."),
                z_m=_number(file, location, "z", where + "location."),
                arrival_s=_timestamp(
                    file, _text(file, item, "arrival_time_utc", where), where + "arrival_time_utc"
                ),
                snr_db=float(snr) if isinstance(snr, int | float) else None,
                power_db=float(power) if isinstance(power, int | float) else None,
                pulse_id=item.get("pulse_uuid")
                if isinstance(item.get("pulse_uuid"), str)
                else None,
            )
        )
    return pulses


def _vendor_tuples(file: Path) -> list[list[str]]:
    data = _load(file)
    if not isinstance(data, list):
        raise EvaluationError(file, "(root)", "expected a list of shots")
    shots = []
    for n, shot in enumerate(data):
        uuids = shot.get("pulse_uuids") if isinstance(shot, dict) else None
        if not isinstance(uuids, list) or not all(isinstance(u, str) for u in uuids):
            raise EvaluationError(file, f"[{n}].pulse_uuids", "expected a list of strings")
        shots.append(list(uuids))
    return shots


def _firing_position(survey: Any, survey_file: Path) -> str:
    if isinstance(survey, dict) and isinstance(survey.get("firing_position"), str):
        position: str = survey["firing_position"]
        return position
    for parent in survey_file.parents:
        if _FIRING_POSITION.match(parent.name):
            return parent.name.upper()
    return "unknown"


def _match(fixes: list[ShotFix], rounds: int, x: float, y: float) -> tuple[list[float | None], int]:
    """The ``rounds`` best-supported fixes are the rounds; the rest of the fixes that count as
    rounds (:func:`confirmed`) are false fixes."""
    ranked = sorted(fixes, key=lambda f: (-len(f.sensors), f.residual_rms_s))
    kept = sorted(ranked[:rounds], key=lambda f: f.t0_s)
    errors: list[float | None] = [math.hypot(f.x_m - x, f.y_m - y) for f in kept]
    errors.extend([None] * (rounds - len(kept)))
    return errors, max(len(confirmed(fixes)) - rounds, 0)


def _evaluate_test(pulses_file: Path, temperature_c: float | None) -> _TestOutcome:
    stem = pulses_file.name.removesuffix(".allpulses.json")
    survey_file = pulses_file.with_name(f"{stem}.survey.json")
    survey = _load(survey_file)
    location = survey.get("survey_location") if isinstance(survey, dict) else None
    sx = _number(survey_file, location, "x", "survey_location.")
    sy = _number(survey_file, location, "y", "survey_location.")
    rounds_value = _number(survey_file, survey, "num_rounds")
    if rounds_value < 1 or rounds_value != int(rounds_value):
        raise EvaluationError(
            survey_file, "num_rounds", f"expected a positive integer, got {rounds_value}"
        )
    rounds = int(rounds_value)
    weather_file = pulses_file.with_name(f"{stem}.weather.json")
    if weather_file.exists():
        temperature = _number(weather_file, _load(weather_file), "temperature")
    else:
        temperature = DEFAULT_TEMPERATURE_C if temperature_c is None else temperature_c
    pulses = read_pulses(pulses_file)

    started = time.perf_counter()
    fixes = locate(pulses, temperature_c=temperature)
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    errors, false_fixes = _match(fixes, rounds, sx, sy)
    per_shot = [elapsed_ms / max(len(fixes), 1)] * max(len(fixes), 1)

    vendor_errors: list[float | None] | None = None
    vendor_false = 0
    missing = 0
    tuples_file = pulses_file.with_name(f"{stem}.nlos-tuples.json")
    if tuples_file.exists():
        by_id = {p.pulse_id: p for p in pulses if p.pulse_id is not None}
        vendor_fixes = []
        for uuids in _vendor_tuples(tuples_file):
            chosen = [by_id[u] for u in uuids if u in by_id]
            missing += len(uuids) - len(chosen)
            fix = solve(chosen, temperature_c=temperature)
            if fix is not None:
                vendor_fixes.append(fix)
        vendor_errors, vendor_false = _match(vendor_fixes, rounds, sx, sy)
    return _TestOutcome(
        firing_position=_firing_position(survey, survey_file),
        errors=errors,
        false_fixes=false_fixes,
        per_shot_ms=per_shot,
        vendor_errors=vendor_errors,
        vendor_false=vendor_false,
        vendor_missing_pulses=missing,
    )


def evaluate(directory: Path, *, temperature_c: float | None = None) -> EvaluationReport:
    """Run the localiser on every test under ``directory`` and score it against the survey.

    A test whose files are malformed is skipped and listed in ``skipped`` with the file
    and field; a directory without any test raises `EvaluationError`.
    """
    if not directory.is_dir():
        raise EvaluationError(directory, "(directory)", "not a directory")
    outcomes: list[_TestOutcome] = []
    skipped: list[dict[str, str]] = []
    for pulses_file in sorted(directory.rglob("*.allpulses.json")):
        stem = pulses_file.name.removesuffix(".allpulses.json")
        if not pulses_file.with_name(f"{stem}.survey.json").exists():
            continue
        try:
            outcomes.append(_evaluate_test(pulses_file, temperature_c))
        except EvaluationError as exc:
            skipped.append({"file": str(exc.file), "field": exc.field_name, "reason": exc.problem})
    if not outcomes:
        if skipped:
            first = skipped[0]
            raise EvaluationError(Path(first["file"]), first["field"], first["reason"])
        raise EvaluationError(
            directory, "(directory)", "no *.allpulses.json with a sibling *.survey.json found"
        )
    return _report(directory, outcomes, skipped)


def _report(
    directory: Path, outcomes: list[_TestOutcome], skipped: list[dict[str, str]]
) -> EvaluationReport:
    positions = sorted({o.firing_position for o in outcomes})

    def accuracy(items: list[_TestOutcome], vendor: bool) -> Accuracy:
        errors: list[float | None] = []
        false_fixes = 0
        for o in items:
            if vendor:
                errors.extend(o.vendor_errors or [])
                false_fixes += o.vendor_false
            else:
                errors.extend(o.errors)
                false_fixes += o.false_fixes
        return Accuracy.of(errors, false_fixes)

    with_vendor = [o for o in outcomes if o.vendor_errors is not None]
    times = np.array([ms for o in outcomes for ms in o.per_shot_ms], np.float64)
    return EvaluationReport(
        directory=str(directory),
        tests=len(outcomes),
        ours=accuracy(outcomes, vendor=False),
        ours_by_position={
            p: accuracy([o for o in outcomes if o.firing_position == p], vendor=False)
            for p in positions
        },
        vendor=accuracy(with_vendor, vendor=True) if with_vendor else None,
        vendor_by_position={
            p: accuracy([o for o in with_vendor if o.firing_position == p], vendor=True)
            for p in positions
            if any(o.firing_position == p for o in with_vendor)
        },
        vendor_missing_pulses=sum(o.vendor_missing_pulses for o in outcomes),
        mean_solve_ms=float(times.mean()) if times.size else None,
        p99_solve_ms=float(np.percentile(times, 99)) if times.size else None,
        max_solve_ms=float(times.max()) if times.size else None,
        skipped=skipped,
    )
