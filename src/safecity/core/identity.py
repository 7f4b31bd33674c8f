"""Agencies, users, roles, purposes and API tokens: who may do what, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Ident = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")
]


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    OPERATOR = "operator"
    ANALYST = "analyst"
    INTEGRATOR = "integrator"
    AUDITOR = "auditor"


class Permission(StrEnum):
    EVENTS_INGEST = "events:ingest"
    EVENTS_READ = "events:read"
    INCIDENTS_READ = "incidents:read"
    INCIDENTS_WRITE = "incidents:write"
    SENSORS_READ = "sensors:read"
    SENSORS_WRITE = "sensors:write"
    DEAD_LETTERS_READ = "deadletters:read"
    AUDIT_READ = "audit:read"
    ACTUATORS_COMMAND = "actuators:command"
    UNITS_READ = "units:read"
    UNITS_WRITE = "units:write"
    ALERTS_APPROVE = "alerts:approve"
    ADMIN = "admin"


class Purpose(StrEnum):
    """Declared purposes. Data read for one purpose may not silently serve another."""

    INCIDENT_RESPONSE = "incident-response"
    INVESTIGATION = "investigation"
    SYSTEM_OPERATIONS = "system-operations"
    SERVICE_IMPROVEMENT = "service-improvement"
    OVERSIGHT = "oversight"


P = Permission
_ALL = frozenset(Permission)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: _ALL,
    Role.SUPERVISOR: frozenset(
        {
            P.ACTUATORS_COMMAND,
            P.EVENTS_INGEST,
            P.EVENTS_READ,
            P.INCIDENTS_READ,
            P.INCIDENTS_WRITE,
            P.SENSORS_READ,
            P.DEAD_LETTERS_READ,
            P.UNITS_READ,
            P.UNITS_WRITE,
            P.ALERTS_APPROVE,
        }
    ),
    Role.OPERATOR: frozenset(
        {
            P.ACTUATORS_COMMAND,
            P.EVENTS_INGEST,
            P.EVENTS_READ,
            P.INCIDENTS_READ,
            P.INCIDENTS_WRITE,
            P.SENSORS_READ,
            P.UNITS_READ,
            P.UNITS_WRITE,
        }
    ),
    Role.ANALYST: frozenset({P.EVENTS_READ, P.INCIDENTS_READ, P.SENSORS_READ, P.UNITS_READ}),
    Role.INTEGRATOR: frozenset(
        {P.EVENTS_INGEST, P.SENSORS_READ, P.SENSORS_WRITE, P.DEAD_LETTERS_READ, P.UNITS_WRITE}
    ),
    Role.AUDITOR: frozenset({P.AUDIT_READ, P.SENSORS_READ, P.INCIDENTS_READ}),
}

ROLE_PURPOSES: dict[Role, frozenset[Purpose]] = {
    Role.ADMIN: frozenset({Purpose.SYSTEM_OPERATIONS, Purpose.OVERSIGHT}),
    Role.SUPERVISOR: frozenset(
        {
            Purpose.INCIDENT_RESPONSE,
            Purpose.INVESTIGATION,
            Purpose.SERVICE_IMPROVEMENT,
        }
    ),
    Role.OPERATOR: frozenset({Purpose.INCIDENT_RESPONSE}),
    Role.ANALYST: frozenset({Purpose.SERVICE_IMPROVEMENT}),
    Role.INTEGRATOR: frozenset({Purpose.SYSTEM_OPERATIONS}),
    Role.AUDITOR: frozenset({Purpose.OVERSIGHT}),
}

DEFAULT_PURPOSE: dict[Role, Purpose] = {
    Role.ADMIN: Purpose.SYSTEM_OPERATIONS,
    Role.SUPERVISOR: Purpose.INCIDENT_RESPONSE,
    Role.OPERATOR: Purpose.INCIDENT_RESPONSE,
    Role.ANALYST: Purpose.SERVICE_IMPROVEMENT,
    Role.INTEGRATOR: Purpose.SYSTEM_OPERATIONS,
    Role.AUDITOR: Purpose.OVERSIGHT,
}


class Agency(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Ident
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    kind: Annotated[str, StringConstraints(min_length=1, max_length=50)] = "police"


class User(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Ident
    agency_id: Ident
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    role: Role
    active: bool = True


class ApiToken(BaseModel):
    """A token as stored: only its SHA-256 hash, never the secret itself."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    user_id: str
    token_hash: str
    label: str = ""
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class Principal:
    """An authenticated caller acting for one declared purpose."""

    user_id: str
    agency_id: str
    role: Role
    purpose: Purpose
    token_id: str | None = None
    #: For the platform's own components (``system:procedures``, ``device:<source>``): the
    #: name the timeline and audit log show instead of a user.
    acting_as: str | None = None

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    @property
    def actor(self) -> str:
        return self.acting_as or f"user:{self.user_id}"
