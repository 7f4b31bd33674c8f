"""What crosses the bus: subjects and payload shapes shared by publishers and subscribers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import orjson

from safecity.core.incidents import Incident, IncidentWrite
from safecity.core.ports import BusMessage
from safecity.core.records import StoredEvent


def event_subject(event_type: str) -> str:
    """``events.<type>``: subscribers can pick a family, e.g. ``events.camera.>``."""
    return f"events.{event_type}"


def event_messages(stored: Iterable[StoredEvent]) -> list[BusMessage]:
    """Bus messages for newly accepted events, carrying their store sequence numbers."""
    return [
        BusMessage(
            event_subject(s.event.type),
            headers={"seq": str(s.seq), "Nats-Msg-Id": f"{s.event.source}\x1f{s.event.id}"},
            local=s.event,
            encode=partial(_encode_event, s),
        )
        for s in stored
    ]


def _encode_event(stored: StoredEvent) -> bytes:
    return orjson.dumps({"seq": stored.seq, "event": stored.event.to_json_dict()})


@dataclass(frozen=True)
class IncidentChange:
    action: str
    actor: str
    incident: Incident
    events: tuple[tuple[str, str], ...]


def incident_change_messages(
    writes: Sequence[IncidentWrite],
    *,
    opened: set[str],
    actor: str,
    action: str = "updated",
) -> list[BusMessage]:
    """One message per changed incident: ``incidents.opened`` or ``incidents.<action>``."""
    out = []
    for write in writes:
        incident = write.incident
        act = "opened" if incident.id in opened else action
        change = IncidentChange(act, actor, incident, write.link_events)
        out.append(
            BusMessage(f"incidents.{act}", local=change, encode=partial(_encode_change, change))
        )
    return out


def _encode_change(change: IncidentChange) -> bytes:
    return orjson.dumps(
        {
            "action": change.action,
            "actor": change.actor,
            "incident": change.incident.model_dump(mode="json"),
            "events": [{"source": s, "id": i} for s, i in change.events],
        }
    )


def decode_incident_change(message: BusMessage) -> IncidentChange:
    if isinstance(message.local, IncidentChange):
        return message.local
    body = orjson.loads(message.data)
    return IncidentChange(
        action=body["action"],
        actor=body["actor"],
        incident=Incident.model_validate(body["incident"]),
        events=tuple((e["source"], e["id"]) for e in body["events"]),
    )
