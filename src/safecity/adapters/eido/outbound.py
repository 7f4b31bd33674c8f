"""A safecity incident -> an EIDO 1.0 document (pure), for agencies that speak NENA EIDO.

What is shared: the incident's type (as an APCO incident type code), title, status, priority,
lead agency and position (as PIDF-LO by value). Never the linked events' personal content:
no reporters, callers, descriptions or notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from safecity.adapters.eido.codes import INCIDENT_TYPE_CODE
from safecity.adapters.eido.config import EidoConfig
from safecity.core.events import Event
from safecity.core.geo import Location
from safecity.core.incidents import Incident

PIDF = "urn:ietf:params:xml:ns:pidf"
GEOPRIV = "urn:ietf:params:xml:ns:pidf:geopriv10"
GML = "http://www.opengis.net/gml"
CONTENT_TYPE = "application/emergency.eido+json"


def tracking_id(incident_id: str, config: EidoConfig) -> str:
    """The EIDO incident tracking identifier of a safecity incident."""
    return f"urn:emergency:uid:incidentid:{incident_id}:{config.domain}"


def incident_to_eido(
    incident: Incident,
    events: Sequence[Event],
    config: EidoConfig,
    *,
    agency_type: str = "police",
) -> dict[str, Any]:
    """The EIDO for ``incident``; ``events`` (its linked events) give a position when the
    incident has none. ``agency_type`` is the lead agency's IANA responder type."""
    uid = tracking_id(incident.id, config)
    agency = incident.agency_id or config.default_agency
    stamp = incident.updated_at.isoformat()

    def prologue(component_id: str) -> dict[str, Any]:
        return {
            "$id": component_id,
            "lastUpdateTimeStamp": stamp,
            "updatedByAgencyReference": {"$ref": agency},
        }

    location = incident.location or next((e.location for e in events if e.location), None)
    component: dict[str, Any] = {
        **prologue(f"{uid}:incident"),
        "incidentTypeCommonRegistryText": INCIDENT_TYPE_CODE.get(incident.type, "INFO"),
        "incidentTypeInternalCode": incident.type,
        "incidentTypeInternalText": incident.title,
        "incidentStatusInternalText": [incident.status.value],
        "internalIncidentId": incident.id,
        "incidentCommonPriorityNumber": incident.priority,
        "incidentPriorityInternalText": f"P{incident.priority} (1 is the most urgent)",
    }
    doc: dict[str, Any] = {
        **prologue(uid),
        "eidoVersion": "1.0",
        "issuingElementIdentification": config.issuing_element,
        "incidentComponent": component,
        "agencyComponent": [
            {
                **prologue(agency),
                "agencyRoleDescriptionRegistryText": ["Dispatch"],
                "agencyType": [agency_type],
                "incidentOwningAgencyIndicator": True,
            }
        ],
    }
    if location is not None:
        location_id = f"{uid}:location:0"
        component["locationReference"] = [{"$ref": location_id}]
        doc["locationComponent"] = [
            {
                **prologue(location_id),
                "locationTypeDescriptionRegistryText": "Incident",
                "locationByValue": pidf_lo(location, uid),
            }
        ]
    return doc


def pidf_lo(location: Location, entity: str) -> str:
    """A PIDF-LO document with a GML point (lat lon), as EIDO carries by value."""
    presence = Element(f"{{{PIDF}}}presence", {"entity": f"pres:{entity}"})
    tuple_ = SubElement(presence, f"{{{PIDF}}}tuple", {"id": "incident"})
    status = SubElement(tuple_, f"{{{PIDF}}}status")
    geopriv = SubElement(status, f"{{{GEOPRIV}}}geopriv")
    info = SubElement(geopriv, f"{{{GEOPRIV}}}location-info")
    point = SubElement(info, f"{{{GML}}}Point", {"srsName": "urn:ogc:def:crs:EPSG::4326"})
    SubElement(point, f"{{{GML}}}pos").text = f"{location.lat:.7f} {location.lon:.7f}"
    SubElement(geopriv, f"{{{GEOPRIV}}}usage-rules")
    text: str = tostring(presence, encoding="unicode")
    return text
