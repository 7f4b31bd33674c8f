"""Ports: what the domain needs from storage and messaging, as Protocols.

Backends (SQLite, PostgreSQL; in-process, NATS JetStream) implement these and must pass the same
contract suites in ``tests/contract``. Only ``safecity.runtime`` chooses a backend.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Protocol

from safecity.core.device_health import DeviceHealthPage, DeviceHealthQuery
from safecity.core.events import Event
from safecity.core.identity import Agency, ApiToken, User
from safecity.core.incidents import Incident, IncidentWrite, TimelineEntry
from safecity.core.operations import (
    AlertDraft,
    AutomationTraceRecord,
    Channel,
    ChannelMessage,
    CommandProposal,
    DispatchDecision,
    Unit,
    UnitLogEntry,
)
from safecity.core.records import (
    AppendResult,
    AuditRecord,
    DeadLetter,
    EventQuery,
    IncidentQuery,
    StoredEvent,
)
from safecity.core.registry import Sensor


class EventRepository(Protocol):
    def append_events(self, events: Sequence[Event], received_at: datetime) -> list[AppendResult]:
        """Store events atomically (all or none). A (source, id) already stored is not stored
        again: its result says ``duplicate=True`` with the original sequence number.

        In the same transaction, the events stored now (never duplicates) update device health
        (``core.device_health.health_changes``): per key, the newest event by event time and
        the newest fault report, neither moved backwards by an event that arrives late."""
        ...

    def get_event(self, source: str, event_id: str) -> StoredEvent | None: ...

    def query_events(self, query: EventQuery) -> list[StoredEvent]:
        """Events matching every given filter, in ascending sequence order."""
        ...

    def count_events(self) -> int: ...


class DeadLetterRepository(Protocol):
    def add_dead_letter(self, letter: DeadLetter) -> int: ...

    def get_dead_letter(self, letter_id: int) -> DeadLetter | None: ...

    def list_dead_letters(
        self, *, limit: int = 100, before_id: int | None = None
    ) -> list[DeadLetter]:
        """Newest first."""
        ...

    def count_dead_letters(self) -> int: ...


class IncidentRepository(Protocol):
    def save_incidents(
        self, writes: Sequence[IncidentWrite], *, checkpoint: tuple[str, int] | None = None
    ) -> None:
        """Apply all writes atomically. Raises ``Conflict`` if an expected version is stale, a
        new incident's id exists or an event is already linked to another incident; then
        nothing is written. An update must raise the version. ``checkpoint`` (processor name,
        event seq) is recorded in the same transaction, never moving backwards, even when
        there are no writes."""
        ...

    def get_checkpoint(self, name: str) -> int:
        """The event seq up to which processor ``name`` has committed its work (0: none)."""
        ...

    def get_incident(self, incident_id: str) -> Incident | None: ...

    def list_incidents(self, query: IncidentQuery) -> list[Incident]:
        """Most recently updated first."""
        ...

    def incident_events(self, incident_id: str) -> list[StoredEvent]: ...

    def incident_timeline(self, incident_id: str) -> list[TimelineEntry]: ...

    def open_incidents_since(self, since: datetime) -> list[Incident]:
        """Open incidents whose last event is at or after ``since`` (to warm the correlator)."""
        ...


class SensorRepository(Protocol):
    def upsert_sensor(self, sensor: Sensor) -> Sensor:
        """Create or replace; returns the stored sensor with its timestamps set."""
        ...

    def get_sensor(self, sensor_id: str) -> Sensor | None: ...

    def list_sensors(
        self,
        *,
        kind: str | None = None,
        owner_agency: str | None = None,
        public_only: bool = False,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[Sensor]: ...

    def delete_sensor(self, sensor_id: str) -> bool: ...

    def device_health(self, query: DeviceHealthQuery) -> DeviceHealthPage:
        """Every registered device (filtered by kind and owner agency) joined to the health its
        events left at ingest: counts per state, and the page of rows, faulty first, then
        silent (never heard first, then the longest silent), then heard, by id within each."""
        ...


class IdentityRepository(Protocol):
    def add_agency(self, agency: Agency) -> None: ...

    def get_agency(self, agency_id: str) -> Agency | None: ...

    def list_agencies(self) -> list[Agency]: ...

    def add_user(self, user: User) -> None: ...

    def get_user(self, user_id: str) -> User | None: ...

    def list_users(self, agency_id: str | None = None) -> list[User]: ...

    def add_token(self, token: ApiToken) -> None: ...

    def find_token(self, token_hash: str) -> ApiToken | None: ...

    def revoke_token(self, token_id: str, at: datetime) -> bool: ...


class AuditRepository(Protocol):
    def append_audit(self, records: Sequence[AuditRecord]) -> None:
        """Append records in order; the audit table refuses updates and deletes."""
        ...

    def last_audit_hash(self) -> str: ...

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
        """Ascending sequence order."""
        ...


class OperationsRepository(Protocol):
    """Units, dispatch decisions, channels, automation traces, alert drafts and command
    proposals."""

    def save_unit(
        self, unit: Unit, *, expected_version: int | None, log: UnitLogEntry | None = None
    ) -> None:
        """Insert (``expected_version`` None) or replace at that version, with its log entry;
        :class:`Conflict` when the version moved on or the unit exists already."""
        ...

    def get_unit(self, unit_id: str) -> Unit | None: ...

    def list_units(
        self, *, agency_id: str | None = None, statuses: Sequence[str] = ()
    ) -> list[Unit]: ...

    def unit_log(
        self,
        *,
        unit_id: str | None = None,
        incident_id: str | None = None,
        since: datetime | None = None,
        limit: int = 1000,
    ) -> list[UnitLogEntry]:
        """Oldest first."""
        ...

    def add_dispatch_decision(self, decision: DispatchDecision) -> None: ...

    def dispatch_decisions(self, incident_id: str) -> list[DispatchDecision]: ...

    def add_channel(self, channel: Channel) -> None:
        """:class:`Conflict` when the incident already has its channel."""
        ...

    def save_channel(self, channel: Channel) -> None: ...

    def get_channel(self, channel_id: str) -> Channel | None: ...

    def incident_channel(self, incident_id: str) -> Channel | None: ...

    def list_channels(
        self, *, kind: str | None = None, open_only: bool = True
    ) -> list[Channel]: ...

    def add_message(self, message: ChannelMessage) -> None:
        """Stores the message and one receipt row per agency in ``message.receipts``."""
        ...

    def list_messages(
        self, channel_id: str, *, after_id: str | None = None, limit: int = 200
    ) -> list[ChannelMessage]:
        """Oldest first, with current receipts."""
        ...

    def get_message(self, message_id: str) -> ChannelMessage | None: ...

    def mark_receipts(
        self,
        message_ids: Sequence[str],
        agency_id: str,
        *,
        delivered_at: datetime | None = None,
        acknowledged_at: datetime | None = None,
        acknowledged_by: str | None = None,
    ) -> int:
        """Set delivery / acknowledgement for ``agency_id`` where not yet set; returns rows."""
        ...

    def add_automation_traces(self, traces: Sequence[AutomationTraceRecord]) -> None: ...

    def automation_traces(
        self,
        *,
        incident_id: str | None = None,
        rule_id: str | None = None,
        fired: bool | None = None,
        limit: int = 200,
    ) -> list[AutomationTraceRecord]:
        """Newest first."""
        ...

    def save_alert_draft(self, draft: AlertDraft, *, expected_version: int | None) -> None: ...

    def get_alert_draft(self, draft_id: str) -> AlertDraft | None: ...

    def list_alert_drafts(self, *, status: str | None = None, limit: int = 200) -> list[AlertDraft]:
        """Newest first."""
        ...

    def save_command_proposal(
        self, proposal: CommandProposal, *, expected_version: int | None
    ) -> None:
        """Insert (``expected_version`` None) or replace at that version; :class:`Conflict`
        when the version moved on (someone else decided first) or the id exists already."""
        ...

    def get_command_proposal(self, proposal_id: str, *, now: datetime) -> CommandProposal | None:
        """The proposal as it stands at ``now`` (pending past ``expires_at`` reads expired)."""
        ...

    def list_command_proposals(
        self,
        *,
        now: datetime,
        status: str | None = None,
        incident_id: str | None = None,
        limit: int = 200,
    ) -> list[CommandProposal]:
        """Newest first, each as it stands at ``now``; ``status`` filters on that status."""
        ...


class ForecastRepository(Protocol):
    """Published place-based forecasts: one JSON document per local day."""

    def save_forecast(self, day: date, published_at: datetime, document: str) -> None:
        """Store the day's forecast, replacing one published for that day before."""
        ...

    def get_forecast(self, day: date) -> str | None: ...

    def latest_forecast(self) -> str | None:
        """The forecast of the latest day published, or None."""
        ...

    def forecast_days(self, *, limit: int = 100) -> list[date]:
        """Days with a published forecast, newest first."""
        ...


class Store(
    ForecastRepository,
    OperationsRepository,
    EventRepository,
    DeadLetterRepository,
    IncidentRepository,
    SensorRepository,
    IdentityRepository,
    AuditRepository,
    Protocol,
):
    """Everything persistent. Thread-safe: services call it from worker threads."""

    def migrate(self) -> int:
        """Bring the schema to the newest version; returns that version."""
        ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...


# --- messaging --------------------------------------------------------------------------------


class BusMessage:
    """One message on the bus.

    ``local`` optionally carries the already-decoded value: an in-process bus hands it to
    subscribers so they need not decode again. ``data`` may be given as bytes or produced on
    first access by ``encode``, so a message nobody serialises (in-process, no network
    subscriber) never pays for encoding.
    """

    __slots__ = ("_data", "_encode", "headers", "local", "subject")

    def __init__(
        self,
        subject: str,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        local: object | None = None,
        encode: Callable[[], bytes] | None = None,
    ) -> None:
        if data is None and encode is None:
            raise ValueError("a bus message needs data or an encoder")
        self.subject = subject
        self.headers: Mapping[str, str] = headers or {}
        self.local = local
        self._data = data
        self._encode = encode

    @property
    def data(self) -> bytes:
        if self._data is None:
            assert self._encode is not None
            self._data = self._encode()
        return self._data

    def __repr__(self) -> str:
        return f"BusMessage({self.subject!r}, {len(self.data)} bytes)"


BatchHandler = Callable[[Sequence[BusMessage]], Awaitable[None]]


class Subscription(Protocol):
    async def stop(self) -> None: ...


class EventBus(Protocol):
    """Publish/subscribe with NATS subject syntax (``.``-separated; ``*`` one token, ``>`` rest).

    Delivery is at-least-once and in publish order per subscription; a handler receives batches.
    A handler that raises gets the same batch again, up to ``max_deliver`` times.
    """

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, messages: Sequence[BusMessage]) -> None: ...

    async def idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until every subscription of this process has handled what it was given (and
        what that caused); False on timeout. For tests, the demo and orderly shutdown."""
        ...

    async def subscribe(
        self,
        subject: str,
        handler: BatchHandler,
        *,
        durable: str | None = None,
        max_batch: int = 500,
        max_deliver: int = 5,
        linger_s: float = 0.0,
    ) -> Subscription:
        """``linger_s``: after the first message of a batch, wait this long for more (fewer,
        larger batches for handlers whose cost is per batch, at that much added latency)."""
        ...
