"""safecity incidents and register entries as NGSI-LD entities (normalized form). Pure.

An incident becomes a Smart Data Models ``Alert`` (category ``security``, ``subCategory`` the
incident type) plus three ``safecity*`` properties; a register entry becomes a ``Device``.
Both name their @context by URL (the ETSI core context and the SDM model context), as NGSI-LD
requires; nothing is fetched, the URLs are identifiers for the receiver.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from safecity.core.incidents import Incident
from safecity.core.registry import Sensor

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.4.jsonld"
ALERT_CONTEXT = (
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Alert/master/context.jsonld"
)
DEVICE_CONTEXT = (
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Device/master/context.jsonld"
)
INCIDENT_PREFIX = "urn:ngsi-ld:Alert:safecity:"
DEVICE_PREFIX = "urn:ngsi-ld:Device:safecity:"
#: Incident priority (1 most urgent) to the SDM Alert severity scale.
SEVERITY_BY_PRIORITY = {1: "critical", 2: "high", 3: "medium", 4: "low", 5: "informational"}


def _time(value: datetime) -> dict[str, str]:
    text = value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {"@type": "DateTime", "@value": text}


def _prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def incident_entity_id(incident_id: str) -> str:
    return INCIDENT_PREFIX + quote(incident_id, safe="-._~:@")


def device_entity_id(sensor_id: str) -> str:
    return DEVICE_PREFIX + quote(sensor_id, safe="-._~:@/")


def incident_to_entity(incident: Incident) -> dict[str, Any]:
    """An incident as an NGSI-LD ``Alert`` entity."""
    entity: dict[str, Any] = {
        "id": incident_entity_id(incident.id),
        "type": "Alert",
        "category": _prop("security"),
        "subCategory": _prop(incident.type),
        "name": _prop(incident.title),
        "severity": _prop(SEVERITY_BY_PRIORITY.get(incident.priority, "medium")),
        "dateIssued": _prop(_time(incident.opened_at)),
        "validFrom": _prop(_time(incident.first_event_at)),
        "dateModified": _prop(_time(incident.updated_at)),
        "alertSource": _prop("safecity"),
        "safecityIncidentId": _prop(incident.id),
        "safecityStatus": _prop(incident.status.value),
        "safecityPriority": _prop(incident.priority),
        "@context": [ALERT_CONTEXT, CORE_CONTEXT],
    }
    if incident.summary:
        entity["description"] = _prop(incident.summary)
    if incident.closed_at is not None:
        entity["validTo"] = _prop(_time(incident.closed_at))
    if incident.location is not None:
        entity["location"] = _point(incident.location.lon, incident.location.lat)
    return entity


def sensor_to_entity(sensor: Sensor) -> dict[str, Any]:
    """A register entry as an NGSI-LD ``Device`` entity (or a ``Camera`` for cameras)."""
    entity: dict[str, Any] = {
        "id": device_entity_id(sensor.id),
        "type": "Device",
        "name": _prop(sensor.name),
        "deviceCategory": _prop([sensor.kind.value]),
        "controlledProperty": _prop(list(sensor.measures)),
        "deviceState": _prop(sensor.status),
        "owner": _prop([sensor.owner_agency]),
        "safecityPurpose": _prop(sensor.purpose),
        "safecityLegalBasis": _prop(sensor.legal_basis),
        "safecityPersonalData": _prop(sensor.personal_data),
        "safecityRetentionDays": _prop(sensor.retention_days),
        "@context": [DEVICE_CONTEXT, CORE_CONTEXT],
    }
    if sensor.area:
        entity["areaServed"] = _prop(sensor.area)
    if sensor.location is not None:
        entity["location"] = _point(sensor.location.lon, sensor.location.lat)
    if sensor.updated_at is not None:
        entity["dateModified"] = _prop(_time(sensor.updated_at))
    return entity
