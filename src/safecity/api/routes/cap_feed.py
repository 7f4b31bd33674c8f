"""The public CAP feed: the incidents this site publishes as warnings, as CAP 1.2 in Atom."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from starlette.responses import Response

from safecity.adapters.cap.config import CapConfig
from safecity.adapters.cap.outbound import alerts_feed
from safecity.api.deps import Services
from safecity.core.identity import Role
from safecity.core.incidents import IncidentStatus
from safecity.core.records import IncidentQuery
from safecity.governance.identity import system_principal

router = APIRouter(tags=["public"])

_OPEN = tuple(s.value for s in IncidentStatus if s is not IncidentStatus.CLOSED)


@router.get(
    "/public/v1/cap/alerts.atom",
    summary="Public warnings as CAP 1.2 alerts in an Atom feed (no authentication)",
    response_class=Response,
    responses={
        200: {
            "description": "Atom feed; each entry embeds one CAP 1.2 alert",
            "content": {"application/atom+xml": {"schema": {"type": "string"}}},
        }
    },
)
async def cap_alerts(svc: Services) -> Response:
    """Open incidents of the types the ``cap`` adapter's ``publish`` settings name (empty by
    default: nothing is published until a site says so), incidents closed within the alert
    lifetime as ``Cancel`` messages, and warnings a person approved (drafted by automations)."""
    instance = svc.adapters.resolve("cap")
    config = instance.config if isinstance(instance.config, CapConfig) else CapConfig()
    publish = config.publish
    now = svc.clock.now()
    found = []
    if publish.incident_types:
        # The platform reads on the public's behalf; the audit log records it as "system".
        reader = system_principal(role=Role.OPERATOR)
        types = tuple(publish.incident_types)
        found = await svc.incidents.list_incidents(
            reader, IncidentQuery(statuses=_OPEN, types=types, limit=publish.max_entries)
        )
        since = now - timedelta(hours=publish.expires_after_h)
        found += await svc.incidents.list_incidents(
            reader,
            IncidentQuery(
                statuses=(IncidentStatus.CLOSED.value,),
                types=types,
                updated_since=since,
                limit=publish.max_entries,
            ),
        )
    approved = await svc.automations.published(now) if svc.automations is not None else []
    body = alerts_feed(found, publish, now=now, approved=approved)
    return Response(
        body,
        media_type="application/atom+xml",
        headers={"Cache-Control": "public, max-age=30"},
    )
