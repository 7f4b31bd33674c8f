"""Agencies, users and API tokens. Token secrets are shown once and stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from safecity.core.clock import Clock
from safecity.core.errors import NotFound, Unauthenticated
from safecity.core.identity import DEFAULT_PURPOSE, Agency, ApiToken, Principal, Role, User
from safecity.core.ids import new_id
from safecity.core.ports import IdentityRepository
from safecity.governance.access import resolve_purpose

TOKEN_PREFIX = "sc_"  # noqa: S105 -- a recognisable prefix (secret scanners), not a secret


def hash_token(secret: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str


class IdentityService:
    """Manages who exists and authenticates calls. Successful look-ups are cached briefly."""

    _CACHE_SECONDS = 30.0

    def __init__(self, store: IdentityRepository, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._cache: dict[str, tuple[float, ApiToken, User]] = {}
        self._lock = threading.Lock()

    def add_agency(self, agency: Agency) -> Agency:
        self._store.add_agency(agency)
        return agency

    def ensure_agency(self, agency: Agency) -> Agency:
        existing = self._store.get_agency(agency.id)
        return existing if existing is not None else self.add_agency(agency)

    def add_user(self, user: User) -> User:
        if self._store.get_agency(user.agency_id) is None:
            raise NotFound("agency", user.agency_id)
        self._store.add_user(user)
        return user

    def ensure_user(self, user: User) -> User:
        existing = self._store.get_user(user.id)
        return existing if existing is not None else self.add_user(user)

    def list_agencies(self) -> list[Agency]:
        return self._store.list_agencies()

    def get_user(self, user_id: str) -> User | None:
        return self._store.get_user(user_id)

    def list_users(self, agency_id: str | None = None) -> list[User]:
        return self._store.list_users(agency_id)

    def issue_token(
        self,
        user_id: str,
        *,
        label: str = "",
        expires_at: datetime | None = None,
        secret: str | None = None,
    ) -> IssuedToken:
        """A new token for ``user_id``. ``secret`` may be given (e.g. a demo's fixed token)."""
        if self._store.get_user(user_id) is None:
            raise NotFound("user", user_id)
        now = self._clock.now()
        secret = secret or TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            id=new_id("tok", now),
            user_id=user_id,
            token_hash=hash_token(secret),
            label=label,
            created_at=now,
            expires_at=expires_at,
        )
        self._store.add_token(token)
        return IssuedToken(token, secret)

    def revoke_token(self, token_id: str) -> bool:
        with self._lock:
            self._cache.clear()
        return self._store.revoke_token(token_id, self._clock.now())

    def authenticate(self, secret: str, purpose: str | None = None) -> Principal:
        """The principal for a bearer token and a declared purpose, or raise."""
        token, user = self._lookup(secret)
        now = self._clock.now()
        if token.revoked_at is not None:
            raise Unauthenticated("token revoked")
        if token.expires_at is not None and token.expires_at <= now:
            raise Unauthenticated("token expired")
        if not user.active:
            raise Unauthenticated("user deactivated")
        return Principal(
            user_id=user.id,
            agency_id=user.agency_id,
            role=user.role,
            purpose=resolve_purpose(user.role, purpose),
            token_id=token.id,
        )

    def _lookup(self, secret: str) -> tuple[ApiToken, User]:
        digest = hash_token(secret)
        mono = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
            if hit is not None and hit[0] > mono:
                return hit[1], hit[2]
        token = self._store.find_token(digest)
        if token is None:
            raise Unauthenticated("unknown token")
        user = self._store.get_user(token.user_id)
        if user is None:
            raise Unauthenticated("token's user no longer exists")
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (mono + self._CACHE_SECONDS, token, user)
        return token, user


def system_principal(
    agency_id: str = "safecity", role: Role = Role.ADMIN, *, acting_as: str | None = None
) -> Principal:
    """The platform acting on its own behalf (start-up, demo seeding, a component such as
    ``system:procedures``), for the audit log."""
    return Principal(
        user_id="system",
        agency_id=agency_id,
        role=role,
        purpose=DEFAULT_PURPOSE[role],
        acting_as=acting_as,
    )
