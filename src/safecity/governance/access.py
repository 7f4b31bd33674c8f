"""Access decisions: a role grants permissions, and only for the purposes that role may declare."""

from __future__ import annotations

from safecity.core.errors import PermissionDenied
from safecity.core.identity import (
    DEFAULT_PURPOSE,
    ROLE_PURPOSES,
    Permission,
    Principal,
    Purpose,
    Role,
)


def require(principal: Principal, permission: Permission) -> None:
    """Raise :class:`PermissionDenied` unless the principal's role grants ``permission``."""
    if not principal.can(permission):
        raise PermissionDenied(f"role {principal.role.value!r} does not grant {permission.value!r}")


def resolve_purpose(role: Role, requested: str | None) -> Purpose:
    """The purpose a call is made for: the one declared, or the role's default."""
    if requested is None or requested == "":
        return DEFAULT_PURPOSE[role]
    try:
        purpose = Purpose(requested)
    except ValueError:
        known = ", ".join(p.value for p in Purpose)
        raise PermissionDenied(f"unknown purpose {requested!r}; declare one of: {known}") from None
    if purpose not in ROLE_PURPOSES[role]:
        allowed = ", ".join(sorted(p.value for p in ROLE_PURPOSES[role]))
        raise PermissionDenied(
            f"role {role.value!r} may not act for purpose {purpose.value!r}; allowed: {allowed}"
        )
    return purpose
