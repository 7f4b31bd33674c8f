"""Agencies, users, tokens (administrators) and the audit trail (auditors)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.responses import Response

from safecity.api.deps import Caller, Services
from safecity.api.responses import Json, audit_record
from safecity.core.errors import NotFound
from safecity.core.identity import ROLE_PERMISSIONS, ROLE_PURPOSES, Agency, Permission, User
from safecity.governance.access import require
from safecity.governance.audit import verify_chain

router = APIRouter(prefix="/v1", tags=["administration"])


class AgencyList(BaseModel):
    items: list[Agency]


class UserList(BaseModel):
    items: list[User]


class TokenRequest(BaseModel):
    label: str = Field(default="", max_length=200)
    expires_at: datetime | None = None


class IssuedTokenOut(BaseModel):
    id: str
    user_id: str
    label: str
    expires_at: datetime | None
    secret: str = Field(description="Shown once; only its hash is stored")


class MeOut(BaseModel):
    user_id: str
    display_name: str
    agency_id: str
    agency_name: str | None
    role: str
    purpose: str = Field(description="The purpose this call was made for")
    purposes: list[str] = Field(description="The purposes this role may declare")
    permissions: list[str]


@router.get(
    "/me",
    response_model=MeOut,
    tags=["administration"],
    summary="Who the token belongs to: user, agency, role, declared and allowed purposes",
)
async def me(svc: Services, caller: Caller) -> Any:
    """Any valid token may ask; the console shows it and offers the role's purposes."""
    user = await asyncio.to_thread(svc.identity.get_user, caller.user_id)
    agencies = await asyncio.to_thread(svc.identity.list_agencies)
    agency = next((a for a in agencies if a.id == caller.agency_id), None)
    return MeOut(
        user_id=caller.user_id,
        display_name=user.display_name if user else caller.user_id,
        agency_id=caller.agency_id,
        agency_name=agency.name if agency else None,
        role=caller.role.value,
        purpose=caller.purpose.value,
        purposes=sorted(p.value for p in ROLE_PURPOSES[caller.role]),
        permissions=sorted(p.value for p in ROLE_PERMISSIONS[caller.role]),
    )


@router.get("/agencies", response_model=AgencyList)
async def list_agencies(svc: Services, caller: Caller) -> Any:
    require(caller, Permission.ADMIN)
    return AgencyList(items=await asyncio.to_thread(svc.identity.list_agencies))


@router.post("/agencies", response_model=Agency, status_code=201)
async def add_agency(agency: Agency, svc: Services, caller: Caller) -> Any:
    require(caller, Permission.ADMIN)
    await asyncio.to_thread(svc.identity.add_agency, agency)
    await asyncio.to_thread(svc.audit.record, caller, "agencies.add", "agency", agency.id)
    return agency


@router.get("/users", response_model=UserList)
async def list_users(
    svc: Services, caller: Caller, agency_id: Annotated[str | None, Query(max_length=100)] = None
) -> Any:
    require(caller, Permission.ADMIN)
    return UserList(items=await asyncio.to_thread(svc.identity.list_users, agency_id))


@router.post("/users", response_model=User, status_code=201)
async def add_user(user: User, svc: Services, caller: Caller) -> Any:
    require(caller, Permission.ADMIN)
    await asyncio.to_thread(svc.identity.add_user, user)
    await asyncio.to_thread(
        svc.audit.record, caller, "users.add", "user", user.id, details={"role": user.role.value}
    )
    return user


@router.post("/users/{user_id}/tokens", response_model=IssuedTokenOut, status_code=201)
async def issue_token(user_id: str, body: TokenRequest, svc: Services, caller: Caller) -> Any:
    require(caller, Permission.ADMIN)
    issued = await asyncio.to_thread(
        lambda: svc.identity.issue_token(user_id, label=body.label, expires_at=body.expires_at)
    )
    await asyncio.to_thread(svc.audit.record, caller, "tokens.issue", "token", issued.token.id)
    return IssuedTokenOut(
        id=issued.token.id,
        user_id=user_id,
        label=issued.token.label,
        expires_at=issued.token.expires_at,
        secret=issued.secret,
    )


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: str, svc: Services, caller: Caller) -> Response:
    require(caller, Permission.ADMIN)
    if not await asyncio.to_thread(svc.identity.revoke_token, token_id):
        raise NotFound("token", token_id)
    await asyncio.to_thread(svc.audit.record, caller, "tokens.revoke", "token", token_id)
    return Response(status_code=204)


@router.get("/audit", tags=["audit"], summary="The audit trail, oldest first, with chain check")
async def audit_trail(
    svc: Services,
    caller: Caller,
    actor: Annotated[str | None, Query(max_length=200)] = None,
    object_type: Annotated[str | None, Query(max_length=100)] = None,
    object_id: Annotated[str | None, Query(max_length=300)] = None,
    after_seq: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Who read or changed what, when, for which declared purpose. ``chain_intact`` says whether
    the returned records still hash-chain (an unfiltered page is checked from its first record);
    reading the trail is itself recorded."""
    require(caller, Permission.AUDIT_READ)
    records = await asyncio.to_thread(
        lambda: svc.audit.records(
            actor=actor,
            object_type=object_type,
            object_id=object_id,
            after_seq=after_seq,
            limit=limit,
        )
    )
    filtered = any(v is not None for v in (actor, object_type, object_id))
    broken = None if filtered or not records else verify_chain(records, records[0].prev_hash)
    await asyncio.to_thread(
        svc.audit.record, caller, "audit.read", "audit", None, details={"count": len(records)}
    )
    return Json(
        {
            "items": [audit_record(r) for r in records],
            "chain_intact": None if filtered else broken is None,
            "first_broken_seq": broken,
        }
    )
