"""Typed payloads (CloudEvents ``data``) for every event type in the catalogue.

Payloads carry the least data the control room needs: no licence plates, no faces, no names.
Where a person must be referred to (a caller, a reporter) only a pseudonymous reference is kept.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


def _rfc3339_only(value: Any) -> Any:
    # Lax parsing would read 2026 as seconds after 1970; an event time must be explicit.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 timestamp with a zone, e.g. 2026-11-21T15:04:05Z")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_only)]

ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
LongText = Annotated[str, StringConstraints(max_length=4000)]
DeviceId = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Percent = Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)]


class EventPayload(BaseModel):
    """Base of every payload: immutable, and unknown fields are an error, not silently kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# --- acoustic -------------------------------------------------------------------------------


class AcousticPulseDetected(EventPayload):
    """One sensor heard one impulsive sound; many of these locate a gunshot."""

    sensor_id: DeviceId
    arrival_time: Timestamp = Field(description="Arrival time at this sensor (sub-ms precision)")
    peak_db: float | None = Field(default=None, ge=0, le=200, allow_inf_nan=False)
    snr_db: float | None = Field(
        default=None, ge=-50, le=200, allow_inf_nan=False, description="Signal-to-noise ratio"
    )
    classification: ShortText | None = Field(
        default=None, description="Sensor's own label, e.g. 'impulsive', 'gunfire-like'"
    )


class UncertaintyEllipse(EventPayload):
    """95 % confidence ellipse of a located position."""

    semi_major_m: float = Field(ge=0, le=100_000, allow_inf_nan=False)
    semi_minor_m: float = Field(ge=0, le=100_000, allow_inf_nan=False)
    orientation_deg: float = Field(
        ge=0, lt=360, allow_inf_nan=False, description="Major axis, degrees from north clockwise"
    )


class EventRef(EventPayload):
    source: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    id: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class GunshotLocated(EventPayload):
    """A located shot (or burst), from a gunshot detection system or our own localiser."""

    rounds: int = Field(default=1, ge=1, le=1000)
    first_shot_time: Timestamp
    sensors_used: list[DeviceId] = Field(default_factory=list, max_length=200)
    uncertainty_m: float | None = Field(default=None, ge=0, le=100_000, allow_inf_nan=False)
    ellipse: UncertaintyEllipse | None = None
    pulses: int | None = Field(default=None, ge=0, le=100_000, description="Pulses in the burst")
    quality: ShortText | None = Field(
        default=None, description="'good', or 'poor' when few sensors or weak geometry"
    )
    evidence: list[EventRef] = Field(
        default_factory=list,
        max_length=2000,
        description="The acoustic.pulse events it was located from; linked to its incident",
    )
    classification: ShortText = "gunfire"


# --- cameras (analytics output only: never images of people, never identities) --------------


class CameraEvent(EventPayload):
    camera_id: DeviceId
    zone: ShortText | None = Field(default=None, description="Analytics zone or rule name")


class CameraMotion(CameraEvent):
    pass


class CrossingDirection(StrEnum):
    IN = "in"
    OUT = "out"
    LEFT_TO_RIGHT = "left_to_right"
    RIGHT_TO_LEFT = "right_to_left"
    ANY = "any"


class CameraLineCrossing(CameraEvent):
    line: ShortText
    direction: CrossingDirection = CrossingDirection.ANY
    object_class: ShortText = "person"


class CameraLoitering(CameraEvent):
    dwell_s: float = Field(ge=0, le=86_400, allow_inf_nan=False)
    object_class: ShortText = "person"


class CameraCrowdDensity(CameraEvent):
    persons: int | None = Field(default=None, ge=0, le=1_000_000)
    persons_per_m2: float | None = Field(default=None, ge=0, le=20, allow_inf_nan=False)


class AbnormalBehaviour(StrEnum):
    FIGHT = "fight"
    FALL = "fall"
    RUNNING = "running"
    ABANDONED_OBJECT = "abandoned_object"
    INTRUSION = "intrusion"
    VANDALISM = "vandalism"
    OTHER = "other"


class CameraAbnormalEvent(CameraEvent):
    behaviour: AbnormalBehaviour
    description: LongText | None = None


class FireOrSmoke(StrEnum):
    FIRE = "fire"
    SMOKE = "smoke"


class CameraFireSmoke(CameraEvent):
    kind: FireOrSmoke


class CameraVehicle(CameraEvent):
    """A vehicle observation. Plates are deliberately not part of the payload."""

    vehicle_class: ShortText = "car"
    speed_kmh: float | None = Field(default=None, ge=0, le=400, allow_inf_nan=False)
    wrong_way: bool = False
    stopped: bool = False


# --- lampposts --------------------------------------------------------------------------------


class LampEmergencyButton(EventPayload):
    lamp_id: DeviceId
    voice_channel_open: bool = False


class LampFaultKind(StrEnum):
    LAMP_OUT = "lamp_out"
    POWER = "power"
    TILT = "tilt"
    DOOR_OPEN = "door_open"
    COMMS = "comms"
    OTHER = "other"


class LampFault(EventPayload):
    lamp_id: DeviceId
    fault: LampFaultKind
    cleared: bool = False


class LampLightLevel(EventPayload):
    lamp_id: DeviceId
    level_pct: Percent
    reason: ShortText | None = None


# --- environment and crowds -------------------------------------------------------------------


class NoiseLevel(EventPayload):
    sensor_id: DeviceId
    laeq_db: float = Field(ge=0, le=194, allow_inf_nan=False, description="A-weighted Leq, dB")
    lamax_db: float | None = Field(default=None, ge=0, le=194, allow_inf_nan=False)
    window_s: float = Field(default=60.0, gt=0, le=86_400, allow_inf_nan=False)


class CrowdCount(EventPayload):
    sensor_id: DeviceId
    count: int = Field(ge=0, le=10_000_000)
    area_m2: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    capacity: int | None = Field(default=None, gt=0)


# --- people reporting -------------------------------------------------------------------------


class ReportCategory(StrEnum):
    VIOLENCE = "violence"
    SHOTS = "shots"
    THEFT = "theft"
    BURGLARY = "burglary"
    VANDALISM = "vandalism"
    FIRE = "fire"
    MEDICAL = "medical"
    TRAFFIC = "traffic"
    LIGHTING = "lighting"
    WASTE = "waste"
    NOISE = "noise"
    DISTURBANCE = "disturbance"
    OTHER = "other"


class CitizenReport(EventPayload):
    category: ReportCategory
    description: LongText = ""
    address: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="Where, as the reporter wrote it (a street, a crossing)"
    )
    channel: ShortText = "app"
    reporter_ref: ShortText | None = Field(
        default=None, description="Pseudonymous reference, never a name or phone number"
    )
    media_count: int = Field(default=0, ge=0, le=50)


class Discovery(StrEnum):
    """How an event came to the agencies' notice. A forecast fitted on events that patrols
    found where earlier forecasts sent them can feed on itself; the forecast card's
    feedback-loop check compares the share found by patrols with the share the public reported.
    """

    PUBLIC = "public"  # a call or report from a member of the public
    PATROL = "patrol"  # found by officers on patrol: an officer-initiated ("on view") record
    SENSOR = "sensor"  # detected by a sensor


class CallCategory(StrEnum):
    SHOOTING = "shooting"
    ASSAULT = "assault"
    ROBBERY = "robbery"
    BURGLARY = "burglary"
    THEFT = "theft"
    FIRE = "fire"
    MEDICAL = "medical"
    TRAFFIC = "traffic"
    DISTURBANCE = "disturbance"
    OTHER = "other"


class EmergencyCall(EventPayload):
    """An emergency call or a CAD record of one."""

    cad_id: DeviceId
    category: CallCategory
    nature: ShortText | None = Field(default=None, description="Free nature code from the CAD")
    priority_code: ShortText | None = None
    agency: ShortText | None = None
    address: ShortText | None = None
    caller_ref: ShortText | None = Field(default=None, description="Pseudonymous caller reference")
    discovered_by: Discovery = Field(
        default=Discovery.PUBLIC,
        description="public for a call from the public; patrol for an officer-initiated record",
    )


# --- traffic and access -----------------------------------------------------------------------


class TrafficIncidentKind(StrEnum):
    COLLISION = "collision"
    BREAKDOWN = "breakdown"
    OBSTRUCTION = "obstruction"
    WRONG_WAY = "wrong_way"
    CONGESTION = "congestion"
    OTHER = "other"


class TrafficIncident(EventPayload):
    kind: TrafficIncidentKind
    lanes_blocked: int = Field(default=0, ge=0, le=20)
    road_name: ShortText | None = None
    injuries_reported: bool = False


class BollardPosition(StrEnum):
    UP = "up"
    DOWN = "down"
    MOVING = "moving"
    FAULT = "fault"


class BollardState(EventPayload):
    bollard_id: DeviceId
    state: BollardPosition
    forced: bool = Field(default=False, description="Moved without a valid command")


class WasteFillLevel(EventPayload):
    container_id: DeviceId
    fill_pct: Percent
    temperature_c: float | None = Field(default=None, ge=-60, le=1000, allow_inf_nan=False)


# --- responders -------------------------------------------------------------------------------


class UnitPosition(EventPayload):
    unit_id: DeviceId
    heading_deg: float | None = Field(default=None, ge=0, lt=360, allow_inf_nan=False)
    speed_kmh: float | None = Field(default=None, ge=0, le=400, allow_inf_nan=False)


class UnitState(StrEnum):
    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    #: On shift but occupied with work outside safecity (a report, a prisoner transport).
    BUSY = "busy"
    #: On shift but out of service (vehicle fault, refuelling).
    UNAVAILABLE = "unavailable"
    OFF_DUTY = "off_duty"


class UnitStatus(EventPayload):
    unit_id: DeviceId
    status: UnitState
    incident_id: ShortText | None = None
    note: ShortText | None = None


# --- other agencies and systems ----------------------------------------------------------------


class AlertStatus(StrEnum):
    ACTUAL = "actual"
    EXERCISE = "exercise"
    SYSTEM = "system"
    TEST = "test"
    DRAFT = "draft"


class AlertMessageType(StrEnum):
    ALERT = "alert"
    UPDATE = "update"
    CANCEL = "cancel"
    ACK = "ack"
    ERROR = "error"


class AlertSeverity(StrEnum):
    EXTREME = "extreme"
    SEVERE = "severe"
    MODERATE = "moderate"
    MINOR = "minor"
    UNKNOWN = "unknown"


class SignatureState(StrEnum):
    """What is known of an enveloped signature: absent, present but unchecked (no key
    configured), verified against a configured key, or invalid."""

    NONE = "none"
    PRESENT = "present"
    VERIFIED = "verified"
    INVALID = "invalid"


Coordinate = tuple[
    Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)],
    Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)],
]


class AlertCircle(EventPayload):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    radius_km: float = Field(ge=0, le=20_000, allow_inf_nan=False)


class AlertArea(EventPayload):
    """One CAP ``<area>``: polygons as (lat, lon) rings as CAP writes them, circles, geocodes."""

    description: LongText = ""
    polygons: list[list[Coordinate]] = Field(default_factory=list, max_length=100)
    circles: list[AlertCircle] = Field(default_factory=list, max_length=100)
    geocodes: dict[str, list[str]] = Field(default_factory=dict)
    altitude_ft: float | None = None
    ceiling_ft: float | None = None


class AlertIssued(EventPayload):
    """A public alert or warning issued by an agency (CAP 1.1/1.2, NGSI-LD Alert...)."""

    identifier: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    sender: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    sent: Timestamp
    status: AlertStatus
    msg_type: AlertMessageType
    scope: ShortText = "public"
    references: list[Annotated[str, StringConstraints(max_length=1000)]] = Field(
        default_factory=list, max_length=100
    )
    language: ShortText | None = None
    categories: list[ShortText] = Field(default_factory=list, max_length=20)
    event: LongText = ""
    urgency: ShortText = "unknown"
    severity: AlertSeverity = AlertSeverity.UNKNOWN
    certainty: ShortText = "unknown"
    headline: LongText | None = None
    description: LongText | None = None
    instruction: LongText | None = None
    effective: Timestamp | None = None
    onset: Timestamp | None = None
    expires: Timestamp | None = None
    sender_name: LongText | None = None
    web: LongText | None = Field(default=None, description="Kept as text; never fetched")
    areas: list[AlertArea] = Field(default_factory=list, max_length=100)
    signature: SignatureState = SignatureState.NONE
    format: ShortText = Field(description="Where it came from, e.g. 'cap-1.2', 'ngsi-ld'")


class CadIncident(EventPayload):
    """An incident as another agency's CAD shares it (NENA EIDO and the like)."""

    incident_id: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    agency: ShortText | None = None
    category: CallCategory = CallCategory.OTHER
    nature: LongText | None = None
    status: ShortText | None = None
    priority_code: ShortText | None = None
    address: LongText | None = None
    units: list[ShortText] = Field(default_factory=list, max_length=200)
    notes: int = Field(default=0, ge=0, description="How many notes; their text is not copied")
    discovered_by: Discovery | None = Field(
        default=None,
        description="public, patrol (officer-initiated) or sensor, when the sending CAD says",
    )
    updated_at: Timestamp | None = None
    format: ShortText = "eido"


class SensorObservation(EventPayload):
    """A generic measurement (OGC SensorThings Observation and similar) without a closer type."""

    datastream_id: DeviceId
    observed_property: ShortText
    result: float | int | bool | Annotated[str, StringConstraints(max_length=2000)] | None
    unit: ShortText | None = None
    phenomenon_time: Timestamp | None = None
    result_quality: ShortText | None = None
