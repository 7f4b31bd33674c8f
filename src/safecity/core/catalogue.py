"""The catalogue of event types: each type's payload and how it bears on incidents.

Classification is place- and situation-based only: it looks at what happened where, never at
who a person is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator

from safecity.core import payloads as p
from safecity.core.events import Event, Severity


class IncidentType:
    """Incident types the first correlation version opens (plain strings, stable API values)."""

    SHOOTING = "shooting"
    FIRE = "fire"
    VIOLENCE = "violence"
    HELP_REQUEST = "help_request"
    MEDICAL = "medical"
    TRAFFIC = "traffic"
    CROWD = "crowd"
    PUBLIC_ORDER = "public_order"
    PROPERTY_CRIME = "property_crime"
    NOISE = "noise"
    INFRASTRUCTURE = "infrastructure"
    WASTE_COLLECTION = "waste_collection"
    EXTERNAL_ALERT = "external_alert"


#: Default priority per incident type: 1 is the most urgent, 5 the least.
BASE_PRIORITY: dict[str, int] = {
    IncidentType.SHOOTING: 1,
    IncidentType.FIRE: 1,
    IncidentType.VIOLENCE: 2,
    IncidentType.HELP_REQUEST: 2,
    IncidentType.MEDICAL: 2,
    IncidentType.TRAFFIC: 3,
    IncidentType.CROWD: 3,
    IncidentType.PUBLIC_ORDER: 3,
    IncidentType.PROPERTY_CRIME: 3,
    IncidentType.NOISE: 4,
    IncidentType.INFRASTRUCTURE: 4,
    IncidentType.WASTE_COLLECTION: 5,
    IncidentType.EXTERNAL_ALERT: 3,
}


#: Incident types that describe the same situation from different angles: a help button
#: pressed next to a fight is one incident, not two. Correlation turns each pair into a fusion
#: rule (close by both types' radius and window).
COMPATIBLE_PAIRS: tuple[tuple[str, str], ...] = (
    (IncidentType.HELP_REQUEST, IncidentType.VIOLENCE),
    (IncidentType.HELP_REQUEST, IncidentType.MEDICAL),
    (IncidentType.HELP_REQUEST, IncidentType.SHOOTING),
    (IncidentType.HELP_REQUEST, IncidentType.FIRE),
    (IncidentType.HELP_REQUEST, IncidentType.PUBLIC_ORDER),
    (IncidentType.HELP_REQUEST, IncidentType.PROPERTY_CRIME),
    (IncidentType.VIOLENCE, IncidentType.SHOOTING),
    (IncidentType.VIOLENCE, IncidentType.PUBLIC_ORDER),
    (IncidentType.MEDICAL, IncidentType.TRAFFIC),
    (IncidentType.MEDICAL, IncidentType.VIOLENCE),
    (IncidentType.CROWD, IncidentType.PUBLIC_ORDER),
    (IncidentType.NOISE, IncidentType.PUBLIC_ORDER),
)

#: The pairs as a symmetric relation; every type is compatible with itself.
COMPATIBLE: dict[str, frozenset[str]] = {
    kind: frozenset(
        {kind}
        | {b for a, b in COMPATIBLE_PAIRS if a == kind}
        | {a for a, b in COMPATIBLE_PAIRS if b == kind}
    )
    for kind in BASE_PRIORITY
}


@dataclass(frozen=True)
class Classification:
    """What an event means for incidents.

    ``opens`` says whether the event may open a new incident on its own; if not, it only joins
    an existing one (a single sensor's acoustic pulse, say, is evidence but not an incident).
    """

    incident_type: str
    priority: int
    opens: bool
    title: str


Classifier = Callable[[Event], Classification | None]


@dataclass(frozen=True)
class EventTypeSpec:
    """One catalogue entry."""

    name: str
    payload: type[p.EventPayload]
    description: str
    classify: Classifier
    personal_data: bool = False
    #: How events of this type come to notice when the payload does not say (None: they are
    #: not discoveries, e.g. a unit's status, or the type cannot tell).
    discovery: p.Discovery | None = p.Discovery.SENSOR


def _with_severity(priority: int, event: Event) -> int:
    if event.severity in (Severity.SEVERE, Severity.EXTREME):
        return max(1, priority - 1)
    return priority


def _always(incident_type: str, title: str, *, opens: bool = True) -> Classifier:
    def classify(event: Event) -> Classification:
        return Classification(
            incident_type, _with_severity(BASE_PRIORITY[incident_type], event), opens, title
        )

    return classify


def _never(_: Event) -> None:
    return None


def _crowd_density(event: Event) -> Classification | None:
    d = event.data
    assert isinstance(d, p.CameraCrowdDensity)
    if (d.persons_per_m2 or 0) >= 4.0:  # above ~4/m2 crowds become dangerous (Fruin level E-F)
        return Classification(
            IncidentType.CROWD, _with_severity(2, event), True, "Dangerous crowd density"
        )
    if (d.persons_per_m2 or 0) >= 2.0:
        return Classification(
            IncidentType.CROWD, _with_severity(3, event), True, "High crowd density"
        )
    return None


_ABNORMAL_TYPE = {
    p.AbnormalBehaviour.FIGHT: (IncidentType.VIOLENCE, "Fight seen by camera analytics"),
    p.AbnormalBehaviour.FALL: (IncidentType.MEDICAL, "Person fallen (camera analytics)"),
    p.AbnormalBehaviour.RUNNING: (IncidentType.PUBLIC_ORDER, "Sudden running (camera analytics)"),
    p.AbnormalBehaviour.ABANDONED_OBJECT: (IncidentType.PUBLIC_ORDER, "Abandoned object"),
    p.AbnormalBehaviour.INTRUSION: (IncidentType.PROPERTY_CRIME, "Intrusion detected"),
    p.AbnormalBehaviour.VANDALISM: (IncidentType.PROPERTY_CRIME, "Vandalism detected"),
    p.AbnormalBehaviour.OTHER: (IncidentType.PUBLIC_ORDER, "Abnormal event (camera analytics)"),
}


def _abnormal(event: Event) -> Classification:
    d = event.data
    assert isinstance(d, p.CameraAbnormalEvent)
    kind, title = _ABNORMAL_TYPE[d.behaviour]
    return Classification(kind, _with_severity(BASE_PRIORITY[kind], event), True, title)


def _vehicle(event: Event) -> Classification | None:
    d = event.data
    assert isinstance(d, p.CameraVehicle)
    if d.wrong_way:
        return Classification(
            IncidentType.TRAFFIC, _with_severity(2, event), True, "Wrong-way vehicle"
        )
    if d.stopped:
        return Classification(
            IncidentType.TRAFFIC, _with_severity(3, event), True, "Stopped vehicle"
        )
    return None


def _lamp_fault(event: Event) -> Classification | None:
    d = event.data
    assert isinstance(d, p.LampFault)
    if d.cleared:
        return None
    return Classification(
        IncidentType.INFRASTRUCTURE, 4, True, f"Street lamp fault: {d.fault.value}"
    )


def _noise(event: Event) -> Classification | None:
    d = event.data
    assert isinstance(d, p.NoiseLevel)
    # 85 dB(A) sustained is loud enough to matter in a street at night (WHO night guideline ~40).
    if d.laeq_db >= 85.0:
        return Classification(
            IncidentType.NOISE, _with_severity(4, event), True, "Sustained loud noise"
        )
    return None


def _crowd_count(event: Event) -> Classification | None:
    d = event.data
    assert isinstance(d, p.CrowdCount)
    if d.capacity and d.count >= d.capacity:
        return Classification(
            IncidentType.CROWD, _with_severity(2, event), True, "Crowd over capacity"
        )
    if d.capacity and d.count >= 0.9 * d.capacity:
        return Classification(
            IncidentType.CROWD, _with_severity(3, event), True, "Crowd near capacity"
        )
    return None


_REPORT_TYPE = {
    p.ReportCategory.VIOLENCE: IncidentType.VIOLENCE,
    p.ReportCategory.SHOTS: IncidentType.SHOOTING,
    p.ReportCategory.THEFT: IncidentType.PROPERTY_CRIME,
    p.ReportCategory.BURGLARY: IncidentType.PROPERTY_CRIME,
    p.ReportCategory.VANDALISM: IncidentType.PROPERTY_CRIME,
    p.ReportCategory.FIRE: IncidentType.FIRE,
    p.ReportCategory.MEDICAL: IncidentType.MEDICAL,
    p.ReportCategory.TRAFFIC: IncidentType.TRAFFIC,
    p.ReportCategory.LIGHTING: IncidentType.INFRASTRUCTURE,
    p.ReportCategory.WASTE: IncidentType.WASTE_COLLECTION,
    p.ReportCategory.NOISE: IncidentType.NOISE,
    p.ReportCategory.DISTURBANCE: IncidentType.PUBLIC_ORDER,
    p.ReportCategory.OTHER: IncidentType.PUBLIC_ORDER,
}


def _citizen(event: Event) -> Classification:
    d = event.data
    assert isinstance(d, p.CitizenReport)
    kind = _REPORT_TYPE[d.category]
    # A single unverified report ranks one step below the same thing from a sensor or a call.
    priority = min(5, _with_severity(BASE_PRIORITY[kind], event) + 1)
    return Classification(kind, priority, True, f"Citizen report: {d.category.value}")


_CALL_TYPE = {
    p.CallCategory.SHOOTING: IncidentType.SHOOTING,
    p.CallCategory.ASSAULT: IncidentType.VIOLENCE,
    p.CallCategory.ROBBERY: IncidentType.VIOLENCE,
    p.CallCategory.BURGLARY: IncidentType.PROPERTY_CRIME,
    p.CallCategory.THEFT: IncidentType.PROPERTY_CRIME,
    p.CallCategory.FIRE: IncidentType.FIRE,
    p.CallCategory.MEDICAL: IncidentType.MEDICAL,
    p.CallCategory.TRAFFIC: IncidentType.TRAFFIC,
    p.CallCategory.DISTURBANCE: IncidentType.PUBLIC_ORDER,
    p.CallCategory.OTHER: IncidentType.PUBLIC_ORDER,
}


def _call(event: Event) -> Classification:
    d = event.data
    assert isinstance(d, p.EmergencyCall)
    kind = _CALL_TYPE[d.category]
    return Classification(
        kind,
        _with_severity(BASE_PRIORITY[kind], event),
        True,
        f"Emergency call: {d.category.value}",
    )


def _traffic(event: Event) -> Classification:
    d = event.data
    assert isinstance(d, p.TrafficIncident)
    priority = 2 if d.injuries_reported or d.kind is p.TrafficIncidentKind.WRONG_WAY else 3
    if d.kind is p.TrafficIncidentKind.CONGESTION:
        priority = 4
    return Classification(
        IncidentType.TRAFFIC, _with_severity(priority, event), True, f"Traffic: {d.kind.value}"
    )


def _bollard(event: Event) -> Classification | None:
    d = event.data
    assert isinstance(d, p.BollardState)
    if d.state is p.BollardPosition.FAULT:
        return Classification(IncidentType.INFRASTRUCTURE, 3, True, "Bollard fault")
    if d.forced:
        return Classification(IncidentType.PROPERTY_CRIME, 2, True, "Bollard forced")
    return None


def _waste(event: Event) -> Classification | None:
    d = event.data
    assert isinstance(d, p.WasteFillLevel)
    if d.temperature_c is not None and d.temperature_c >= 70.0:  # smouldering contents
        return Classification(IncidentType.FIRE, 2, True, "Waste container overheating")
    if d.fill_pct >= 90.0:
        return Classification(IncidentType.WASTE_COLLECTION, 5, True, "Waste container full")
    return None


_ALERT_PRIORITY = {p.AlertSeverity.EXTREME: 2, p.AlertSeverity.SEVERE: 3}


def _alert(event: Event) -> Classification | None:
    d = event.data
    assert isinstance(d, p.AlertIssued)
    # Only real, current alerts call for attention; tests, exercises and cancellations do not.
    if d.status is not p.AlertStatus.ACTUAL or d.msg_type not in (
        p.AlertMessageType.ALERT,
        p.AlertMessageType.UPDATE,
    ):
        return None
    priority = _ALERT_PRIORITY.get(d.severity)
    if priority is None:
        return None
    return Classification(
        IncidentType.EXTERNAL_ALERT,
        priority,
        True,
        f"Alert: {d.headline or d.event or d.identifier}"[:200],
    )


def _cad_incident(event: Event) -> Classification:
    d = event.data
    assert isinstance(d, p.CadIncident)
    kind = _CALL_TYPE[d.category]
    return Classification(
        kind,
        _with_severity(BASE_PRIORITY[kind], event),
        True,
        f"Shared CAD incident: {d.category.value}",
    )


def _spec(
    type_name: str,
    payload: type[p.EventPayload],
    description: str,
    classify: Classifier,
    *,
    personal_data: bool = False,
    discovery: p.Discovery | None = p.Discovery.SENSOR,
) -> EventTypeSpec:
    return EventTypeSpec(type_name, payload, description, classify, personal_data, discovery)


_SPECS = [
    _spec(
        "acoustic.pulse",
        p.AcousticPulseDetected,
        "One acoustic sensor detected an impulsive sound, with its arrival time.",
        _always(IncidentType.SHOOTING, "Impulsive sound", opens=False),
    ),
    _spec(
        "gunshot.located",
        p.GunshotLocated,
        "A gunshot located from several sensors' arrival times.",
        _always(IncidentType.SHOOTING, "Gunshot located"),
    ),
    _spec("camera.motion", p.CameraMotion, "Motion in a camera's analytics zone.", _never),
    _spec(
        "camera.line_crossing", p.CameraLineCrossing, "An object crossed a virtual line.", _never
    ),
    _spec(
        "camera.loitering",
        p.CameraLoitering,
        "An object stayed in a zone too long.",
        _always(IncidentType.PUBLIC_ORDER, "Loitering in a watched zone"),
    ),
    _spec("camera.crowd_density", p.CameraCrowdDensity, "Crowd density estimate.", _crowd_density),
    _spec(
        "camera.abnormal",
        p.CameraAbnormalEvent,
        "Abnormal event (fight, fall, abandoned object...).",
        _abnormal,
    ),
    _spec(
        "camera.fire_smoke",
        p.CameraFireSmoke,
        "Fire or smoke detected by a camera.",
        _always(IncidentType.FIRE, "Fire or smoke seen by camera"),
    ),
    _spec(
        "camera.vehicle",
        p.CameraVehicle,
        "A vehicle observation (class, speed, wrong way, stopped); never a plate.",
        _vehicle,
    ),
    _spec(
        "lamp.emergency_button",
        p.LampEmergencyButton,
        "Someone pressed a lamppost's emergency call button.",
        _always(IncidentType.HELP_REQUEST, "Emergency button pressed"),
        discovery=p.Discovery.PUBLIC,  # a passer-by pressed the help button
    ),
    _spec("lamp.fault", p.LampFault, "A street lamp reported a fault.", _lamp_fault),
    _spec("lamp.light_level", p.LampLightLevel, "A street lamp's light level changed.", _never),
    _spec("noise.level", p.NoiseLevel, "Sound level over a window (LAeq).", _noise),
    _spec("crowd.count", p.CrowdCount, "People counted in an area.", _crowd_count),
    _spec(
        "citizen.report",
        p.CitizenReport,
        "A report from a member of the public.",
        _citizen,
        personal_data=True,
        discovery=p.Discovery.PUBLIC,
    ),
    _spec(
        "call.emergency",
        p.EmergencyCall,
        "An emergency call or CAD record.",
        _call,
        personal_data=True,
        discovery=p.Discovery.PUBLIC,
    ),
    # A traffic centre's record may come from its cameras and loops or from its operators.
    _spec("traffic.incident", p.TrafficIncident, "A traffic incident.", _traffic, discovery=None),
    _spec("access.bollard_state", p.BollardState, "A bollard or barrier changed state.", _bollard),
    _spec("waste.fill_level", p.WasteFillLevel, "A waste container's fill level.", _waste),
    _spec("unit.position", p.UnitPosition, "A responder unit's position.", _never, discovery=None),
    _spec("unit.status", p.UnitStatus, "A responder unit's status.", _never, discovery=None),
    _spec(
        "alert.issued",
        p.AlertIssued,
        "A public alert or warning from an agency (CAP, NGSI-LD Alert).",
        _alert,
        discovery=None,
    ),
    _spec(
        "cad.incident",
        p.CadIncident,
        "An incident shared by another agency's CAD (NENA EIDO).",
        _cad_incident,
        personal_data=True,
        discovery=None,
    ),
    _spec(
        "sensor.observation",
        p.SensorObservation,
        "A generic sensor measurement (OGC SensorThings Observation).",
        _never,
    ),
]

#: Every event type the platform accepts, by type name.
CATALOGUE: dict[str, EventTypeSpec] = {spec.name: spec for spec in _SPECS}


def classify(event: Event) -> Classification | None:
    """What this event means for incidents, or None when it opens and joins none."""
    return CATALOGUE[event.type].classify(event)


def discovery_of(event: Event) -> p.Discovery | None:
    """How this event came to notice: what its payload says (a CAD's officer-initiated flag),
    else its type's usual way (a citizen report from the public, a camera event by a sensor);
    None when it is no discovery or nothing tells."""
    said = getattr(event.data, "discovered_by", None)
    if isinstance(said, p.Discovery):
        return said
    return CATALOGUE[event.type].discovery


def check_event_types(values: list[str]) -> list[str]:
    """``values`` when every one is a catalogue event type; else ValueError naming the others."""
    unknown = sorted(set(values) - set(CATALOGUE))
    if unknown:
        raise ValueError(f"unknown event types {unknown}; see GET /v1/event-types")
    return values


def check_incident_types(values: list[str]) -> list[str]:
    """``values`` when every one is an incident type; else ValueError naming the others."""
    unknown = sorted(set(values) - set(BASE_PRIORITY))
    if unknown:
        raise ValueError(f"unknown incident types {unknown}; known: {sorted(BASE_PRIORITY)}")
    return values


#: Settings fields listing event or incident types: a typo fails at start-up naming the type.
EventTypeList = Annotated[list[str], AfterValidator(check_event_types)]
IncidentTypeList = Annotated[list[str], AfterValidator(check_incident_types)]
