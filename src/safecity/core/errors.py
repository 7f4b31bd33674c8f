"""Domain errors. Each names the field at fault and the reason, so every entry point can say so."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One reason an input was refused: where (a dotted path) and why."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class InvalidInput(DomainError):
    """The input cannot be accepted; ``errors`` says which fields and why."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))


class NotFound(DomainError):
    """The named object does not exist (or is not visible to the caller)."""

    def __init__(self, kind: str, ident: str) -> None:
        self.kind = kind
        self.ident = ident
        super().__init__(f"{kind} {ident!r} not found")


class Conflict(DomainError):
    """The change clashes with the current state (stale version, duplicate key, bad transition)."""


class PermissionDenied(DomainError):
    """The caller is authenticated but not allowed to do this, for this purpose."""


class Unauthenticated(DomainError):
    """No valid credentials were presented."""
