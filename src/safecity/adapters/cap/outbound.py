"""Incidents out as CAP 1.2 alerts and an Atom feed of them (pure functions: no I/O, no clock).

Only what a public warning needs leaves: the incident's type, title, priority, place and times.
Assignees, units, the summary and the linked events are never part of an alert.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from safecity.adapters.cap.config import CapPublish
from safecity.core.incidents import Incident, IncidentStatus
from safecity.core.operations import AlertDraft

CAP12 = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM = "http://www.w3.org/2005/Atom"

#: CAP ``<category>`` and a plain ``<event>`` name per incident type.
CATEGORY: dict[str, tuple[str, str]] = {
    "shooting": ("Security", "Shooting"),
    "fire": ("Fire", "Fire"),
    "violence": ("Security", "Violence"),
    "help_request": ("Rescue", "Call for help"),
    "medical": ("Health", "Medical emergency"),
    "traffic": ("Transport", "Traffic incident"),
    "crowd": ("Safety", "Crowd"),
    "public_order": ("Security", "Public order"),
    "property_crime": ("Security", "Property crime"),
    "noise": ("Env", "Noise"),
    "infrastructure": ("Infra", "Infrastructure fault"),
    "waste_collection": ("Env", "Waste collection"),
    "external_alert": ("Other", "Alert"),
}

#: Priority (1 the most urgent) to CAP urgency and severity.
URGENCY_SEVERITY: dict[int, tuple[str, str]] = {
    1: ("Immediate", "Extreme"),
    2: ("Immediate", "Severe"),
    3: ("Expected", "Moderate"),
    4: ("Expected", "Minor"),
    5: ("Future", "Minor"),
}

_UNSAFE = re.compile(r"[\s,<&]")
_CONFIRMED = (IncidentStatus.DISPATCHED, IncidentStatus.ON_SCENE)


def cap_time(value: datetime) -> str:
    """A CAP date-time: seconds, an explicit offset, and UTC written ``-00:00`` as CAP asks."""
    utc = value.astimezone(UTC).replace(microsecond=0)
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"


def is_published(incident: Incident, settings: CapPublish) -> bool:
    """Whether the site publishes this incident as a public alert."""
    return incident.type in settings.incident_types and incident.priority <= settings.max_priority


def identifier(incident: Incident, settings: CapPublish, *, version: int | None = None) -> str:
    """The alert's CAP identifier: the first version's is the incident's; later ones add ``-vN``."""
    base = f"{settings.identifier_prefix}-{_UNSAFE.sub('_', incident.id)}"
    number = incident.version if version is None else version
    return base if number == 1 else f"{base}-v{number}"


def msg_type(incident: Incident) -> str:
    if not incident.is_open:
        return "Cancel"
    return "Alert" if incident.version == 1 else "Update"


def incident_alert(incident: Incident, settings: CapPublish) -> str:
    """One CAP 1.2 ``<alert>`` (XML text, no declaration) for the incident's current version."""
    kind = msg_type(incident)
    category, event = CATEGORY.get(incident.type, ("Other", incident.type.replace("_", " ")))
    urgency, severity = URGENCY_SEVERITY[incident.priority]
    certainty = "Observed" if incident.status in _CONFIRMED else "Likely"
    expires = incident.updated_at + timedelta(hours=settings.expires_after_h)
    parts = [
        f'<alert xmlns="{CAP12}">',
        _el("identifier", identifier(incident, settings)),
        _el("sender", settings.sender),
        _el("sent", cap_time(incident.updated_at)),
        _el("status", settings.status),
        _el("msgType", kind),
        _el("scope", settings.scope),
    ]
    if kind != "Alert":
        first = identifier(incident, settings, version=1)
        parts.append(_el("references", f"{settings.sender},{first},{cap_time(incident.opened_at)}"))
    parts += [
        "<info>",
        _el("language", settings.language),
        _el("category", category),
        _el("event", event),
        _el("responseType", "AllClear" if kind == "Cancel" else "Monitor"),
        _el("urgency", "Past" if kind == "Cancel" else urgency),
        _el("severity", severity),
        _el("certainty", certainty),
        _el("effective", cap_time(incident.opened_at)),
        _el("expires", cap_time(expires)),
        _el("senderName", settings.sender_name),
        _el("headline", incident.title),
    ]
    if kind == "Cancel":
        parts.append(_el("description", "The incident is over; this alert is cancelled."))
    if incident.location is not None:
        loc = incident.location
        radius_km = loc.accuracy_m / 1000.0 if loc.accuracy_m else settings.default_radius_km
        parts += [
            "<area>",
            _el("areaDesc", f"Within {radius_km:g} km of {loc.lat:.5f}, {loc.lon:.5f}"),
            _el("circle", f"{loc.lat:.6f},{loc.lon:.6f} {radius_km:g}"),
            "</area>",
        ]
    parts += ["</info>", "</alert>"]
    return "".join(parts)


def alert_document(incident: Incident, settings: CapPublish) -> str:
    """A standalone CAP 1.2 document (with its XML declaration)."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + incident_alert(incident, settings)


def draft_alert(draft: AlertDraft, settings: CapPublish) -> str:
    """One CAP 1.2 ``<alert>`` for a warning a person approved (drafted by an automation)."""
    sent = draft.decided_at or draft.created_at
    area = draft.area
    radius_km = float(area.get("radius_m", 0.0)) / 1000.0
    lat, lon = float(area["lat"]), float(area["lon"])
    parts = [
        f'<alert xmlns="{CAP12}">',
        _el("identifier", f"{settings.identifier_prefix}-{_UNSAFE.sub('_', draft.id)}"),
        _el("sender", settings.sender),
        _el("sent", cap_time(sent)),
        _el("status", settings.status),
        _el("msgType", "Alert"),
        _el("scope", settings.scope),
        "<info>",
        _el("language", settings.language),
        _el("category", "Safety"),
        _el("event", "Public warning"),
        _el("responseType", "Avoid"),
        _el("urgency", draft.urgency.capitalize()),
        _el("severity", draft.severity.capitalize()),
        _el("certainty", draft.certainty.capitalize()),
        _el("effective", cap_time(sent)),
    ]
    if draft.expires_at is not None:
        parts.append(_el("expires", cap_time(draft.expires_at)))
    parts += [_el("senderName", settings.sender_name), _el("headline", draft.headline)]
    if draft.description:
        parts.append(_el("instruction", draft.description))
    parts += [
        "<area>",
        _el("areaDesc", f"Within {radius_km:g} km of {lat:.5f}, {lon:.5f}"),
        _el("circle", f"{lat:.6f},{lon:.6f} {radius_km:g}"),
        "</area>",
        "</info>",
        "</alert>",
    ]
    return "".join(parts)


def alerts_feed(
    incidents: Sequence[Incident],
    settings: CapPublish,
    *,
    now: datetime,
    approved: Sequence[AlertDraft] = (),
) -> str:
    """An Atom feed embedding one CAP alert per published incident and per approved warning,
    newest first."""
    chosen = sorted(
        (i for i in incidents if is_published(i, settings)),
        key=lambda i: (i.updated_at, i.id),
        reverse=True,
    )[: settings.max_entries]
    warnings = sorted(approved, key=lambda d: (d.decided_at or d.created_at, d.id), reverse=True)
    updated = max(
        [*(i.updated_at for i in chosen), *(d.decided_at or d.created_at for d in warnings)],
        default=now,
    )
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<feed xmlns="{ATOM}">',
        _el("id", settings.feed_url),
        _el("title", settings.feed_title),
        _el("updated", _atom_time(updated)),
        f"<author>{_el('name', settings.sender_name)}</author>",
        f'<link rel="self" type="application/atom+xml" href={quoteattr(settings.feed_url)}/>',
    ]
    for incident in chosen:
        ident = identifier(incident, settings)
        parts += [
            "<entry>",
            _el("id", f"urn:cap:{settings.sender}:{ident}"),
            _el("title", incident.title),
            _el("updated", _atom_time(incident.updated_at)),
            f"<category term={quoteattr(CATEGORY.get(incident.type, ('Other', ''))[0])}/>",
            '<content type="application/cap+xml">',
            incident_alert(incident, settings),
            "</content>",
            "</entry>",
        ]
    for draft in warnings[: settings.max_entries]:
        parts += [
            "<entry>",
            _el("id", f"urn:cap:{settings.sender}:{settings.identifier_prefix}-{draft.id}"),
            _el("title", draft.headline),
            _el("updated", _atom_time(draft.decided_at or draft.created_at)),
            '<category term="Safety"/>',
            '<content type="application/cap+xml">',
            draft_alert(draft, settings),
            "</content>",
            "</entry>",
        ]
    parts.append("</feed>\n")
    return "".join(parts)


def _atom_time(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _el(name: str, value: str) -> str:
    return f"<{name}>{escape(value)}</{name}>"
