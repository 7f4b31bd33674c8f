"""Fast JSON responses (orjson) and the JSON shapes of stored records."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from starlette.responses import Response

from safecity.core.records import AuditRecord, DeadLetter, StoredEvent


class Json(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def stored_event(s: StoredEvent) -> dict[str, Any]:
    out: dict[str, Any] = {
        "seq": s.seq,
        "received_at": s.received_at.isoformat(),
        "event": s.event.to_json_dict(),
    }
    if s.incident_id is not None:
        out["incident_id"] = s.incident_id
        out["link_reason"] = s.link_reason or {}
    return out


def dead_letter(d: DeadLetter, *, with_raw: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": d.id,
        "received_at": d.received_at.isoformat(),
        "channel": d.channel,
        "source": d.source,
        "content_type": d.content_type,
        "size": len(d.raw),
        "errors": list(d.errors),
    }
    if with_raw:
        out["raw_base64"] = base64.b64encode(d.raw).decode()
        try:
            out["raw_text"] = d.raw.decode("utf-8")
        except UnicodeDecodeError:
            out["raw_text"] = None
    return out


def audit_record(r: AuditRecord) -> dict[str, Any]:
    return {
        "seq": r.seq,
        "at": r.at.isoformat(),
        "actor": r.actor,
        "agency_id": r.agency_id,
        "purpose": r.purpose,
        "action": r.action,
        "object_type": r.object_type,
        "object_id": r.object_id,
        "outcome": r.outcome,
        "details": r.details,
        "prev_hash": r.prev_hash,
        "hash": r.hash,
    }
