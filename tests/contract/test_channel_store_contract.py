"""The Store port's channel contract: channels, messages and per-agency receipts. Every backend
must pass all of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from safecity.core.errors import Conflict
from safecity.core.ids import new_id
from safecity.core.operations import (
    Channel,
    ChannelKind,
    ChannelMessage,
    MessageKind,
    Receipt,
)
from safecity.core.ports import Store

T0 = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)
POLICE, RESCUE, CITY = "police", "rescue", "city"


def channel(
    channel_id: str,
    *,
    incident_id: str | None = None,
    kind: ChannelKind | None = None,
    **fields: Any,
) -> Channel:
    values: dict[str, Any] = {
        "id": channel_id,
        "kind": kind or (ChannelKind.INCIDENT if incident_id else ChannelKind.AREA),
        "name": f"channel {channel_id}",
        "incident_id": incident_id,
        "agencies": (POLICE, RESCUE),
        "created_at": T0,
        "created_by": "user:sup-1",
    }
    values.update(fields)
    return Channel(**values)


def message(
    channel_id: str,
    minute: int = 0,
    *,
    body: str = "hello",
    receipts: tuple[Receipt, ...] = (Receipt(agency_id=RESCUE),),
    **fields: Any,
) -> ChannelMessage:
    at = T0 + timedelta(minutes=minute)
    values: dict[str, Any] = {
        "id": new_id("msg", at),
        "channel_id": channel_id,
        "at": at,
        "author": "user:op-1",
        "agency_id": POLICE,
        "body": body,
        "receipts": receipts,
    }
    values.update(fields)
    return ChannelMessage(**values)


def test_a_channel_round_trips(store: Store) -> None:
    made = channel("chn-1", incident_id="inc-1", area="Kamppi")
    store.add_channel(made)
    assert store.get_channel("chn-1") == made
    assert store.incident_channel("inc-1") == made
    assert store.get_channel("chn-nope") is None
    assert store.incident_channel("inc-nope") is None


def test_an_incident_has_at_most_one_channel(store: Store) -> None:
    store.add_channel(channel("chn-1", incident_id="inc-1"))
    with pytest.raises(Conflict):
        store.add_channel(channel("chn-2", incident_id="inc-1"))
    assert store.get_channel("chn-2") is None
    # Area channels have no incident: any number of them.
    store.add_channel(channel("chn-3"))
    store.add_channel(channel("chn-4"))
    assert {c.id for c in store.list_channels(kind="area")} == {"chn-3", "chn-4"}


def test_saving_a_channel_keeps_its_new_agencies_and_closing(store: Store) -> None:
    store.add_channel(channel("chn-1", incident_id="inc-1"))
    store.add_channel(channel("chn-2"))
    grown = channel("chn-1", incident_id="inc-1", agencies=(POLICE, RESCUE, CITY), name="Fire")
    store.save_channel(grown)
    assert store.get_channel("chn-1") == grown
    closed = channel("chn-2", closed_at=T0 + timedelta(hours=1))
    store.save_channel(closed)
    assert store.get_channel("chn-2") == closed
    assert [c.id for c in store.list_channels()] == ["chn-1"]
    assert [c.id for c in store.list_channels(open_only=False)] == ["chn-1", "chn-2"]
    assert [c.id for c in store.list_channels(kind="incident", open_only=False)] == ["chn-1"]
    assert store.list_channels(kind="area") == []


def test_messages_come_back_oldest_first_with_their_receipts(store: Store) -> None:
    store.add_channel(channel("chn-1"))
    store.add_channel(channel("chn-2"))
    own = Receipt(
        agency_id=POLICE, delivered_at=T0, acknowledged_at=T0, acknowledged_by="user:op-1"
    )
    first = message("chn-1", 0, body="first", receipts=(own, Receipt(agency_id=RESCUE)))
    log = message(
        "chn-1",
        1,
        body="Opened: Fire (priority 2)",
        receipts=(),
        kind=MessageKind.LOG,
        agency_id=None,
        details={"action": "opened", "timeline_seq": 7, "factors": [{"name": "type"}]},
    )
    third = message("chn-1", 2, body="third", requires_ack=True)
    elsewhere = message("chn-2", 1, body="other channel")
    for m in (first, log, third, elsewhere):
        store.add_message(m)
    listed = store.list_messages("chn-1")
    assert [m.id for m in listed] == [first.id, log.id, third.id]
    assert listed[0] == first
    assert listed[1] == log and listed[1].receipts == ()
    assert listed[2].requires_ack
    assert store.get_message(third.id) == third
    assert store.get_message("msg-nope") is None
    # Paging: after a message id, at most ``limit``.
    assert [m.id for m in store.list_messages("chn-1", after_id=first.id)] == [log.id, third.id]
    assert [m.id for m in store.list_messages("chn-1", limit=2)] == [first.id, log.id]
    assert store.list_messages("chn-1", after_id=third.id) == []
    assert store.list_messages("chn-nope") == []


def test_receipts_are_marked_once_per_agency(store: Store) -> None:
    store.add_channel(channel("chn-1"))
    receipts = (Receipt(agency_id=RESCUE), Receipt(agency_id=CITY))
    a = message("chn-1", 0, receipts=receipts)
    b = message("chn-1", 1, receipts=receipts)
    store.add_message(a)
    store.add_message(b)
    t1, t2, t3 = (T0 + timedelta(minutes=m) for m in (5, 6, 7))

    assert store.mark_receipts([a.id, b.id], RESCUE, delivered_at=t1) == 2
    # Delivery is kept at its first time.
    assert store.mark_receipts([a.id, b.id], RESCUE, delivered_at=t2) == 0
    got = store.get_message(a.id)
    assert got is not None
    by_agency = {r.agency_id: r for r in got.receipts}
    assert by_agency[RESCUE].delivered_at == t1
    assert by_agency[CITY].delivered_at is None

    # Acknowledging implies delivery, and is kept with who did it.
    assert store.mark_receipts([a.id], CITY, acknowledged_at=t2, acknowledged_by="user:c") == 2
    assert store.mark_receipts([a.id], CITY, acknowledged_at=t3, acknowledged_by="user:d") == 0
    got = store.get_message(a.id)
    assert got is not None
    city = next(r for r in got.receipts if r.agency_id == CITY)
    assert (city.delivered_at, city.acknowledged_at, city.acknowledged_by) == (t2, t2, "user:c")

    # An agency without a receipt row, and an empty list, change nothing.
    assert store.mark_receipts([a.id], "nobody", delivered_at=t1) == 0
    assert store.mark_receipts([], RESCUE, delivered_at=t1) == 0
    listed = store.list_messages("chn-1")
    other = next(r for r in listed[1].receipts if r.agency_id == CITY)
    assert other.delivered_at is None and other.acknowledged_at is None


def test_marking_many_messages_at_once(store: Store) -> None:
    store.add_channel(channel("chn-1"))
    ids = []
    for i in range(450):  # more than one chunk of bound parameters
        m = message("chn-1", i)
        store.add_message(m)
        ids.append(m.id)
    assert store.mark_receipts(ids, RESCUE, delivered_at=T0) == 450
    assert all(m.receipts[0].delivered_at == T0 for m in store.list_messages("chn-1", limit=500))
