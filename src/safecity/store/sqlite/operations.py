"""SQLite tables for operations records (units, dispatch, channels, traces, alert drafts,
command proposals).

Each record is kept whole as JSON beside the columns queries filter on; the SQL is portable
(the PostgreSQL store shares it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from safecity.core.clock import from_micros, to_micros
from safecity.core.errors import Conflict
from safecity.core.operations import (
    AlertDraft,
    AutomationTraceRecord,
    Channel,
    ChannelMessage,
    CommandProposal,
    DispatchDecision,
    ProposalStatus,
    Receipt,
    Unit,
    UnitLogEntry,
)


class _Connections(Protocol):
    def _writing(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def _reading(self) -> AbstractContextManager[sqlite3.Connection]: ...


def _doc(model: Any) -> str:
    return str(model.model_dump_json())


def _in(values: Sequence[str]) -> str:
    return ", ".join("?" * len(values))


class OperationsTables:
    """Mixed into :class:`SqliteStore`; uses its connections and write lock."""

    # --- units ------------------------------------------------------------------------------

    def save_unit(
        self: _Connections,
        unit: Unit,
        *,
        expected_version: int | None,
        log: UnitLogEntry | None = None,
    ) -> None:
        with self._writing() as conn:
            if expected_version is None:
                exists = conn.execute("SELECT 1 FROM units WHERE id = ?", (unit.id,)).fetchall()
                if exists:
                    raise Conflict(f"unit {unit.id!r} already exists")
                conn.execute(
                    "INSERT INTO units (id, agency_id, status, updated_us, version, doc_json) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        unit.id,
                        unit.agency_id,
                        unit.status.value,
                        to_micros(unit.updated_at),
                        unit.version,
                        _doc(unit),
                    ),
                )
            else:
                cursor = conn.execute(
                    "UPDATE units SET agency_id = ?, status = ?, updated_us = ?, version = ?, "
                    "doc_json = ? WHERE id = ? AND version = ?",
                    (
                        unit.agency_id,
                        unit.status.value,
                        to_micros(unit.updated_at),
                        unit.version,
                        _doc(unit),
                        unit.id,
                        expected_version,
                    ),
                )
                if cursor.rowcount != 1:
                    raise Conflict(
                        f"unit {unit.id!r} is no longer at version {expected_version}: "
                        "someone else changed it first"
                    )
            if log is not None:
                conn.execute(
                    "INSERT INTO unit_log (id, unit_id, incident_id, at_us, doc_json) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (log.id, log.unit_id, log.incident_id, to_micros(log.at), _doc(log)),
                )

    def get_unit(self: _Connections, unit_id: str) -> Unit | None:
        with self._reading() as conn:
            rows = conn.execute("SELECT doc_json FROM units WHERE id = ?", (unit_id,)).fetchall()
        return Unit.model_validate_json(rows[0][0]) if rows else None

    def list_units(
        self: _Connections, *, agency_id: str | None = None, statuses: Sequence[str] = ()
    ) -> list[Unit]:
        where: list[str] = []
        params: list[Any] = []
        if agency_id is not None:
            where.append("agency_id = ?")
            params.append(agency_id)
        if statuses:
            where.append(f"status IN ({_in(statuses)})")
            params.extend(statuses)
        sql = "SELECT doc_json FROM units"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._reading() as conn:
            rows = conn.execute(sql + " ORDER BY id", params).fetchall()
        return [Unit.model_validate_json(r[0]) for r in rows]

    def unit_log(
        self: _Connections,
        *,
        unit_id: str | None = None,
        incident_id: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[UnitLogEntry]:
        where: list[str] = []
        params: list[Any] = []
        if unit_id is not None:
            where.append("unit_id = ?")
            params.append(unit_id)
        if incident_id is not None:
            where.append("incident_id = ?")
            params.append(incident_id)
        if since is not None:
            where.append("at_us >= ?")
            params.append(to_micros(since))
        sql = "SELECT doc_json FROM unit_log"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._reading() as conn:
            rows = conn.execute(sql + " ORDER BY at_us, id LIMIT ?", [*params, limit]).fetchall()
        return [UnitLogEntry.model_validate_json(r[0]) for r in rows]

    # --- dispatch ----------------------------------------------------------------------------

    def add_dispatch_decision(self: _Connections, decision: DispatchDecision) -> None:
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO dispatch_decisions (id, incident_id, at_us, doc_json) "
                "VALUES (?, ?, ?, ?)",
                (decision.id, decision.incident_id, to_micros(decision.at), _doc(decision)),
            )

    def dispatch_decisions(self: _Connections, incident_id: str) -> list[DispatchDecision]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT doc_json FROM dispatch_decisions WHERE incident_id = ? ORDER BY at_us, id",
                (incident_id,),
            ).fetchall()
        return [DispatchDecision.model_validate_json(r[0]) for r in rows]

    # --- channels ----------------------------------------------------------------------------

    def add_channel(self: _Connections, channel: Channel) -> None:
        with self._writing() as conn:
            if (
                channel.incident_id is not None
                and conn.execute(
                    "SELECT 1 FROM channels WHERE incident_id = ?", (channel.incident_id,)
                ).fetchall()
            ):
                raise Conflict(f"incident {channel.incident_id!r} already has its channel")
            conn.execute(
                "INSERT INTO channels (id, kind, incident_id, created_us, closed_us, doc_json) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    channel.id,
                    channel.kind.value,
                    channel.incident_id,
                    to_micros(channel.created_at),
                    to_micros(channel.closed_at) if channel.closed_at else None,
                    _doc(channel),
                ),
            )

    def save_channel(self: _Connections, channel: Channel) -> None:
        with self._writing() as conn:
            conn.execute(
                "UPDATE channels SET closed_us = ?, doc_json = ? WHERE id = ?",
                (
                    to_micros(channel.closed_at) if channel.closed_at else None,
                    _doc(channel),
                    channel.id,
                ),
            )

    def get_channel(self: _Connections, channel_id: str) -> Channel | None:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT doc_json FROM channels WHERE id = ?", (channel_id,)
            ).fetchall()
        return Channel.model_validate_json(rows[0][0]) if rows else None

    def incident_channel(self: _Connections, incident_id: str) -> Channel | None:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT doc_json FROM channels WHERE incident_id = ?", (incident_id,)
            ).fetchall()
        return Channel.model_validate_json(rows[0][0]) if rows else None

    def list_channels(
        self: _Connections, *, kind: str | None = None, open_only: bool = True
    ) -> list[Channel]:
        where: list[str] = []
        params: list[Any] = []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if open_only:
            where.append("closed_us IS NULL")
        sql = "SELECT doc_json FROM channels"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._reading() as conn:
            rows = conn.execute(sql + " ORDER BY id", params).fetchall()
        return [Channel.model_validate_json(r[0]) for r in rows]

    def add_message(self: _Connections, message: ChannelMessage) -> None:
        body = message.model_copy(update={"receipts": ()})
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO channel_messages (id, channel_id, at_us, doc_json) "
                "VALUES (?, ?, ?, ?)",
                (message.id, message.channel_id, to_micros(message.at), _doc(body)),
            )
            conn.executemany(
                "INSERT INTO message_receipts (message_id, agency_id, delivered_us, "
                "acknowledged_us, acknowledged_by) VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        message.id,
                        r.agency_id,
                        to_micros(r.delivered_at) if r.delivered_at else None,
                        to_micros(r.acknowledged_at) if r.acknowledged_at else None,
                        r.acknowledged_by,
                    )
                    for r in message.receipts
                ],
            )

    def list_messages(
        self: _Connections, channel_id: str, *, after_id: str | None = None, limit: int = 200
    ) -> list[ChannelMessage]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT id, doc_json FROM channel_messages WHERE channel_id = ? AND id > ? "
                "ORDER BY id LIMIT ?",
                (channel_id, after_id or "", limit),
            ).fetchall()
            receipts = _receipts(conn, [r[0] for r in rows])
        return [
            ChannelMessage.model_validate_json(doc).model_copy(
                update={"receipts": receipts.get(mid, ())}
            )
            for mid, doc in rows
        ]

    def get_message(self: _Connections, message_id: str) -> ChannelMessage | None:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT doc_json FROM channel_messages WHERE id = ?", (message_id,)
            ).fetchall()
            receipts = _receipts(conn, [message_id])
        if not rows:
            return None
        return ChannelMessage.model_validate_json(rows[0][0]).model_copy(
            update={"receipts": receipts.get(message_id, ())}
        )

    def mark_receipts(
        self: _Connections,
        message_ids: Sequence[str],
        agency_id: str,
        *,
        delivered_at: datetime | None = None,
        acknowledged_at: datetime | None = None,
        acknowledged_by: str | None = None,
    ) -> int:
        if not message_ids:
            return 0
        changed = 0
        with self._writing() as conn:
            for chunk in _chunks(list(message_ids), 400):
                marks = _in(chunk)
                if delivered_at is not None or acknowledged_at is not None:
                    # Acknowledging implies delivery.
                    delivered = to_micros(delivered_at or acknowledged_at)  # type: ignore[arg-type]
                    cur = conn.execute(
                        "UPDATE message_receipts SET delivered_us = ? WHERE agency_id = ? "  # noqa: S608
                        f"AND delivered_us IS NULL AND message_id IN ({marks})",
                        (delivered, agency_id, *chunk),
                    )
                    changed += cur.rowcount
                if acknowledged_at is not None:
                    cur = conn.execute(
                        "UPDATE message_receipts SET acknowledged_us = ?, acknowledged_by = ? "  # noqa: S608
                        "WHERE agency_id = ? AND acknowledged_us IS NULL "
                        f"AND message_id IN ({marks})",
                        (to_micros(acknowledged_at), acknowledged_by, agency_id, *chunk),
                    )
                    changed += cur.rowcount
        return changed

    # --- automation traces -----------------------------------------------------------------------

    def add_automation_traces(self: _Connections, traces: Sequence[AutomationTraceRecord]) -> None:
        if not traces:
            return
        with self._writing() as conn:
            conn.executemany(
                "INSERT INTO automation_traces (id, at_us, rule_id, incident_id, fired, doc_json) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (t.id, to_micros(t.at), t.rule_id, t.incident_id, t.fired, _doc(t))
                    for t in traces
                ],
            )

    def automation_traces(
        self: _Connections,
        *,
        incident_id: str | None = None,
        rule_id: str | None = None,
        fired: bool | None = None,
        limit: int = 200,
    ) -> list[AutomationTraceRecord]:
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("incident_id", incident_id), ("rule_id", rule_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if fired is not None:
            where.append("fired = ?")
            params.append(fired)
        sql = "SELECT doc_json FROM automation_traces"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._reading() as conn:
            rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
        return [AutomationTraceRecord.model_validate_json(r[0]) for r in rows]

    # --- alert drafts ----------------------------------------------------------------------------

    def save_alert_draft(
        self: _Connections, draft: AlertDraft, *, expected_version: int | None
    ) -> None:
        with self._writing() as conn:
            if expected_version is None:
                conn.execute(
                    "INSERT INTO alert_drafts (id, incident_id, status, created_us, version, "
                    "doc_json) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        draft.id,
                        draft.incident_id,
                        draft.status.value,
                        to_micros(draft.created_at),
                        draft.version,
                        _doc(draft),
                    ),
                )
                return
            cursor = conn.execute(
                "UPDATE alert_drafts SET status = ?, version = ?, doc_json = ? "
                "WHERE id = ? AND version = ?",
                (draft.status.value, draft.version, _doc(draft), draft.id, expected_version),
            )
            if cursor.rowcount != 1:
                raise Conflict(f"alert draft {draft.id!r} changed meanwhile; reload it")

    def get_alert_draft(self: _Connections, draft_id: str) -> AlertDraft | None:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT doc_json FROM alert_drafts WHERE id = ?", (draft_id,)
            ).fetchall()
        return AlertDraft.model_validate_json(rows[0][0]) if rows else None

    def list_alert_drafts(
        self: _Connections, *, status: str | None = None, limit: int = 200
    ) -> list[AlertDraft]:
        sql = "SELECT doc_json FROM alert_drafts"
        params: list[Any] = []
        if status is not None:
            sql += " WHERE status = ?"
            params.append(status)
        with self._reading() as conn:
            rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
        return [AlertDraft.model_validate_json(r[0]) for r in rows]

    # --- command proposals -------------------------------------------------------------------

    def save_command_proposal(
        self: _Connections, proposal: CommandProposal, *, expected_version: int | None
    ) -> None:
        with self._writing() as conn:
            if expected_version is None:
                try:
                    conn.execute(
                        "INSERT INTO command_proposals (id, incident_id, rule_id, status, "
                        "created_us, expires_us, version, doc_json) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            proposal.id,
                            proposal.incident_id,
                            proposal.rule_id,
                            proposal.status.value,
                            to_micros(proposal.created_at),
                            to_micros(proposal.expires_at),
                            proposal.version,
                            _doc(proposal),
                        ),
                    )
                except sqlite3.IntegrityError:
                    raise Conflict(f"command proposal {proposal.id!r} exists already") from None
                return
            cursor = conn.execute(
                "UPDATE command_proposals SET status = ?, version = ?, doc_json = ? "
                "WHERE id = ? AND version = ?",
                (
                    proposal.status.value,
                    proposal.version,
                    _doc(proposal),
                    proposal.id,
                    expected_version,
                ),
            )
            if cursor.rowcount != 1:
                raise Conflict(f"command proposal {proposal.id!r} changed meanwhile; reload it")

    def get_command_proposal(
        self: _Connections, proposal_id: str, *, now: datetime
    ) -> CommandProposal | None:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT doc_json FROM command_proposals WHERE id = ?", (proposal_id,)
            ).fetchall()
        return CommandProposal.model_validate_json(rows[0][0]).as_of(now) if rows else None

    def list_command_proposals(
        self: _Connections,
        *,
        now: datetime,
        status: str | None = None,
        incident_id: str | None = None,
        limit: int = 200,
    ) -> list[CommandProposal]:
        where: list[str] = []
        params: list[Any] = []
        pending = ProposalStatus.PENDING.value
        if status == pending:
            where.append("status = ? AND expires_us > ?")
            params += [pending, to_micros(now)]
        elif status == ProposalStatus.EXPIRED.value:
            where.append("(status = ? OR (status = ? AND expires_us <= ?))")
            params += [status, pending, to_micros(now)]
        elif status is not None:
            where.append("status = ?")
            params.append(status)
        if incident_id is not None:
            where.append("incident_id = ?")
            params.append(incident_id)
        sql = "SELECT doc_json FROM command_proposals"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._reading() as conn:
            rows = conn.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
        return [CommandProposal.model_validate_json(r[0]).as_of(now) for r in rows]


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _receipts(conn: sqlite3.Connection, message_ids: list[str]) -> dict[str, tuple[Receipt, ...]]:
    out: dict[str, list[Receipt]] = {}
    for chunk in _chunks(message_ids, 400):
        rows = conn.execute(
            "SELECT message_id, agency_id, delivered_us, acknowledged_us, acknowledged_by "  # noqa: S608
            f"FROM message_receipts WHERE message_id IN ({_in(chunk)}) ORDER BY agency_id",
            chunk,
        ).fetchall()
        for mid, agency, delivered, acked, by in rows:
            out.setdefault(mid, []).append(
                Receipt(
                    agency_id=agency,
                    delivered_at=from_micros(delivered) if delivered is not None else None,
                    acknowledged_at=from_micros(acked) if acked is not None else None,
                    acknowledged_by=by,
                )
            )
    return {k: tuple(v) for k, v in out.items()}
