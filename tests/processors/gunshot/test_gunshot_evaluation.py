"""Evaluation on ShotSpotter's Pittsburgh live-fire test, and the `gunshot evaluate` command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safecity.cli import app
from safecity.processors.gunshot.evaluation import EvaluationError, EvaluationReport, evaluate

DATA = (
    Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "gunshot" / "pittsburgh-2018"
).resolve()
TESTS = DATA / "data" / "PittsburghPA_DQV_2018-12-18"
needs_data = pytest.mark.skipif(
    not DATA.is_dir(),
    reason=f"Pittsburgh live-fire data not found at {DATA} (../shared beside the repo)",
)
runner = CliRunner()


@pytest.fixture(scope="module")
def report() -> EvaluationReport:
    return evaluate(DATA)


@needs_data
def test_pittsburgh_targets_are_met_from_all_pulses(report: EvaluationReport) -> None:
    # FP1–FP6: 108 tests, 216 rounds (more if the held-back positions are ever added).
    assert report.tests >= 108
    assert report.ours.shots >= 216
    assert report.ours.median_m is not None and report.ours.median_m <= 5.0
    assert report.ours.within_25m is not None and report.ours.within_25m >= 0.97
    assert report.max_solve_ms is not None  # the figure itself is benchmarks/operations.py's
    assert {f"FP{n}" for n in range(1, 7)} <= set(report.ours_by_position)
    assert report.skipped == []


@needs_data
def test_vendor_tuples_are_solved_with_the_same_solver(report: EvaluationReport) -> None:
    assert report.vendor is not None
    assert report.vendor.median_m is not None and report.vendor.median_m < 6.0
    table = report.to_table()
    assert table.row_count == 2 * (len(report.ours_by_position) + 1)


def _copy_tests(target: Path, *names: str) -> Path:
    for name in names:
        src = next(TESTS.glob(f"FP*/{name}"))
        shutil.copytree(src, target / src.parent.name / name)
    return target


@needs_data
def test_cli_evaluate_prints_json(tmp_path: Path) -> None:
    directory = _copy_tests(tmp_path / "firings", "test_041", "test_001")
    result = runner.invoke(app, ["gunshot", "evaluate", str(directory), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["tests"] == 2
    assert data["ours"]["shots"] == 4
    assert set(data["ours_by_position"]) == {"FP1", "FP3"}
    assert data["ours"]["median_m"] < 10.0
    assert data["mean_solve_ms"] > 0


@needs_data
def test_cli_evaluate_prints_a_table(tmp_path: Path) -> None:
    directory = _copy_tests(tmp_path / "firings", "test_041")
    result = runner.invoke(app, ["gunshot", "evaluate", str(directory), "--temperature", "0"])
    assert result.exit_code == 0, result.output
    assert "FP3" in result.stdout and "vendor" in result.stdout


def _write_test(directory: Path, pulses: str, survey: object) -> Path:
    test = directory / "FP1" / "test_900"
    test.mkdir(parents=True)
    (test / "test_900.allpulses.json").write_text(pulses, encoding="utf-8")
    (test / "test_900.survey.json").write_text(json.dumps(survey), encoding="utf-8")
    return test


SURVEY = {"num_rounds": 1, "survey_location": {"x": 0.0, "y": 0.0, "z": 0.0}}


def test_cli_names_the_broken_file(tmp_path: Path) -> None:
    test = _write_test(tmp_path, "[{not json", SURVEY)
    result = runner.invoke(app, ["gunshot", "evaluate", str(tmp_path)])
    assert result.exit_code == 2
    assert "test_900.allpulses.json" in result.output
    assert "not valid JSON" in result.output
    assert "Traceback" not in result.output
    assert test.exists()


def test_missing_field_is_named(tmp_path: Path) -> None:
    pulse = {
        "serial_number": "A",
        "arrival_time_utc": "2018-12-19T00:49:27.467Z",
        "location": {"x": 1, "y": 2},
    }
    _write_test(tmp_path, json.dumps([pulse]), SURVEY)
    with pytest.raises(
        EvaluationError, match=r"allpulses\.json: field '\[0\]\.location\.z': missing"
    ):
        evaluate(tmp_path)


def test_one_broken_test_is_skipped_and_reported(tmp_path: Path) -> None:
    _write_test(tmp_path / "bad", "[]", {**SURVEY, "num_rounds": "three"})
    pulses = [
        {
            "serial_number": f"S{k}",
            "arrival_time_utc": f"2018-12-19T00:49:2{k}.000Z",
            "location": {"x": 300.0 * k, "y": 0.0, "z": 0.0},
        }
        for k in range(3)
    ]
    _write_test(tmp_path / "good", json.dumps(pulses), SURVEY)
    report = evaluate(tmp_path)
    assert report.tests == 1
    assert [s["field"] for s in report.skipped] == ["num_rounds"]


def test_empty_directory_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["gunshot", "evaluate", str(tmp_path)])
    assert result.exit_code == 2
    assert "no *.allpulses.json" in result.output
