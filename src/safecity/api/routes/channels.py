"""Channels: the shared thread of each incident (its log too), area channels, receipts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from safecity.api.deps import ApiServices, Caller, Services
from safecity.core.identity import Ident
from safecity.core.incidents import Incident
from safecity.core.operations import Channel, ChannelKind, ChannelMessage
from safecity.operations.channels import MAX_BODY, MAX_NAME, ChannelPage, ChannelService

router = APIRouter(prefix="/v1", tags=["channels"])

MessageId = Annotated[str, StringConstraints(min_length=1, max_length=100)]
After = Annotated[
    str | None,
    Query(max_length=100, description="Only messages after this message id (paging)"),
]
Limit = Annotated[int, Query(ge=1, le=500, description="At most this many messages")]


class PostBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: str = Field(min_length=1, max_length=MAX_BODY, description="The message text")
    requires_ack: bool = Field(
        default=False, description="Ask every other agency in the channel to acknowledge it"
    )


class AreaChannelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=MAX_NAME, description="e.g. 'New Year's Eve'")
    agencies: list[Ident] = Field(
        min_length=1, max_length=50, description="Member agencies (the creator's joins anyway)"
    )
    area: str | None = Field(
        default=None, min_length=1, max_length=200, description="Operational area it covers"
    )


class CloseChannelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, min_length=1, max_length=500)


class InvolveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agencies: list[Ident] = Field(min_length=1, max_length=50, description="Agency ids")
    reason: str = Field(min_length=1, max_length=500, description="Why they are needed")
    expected_version: int | None = Field(default=None, ge=1)


class MessagePage(BaseModel):
    items: list[ChannelMessage]
    next_after: str | None = Field(
        default=None, description="Pass as ?after= for the next page; null when this was the last"
    )


class ChannelView(BaseModel):
    channel: Channel
    messages: list[ChannelMessage]
    next_after: str | None = None


class ChannelList(BaseModel):
    items: list[Channel]


def _channels(svc: ApiServices) -> ChannelService:
    if svc.channels is None:
        raise RuntimeError("channel service not configured")
    return svc.channels


def _next(page: ChannelPage, limit: int) -> str | None:
    return page.messages[-1].id if len(page.messages) == limit else None


@router.get(
    "/incidents/{incident_id}/channel",
    response_model=ChannelView,
    summary="The incident's shared channel and its messages (the incident log included)",
    tags=["incidents"],
)
async def incident_channel(
    incident_id: str, svc: Services, caller: Caller, after: After = None, limit: Limit = 200
) -> Any:
    """Only agencies involved in the incident (and its lead agency) may read it. Reading marks
    the messages delivered for the caller's agency."""
    page = await _channels(svc).incident_channel(caller, incident_id, after=after, limit=limit)
    return ChannelView(channel=page.channel, messages=page.messages, next_after=_next(page, limit))


@router.post(
    "/incidents/{incident_id}/channel/messages",
    response_model=ChannelMessage,
    status_code=201,
    summary="Post in the incident's channel",
    tags=["incidents"],
)
async def post_to_incident(incident_id: str, body: PostBody, svc: Services, caller: Caller) -> Any:
    return await _channels(svc).post_to_incident(
        caller, incident_id, body.body, requires_ack=body.requires_ack
    )


@router.post(
    "/incidents/{incident_id}/agencies",
    response_model=Incident,
    summary="Involve more agencies in an incident (they see it and share its channel)",
    tags=["incidents"],
)
async def involve_agencies(
    incident_id: str, body: InvolveBody, svc: Services, caller: Caller
) -> Any:
    return await svc.incidents.involve_agencies(
        caller,
        incident_id,
        body.agencies,
        reason=body.reason,
        expected_version=body.expected_version,
    )


@router.get("/channels", response_model=ChannelList, summary="Channels your agency is in")
async def list_channels(
    svc: Services,
    caller: Caller,
    kind: Annotated[ChannelKind | None, Query()] = None,
    include_closed: Annotated[bool, Query()] = False,
) -> Any:
    found = await _channels(svc).list_channels(caller, kind=kind, include_closed=include_closed)
    return ChannelList(items=found)


@router.post(
    "/channels",
    response_model=Channel,
    status_code=201,
    summary="Open an area channel for an operation (supervisors and admins)",
)
async def create_area_channel(body: AreaChannelBody, svc: Services, caller: Caller) -> Any:
    return await _channels(svc).create_area_channel(
        caller, body.name, body.agencies, area=body.area
    )


@router.get(
    "/channels/{channel_id}/messages",
    response_model=MessagePage,
    summary="Messages of a channel, oldest first",
)
async def channel_messages(
    channel_id: str, svc: Services, caller: Caller, after: After = None, limit: Limit = 200
) -> Any:
    page = await _channels(svc).read(caller, channel_id, after=after, limit=limit)
    return MessagePage(items=page.messages, next_after=_next(page, limit))


@router.post(
    "/channels/{channel_id}/messages",
    response_model=ChannelMessage,
    status_code=201,
    summary="Post in a channel",
)
async def post_to_channel(channel_id: str, body: PostBody, svc: Services, caller: Caller) -> Any:
    return await _channels(svc).post(caller, channel_id, body.body, requires_ack=body.requires_ack)


@router.post(
    "/channels/{channel_id}/close",
    response_model=Channel,
    summary="Close an area channel: readable, no more posts",
)
async def close_channel(
    channel_id: str, svc: Services, caller: Caller, body: CloseChannelBody | None = None
) -> Any:
    return await _channels(svc).close_channel(
        caller, channel_id, reason=body.reason if body else None
    )


@router.post(
    "/messages/{message_id}/ack",
    response_model=ChannelMessage,
    summary="Acknowledge a message for your agency",
)
async def acknowledge(message_id: str, svc: Services, caller: Caller) -> Any:
    return await _channels(svc).acknowledge(caller, message_id)
