"""TDOA localiser on synthetic geometry: exact recovery, echoes, outliers, physics, splitting."""

from __future__ import annotations

import dataclasses
import math

import pytest
from gunshot_synthetic import SENSORS, SOURCE, T0, arrivals

from safecity.processors.gunshot.localiser import locate, solve, speed_of_sound


def _error(fix_x: float, fix_y: float, source: tuple[float, float, float] = SOURCE) -> float:
    return math.hypot(fix_x - source[0], fix_y - source[1])


def test_speed_of_sound_follows_the_ideal_gas_law() -> None:
    assert speed_of_sound(-1.0) == pytest.approx(20.05 * math.sqrt(272.15))
    assert speed_of_sound(20.0) == pytest.approx(343.2, abs=0.1)
    with pytest.raises(ValueError):
        speed_of_sound(-300.0)


def test_noise_free_arrivals_are_recovered_exactly() -> None:
    fixes = locate(arrivals(), temperature_c=-1.0)
    assert len(fixes) == 1
    fix = fixes[0]
    assert _error(fix.x_m, fix.y_m) < 0.01
    assert fix.t0_s == pytest.approx(T0, abs=1e-5)
    assert len(fix.sensors) == len(SENSORS)
    assert fix.rejected == ()
    assert fix.quality == "good"
    assert fix.residual_rms_s < 1e-6
    # The ellipse falls back to the 1 ms timing floor: metres, not zero, not kilometres.
    assert 0.1 < fix.ellipse.semi_minor_m <= fix.ellipse.semi_major_m < 5.0
    assert 0.0 <= fix.ellipse.orientation_deg < 180.0


def test_echo_at_one_sensor_is_rejected_as_echo() -> None:
    pulses = arrivals()
    direct = pulses[2]
    echo = dataclasses.replace(direct, arrival_s=direct.arrival_s + 0.15, pulse_id="echo")
    fixes = locate([*pulses, echo], temperature_c=-1.0)
    assert len(fixes) == 1
    assert _error(fixes[0].x_m, fixes[0].y_m) < 0.01
    assert [(r.pulse.pulse_id, r.reason) for r in fixes[0].rejected] == [("echo", "echo")]


def test_one_outlier_sensor_is_rejected() -> None:
    pulses = arrivals()
    late = dataclasses.replace(pulses[4], arrival_s=pulses[4].arrival_s + 0.3)
    fixes = locate([*pulses[:4], late, *pulses[5:]], temperature_c=-1.0)
    assert len(fixes) == 1
    assert _error(fixes[0].x_m, fixes[0].y_m) < 0.01
    assert late not in fixes[0].used
    assert [(r.pulse.sensor_id, r.reason) for r in fixes[0].rejected] == [("s5", "outlier")]


def test_pulse_too_early_for_the_fix_is_inconsistent() -> None:
    pulses = arrivals()
    early = dataclasses.replace(pulses[0], arrival_s=pulses[0].arrival_s - 0.3)
    fixes = locate([early, *pulses[1:]], temperature_c=-1.0)
    assert len(fixes) == 1
    assert _error(fixes[0].x_m, fixes[0].y_m) < 0.01
    assert [(r.pulse.sensor_id, r.reason) for r in fixes[0].rejected] == [("s1", "inconsistent")]


def test_temperature_changes_the_solution_as_physics_says() -> None:
    warm = arrivals(temperature_c=30.0)
    right = locate(warm, temperature_c=30.0)[0]
    wrong = locate(warm, temperature_c=-1.0)[0]
    assert _error(right.x_m, right.y_m) < 0.01
    # Read with a 5 % slower sound speed, the same arrivals no longer fit the true
    # position: the fix moves and a misfit appears.
    assert _error(wrong.x_m, wrong.y_m) > 0.5
    assert wrong.residual_rms_s > right.residual_rms_s


def test_fewer_than_three_sensors_gives_no_fix() -> None:
    assert locate(arrivals()[:2], temperature_c=-1.0) == []
    assert locate([], temperature_c=-1.0) == []
    assert solve(arrivals()[:2], temperature_c=-1.0) is None


def test_three_sensors_give_a_fix_flagged_poor() -> None:
    fixes = locate(arrivals()[:3], temperature_c=-1.0)
    assert len(fixes) == 1
    assert fixes[0].quality == "poor"
    assert any("3 sensors" in note for note in fixes[0].quality_notes)


def test_two_shots_one_second_apart_give_two_fixes() -> None:
    second_source = (-150.0, 200.0, 0.0)
    pulses = arrivals() + [
        dataclasses.replace(p, pulse_id=f"b-{p.pulse_id}")
        for p in arrivals(source=second_source, t0=T0 + 1.0)
    ]
    fixes = locate(pulses, temperature_c=-1.0)
    assert len(fixes) == 2
    first, second = fixes
    assert _error(first.x_m, first.y_m) < 0.01
    assert _error(second.x_m, second.y_m, second_source) < 0.01
    assert second.t0_s - first.t0_s == pytest.approx(1.0, abs=1e-4)


def test_repeated_rounds_from_one_place_are_not_taken_for_echoes() -> None:
    pulses = arrivals() + [
        dataclasses.replace(p, pulse_id=f"b-{p.pulse_id}") for p in arrivals(t0=T0 + 0.4)
    ]
    fixes = locate(pulses, temperature_c=-1.0)
    assert len(fixes) == 2
    assert all(_error(f.x_m, f.y_m) < 0.01 for f in fixes)


def test_solve_uses_a_given_selection_as_is() -> None:
    fix = solve(arrivals(), temperature_c=-1.0, source_z_m=0.0)
    assert fix is not None
    assert _error(fix.x_m, fix.y_m) < 0.01


def test_non_finite_input_is_refused() -> None:
    bad = dataclasses.replace(arrivals()[0], arrival_s=math.nan)
    with pytest.raises(ValueError, match="non-finite"):
        locate([bad, *arrivals()[1:]], temperature_c=-1.0)
