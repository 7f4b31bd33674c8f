"""The fairness and feedback card: exposure and accuracy parity on hand-made grids, the
concentration and persistence measures, and the feedback-loop check (no flag → said so; IPW
moves event shares away from the heavily patrolled group)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from safecity.analytics.fairness import (
    NO_FLAG,
    fairness_card,
    feedback_check,
    gini,
    jaccard,
    top_share,
)

# Ten cells: 0-3 in "north" (4 cells), 4-9 in "south" (6 cells).
GROUPS = np.array(["north"] * 4 + ["south"] * 6)
# Risk ranks cells 0 > 1 > 4 > ... so at 30 % (3 cells) cells 0, 1 and 4 are flagged.
RISK = np.array([10.0, 9.0, 1.0, 1.0, 8.0, 1.0, 1.0, 1.0, 1.0, 1.0])
ACTUAL = np.array([2, 0, 2, 0, 1, 3, 0, 0, 0, 0])


def test_exposure_calibration_and_parity_are_exact() -> None:
    card = fairness_card(RISK, ACTUAL, GROUPS, coverage=0.3)
    assert card.flagged_cells == 3
    north, south = card.groups
    assert (north.group, south.group) == ("north", "south")
    assert north.area_share == pytest.approx(0.4)
    assert south.area_share == pytest.approx(0.6)
    # 2 of the 3 flagged cells lie in the north, 1 in the south
    assert north.flagged_share == pytest.approx(2 / 3)
    assert south.flagged_share == pytest.approx(1 / 3)
    assert north.flagged_area_share == pytest.approx(2 / 4)
    assert south.flagged_area_share == pytest.approx(1 / 6)
    assert north.exposure_ratio == pytest.approx((2 / 3) / 0.4)
    # events: north 4 of 8, south 4 of 8
    assert north.event_share == pytest.approx(0.5)
    assert south.event_share == pytest.approx(0.5)
    # hit rates: north's flagged cells 0 and 1 hold 2 of its 4 events; south's cell 4 1 of 4
    assert north.hit_rate == pytest.approx(0.5)
    assert south.hit_rate == pytest.approx(0.25)
    assert card.hit_rate_gap == pytest.approx(0.25)
    assert card.hit_rate_ratio == pytest.approx(0.5)
    # calibration: predicted rescaled to the 8 observed events (risk total 34)
    assert north.predicted == pytest.approx(21 / 34 * 8)
    assert south.predicted == pytest.approx(13 / 34 * 8)
    assert north.calibration_ratio == pytest.approx(4 / (21 / 34 * 8))
    assert north.predicted + south.predicted == pytest.approx(8.0)


def test_concentration_and_persistence() -> None:
    assert gini(np.ones(50)) == pytest.approx(0.0)
    one_hot = np.zeros(100)
    one_hot[7] = 5.0
    assert gini(one_hot) == pytest.approx(0.99)
    assert top_share(one_hot, 0.01) == pytest.approx(1.0)
    assert top_share(np.ones(200), 0.01) == pytest.approx(0.01)
    assert jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3)
    card = fairness_card(RISK, ACTUAL, GROUPS, coverage=0.3, history=[{0, 1, 4}, {0, 5, 6}])
    # {0,1,4} -> {0,5,6}: 1/5; {0,5,6} -> {0,1,4} (this forecast): 1/5
    assert card.persistence == pytest.approx([0.2, 0.2])
    assert card.persistence_mean == pytest.approx(0.2)


def test_the_card_says_when_there_is_no_discovery_flag() -> None:
    card = fairness_card(RISK, ACTUAL, GROUPS, coverage=0.3)
    assert not card.feedback.available
    assert card.feedback.message == NO_FLAG
    assert "no discovery flag" in card.feedback.message
    data = json.loads(card.to_json())
    assert data["feedback"]["available"] is False
    assert data["feedback"]["patrol_share"] is None  # NaN becomes null, never a made-up number
    assert data["groups"][0]["group"] == "north"


def test_feedback_shares_and_ipw() -> None:
    # north: 10 events, 8 found by patrol; south: 10 events, 2 found by patrol
    groups = np.array(["north"] * 10 + ["south"] * 10)
    flag = np.array([True] * 8 + [False] * 2 + [True] * 2 + [False] * 8)
    plain = feedback_check(flag, groups)
    assert plain.available
    assert plain.patrol_share == pytest.approx(0.5)
    assert plain.public_share == pytest.approx(0.5)
    north, south = plain.groups
    assert north.patrol_share == pytest.approx(0.8)
    assert south.patrol_share == pytest.approx(0.2)
    assert north.event_share == pytest.approx(0.5)
    assert north.event_share_ipw is None
    weighted = feedback_check(flag, groups, ipw=True)
    wn, ws = weighted.groups
    # patrol-found events weighted by 0.5/0.8 in the north and 0.5/0.2 in the south:
    # north 2 + 8 * 0.625 = 7, south 8 + 2 * 2.5 = 13
    assert wn.event_share_ipw == pytest.approx(7 / 20)
    assert ws.event_share_ipw == pytest.approx(13 / 20)
    assert wn.event_share_ipw < north.event_share  # the heavily patrolled group shrinks
    assert "inverse probability" in weighted.message
    # equal patrol presence: the weights change nothing
    even = feedback_check(np.array([True, False] * 10), groups, ipw=True)
    assert [g.event_share_ipw for g in even.groups] == pytest.approx([0.5, 0.5])


def test_card_with_flags_and_bad_shapes() -> None:
    flag = np.array([True, False, False, True])
    card = fairness_card(
        RISK,
        ACTUAL,
        GROUPS,
        coverage=0.3,
        discovered_by_patrol=flag,
        ipw=True,
        event_groups=np.array(["north", "north", "south", "south"]),
    )
    assert card.feedback.available
    assert card.feedback.patrol_share == pytest.approx(0.5)
    assert math.isfinite(card.gini)
    with pytest.raises(ValueError, match="one value per cell"):
        fairness_card(RISK, ACTUAL[:5], GROUPS)


def test_pooled_parity_adds_windows_up() -> None:
    from safecity.analytics.fairness import ParityAccumulator

    acc = ParityAccumulator(GROUPS)
    acc.add(np.array([0, 1, 4]), ACTUAL)  # north 2/4, south 1/4
    acc.add(np.array([2]), np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 3]))  # north 1/1, south 0/3
    res = acc.result()
    assert res.windows == 2
    assert res.groups == ["north", "south"]
    assert res.hits == [3.0, 1.0]
    assert res.events == [5.0, 7.0]
    assert res.hit_rates == pytest.approx([3 / 5, 1 / 7])
    assert res.gap == pytest.approx(3 / 5 - 1 / 7)
