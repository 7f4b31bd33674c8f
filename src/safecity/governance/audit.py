"""The audit log: every read or change of protected data, hash-chained so edits show."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from safecity.core.clock import Clock, to_micros
from safecity.core.identity import Principal
from safecity.core.ports import AuditRepository
from safecity.core.records import AuditRecord


def record_hash(record: AuditRecord, prev_hash: str) -> str:
    """SHA-256 over the previous hash and the record's canonical JSON form."""
    body = orjson.dumps(
        {
            "at": to_micros(record.at),
            "actor": record.actor,
            "agency": record.agency_id,
            "purpose": record.purpose,
            "action": record.action,
            "object_type": record.object_type,
            "object_id": record.object_id,
            "outcome": record.outcome,
            "details": record.details,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(prev_hash.encode() + b"\n" + body).hexdigest()


class AuditLog:
    """Appends audit records in a single hash chain (one writer at a time)."""

    def __init__(self, store: AuditRepository, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._last: str | None = None

    def record(
        self,
        principal: Principal,
        action: str,
        object_type: str,
        object_id: str | None = None,
        *,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
    ) -> AuditRecord:
        return self.append(
            actor=principal.actor,
            agency_id=principal.agency_id,
            purpose=principal.purpose.value,
            action=action,
            object_type=object_type,
            object_id=object_id,
            outcome=outcome,
            details=details or {},
        )

    def append(
        self,
        *,
        actor: str,
        agency_id: str | None,
        purpose: str,
        action: str,
        object_type: str,
        object_id: str | None,
        outcome: str = "ok",
        details: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> AuditRecord:
        with self._lock:
            prev = self._last if self._last is not None else self._store.last_audit_hash()
            draft = AuditRecord(
                at=at or self._clock.now(),
                actor=actor,
                agency_id=agency_id,
                purpose=purpose,
                action=action,
                object_type=object_type,
                object_id=object_id,
                outcome=outcome,
                details=details or {},
            )
            digest = record_hash(draft, prev)
            final = AuditRecord(**{**draft.__dict__, "prev_hash": prev, "hash": digest})
            try:
                self._store.append_audit([final])
            except Exception:
                self._last = None  # re-read the chain head next time
                raise
            self._last = digest
            return final

    def records(
        self,
        *,
        actor: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        after_seq: int | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Records in order; callers check the permission to read the trail first."""
        return self._store.list_audit(
            actor=actor,
            object_type=object_type,
            object_id=object_id,
            after_seq=after_seq,
            limit=limit,
        )


def verify_chain(records: Sequence[AuditRecord], prev_hash: str = "") -> int | None:
    """The sequence number of the first record that does not chain, or None when intact."""
    prev = prev_hash
    for record in records:
        if record.prev_hash != prev or record_hash(record, prev) != record.hash:
            return record.seq if record.seq is not None else -1
        prev = record.hash
    return None
