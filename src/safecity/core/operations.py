"""Operations records: responder units and their shifts, dispatch decisions, channel messages,
automation traces, public-warning drafts and command proposals awaiting a person.

Units are resources, not people: a unit has a call sign, capabilities and a status, never the
names of the officers in it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from safecity.core.actuators import CommandName
from safecity.core.geo import Location
from safecity.core.payloads import UnitState

UnitId = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
]
Capability = Annotated[
    str, StringConstraints(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")
]

#: Statuses in which a unit counts as working (on shift).
ON_DUTY = frozenset(
    {
        UnitState.AVAILABLE,
        UnitState.DISPATCHED,
        UnitState.EN_ROUTE,
        UnitState.ON_SCENE,
        UnitState.BUSY,
        UnitState.UNAVAILABLE,
    }
)
#: Statuses that tie a unit to an incident.
COMMITTED = frozenset({UnitState.DISPATCHED, UnitState.EN_ROUTE, UnitState.ON_SCENE})


class UnitDefinition(BaseModel):
    """What an agency says about one of its units; status and position are set separately."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: UnitId
    agency_id: str = Field(min_length=1, max_length=100)
    kind: str = Field(min_length=1, max_length=50, description="patrol_car, ambulance, ...")
    callsign: str = Field(min_length=1, max_length=50)
    capabilities: tuple[Capability, ...] = ()
    home_station: str | None = Field(default=None, max_length=200)
    home: Location | None = None


class Unit(UnitDefinition):
    """One responder unit (a patrol car, an ambulance, a fire engine, a foot patrol)."""

    status: UnitState = UnitState.OFF_DUTY
    status_since: datetime
    incident_id: str | None = None
    location: Location | None = None
    position_at: datetime | None = None
    heading_deg: float | None = Field(default=None, ge=0, lt=360)
    speed_kmh: float | None = Field(default=None, ge=0, le=400)
    shift_started_at: datetime | None = Field(
        default=None, description="When the unit clocked on; None while off duty"
    )
    updated_at: datetime
    version: int = Field(default=1, ge=1)


class UnitLogEntry(BaseModel):
    """One status change of a unit: the record response-time figures are computed from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    unit_id: str
    at: datetime
    status: UnitState
    incident_id: str | None = None
    actor: str
    note: str | None = None


class RankedUnit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    unit_id: str
    callsign: str
    agency_id: str
    kind: str
    drive_time_s: float
    straight_m: float
    capabilities_matched: tuple[str, ...] = ()
    capabilities_missing: tuple[str, ...] = ()


class ExcludedUnit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    unit_id: str
    reason: str


class DispatchRecommendation(BaseModel):
    """Who could go, fastest first, and why others were left out; a person decides."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    incident_id: str
    at: datetime
    required_capabilities: tuple[str, ...] = ()
    ranked: tuple[RankedUnit, ...] = ()
    team: tuple[str, ...] = Field(default=(), description="Fastest set covering every need")
    uncovered: tuple[str, ...] = ()
    excluded: tuple[ExcludedUnit, ...] = ()
    network: str | None = Field(default=None, description="Road network used for drive times")
    computed_ms: float = 0.0


class DispatchDecision(BaseModel):
    """A person's decision to send units, with the recommendation they saw."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    incident_id: str
    at: datetime
    actor: str
    units: tuple[str, ...]
    recommendation: DispatchRecommendation | None = None
    followed_recommendation: bool | None = Field(
        default=None, description="Whether the units sent are the recommended team"
    )
    note: str | None = None


class ChannelKind(StrEnum):
    INCIDENT = "incident"
    AREA = "area"


class Channel(BaseModel):
    """A shared thread: one per incident, or an area channel for an ongoing operation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    kind: ChannelKind
    name: str = Field(min_length=1, max_length=200)
    incident_id: str | None = None
    area: str | None = None
    agencies: tuple[str, ...] = ()
    created_at: datetime
    created_by: str
    closed_at: datetime | None = None


class MessageKind(StrEnum):
    MESSAGE = "message"
    #: Written by the platform from an incident change: the thread is the incident log.
    LOG = "log"


class Receipt(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    agency_id: str
    delivered_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None


class ChannelMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    channel_id: str
    at: datetime
    author: str
    agency_id: str | None = None
    kind: MessageKind = MessageKind.MESSAGE
    body: str = Field(min_length=1, max_length=4000)
    details: dict[str, Any] = Field(default_factory=dict)
    requires_ack: bool = False
    receipts: tuple[Receipt, ...] = ()


class AutomationTraceRecord(BaseModel):
    """Why a rule fired or did not, and what its actions did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    at: datetime
    rule_id: str
    fired: bool
    reason: str
    trigger: dict[str, Any] = Field(default_factory=dict)
    incident_id: str | None = None
    conditions: tuple[dict[str, Any], ...] = ()
    actions: tuple[dict[str, Any], ...] = ()
    results: tuple[dict[str, Any], ...] = ()


class DraftStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    REJECTED = "rejected"


class AlertDraft(BaseModel):
    """A public warning drafted by an automation; only a person can approve it for release."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    created_at: datetime
    incident_id: str | None = None
    rule_id: str | None = None
    status: DraftStatus = DraftStatus.DRAFT
    headline: str
    description: str = ""
    severity: str
    urgency: str
    certainty: str
    area: dict[str, Any] = Field(description="circle: lon, lat, radius_m")
    expires_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    version: int = Field(default=1, ge=1)


class ProposalStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    EXPIRED = "expired"


class DeviceOutcome(BaseModel):
    """What one device answered to a confirmed proposal's command."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device_id: str
    outcome: str = Field(
        description="acknowledged, refused, timeout or unreachable (as the actuator service "
        "reports), or failed when the command could not be sent at all"
    )
    detail: str = ""
    command_id: str | None = None
    answered_at: datetime | None = None


class CommandProposal(BaseModel):
    """A street command an automation rule wants, waiting for a person: nothing is sent until
    someone confirms it before ``expires_at``. A pending proposal read at or after
    ``expires_at`` reads as expired (:meth:`as_of`); there is no timer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    rule_id: str
    rule_name: str = ""
    incident_id: str | None = None
    event_source: str | None = None
    event_id: str | None = None
    device_ids: tuple[str, ...] = Field(
        min_length=1, description="Resolved when the rule fired (by radius or by id)"
    )
    command: CommandName
    value: int | str
    reason: str = Field(description="Why the rule fired: its trace's reason")
    created_at: datetime
    expires_at: datetime
    status: ProposalStatus = ProposalStatus.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    outcomes: tuple[DeviceOutcome, ...] = Field(
        default=(), description="Per device, once confirmed and sent"
    )
    version: int = Field(default=1, ge=1)

    def as_of(self, now: datetime) -> CommandProposal:
        """The proposal as it stands at ``now``: pending past its deadline reads as expired."""
        if self.status is ProposalStatus.PENDING and now >= self.expires_at:
            return self.model_copy(update={"status": ProposalStatus.EXPIRED})
        return self
