"""recommend(): eligibility filters, ranking by drive time, team cover, tie-breaks, exclusions."""

from __future__ import annotations

import math

import pytest

from safecity.routing.network import RoadNetwork
from safecity.routing.recommend import UnitCandidate, cover, recommend

# tiny network (conftest.py): drive times to node 2 are 0 -> 20 s, 1 -> 10 s, 3 -> 40 s;
# nodes 4 and 5 cannot reach it.
NODE = {0: (0.0, 0.0), 1: (0.001, 0.0), 2: (0.002, 0.0), 3: (0.001, -0.001), 4: (0.010, 0.010)}
INCIDENT = NODE[2]


def unit(
    unit_id: str,
    node: int | None,
    *caps: str,
    status: str = "available",
    agency: str = "police",
    kind: str = "patrol",
) -> UnitCandidate:
    lon, lat = NODE[node] if node is not None else (None, None)
    return UnitCandidate(
        unit_id=unit_id,
        agency_id=agency,
        kind=kind,
        capabilities=frozenset(caps),
        status=status,
        lon=lon,
        lat=lat,
    )


FLEET = [
    unit("near", 1, "medic"),
    unit("far", 0, "ladder", "medic", agency="rescue", kind="engine"),
    unit("slow", 3, "hazmat", agency="rescue", kind="hazmat"),
    unit("resting", 1, "medic", status="off_duty"),
    unit("lost", None, "medic"),
    unit("island", 4, "medic"),
]


def test_ranked_by_drive_time_with_matched_and_missing(tiny: RoadNetwork) -> None:
    rec = recommend(tiny, *INCIDENT, FLEET, required_capabilities=frozenset({"medic", "ladder"}))
    assert [r.unit_id for r in rec.ranked] == ["near", "far", "slow"]
    assert [r.rank for r in rec.ranked] == [1, 2, 3]
    assert [r.drive_time_s for r in rec.ranked] == pytest.approx([10.0, 20.0, 40.0])
    near, far, slow = rec.ranked
    assert (near.matched, near.missing) == (("medic",), ("ladder",))
    assert (far.matched, far.missing) == (("ladder", "medic"), ())
    assert (slow.matched, slow.missing) == ((), ("ladder", "medic"))
    assert near.straight_line_m == pytest.approx(111.2, abs=0.5)
    assert near.off_network_m == 0.0
    assert rec.eligible_count == 3
    assert rec.required_capabilities == ("ladder", "medic")
    assert rec.network == "tiny"
    assert rec.incident_off_network_m == 0.0
    assert rec.incident_in_network_area


def test_exclusions_carry_reasons(tiny: RoadNetwork) -> None:
    rec = recommend(tiny, *INCIDENT, FLEET, agencies=frozenset({"police"}))
    assert [(e.unit_id, e.reason) for e in rec.excluded] == [
        ("far", "other agency"),
        ("island", "unreachable"),
        ("lost", "no position"),
        ("resting", "status off_duty"),
        ("slow", "other agency"),
    ]
    assert [r.unit_id for r in rec.ranked] == ["near"]


def test_status_filter_is_configurable(tiny: RoadNetwork) -> None:
    rec = recommend(tiny, *INCIDENT, FLEET, statuses=frozenset({"available", "off_duty"}))
    assert [r.unit_id for r in rec.ranked] == ["near", "resting", "far", "slow"]
    assert ("resting", "status off_duty") not in [(e.unit_id, e.reason) for e in rec.excluded]


def test_equal_drive_times_break_ties_by_unit_id(tiny: RoadNetwork) -> None:
    units = [unit("b-2", 1), unit("a-9", 1), unit("b-1", 1)]
    rec = recommend(tiny, *INCIDENT, units)
    assert [r.unit_id for r in rec.ranked] == ["a-9", "b-1", "b-2"]
    assert [m.unit.unit_id for m in rec.team] == ["a-9"]


def test_no_requirement_proposes_the_single_fastest_unit(tiny: RoadNetwork) -> None:
    rec = recommend(tiny, *INCIDENT, FLEET)
    assert [(m.unit.unit_id, m.covers) for m in rec.team] == [("near", ())]
    assert rec.uncovered == ()
    assert rec.team_ready_s == pytest.approx(10.0)


def test_team_covers_every_capability_with_the_fastest_units(tiny: RoadNetwork) -> None:
    rec = recommend(tiny, *INCIDENT, FLEET, required_capabilities=frozenset({"medic", "hazmat"}))
    assert [(m.unit.unit_id, m.covers) for m in rec.team] == [
        ("near", ("medic",)),
        ("slow", ("hazmat",)),
    ]
    assert rec.uncovered == ()
    assert rec.team_ready_s == pytest.approx(40.0)


def test_team_drops_a_member_a_later_one_makes_redundant(tiny: RoadNetwork) -> None:
    # "near" brings medic first, but "far" brings ladder and medic: one unit, same completion
    rec = recommend(tiny, *INCIDENT, FLEET, required_capabilities=frozenset({"medic", "ladder"}))
    assert [(m.unit.unit_id, m.covers) for m in rec.team] == [("far", ("ladder", "medic"))]
    assert rec.team_ready_s == pytest.approx(20.0)


def test_capabilities_nobody_has_are_reported_uncovered(tiny: RoadNetwork) -> None:
    rec = recommend(tiny, *INCIDENT, FLEET, required_capabilities=frozenset({"k9", "medic"}))
    assert rec.uncovered == ("k9",)
    assert [(m.unit.unit_id, m.covers) for m in rec.team] == [("near", ("medic",))]
    # the off-duty unit's capabilities do not count
    rec = recommend(tiny, *INCIDENT, [FLEET[3]], required_capabilities=frozenset({"medic"}))
    assert rec.team == ()
    assert rec.uncovered == ("medic",)
    assert rec.team_ready_s == math.inf


def test_limit_truncates_ranked_but_not_the_team(tiny: RoadNetwork) -> None:
    rec = recommend(tiny, *INCIDENT, FLEET, required_capabilities=frozenset({"hazmat"}), limit=1)
    assert [r.unit_id for r in rec.ranked] == ["near"]
    assert rec.eligible_count == 3
    assert [(m.unit.unit_id, m.unit.rank, m.covers) for m in rec.team] == [("slow", 3, ("hazmat",))]


def test_bad_input_is_rejected(tiny: RoadNetwork) -> None:
    with pytest.raises(ValueError, match="unique"):
        recommend(tiny, *INCIDENT, [unit("a", 1), unit("a", 0)])
    with pytest.raises(ValueError, match="finite"):
        recommend(tiny, math.nan, 0.0, FLEET)
    with pytest.raises(ValueError, match="limit"):
        recommend(tiny, *INCIDENT, FLEET, limit=-1)


def test_nan_position_counts_as_no_position(tiny: RoadNetwork) -> None:
    ghost = UnitCandidate("ghost", "police", "patrol", frozenset(), "available", math.nan, 0.0)
    rec = recommend(tiny, *INCIDENT, [ghost])
    assert [(e.unit_id, e.reason) for e in rec.excluded] == [("ghost", "no position")]
    assert rec.ranked == ()
    assert rec.team == ()


def test_cover_on_capability_sets() -> None:
    sets = [frozenset({"a"}), frozenset({"b"}), frozenset({"a", "b", "c"}), frozenset({"d"})]
    team, uncovered = cover(sets, {"a", "b", "c", "e"})
    assert team == [(2, ("a", "b", "c"))]
    assert uncovered == ("e",)
    assert cover([], {"a"}) == ([], ("a",))
    assert cover(sets, ()) == ([(0, ())], ())


def test_recommend_on_monaco() -> None:
    net = RoadNetwork.load("monaco")
    casino = (7.4283, 43.7394)
    units = [
        UnitCandidate(
            "p-1", "police", "patrol", frozenset({"armed"}), "available", 7.4200, 43.7330
        ),
        UnitCandidate(
            "p-2", "police", "patrol", frozenset({"armed"}), "available", 7.4270, 43.7385
        ),
        UnitCandidate("f-1", "fire", "engine", frozenset({"ladder"}), "available", 7.4150, 43.7280),
    ]
    rec = recommend(net, *casino, units, required_capabilities=frozenset({"armed", "ladder"}))
    assert rec.ranked[0].unit_id == "p-2"
    assert {m.unit.unit_id for m in rec.team} == {"p-2", "f-1"}
    assert all(0 < r.drive_time_s < 900 for r in rec.ranked)
