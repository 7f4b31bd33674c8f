"""The Store port's command-proposal contract: street commands an automation rule proposed,
waiting for a person. Every backend must pass all of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from safecity.core.actuators import CommandName
from safecity.core.errors import Conflict
from safecity.core.ids import new_id
from safecity.core.operations import CommandProposal, DeviceOutcome, ProposalStatus
from safecity.core.ports import Store

T0 = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)


def proposal(minute: int = 0, *, within_s: int = 120, **fields: Any) -> CommandProposal:
    at = T0 + timedelta(minutes=minute)
    values: dict[str, Any] = {
        "id": new_id("prp", at),
        "rule_id": "zone-bollards",
        "rule_name": "Zone: raise bollards",
        "incident_id": "inc-1",
        "device_ids": ("bollard-1", "bollard-2"),
        "command": CommandName.BOLLARD,
        "value": "up",
        "reason": "fired: all 2 conditions held",
        "created_at": at,
        "expires_at": at + timedelta(seconds=within_s),
    }
    values.update(fields)
    return CommandProposal(**values)


def test_a_proposal_round_trips(store: Store) -> None:
    made = proposal()
    store.save_command_proposal(made, expected_version=None)
    assert store.get_command_proposal(made.id, now=T0) == made
    assert store.get_command_proposal("prp-nope", now=T0) is None
    with pytest.raises(Conflict):
        store.save_command_proposal(made, expected_version=None)


def test_a_pending_proposal_reads_as_expired_from_its_deadline_on(store: Store) -> None:
    made = proposal(within_s=120)
    store.save_command_proposal(made, expected_version=None)
    just_before = made.expires_at - timedelta(microseconds=1)
    got = store.get_command_proposal(made.id, now=just_before)
    assert got is not None and got.status is ProposalStatus.PENDING
    got = store.get_command_proposal(made.id, now=made.expires_at)
    assert got is not None and got.status is ProposalStatus.EXPIRED
    # Filters use the status as it stands at that time.
    pending = store.list_command_proposals(now=just_before, status="pending")
    assert [p.id for p in pending] == [made.id]
    assert store.list_command_proposals(now=made.expires_at, status="pending") == []
    expired = store.list_command_proposals(now=made.expires_at, status="expired")
    assert [(p.id, p.status) for p in expired] == [(made.id, ProposalStatus.EXPIRED)]


def test_a_decided_proposal_never_expires(store: Store) -> None:
    made = proposal()
    store.save_command_proposal(made, expected_version=None)
    confirmed = made.model_copy(
        update={
            "status": ProposalStatus.CONFIRMED,
            "decided_by": "user:op-1",
            "decided_at": T0 + timedelta(seconds=30),
            "decision_reason": "street is clear on camera",
            "outcomes": (
                DeviceOutcome(device_id="bollard-1", outcome="acknowledged", command_id="cmd-1"),
                DeviceOutcome(device_id="bollard-2", outcome="refused", detail="jammed"),
            ),
            "version": 2,
        }
    )
    store.save_command_proposal(confirmed, expected_version=1)
    later = T0 + timedelta(days=1)
    assert store.get_command_proposal(made.id, now=later) == confirmed
    assert store.list_command_proposals(now=later, status="expired") == []
    assert [p.id for p in store.list_command_proposals(now=later, status="confirmed")] == [made.id]


def test_saving_at_a_stale_version_is_a_conflict(store: Store) -> None:
    made = proposal()
    store.save_command_proposal(made, expected_version=None)
    first = made.model_copy(update={"status": ProposalStatus.DECLINED, "version": 2})
    store.save_command_proposal(first, expected_version=1)
    second = made.model_copy(update={"status": ProposalStatus.CONFIRMED, "version": 2})
    with pytest.raises(Conflict):
        store.save_command_proposal(second, expected_version=1)
    got = store.get_command_proposal(made.id, now=T0)
    assert got is not None and got.status is ProposalStatus.DECLINED


def test_proposals_list_newest_first_by_incident_and_status(store: Store) -> None:
    a = proposal(0, incident_id="inc-1")
    b = proposal(1, incident_id="inc-2")
    c = proposal(2, incident_id="inc-1", within_s=3600)
    for made in (a, b, c):
        store.save_command_proposal(made, expected_version=None)
    now = T0 + timedelta(minutes=10)  # a and b have expired, c has not
    assert [p.id for p in store.list_command_proposals(now=now)] == [c.id, b.id, a.id]
    assert [p.status for p in store.list_command_proposals(now=now)] == [
        ProposalStatus.PENDING,
        ProposalStatus.EXPIRED,
        ProposalStatus.EXPIRED,
    ]
    by_incident = store.list_command_proposals(now=now, incident_id="inc-1")
    assert [p.id for p in by_incident] == [c.id, a.id]
    assert [p.id for p in store.list_command_proposals(now=now, status="pending")] == [c.id]
    assert [p.id for p in store.list_command_proposals(now=now, limit=1)] == [c.id]
    assert store.list_command_proposals(now=now, incident_id="inc-nope") == []
