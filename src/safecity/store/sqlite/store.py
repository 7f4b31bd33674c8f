"""The embedded default ``Store``: one SQLite file in WAL mode, safe to share between threads."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safecity.core.catalogue import CATALOGUE
from safecity.core.clock import Clock, SystemClock, from_micros, to_micros
from safecity.core.device_health import (
    ACTIVE,
    DeviceHealth,
    DeviceHealthChange,
    DeviceHealthCounts,
    DeviceHealthPage,
    DeviceHealthQuery,
    DeviceState,
    device_fault,
    health_changes,
)
from safecity.core.errors import Conflict, NotFound
from safecity.core.events import Event
from safecity.core.geo import BBox, Location
from safecity.core.identity import Agency, ApiToken, User
from safecity.core.incidents import Incident, IncidentStatus, IncidentWrite, TimelineEntry
from safecity.core.records import (
    AppendResult,
    AuditRecord,
    DeadLetter,
    EventQuery,
    IncidentQuery,
    StoredEvent,
)
from safecity.core.registry import CameraView, Sensor
from safecity.store.migrations import BOOTSTRAP_SQL, migrations
from safecity.store.sqlite.forecasts import ForecastTables
from safecity.store.sqlite.operations import OperationsTables

if TYPE_CHECKING:
    from safecity.core.ports import Store

DIALECT = "sqlite"

_BUSY_TIMEOUT_MS = 10_000
_WAL_CHECKPOINT_PAGES = 10_000
_WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
# Idle readers kept for reuse; a burst beyond this opens extra connections that are then closed.
_MAX_IDLE_READERS = 16
# Key pairs per existence lookup: two parameters each, well under SQLite's variable limit.
_LOOKUP_CHUNK = 400
# Planner hint: the share of rows a time bound is expected to keep.
_NARROW = 0.001

_EVENT_COLUMNS = (
    "e.seq, e.source, e.id, e.type, e.time_us, e.subject, e.dataschema, e.lon, e.lat, e.alt_m, "
    "e.accuracy_m, e.severity, e.confidence, e.correlation_id, e.causation_id, e.actor, "
    "e.data_json, e.received_us, ie.incident_id, ie.reason_json"
)
_EVENT_SELECT = (
    f"SELECT {_EVENT_COLUMNS} FROM events e "  # noqa: S608 - constant column list, no input
    "LEFT JOIN incident_events ie ON ie.source = e.source AND ie.event_id = e.id"
)
_EVENT_INSERT = (
    "INSERT INTO events (seq, source, id, type, time_us, subject, dataschema, lon, lat, alt_m, "
    "accuracy_m, severity, confidence, correlation_id, causation_id, actor, data_json, "
    "received_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (source, id) DO NOTHING"
)

# Portable (SQLite and PostgreSQL): each part (newest event; newest fault report) is replaced
# only by one at least as new, so a late event never moves a device's health backwards. A part
# the batch does not touch comes as NULL, and a comparison with NULL keeps the stored value.
_DEVICE_HEALTH_UPSERT = (
    "INSERT INTO device_health (device_id, last_event_us, last_event_type, fault_reported_us, "
    "fault) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (device_id) DO UPDATE SET "
    "last_event_us = CASE WHEN excluded.last_event_us >= "
    "coalesce(device_health.last_event_us, excluded.last_event_us) "
    "THEN excluded.last_event_us ELSE device_health.last_event_us END, "
    "last_event_type = CASE WHEN excluded.last_event_us >= "
    "coalesce(device_health.last_event_us, excluded.last_event_us) "
    "THEN excluded.last_event_type ELSE device_health.last_event_type END, "
    "fault_reported_us = CASE WHEN excluded.fault_reported_us >= "
    "coalesce(device_health.fault_reported_us, excluded.fault_reported_us) "
    "THEN excluded.fault_reported_us ELSE device_health.fault_reported_us END, "
    "fault = CASE WHEN excluded.fault_reported_us >= "
    "coalesce(device_health.fault_reported_us, excluded.fault_reported_us) "
    "THEN excluded.fault ELSE device_health.fault END"
)
# Every registered device with its health row and state (portable SQL; the state rule is
# core.device_health's: a reported fault or a register status other than active is faulty,
# then an event at or after the cutoff is heard, else silent). Parameters: active status,
# cutoff, then the filters.
_DEVICE_HEALTH_ROWS = (
    "SELECT s.id AS id, s.name AS name, s.kind AS kind, s.owner_agency AS owner_agency, "
    "s.status AS status, h.last_event_us AS last_event_us, h.last_event_type AS last_event_type, "
    "h.fault_reported_us AS fault_reported_us, h.fault AS fault, "
    "CASE WHEN h.fault IS NOT NULL OR s.status <> ? THEN 0 "
    "WHEN h.last_event_us >= ? THEN 2 ELSE 1 END AS state "
    "FROM sensors s LEFT JOIN device_health h ON h.device_id = s.id"
)
_DEVICE_HEALTH_COLUMNS = (
    "id, name, kind, owner_agency, status, last_event_us, last_event_type, fault_reported_us, "
    "fault, state"
)
_STATE_RANK = {DeviceState.FAULTY: 0, DeviceState.SILENT: 1, DeviceState.HEARD: 2}
_RANK_STATE = {rank: state for state, rank in _STATE_RANK.items()}

# Portable (SQLite and PostgreSQL): a checkpoint only moves forward.
_CHECKPOINT_UPSERT = (
    "INSERT INTO processor_checkpoints (name, seq, updated_us) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET "
    "seq = CASE WHEN excluded.seq > processor_checkpoints.seq "
    "THEN excluded.seq ELSE processor_checkpoints.seq END, updated_us = excluded.updated_us"
)

_INCIDENT_COLUMNS = (
    "id, type, title, priority, status, lon, lat, alt_m, accuracy_m, opened_us, updated_us, "
    "first_event_us, last_event_us, closed_us, closure_reason, event_count, agency_id, "
    "assignee, units_json, summary, version, details_json, area, merged_into"
)
_INCIDENT_SELECT = f"SELECT {_INCIDENT_COLUMNS} FROM incidents"  # noqa: S608 - constant
_INCIDENT_INSERT = (
    f"INSERT INTO incidents ({_INCIDENT_COLUMNS}) "  # noqa: S608 - constant
    f"VALUES ({', '.join('?' * 24)})"
)
_INCIDENT_UPDATE = (
    "UPDATE incidents SET type = ?, title = ?, priority = ?, status = ?, lon = ?, lat = ?, "
    "alt_m = ?, accuracy_m = ?, opened_us = ?, updated_us = ?, first_event_us = ?, "
    "last_event_us = ?, closed_us = ?, closure_reason = ?, event_count = ?, agency_id = ?, "
    "assignee = ?, units_json = ?, summary = ?, version = ?, details_json = ?, area = ?, "
    "merged_into = ? WHERE id = ? AND version = ?"
)

_SENSOR_COLUMNS = (
    "id, kind, name, owner_agency, lon, lat, alt_m, accuracy_m, area, measures_json, purpose, "
    "legal_basis, personal_data, retention_days, is_public, status, created_us, updated_us, "
    "view_json"
)
_SENSOR_SELECT = f"SELECT {_SENSOR_COLUMNS} FROM sensors"  # noqa: S608 - constant
_SENSOR_UPSERT = (
    f"INSERT INTO sensors ({_SENSOR_COLUMNS}) VALUES ({', '.join('?' * 19)}) "  # noqa: S608
    "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, "
    "owner_agency = excluded.owner_agency, lon = excluded.lon, lat = excluded.lat, "
    "alt_m = excluded.alt_m, accuracy_m = excluded.accuracy_m, area = excluded.area, "
    "measures_json = excluded.measures_json, purpose = excluded.purpose, "
    "legal_basis = excluded.legal_basis, personal_data = excluded.personal_data, "
    "retention_days = excluded.retention_days, is_public = excluded.is_public, "
    "status = excluded.status, updated_us = excluded.updated_us, view_json = excluded.view_json"
)

_CREDENTIAL_COLUMNS = "id, user_id, token_hash, label, created_us, expires_us, revoked_us"
_AUDIT_COLUMNS = (
    "seq, at_us, actor, agency_id, purpose, action, object_type, object_id, outcome, "
    "details_json, prev_hash, hash"
)

Row = tuple[Any, ...]


class SqliteStore(OperationsTables, ForecastTables):
    """All platform state in one SQLite file.

    Writes go through a single connection behind a lock (SQLite allows one writer at a time in
    any case); reads use a pool of connections, and WAL mode lets them proceed while a write is
    in progress. Call :meth:`migrate` before first use.
    """

    def __init__(self, path: str | Path, *, clock: Clock | None = None) -> None:
        if str(path) == ":memory:":
            raise ValueError(
                "SqliteStore needs a file: each connection would see its own memory database"
            )
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock: Clock = clock or SystemClock()
        self._closed = False
        self._write_lock = threading.Lock()
        self._conns_lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._readers: set[sqlite3.Connection] = set()
        self._writer = self._connect()
        self._writer.execute("PRAGMA journal_mode = WAL").fetchall()

    # --- lifecycle ----------------------------------------------------------------------------

    def migrate(self) -> int:
        with self._write_lock:
            conn = self._writer_conn()
            conn.execute(BOOTSTRAP_SQL)
            for migration in migrations(DIALECT):
                conn.execute("BEGIN IMMEDIATE")
                try:
                    # Checked inside the write transaction: another process may have just
                    # applied it.
                    applied = conn.execute(
                        "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
                    ).fetchall()
                    if not applied:
                        for statement in _statements(migration.sql):
                            conn.execute(statement)
                        conn.execute(
                            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                            (migration.version, to_micros(self._clock.now())),
                        )
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        return self.schema_version()

    def schema_version(self) -> int:
        with self._reading() as conn:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            ).fetchall()
            if not exists:
                return 0
            rows = conn.execute("SELECT max(version) FROM schema_migrations").fetchall()
        return int(rows[0][0] or 0)

    def close(self) -> None:
        with self._write_lock, self._conns_lock:
            if self._closed:
                return
            self._closed = True
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self._idle.clear()
            self._writer.close()

    # --- events -------------------------------------------------------------------------------

    def append_events(self, events: Sequence[Event], received_at: datetime) -> list[AppendResult]:
        if not events:
            return []
        received_us = to_micros(received_at)
        keys = [(event.source, event.id) for event in events]
        # Rows are built before taking the write lock, which then covers only database work.
        # ``first`` keeps each key's first occurrence, in input order.
        first: dict[tuple[str, str], int] = {}
        rows: list[Row] = []
        for index, key in enumerate(keys):
            if key not in first:
                first[key] = index
                rows.append(_event_row(events[index], received_us))
        health = _health_rows(health_changes(events[index] for index in first.values()))
        with self._writing() as conn:
            start = _next_event_seq(conn)
            inserted = conn.executemany(
                _EVENT_INSERT, [(start + i, *row) for i, row in enumerate(rows)]
            ).rowcount
            stored: dict[tuple[str, str], int] = {}
            if inserted != len(rows):
                # Nearly every batch is all new, so the stored sequence numbers are looked up
                # only when the unique key skipped a row. A skipped row leaves a gap in the
                # sequence, which stays ascending and unique.
                found = _existing_event_seqs(conn, list(first))
                stored = {key: found[key] for i, key in enumerate(first) if found[key] != start + i}
                # Only events stored now tell anything new about their devices.
                health = _health_rows(
                    health_changes(
                        events[index] for key, index in first.items() if key not in stored
                    )
                )
            if health:
                conn.executemany(_DEVICE_HEALTH_UPSERT, health)
        seqs = {key: stored.get(key, start + i) for i, key in enumerate(first)}
        return [
            AppendResult(seqs[key], key in stored or first[key] != index)
            for index, key in enumerate(keys)
        ]

    def get_event(self, source: str, event_id: str) -> StoredEvent | None:
        with self._reading() as conn:
            rows = conn.execute(
                f"{_EVENT_SELECT} WHERE e.source = ? AND e.id = ?", (source, event_id)
            ).fetchall()
        return _stored_event(rows[0]) if rows else None

    def query_events(self, query: EventQuery) -> list[StoredEvent]:
        if query.limit <= 0:
            return []
        where: list[str] = []
        params: list[Any] = []
        # Without the hint the planner walks the whole table in sequence order for an open
        # range like "since an hour ago"; time windows are narrow next to the history kept.
        if query.start is not None:
            where.append(f"likelihood(e.time_us >= ?, {_NARROW})")
            params.append(to_micros(query.start))
        if query.end is not None:
            where.append(f"likelihood(e.time_us < ?, {_NARROW})")
            params.append(to_micros(query.end))
        if query.bbox is not None:
            _bbox_clause(query.bbox, "e.", where, params)
        if query.types:
            where.append(f"e.type IN ({', '.join('?' * len(query.types))})")
            params.extend(query.types)
        if query.source is not None:
            where.append("e.source = ?")
            params.append(query.source)
        if query.after_seq is not None:
            where.append("e.seq > ?")
            params.append(query.after_seq)
        sql = f"{_EVENT_SELECT}{_where(where)} ORDER BY e.seq LIMIT ?"
        params.append(query.limit)
        with self._reading() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_stored_event(row) for row in rows]

    def count_events(self) -> int:
        with self._reading() as conn:
            return int(conn.execute("SELECT count(*) FROM events").fetchall()[0][0])

    # --- dead letters -------------------------------------------------------------------------

    def add_dead_letter(self, letter: DeadLetter) -> int:
        with self._writing() as conn:
            cursor = conn.execute(
                "INSERT INTO dead_letters (received_us, channel, source, content_type, raw, "
                "errors_json) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    to_micros(letter.received_at),
                    letter.channel,
                    letter.source,
                    letter.content_type,
                    bytes(letter.raw),
                    _json([dict(e) for e in letter.errors]),
                ),
            )
            letter_id = cursor.lastrowid
        if letter_id is None:
            raise RuntimeError("SQLite did not report the dead letter's id")
        return letter_id

    def get_dead_letter(self, letter_id: int) -> DeadLetter | None:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT id, received_us, channel, source, content_type, raw, errors_json "
                "FROM dead_letters WHERE id = ?",
                (letter_id,),
            ).fetchall()
        return _dead_letter(rows[0]) if rows else None

    def list_dead_letters(
        self, *, limit: int = 100, before_id: int | None = None
    ) -> list[DeadLetter]:
        if limit <= 0:
            return []
        where = "" if before_id is None else " WHERE id < ?"
        params: list[Any] = [] if before_id is None else [before_id]
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT id, received_us, channel, source, content_type, raw, errors_json "  # noqa: S608
                f"FROM dead_letters{where} ORDER BY id DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [_dead_letter(row) for row in rows]

    def count_dead_letters(self) -> int:
        with self._reading() as conn:
            return int(conn.execute("SELECT count(*) FROM dead_letters").fetchall()[0][0])

    # --- incidents ----------------------------------------------------------------------------

    def save_incidents(
        self, writes: Sequence[IncidentWrite], *, checkpoint: tuple[str, int] | None = None
    ) -> None:
        if not writes and checkpoint is None:
            return
        now_us = to_micros(self._clock.now())
        with self._writing() as conn:
            for write in writes:
                _save_incident(conn, write, now_us)
            if checkpoint is not None:
                conn.execute(_CHECKPOINT_UPSERT, (*checkpoint, now_us))

    def get_checkpoint(self, name: str) -> int:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT seq FROM processor_checkpoints WHERE name = ?", (name,)
            ).fetchall()
        return int(rows[0][0]) if rows else 0

    def get_incident(self, incident_id: str) -> Incident | None:
        with self._reading() as conn:
            rows = conn.execute(f"{_INCIDENT_SELECT} WHERE id = ?", (incident_id,)).fetchall()
        return _incident(rows[0]) if rows else None

    def list_incidents(self, query: IncidentQuery) -> list[Incident]:
        if query.limit <= 0:
            return []
        where: list[str] = []
        params: list[Any] = []
        if query.statuses:
            where.append(f"status IN ({', '.join('?' * len(query.statuses))})")
            params.extend(query.statuses)
        if query.types:
            where.append(f"type IN ({', '.join('?' * len(query.types))})")
            params.extend(query.types)
        if query.bbox is not None:
            _bbox_clause(query.bbox, "", where, params)
        if query.updated_since is not None:
            where.append("updated_us >= ?")
            params.append(to_micros(query.updated_since))
        sql = f"{_INCIDENT_SELECT}{_where(where)} ORDER BY updated_us DESC, id LIMIT ? OFFSET ?"
        params.extend((query.limit, max(query.offset, 0)))
        with self._reading() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [_incident(row) for row in rows]

    def incident_events(self, incident_id: str) -> list[StoredEvent]:
        with self._reading() as conn:
            rows = conn.execute(
                f"{_EVENT_SELECT} WHERE ie.incident_id = ? ORDER BY e.time_us, e.seq",
                (incident_id,),
            ).fetchall()
        return [_stored_event(row) for row in rows]

    def incident_timeline(self, incident_id: str) -> list[TimelineEntry]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT seq, incident_id, at_us, actor, action, details_json "
                "FROM incident_timeline WHERE incident_id = ? ORDER BY seq",
                (incident_id,),
            ).fetchall()
        return [
            TimelineEntry(
                seq=seq,
                incident_id=iid,
                at=from_micros(at_us),
                actor=actor,
                action=action,
                details=json.loads(details),
            )
            for seq, iid, at_us, actor, action, details in rows
        ]

    def open_incidents_since(self, since: datetime) -> list[Incident]:
        with self._reading() as conn:
            rows = conn.execute(
                f"{_INCIDENT_SELECT} WHERE status <> ? AND last_event_us >= ? "
                "ORDER BY last_event_us, id",
                (IncidentStatus.CLOSED.value, to_micros(since)),
            ).fetchall()
        return [_incident(row) for row in rows]

    # --- sensors ------------------------------------------------------------------------------

    def upsert_sensor(self, sensor: Sensor) -> Sensor:
        now = self._clock.now()
        with self._writing() as conn:
            rows = conn.execute(
                "SELECT created_us FROM sensors WHERE id = ?", (sensor.id,)
            ).fetchall()
            created = from_micros(rows[0][0]) if rows else now
            stored = sensor.model_copy(update={"created_at": created, "updated_at": now})
            conn.execute(_SENSOR_UPSERT, _sensor_row(stored))
        return stored

    def get_sensor(self, sensor_id: str) -> Sensor | None:
        with self._reading() as conn:
            rows = conn.execute(f"{_SENSOR_SELECT} WHERE id = ?", (sensor_id,)).fetchall()
        return _sensor(rows[0]) if rows else None

    def list_sensors(
        self,
        *,
        kind: str | None = None,
        owner_agency: str | None = None,
        public_only: bool = False,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[Sensor]:
        if limit <= 0:
            return []
        where: list[str] = []
        params: list[Any] = []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if owner_agency is not None:
            where.append("owner_agency = ?")
            params.append(owner_agency)
        if public_only:
            where.append("is_public = ?")
            params.append(True)
        params.extend((limit, max(offset, 0)))
        with self._reading() as conn:
            rows = conn.execute(
                f"{_SENSOR_SELECT}{_where(where)} ORDER BY id LIMIT ? OFFSET ?", params
            ).fetchall()
        return [_sensor(row) for row in rows]

    def delete_sensor(self, sensor_id: str) -> bool:
        with self._writing() as conn:
            return conn.execute("DELETE FROM sensors WHERE id = ?", (sensor_id,)).rowcount > 0

    def device_health(self, query: DeviceHealthQuery) -> DeviceHealthPage:
        where: list[str] = []
        params: list[Any] = [ACTIVE, to_micros(query.silent_before)]
        if query.kind is not None:
            where.append("s.kind = ?")
            params.append(query.kind)
        if query.owner_agency is not None:
            where.append("s.owner_agency = ?")
            params.append(query.owner_agency)
        rows_sql = f"{_DEVICE_HEALTH_ROWS}{_where(where)}"
        page_where = ""
        page_params = list(params)
        if query.state is not None:
            page_where = " WHERE state = ?"
            page_params.append(_STATE_RANK[query.state])
        # Silent devices: never heard first, then the longest silent.
        page_sql = (
            f"SELECT {_DEVICE_HEALTH_COLUMNS} FROM ({rows_sql}) AS d{page_where} "  # noqa: S608
            "ORDER BY state, CASE WHEN state = 1 THEN coalesce(last_event_us, -1) END, id "
            "LIMIT ? OFFSET ?"
        )
        page_params.extend((max(query.limit, 0), max(query.offset, 0)))
        counts_sql = f"SELECT state, count(*) FROM ({rows_sql}) AS d GROUP BY state"  # noqa: S608
        with self._reading() as conn:
            # One snapshot for the counts and the page.
            conn.execute("BEGIN")
            try:
                counted = conn.execute(counts_sql, params).fetchall()
                rows = conn.execute(page_sql, page_params).fetchall() if query.limit > 0 else []
            finally:
                conn.execute("COMMIT")
        by_state = {_RANK_STATE[rank]: int(n) for rank, n in counted}
        counts = DeviceHealthCounts(
            registered=sum(by_state.values()),
            faulty=by_state.get(DeviceState.FAULTY, 0),
            silent=by_state.get(DeviceState.SILENT, 0),
            heard=by_state.get(DeviceState.HEARD, 0),
        )
        return DeviceHealthPage(counts=counts, items=[_device_health(row) for row in rows])

    # --- identity -----------------------------------------------------------------------------

    def add_agency(self, agency: Agency) -> None:
        with self._writing() as conn:
            if _exists(conn, "SELECT 1 FROM agencies WHERE id = ?", agency.id):
                raise Conflict(f"agency {agency.id!r} already exists")
            conn.execute(
                "INSERT INTO agencies (id, name, kind) VALUES (?, ?, ?)",
                (agency.id, agency.name, agency.kind),
            )

    def get_agency(self, agency_id: str) -> Agency | None:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT id, name, kind FROM agencies WHERE id = ?", (agency_id,)
            ).fetchall()
        return _agency(rows[0]) if rows else None

    def list_agencies(self) -> list[Agency]:
        with self._reading() as conn:
            rows = conn.execute("SELECT id, name, kind FROM agencies ORDER BY id").fetchall()
        return [_agency(row) for row in rows]

    def add_user(self, user: User) -> None:
        with self._writing() as conn:
            if _exists(conn, "SELECT 1 FROM users WHERE id = ?", user.id):
                raise Conflict(f"user {user.id!r} already exists")
            if not _exists(conn, "SELECT 1 FROM agencies WHERE id = ?", user.agency_id):
                raise NotFound("agency", user.agency_id)
            conn.execute(
                "INSERT INTO users (id, agency_id, display_name, role, active) "
                "VALUES (?, ?, ?, ?, ?)",
                (user.id, user.agency_id, user.display_name, user.role.value, user.active),
            )

    def get_user(self, user_id: str) -> User | None:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT id, agency_id, display_name, role, active FROM users WHERE id = ?",
                (user_id,),
            ).fetchall()
        return _user(rows[0]) if rows else None

    def list_users(self, agency_id: str | None = None) -> list[User]:
        where = "" if agency_id is None else " WHERE agency_id = ?"
        params: tuple[str, ...] = () if agency_id is None else (agency_id,)
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT id, agency_id, display_name, role, active "  # noqa: S608 - constant
                f"FROM users{where} ORDER BY id",
                params,
            ).fetchall()
        return [_user(row) for row in rows]

    def add_token(self, token: ApiToken) -> None:
        with self._writing() as conn:
            if _exists(conn, "SELECT 1 FROM api_tokens WHERE id = ?", token.id):
                raise Conflict(f"token {token.id!r} already exists")
            if _exists(conn, "SELECT 1 FROM api_tokens WHERE token_hash = ?", token.token_hash):
                raise Conflict("a token with this hash already exists")
            if not _exists(conn, "SELECT 1 FROM users WHERE id = ?", token.user_id):
                raise NotFound("user", token.user_id)
            conn.execute(
                f"INSERT INTO api_tokens ({_CREDENTIAL_COLUMNS}) "  # noqa: S608 - constant
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    token.id,
                    token.user_id,
                    token.token_hash,
                    token.label,
                    to_micros(token.created_at),
                    _micros_or_none(token.expires_at),
                    _micros_or_none(token.revoked_at),
                ),
            )

    def find_token(self, token_hash: str) -> ApiToken | None:
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_CREDENTIAL_COLUMNS} FROM api_tokens WHERE token_hash = ?",  # noqa: S608
                (token_hash,),
            ).fetchall()
        if not rows:
            return None
        tid, user_id, token_hash_, label, created_us, expires_us, revoked_us = rows[0]
        return ApiToken(
            id=tid,
            user_id=user_id,
            token_hash=token_hash_,
            label=label,
            created_at=from_micros(created_us),
            expires_at=_time_or_none(expires_us),
            revoked_at=_time_or_none(revoked_us),
        )

    def revoke_token(self, token_id: str, at: datetime) -> bool:
        """True when the token exists; a second revocation keeps the first time."""
        with self._writing() as conn:
            if not _exists(conn, "SELECT 1 FROM api_tokens WHERE id = ?", token_id):
                return False
            conn.execute(
                "UPDATE api_tokens SET revoked_us = ? WHERE id = ? AND revoked_us IS NULL",
                (to_micros(at), token_id),
            )
        return True

    # --- audit --------------------------------------------------------------------------------

    def append_audit(self, records: Sequence[AuditRecord]) -> None:
        if not records:
            return
        rows = [
            (
                to_micros(r.at),
                r.actor,
                r.agency_id,
                r.purpose,
                r.action,
                r.object_type,
                r.object_id,
                r.outcome,
                _json(r.details),
                r.prev_hash,
                r.hash,
            )
            for r in records
        ]
        with self._writing() as conn:
            conn.executemany(
                "INSERT INTO audit_log (at_us, actor, agency_id, purpose, action, object_type, "
                "object_id, outcome, details_json, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def last_audit_hash(self) -> str:
        with self._reading() as conn:
            rows = conn.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchall()
        return str(rows[0][0]) if rows else ""

    def list_audit(
        self,
        *,
        actor: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        after_seq: int | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        if limit <= 0:
            return []
        where: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("actor", actor),
            ("object_type", object_type),
            ("object_id", object_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append(f"likelihood(at_us >= ?, {_NARROW})")
            params.append(to_micros(since))
        if after_seq is not None:
            where.append("seq > ?")
            params.append(after_seq)
        params.append(limit)
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_log{_where(where)} "  # noqa: S608
                "ORDER BY seq LIMIT ?",
                params,
            ).fetchall()
        return [
            AuditRecord(
                seq=seq,
                at=from_micros(at_us),
                actor=actor_,
                agency_id=agency_id,
                purpose=purpose,
                action=action,
                object_type=object_type_,
                object_id=object_id_,
                outcome=outcome,
                details=json.loads(details),
                prev_hash=prev_hash,
                hash=hash_,
            )
            for (
                seq,
                at_us,
                actor_,
                agency_id,
                purpose,
                action,
                object_type_,
                object_id_,
                outcome,
                details,
                prev_hash,
                hash_,
            ) in rows
        ]

    # --- connections --------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        # Autocommit at the driver level: transactions are opened explicitly, so the driver's
        # implicit BEGIN never splits or merges them.
        conn = sqlite3.connect(
            self.path,
            timeout=_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # Checkpoint less often than the default 1000 pages: each checkpoint syncs the file, and
        # under a steady ingest that sync dominated commit time. The size limit trims the WAL
        # file back after a checkpoint.
        conn.execute(f"PRAGMA wal_autocheckpoint = {_WAL_CHECKPOINT_PAGES}")
        conn.execute(f"PRAGMA journal_size_limit = {_WAL_SIZE_LIMIT_BYTES}")
        return conn

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")

    def _writer_conn(self) -> sqlite3.Connection:
        self._check_open()
        return self._writer

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back entirely when anything in it raises."""
        with self._write_lock:
            conn = self._writer_conn()
            # IMMEDIATE takes the file's write lock up front, so checks made inside the
            # transaction still hold when its writes run, even against other processes.
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        conn = self._acquire_reader()
        try:
            yield conn
        finally:
            self._release_reader(conn)

    def _acquire_reader(self) -> sqlite3.Connection:
        with self._conns_lock:
            self._check_open()
            if self._idle:
                return self._idle.pop()
        conn = self._connect()
        conn.execute("PRAGMA query_only = ON")
        with self._conns_lock:
            if self._closed:
                conn.close()
                raise RuntimeError("the store is closed")
            self._readers.add(conn)
        return conn

    def _release_reader(self, conn: sqlite3.Connection) -> None:
        with self._conns_lock:
            if self._closed or conn not in self._readers:
                return
            # A reader left inside a transaction would pin an old snapshot and stall checkpoints.
            if len(self._idle) < _MAX_IDLE_READERS and not conn.in_transaction:
                self._idle.append(conn)
                return
            self._readers.discard(conn)
        conn.close()


# --- helpers ------------------------------------------------------------------------------------


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into single statements (trigger bodies stay whole)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    rest = "\n".join(
        line for line in buffer.splitlines() if line.strip() and not line.strip().startswith("--")
    )
    if rest:
        raise ValueError(f"migration ends with an incomplete statement: {rest[:80]!r}")


def _health_rows(changes: list[DeviceHealthChange]) -> list[Row]:
    return [
        (
            c.device_id,
            _micros_or_none(c.last_event_at),
            c.last_event_type,
            _micros_or_none(c.fault_reported_at),
            c.fault,
        )
        for c in changes
    ]


def _device_health(row: Row) -> DeviceHealth:
    (sensor_id, name, kind, owner, status, last_us, last_type, fault_us, fault, rank) = row
    return DeviceHealth(
        sensor_id=sensor_id,
        name=name,
        kind=kind,
        owner_agency=owner,
        status=status,
        state=_RANK_STATE[rank],
        last_event_at=_time_or_none(last_us),
        last_event_type=last_type,
        fault=device_fault(fault, status),
        fault_reported_at=_time_or_none(fault_us),
    )


def _where(clauses: list[str]) -> str:
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


def _bbox_clause(bbox: BBox, prefix: str, where: list[str], params: list[Any]) -> None:
    # NULL coordinates fail BETWEEN, so rows without a location never match a box.
    where.append(f"{prefix}lat BETWEEN ? AND ? AND {prefix}lon BETWEEN ? AND ?")
    params.extend((bbox.min_lat, bbox.max_lat, bbox.min_lon, bbox.max_lon))


def _exists(conn: sqlite3.Connection, sql: str, value: Any) -> bool:
    return bool(conn.execute(sql, (value,)).fetchall())


def _json(value: Any) -> str:
    # Strict JSON (no NaN, no silent str() of objects) so any backend can read it back.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _micros_or_none(when: datetime | None) -> int | None:
    return None if when is None else to_micros(when)


def _time_or_none(micros: int | None) -> datetime | None:
    return None if micros is None else from_micros(micros)


def _location(lon: Any, lat: Any, alt_m: Any, accuracy_m: Any) -> Location | None:
    if lon is None or lat is None:
        return None
    return Location(lon=lon, lat=lat, alt_m=alt_m, accuracy_m=accuracy_m)


def _location_columns(location: Location | None) -> Row:
    if location is None:
        return (None, None, None, None)
    return (location.lon, location.lat, location.alt_m, location.accuracy_m)


def _next_event_seq(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM events").fetchall()[0][0])


def _existing_event_seqs(
    conn: sqlite3.Connection, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = keys[start : start + _LOOKUP_CHUNK]
        values = ", ".join("(?, ?)" for _ in chunk)
        params = [part for key in chunk for part in key]
        # A join from the key list drives lookups through the UNIQUE (source, id) index.
        rows = conn.execute(
            f"WITH k (source, id) AS (VALUES {values}) "  # noqa: S608 - placeholders only
            "SELECT e.source, e.id, e.seq FROM k JOIN events e "
            "ON e.source = k.source AND e.id = k.id",
            params,
        ).fetchall()
        found.update({(source, event_id): seq for source, event_id, seq in rows})
    return found


def _event_row(event: Event, received_us: int) -> Row:
    context = event.context
    return (
        event.source,
        event.id,
        event.type,
        to_micros(event.time),
        event.subject,
        event.dataschema,
        *_location_columns(event.location),
        event.severity.value,
        event.confidence,
        context.correlation_id,
        context.causation_id,
        context.actor,
        event.data.model_dump_json(),
        received_us,
    )


def _stored_event(row: Row) -> StoredEvent:
    (
        seq,
        source,
        event_id,
        type_name,
        time_us,
        subject,
        dataschema,
        lon,
        lat,
        alt_m,
        accuracy_m,
        severity,
        confidence,
        correlation_id,
        causation_id,
        actor,
        data_json,
        received_us,
        incident_id,
        reason_json,
    ) = row
    spec = CATALOGUE.get(type_name)
    if spec is None:
        raise LookupError(
            f"stored event {source} {event_id} has type {type_name!r}, "
            "which the catalogue no longer knows"
        )
    event = Event.model_validate(
        {
            "id": event_id,
            "source": source,
            "type": type_name,
            "time": from_micros(time_us),
            "subject": subject,
            "dataschema": dataschema,
            "location": _location(lon, lat, alt_m, accuracy_m),
            "severity": severity,
            "confidence": confidence,
            "context": {
                "correlation_id": correlation_id,
                "causation_id": causation_id,
                "actor": actor,
            },
            "data": spec.payload.model_validate_json(data_json),
        }
    )
    return StoredEvent(
        seq=seq,
        received_at=from_micros(received_us),
        event=event,
        incident_id=incident_id,
        link_reason=json.loads(reason_json) if reason_json is not None else None,
    )


def _dead_letter(row: Row) -> DeadLetter:
    letter_id, received_us, channel, source, content_type, raw, errors_json = row
    return DeadLetter(
        id=letter_id,
        received_at=from_micros(received_us),
        channel=channel,
        source=source,
        content_type=content_type,
        raw=bytes(raw),
        errors=tuple(json.loads(errors_json)),
    )


def _incident_values(incident: Incident) -> Row:
    """Every column but ``id``, in :data:`_INCIDENT_COLUMNS` order."""
    return (
        incident.type,
        incident.title,
        incident.priority,
        incident.status.value,
        *_location_columns(incident.location),
        to_micros(incident.opened_at),
        to_micros(incident.updated_at),
        to_micros(incident.first_event_at),
        to_micros(incident.last_event_at),
        _micros_or_none(incident.closed_at),
        incident.closure_reason,
        incident.event_count,
        incident.agency_id,
        incident.assignee,
        _json(list(incident.units)),
        incident.summary,
        incident.version,
        _json(incident.model_dump(mode="json", include=_DETAIL_FIELDS, exclude_none=True)),
        incident.area,
        incident.merged_into,
    )


#: Incident fields kept together in ``details_json``.
_DETAIL_FIELDS = {"signals", "assessment", "agencies", "procedure"}


def _incident(row: Row) -> Incident:
    (
        incident_id,
        type_name,
        title,
        priority,
        status,
        lon,
        lat,
        alt_m,
        accuracy_m,
        opened_us,
        updated_us,
        first_event_us,
        last_event_us,
        closed_us,
        closure_reason,
        event_count,
        agency_id,
        assignee,
        units_json,
        summary,
        version,
        details_json,
        area,
        merged_into,
    ) = row
    details = json.loads(details_json)
    return Incident(
        id=incident_id,
        type=type_name,
        title=title,
        priority=priority,
        status=IncidentStatus(status),
        location=_location(lon, lat, alt_m, accuracy_m),
        opened_at=from_micros(opened_us),
        updated_at=from_micros(updated_us),
        first_event_at=from_micros(first_event_us),
        last_event_at=from_micros(last_event_us),
        closed_at=_time_or_none(closed_us),
        closure_reason=closure_reason,
        event_count=event_count,
        agency_id=agency_id,
        assignee=assignee,
        units=tuple(json.loads(units_json)),
        summary=summary,
        version=version,
        area=area,
        merged_into=merged_into,
        **details,
    )


def _save_incident(conn: sqlite3.Connection, write: IncidentWrite, linked_us: int) -> None:
    incident = write.incident
    if write.expected_version is None:
        if _exists(conn, "SELECT 1 FROM incidents WHERE id = ?", incident.id):
            raise Conflict(f"incident {incident.id!r} already exists")
        conn.execute(_INCIDENT_INSERT, (incident.id, *_incident_values(incident)))
    else:
        if incident.version <= write.expected_version:
            # Without a new version a concurrent writer holding the old one would also succeed.
            raise ValueError(
                f"incident {incident.id!r}: new version {incident.version} must be greater "
                f"than the expected version {write.expected_version}"
            )
        cursor = conn.execute(
            _INCIDENT_UPDATE,
            (*_incident_values(incident), incident.id, write.expected_version),
        )
        if cursor.rowcount != 1:
            rows = conn.execute(
                "SELECT version FROM incidents WHERE id = ?", (incident.id,)
            ).fetchall()
            if not rows:
                raise Conflict(f"incident {incident.id!r} does not exist")
            raise Conflict(
                f"incident {incident.id!r} is at version {rows[0][0]}, "
                f"not {write.expected_version}: someone else changed it first"
            )
    if write.move_events:
        _move_links(conn, write, linked_us)
    reasons = write.link_reasons or ({},) * len(write.link_events)
    for (source, event_id), reason in zip(write.link_events, reasons, strict=True):
        rows = conn.execute(
            "SELECT incident_id FROM incident_events WHERE source = ? AND event_id = ?",
            (source, event_id),
        ).fetchall()
        if rows:
            if rows[0][0] != incident.id:
                raise Conflict(
                    f"event {source} {event_id} already belongs to incident {rows[0][0]!r}"
                )
            continue
        if not conn.execute(
            "SELECT 1 FROM events WHERE source = ? AND id = ?", (source, event_id)
        ).fetchall():
            raise NotFound("event", f"{source} {event_id}")
        conn.execute(
            "INSERT INTO incident_events (source, event_id, incident_id, linked_us, reason_json) "
            "VALUES (?, ?, ?, ?, ?)",
            (source, event_id, incident.id, linked_us, _json(reason)),
        )
    for source, event_id in write.evidence_events:
        conn.execute(
            "INSERT INTO incident_events (source, event_id, incident_id, linked_us, reason_json) "
            "SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM events WHERE source = ? AND id = ?) "
            "ON CONFLICT (source, event_id) DO NOTHING",
            (
                source,
                event_id,
                incident.id,
                linked_us,
                _json(write.evidence_reason),
                source,
                event_id,
            ),
        )
    timeline: list[Row] = []
    for entry in write.timeline:
        if entry.incident_id != incident.id:
            raise ValueError(
                f"timeline entry for {entry.incident_id!r} in a write of {incident.id!r}"
            )
        timeline.append(
            (
                entry.incident_id,
                to_micros(entry.at),
                entry.actor,
                entry.action,
                _json(entry.details),
            )
        )
    conn.executemany(
        "INSERT INTO incident_timeline (incident_id, at_us, actor, action, details_json) "
        "VALUES (?, ?, ?, ?, ?)",
        timeline,
    )


def _move_links(conn: sqlite3.Connection, write: IncidentWrite, linked_us: int) -> None:
    """Move events from another incident to this one (a person merged or split)."""
    for source, event_id, from_incident in write.move_events:
        rows = conn.execute(
            "SELECT incident_id FROM incident_events WHERE source = ? AND event_id = ?",
            (source, event_id),
        ).fetchall()
        if not rows or rows[0][0] != from_incident:
            raise Conflict(
                f"event {source} {event_id} is not in incident {from_incident!r} any more"
            )
        conn.execute(
            "UPDATE incident_events SET incident_id = ?, linked_us = ?, reason_json = ? "
            "WHERE source = ? AND event_id = ?",
            (write.incident.id, linked_us, _json(write.move_reason), source, event_id),
        )


def _sensor_row(sensor: Sensor) -> Row:
    return (
        sensor.id,
        sensor.kind.value,
        sensor.name,
        sensor.owner_agency,
        *_location_columns(sensor.location),
        sensor.area,
        _json(list(sensor.measures)),
        sensor.purpose,
        sensor.legal_basis,
        sensor.personal_data,
        sensor.retention_days,
        sensor.public,
        sensor.status,
        _micros_or_none(sensor.created_at),
        _micros_or_none(sensor.updated_at),
        sensor.view.model_dump_json() if sensor.view is not None else None,
    )


def _sensor(row: Row) -> Sensor:
    (
        sensor_id,
        kind,
        name,
        owner_agency,
        lon,
        lat,
        alt_m,
        accuracy_m,
        area,
        measures_json,
        purpose,
        legal_basis,
        personal_data,
        retention_days,
        is_public,
        status,
        created_us,
        updated_us,
        view_json,
    ) = row
    return Sensor(
        id=sensor_id,
        kind=kind,
        name=name,
        owner_agency=owner_agency,
        location=_location(lon, lat, alt_m, accuracy_m),
        area=area,
        measures=tuple(json.loads(measures_json)),
        purpose=purpose,
        legal_basis=legal_basis,
        personal_data=bool(personal_data),
        retention_days=retention_days,
        public=bool(is_public),
        status=status,
        created_at=from_micros(created_us),
        updated_at=from_micros(updated_us),
        view=CameraView.model_validate_json(view_json) if view_json else None,
    )


def _agency(row: Row) -> Agency:
    agency_id, name, kind = row
    return Agency(id=agency_id, name=name, kind=kind)


def _user(row: Row) -> User:
    user_id, agency_id, display_name, role, active = row
    return User(
        id=user_id,
        agency_id=agency_id,
        display_name=display_name,
        role=role,
        active=bool(active),
    )


if TYPE_CHECKING:
    # Fails type checking, not a test run, if SqliteStore drifts from the port.
    def _implements_the_port(store: SqliteStore) -> Store:
        return store
