"""Response-time KPIs from hand-built timelines: every interval, missing steps, out-of-order
entries, reopened and merged incidents, exact percentiles and target shares, grouping."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from safecity.core.incidents import Incident, TimelineEntry
from safecity.core.operations import UnitLogEntry
from safecity.core.payloads import UnitState
from safecity.operations.kpis import (
    IncidentIntervals,
    Kpi,
    KpiTarget,
    KpiTargets,
    KpiTargetSet,
    incident_intervals,
    percentile,
    summarise,
)
from safecity.settings import Settings

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def incident(
    id_: str = "inc-1",
    *,
    first_event: float = -30,
    opened: float = 0,
    closed: float | None = None,
    agency: str | None = "police",
    area: str | None = "Kamppi",
    type_: str = "fight",
    priority: int = 2,
    merged_into: str | None = None,
) -> Incident:
    return Incident(
        id=id_,
        type=type_,
        title="t",
        priority=priority,
        opened_at=at(opened),
        updated_at=at(closed or opened),
        first_event_at=at(first_event),
        last_event_at=at(first_event),
        closed_at=None if closed is None else at(closed),
        agency_id=agency,
        area=area,
        merged_into=merged_into,
    )


def entry(action: str, seconds: float, id_: str = "inc-1", **details: Any) -> TimelineEntry:
    return TimelineEntry(
        incident_id=id_, at=at(seconds), actor="user:op", action=action, details=details
    )


def unit(unit_id: str, status: str, seconds: float, agency: str = "police") -> TimelineEntry:
    return entry(
        "unit_status",
        seconds,
        unit_id=unit_id,
        agency_id=agency,
        status=status,
        previous="available",
    )


def full_timeline() -> list[TimelineEntry]:
    return [
        entry("opened", 0),
        entry("acknowledged", 10),
        entry("dispatched", 40, units=["P-1", "P-2"]),
        unit("P-1", "dispatched", 40),
        unit("P-2", "dispatched", 40),
        unit("P-2", "en_route", 65),
        unit("P-1", "en_route", 70),
        unit("P-1", "on_scene", 250),
        entry("on_scene", 250),
        unit("P-2", "on_scene", 300),
        unit("P-1", "available", 1000),
        unit("P-2", "available", 1200),
        entry("closed", 1500, reason="done"),
    ]


def test_every_interval_of_a_complete_incident() -> None:
    got = incident_intervals(incident(closed=1500), full_timeline())
    assert got.detection_to_open == 30
    assert got.time_to_acknowledge == 10
    assert got.time_to_dispatch == 40
    assert got.turnout == 25  # first dispatch (40) to the first unit en route (P-2, 65)
    assert got.travel == 185  # first en route (65) to the first unit on scene (P-1, 250)
    assert got.response == 250
    assert got.on_scene_time == 950  # to the last unit clearing (1200), before the close
    assert got.total == 1500
    assert got.excluded is None and got.reopened is False
    p1, p2 = got.units
    assert (p1.unit_id, p1.agency_id, p1.turnout, p1.travel) == ("P-1", "police", 30, 180)
    assert (p2.unit_id, p2.turnout, p2.travel) == ("P-2", 25, 235)
    assert p2.cleared_at == at(1200)
    assert got.milestones.cleared_at == at(1200)
    assert got.milestones.closed_at == at(1500)


def test_entry_order_does_not_matter() -> None:
    shuffled = full_timeline()
    random.Random(3).shuffle(shuffled)
    assert incident_intervals(incident(closed=1500), shuffled) == incident_intervals(
        incident(closed=1500), full_timeline()
    )


def test_dispatch_without_acknowledging_counts_as_the_acknowledgement() -> None:
    got = incident_intervals(
        incident(),
        [entry("opened", 0), entry("dispatched", 20, units=["P-1"]), entry("acknowledged", 50)],
    )
    assert got.time_to_acknowledge == 20
    assert got.time_to_dispatch == 20


def test_missing_steps_leave_their_intervals_empty() -> None:
    # Dispatched, no unit ever reported en route: no turnout; travel runs from the dispatch.
    got = incident_intervals(
        incident(),
        [
            entry("opened", 0),
            entry("dispatched", 30, units=["P-1"]),
            unit("P-1", "on_scene", 200),
        ],
    )
    assert got.turnout is None
    assert got.travel == 170
    assert got.response == 200
    assert got.on_scene_time is None  # still there, still open
    assert got.total is None
    assert got.units[0].travel == 170
    # Only opened: nothing but detection.
    bare = incident_intervals(incident(first_event=-5), [entry("opened", 0)])
    assert bare.detection_to_open == 5
    assert [bare.value(k) for k in Kpi if k is not Kpi.DETECTION_TO_OPEN] == [None] * 7
    # No timeline at all: the incident's own opened_at and closed_at.
    plain = incident_intervals(incident(closed=90), [])
    assert plain.total == 90


def test_a_unit_going_en_route_itself_is_the_dispatch() -> None:
    got = incident_intervals(
        incident(), [entry("opened", 0), unit("P-1", "en_route", 45), unit("P-1", "on_scene", 95)]
    )
    assert got.time_to_dispatch == 45
    assert got.time_to_acknowledge == 45
    assert got.turnout == 0
    assert got.travel == 50


def test_on_scene_time_ends_at_the_close_while_a_unit_is_still_there() -> None:
    timeline = [*full_timeline()[:-3], unit("P-1", "available", 1000), entry("closed", 1500)]
    got = incident_intervals(incident(closed=1500), timeline)
    assert got.on_scene_time == 1250  # P-2 never cleared
    # The operator's on-scene mark counts when no unit reported arriving.
    marked = incident_intervals(
        incident(),
        [entry("opened", 0), entry("dispatched", 10, units=["X"]), entry("on_scene", 100)],
    )
    assert marked.response == 100
    assert marked.travel == 90


def test_reopened_incidents_count_their_first_cycle() -> None:
    timeline = [
        entry("opened", 0),
        entry("acknowledged", 30),
        entry("closed", 500, reason="false alarm"),
        entry("reopened", 900, reason="it was not"),
        entry("dispatched", 1000, units=["P-1"]),
        unit("P-1", "on_scene", 1100),
        entry("closed", 2000),
    ]
    log = [
        UnitLogEntry(
            id="l1",
            unit_id="P-9",
            at=at(1050),
            status=UnitState.EN_ROUTE,
            incident_id="inc-1",
            actor="x",
        )
    ]
    got = incident_intervals(incident(closed=2000), timeline, log)
    assert got.reopened is True
    assert got.time_to_acknowledge == 30
    assert got.total == 500
    assert got.time_to_dispatch is None
    assert got.response is None
    assert got.units == ()


def test_merged_incidents_are_marked_and_left_out_of_reports() -> None:
    merged = incident_intervals(
        incident("inc-2", closed=60, merged_into="inc-1"),
        [
            entry("opened", 0, "inc-2"),
            entry("acknowledged", 5, "inc-2"),
            entry("merged_into", 60, "inc-2", into="inc-1"),
        ],
    )
    assert merged.excluded == "merged"
    assert merged.total == 60
    kept = incident_intervals(incident(closed=1500), full_timeline())
    report = summarise([merged, kept])
    assert (report.incidents, report.excluded) == (1, 1)
    (group,) = report.groups
    assert group.key == "all"
    assert group.kpis[1].kpi is Kpi.TIME_TO_ACKNOWLEDGE
    assert group.kpis[1].count == 1 and group.kpis[1].median_s == 10


def test_the_unit_log_fills_in_units_the_timeline_never_mentions() -> None:
    def log(id_: str, status: UnitState, seconds: float, incident_id: str = "inc-1") -> Any:
        return UnitLogEntry(
            id=id_, unit_id="A-7", at=at(seconds), status=status, incident_id=incident_id, actor="x"
        )

    got = incident_intervals(
        incident(closed=900),
        [entry("opened", 0), entry("dispatched", 20, units=["A-7"]), entry("closed", 900)],
        [
            log("1", UnitState.EN_ROUTE, 50),
            log("2", UnitState.ON_SCENE, 290),
            log("3", UnitState.AVAILABLE, 700),
            log("4", UnitState.EN_ROUTE, 5, incident_id="another"),
        ],
        unit_agencies={"A-7": "ambulance"},
    )
    assert (got.turnout, got.travel, got.response, got.on_scene_time) == (30, 240, 290, 410)
    (a7,) = got.units
    assert (a7.agency_id, a7.dispatched_at, a7.cleared_at) == ("ambulance", at(20), at(700))


def test_contradictory_entries_give_no_figure_rather_than_a_negative_one() -> None:
    got = incident_intervals(
        incident(first_event=10), [entry("opened", 0), entry("acknowledged", -3)]
    )
    assert got.detection_to_open is None
    assert got.time_to_acknowledge is None


def test_percentiles_are_nearest_rank_and_the_median_is_the_middle() -> None:
    values = [float(v) for v in range(10, 110, 10)]
    assert percentile(values, 90) == 90
    assert percentile(values, 50) == 50
    assert percentile([7.0], 90) == 7
    assert percentile([float(v) for v in range(1, 12)], 90) == 10
    with pytest.raises(ValueError):
        percentile([], 90)


def acknowledged_after(
    id_: str, seconds: float, *, agency: str | None, area: str | None, priority: int = 2
) -> IncidentIntervals:
    return incident_intervals(
        incident(id_, agency=agency, area=area, priority=priority),
        [entry("opened", 0, id_), entry("acknowledged", seconds, id_)],
    )


def sample() -> list[IncidentIntervals]:
    police = [5, 10, 12, 14, 15, 16, 20, 8, 9, 11]
    rescue = [3, 4]
    items = [
        acknowledged_after(f"p{i}", s, agency="police", area="Kamppi" if i < 6 else "Kallio")
        for i, s in enumerate(police)
    ]
    items += [
        acknowledged_after(f"r{i}", s, agency="rescue", area="Kallio", priority=1)
        for i, s in enumerate(rescue)
    ]
    items.append(acknowledged_after("n0", 40, agency=None, area=None))
    return items


def test_grouping_by_agency_gives_exact_figures_against_the_nena_target() -> None:
    report = summarise(sample(), "agency")
    assert [g.key for g in report.groups] == ["police", "rescue", None]
    police, rescue, none = report.groups
    ack = police.kpis[1]
    assert ack.kpi is Kpi.TIME_TO_ACKNOWLEDGE
    assert (ack.count, ack.median_s, ack.p90_s, ack.mean_s) == (10, 11.5, 16, 12)
    assert (ack.threshold_s, ack.target_share) == (15, 0.9)
    assert (ack.judged, ack.within, ack.share_within, ack.met) == (10, 8, 0.8, False)
    r = rescue.kpis[1]
    assert (r.count, r.median_s, r.p90_s, r.share_within, r.met) == (2, 3.5, 4, 1.0, True)
    assert none.incidents == 1 and none.kpis[1].met is False
    # Steps never reached have no figures, but the target still shows.
    dispatch = police.kpis[2]
    assert dispatch.count == 0 and dispatch.median_s is None and dispatch.met is None
    assert dispatch.threshold_s == 64
    # KPIs without a published norm have no target by default.
    assert police.kpis[0].target_share is None and police.kpis[0].met is None


def test_grouping_by_area_and_priority() -> None:
    report = summarise(sample(), "area")
    assert [(g.key, g.incidents) for g in report.groups] == [
        ("Kallio", 6),
        ("Kamppi", 6),
        (None, 1),
    ]
    kallio = report.groups[0].kpis[1]  # 20, 8, 9, 11 and rescue's 3, 4
    assert (kallio.count, kallio.median_s, kallio.p90_s, kallio.within) == (6, 8.5, 20, 5)
    by_priority = summarise(sample(), "priority")
    assert [g.key for g in by_priority.groups] == ["1", "2"]


def test_overrides_per_agency_win_over_priority_over_the_default() -> None:
    fire = KpiTarget(threshold_s=80, share=0.9, source="NFPA 1710 fire")
    targets = KpiTargets(
        priorities={1: KpiTargetSet(time_to_acknowledge=KpiTarget(threshold_s=3, share=1))},
        agencies={"rescue": KpiTargetSet(turnout=fire)},
    )
    assert targets.resolve(Kpi.TURNOUT, agency_id="rescue", priority=1) == fire
    assert targets.resolve(Kpi.TURNOUT, agency_id="police", priority=1) == targets.turnout
    assert targets.resolve(Kpi.TIME_TO_ACKNOWLEDGE, agency_id="rescue", priority=1) == KpiTarget(
        threshold_s=3, share=1
    )
    report = summarise(sample(), None, targets)
    ack = report.groups[0].kpis[1]
    # Rescue's 3 and 4 s are judged against 3 s (one fails); the rest against 15 s.
    assert ack.targets_mixed is True and ack.threshold_s is None
    assert ack.target_share == 1
    assert (ack.judged, ack.within) == (13, 9)
    assert report.targets == targets


def test_default_targets_are_the_published_norms_and_settings_load_overrides(
    tmp_path: Path,
) -> None:
    t = KpiTargets()
    assert t.time_to_acknowledge is not None and t.time_to_dispatch is not None
    assert t.turnout is not None and t.travel is not None
    assert (t.time_to_acknowledge.threshold_s, t.time_to_acknowledge.share) == (15, 0.9)
    assert (t.time_to_dispatch.threshold_s, t.time_to_dispatch.share) == (64, 0.9)
    assert (t.turnout.threshold_s, t.travel.threshold_s) == (60, 240)
    assert t.response is None and t.total is None
    config = tmp_path / "safecity.toml"
    config.write_text(
        "[kpis.targets.response]\nthreshold_s = 600\nshare = 0.9\n"
        "[kpis.targets.agencies.helsinki-police.time_to_dispatch]\nthreshold_s = 120\nshare = 0.8\n"
        '[kpis.targets.priorities."4".turnout]\nthreshold_s = 300\nshare = 0.9\n'
    )
    loaded = Settings.from_file(config).kpis.targets
    assert loaded.response == KpiTarget(threshold_s=600, share=0.9)
    assert loaded.resolve(
        Kpi.TIME_TO_DISPATCH, agency_id="helsinki-police", priority=1
    ) == KpiTarget(threshold_s=120, share=0.8)
    assert loaded.resolve(Kpi.TURNOUT, agency_id=None, priority=4) == KpiTarget(
        threshold_s=300, share=0.9
    )
    with pytest.raises(ValidationError):
        KpiTargets.model_validate({"priorities": {"9": {}}})
    with pytest.raises(ValidationError):
        KpiTargets.model_validate({"turnout": {"threshold_s": 60, "share": 1.5}})


def test_the_cli_prints_the_report_as_json_or_a_table(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from factories import raw_event
    from safecity.cli import app

    runner = CliRunner()
    db = str(tmp_path / "cli.db")
    events = tmp_path / "events.json"
    seen = datetime.now(UTC) - timedelta(seconds=60)
    events.write_text(json.dumps([raw_event("camera.abnormal", at=seen)]))
    assert runner.invoke(app, ["ingest", str(events), "--db", db]).exit_code == 0
    config = tmp_path / "targets.toml"
    config.write_text("[kpis.targets.detection_to_open]\nthreshold_s = 3600\nshare = 0.5\n")
    result = runner.invoke(
        app, ["kpis", "--db", db, "--config", str(config), "--group-by", "type", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["incidents"] == 1 and report["group_by"] == "type"
    (group,) = report["groups"]
    detection = group["kpis"][0]
    assert detection["kpi"] == "detection_to_open" and detection["count"] == 1
    assert detection["threshold_s"] == 3600 and detection["met"] is True
    result = runner.invoke(app, ["kpis", "--db", db, "--since", "2020-01-01T00:00:00"])
    assert result.exit_code == 0, result.output
    assert "time_to_acknowledge" in result.output and "1 incident(s)" in result.output
    assert runner.invoke(app, ["kpis", "--db", db, "--group-by", "colour"]).exit_code == 2
    assert runner.invoke(app, ["kpis", "--db", db, "--since", "yesterday"]).exit_code == 2
