"""The simulated devices speak the standards real ones do, so the demo exercises the adapters.

Lamps, noise meters, waste containers and crowd counters report as FIWARE Smart Data Models in
NGSI-LD notifications; non-emergency citizen reports arrive as Open311 GeoReport v2 requests;
cameras publish Frigate-style MQTT event messages. Systems with no open standard in this demo
(the gunshot network, the emergency centre's CAD, patrol-car trackers, the citizen app's
emergency reports) keep sending safecity's own CloudEvents envelope.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson

NGSI_LD_CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.4.jsonld"
_OPEN311_SERVICE = {
    "lighting": "streetlight",
    "noise": "noise",
    "waste": "waste",
    "vandalism": "graffiti",
    "disturbance": "disturbance",
}
_LAMP_STATUS = {
    "lamp_out": "defectiveLamp",
    "power": "columnIssue",
    "tilt": "columnIssue",
    "door_open": "columnIssue",
    "comms": "columnIssue",
    "other": "columnIssue",
}


@dataclass(frozen=True)
class Wire:
    """One message as a device would put it on the wire, for the adapter that reads it."""

    adapter: str
    raw: bytes
    content_type: str
    origin: str


def encode(events: list[dict[str, Any]]) -> tuple[list[Wire], list[dict[str, Any]]]:
    """Split simulator output into standard-format messages and native envelopes."""
    entities: list[dict[str, Any]] = []
    wires: list[Wire] = []
    native: list[dict[str, Any]] = []
    for event in events:
        entity = _ngsi_entity(event)
        if entity is not None:
            entities.append(entity)
            continue
        wire = _open311(event) or _frigate(event)
        if wire is not None:
            wires.append(wire)
            continue
        native.append(event)
    if entities:
        notification = {
            "id": f"urn:ngsi-ld:Notification:{entities[0]['id']}@{_time(entities[0])}",
            "type": "Notification",
            "subscriptionId": "urn:ngsi-ld:Subscription:demo-city-devices",
            "notifiedAt": max(_time(e) for e in entities),
            "data": entities,
        }
        wires.insert(
            0,
            Wire(
                "ngsi_ld",
                orjson.dumps(notification),
                "application/ld+json",
                "ngsi-ld notification demo-city-devices",
            ),
        )
    return wires, native


def _time(entity: dict[str, Any]) -> str:
    for value in entity.values():
        if isinstance(value, dict) and "observedAt" in value:
            return str(value["observedAt"])
    return ""


def _prop(value: Any, at: str, unit: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "Property", "value": value, "observedAt": at}
    if unit is not None:
        out["unitCode"] = unit
    return out


def _base(model: str, device: str, event: dict[str, Any]) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": f"urn:ngsi-ld:{model}:{device}",
        "type": model,
        "@context": NGSI_LD_CORE,
    }
    loc = event.get("location")
    if loc:
        entity["location"] = {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [loc["lon"], loc["lat"]]},
        }
    return entity


def _ngsi_entity(event: dict[str, Any]) -> dict[str, Any] | None:
    kind, data, at = event["type"], event["data"], event["time"]
    if kind == "lamp.light_level":
        entity = _base("Streetlight", data["lamp_id"], event)
        entity["illuminanceLevel"] = _prop(round(data["level_pct"] / 100.0, 4), at)
        entity["powerState"] = _prop("on" if data["level_pct"] > 0 else "off", at)
        return entity
    if kind == "lamp.fault" and not data.get("cleared"):
        entity = _base("Streetlight", data["lamp_id"], event)
        entity["status"] = _prop(_LAMP_STATUS.get(data["fault"], "columnIssue"), at)
        return entity
    if kind == "noise.level":
        entity = _base("NoiseLevelObserved", data["sensor_id"], event)
        entity["LAeq"] = _prop(data["laeq_db"], at, "2N")
        if data.get("lamax_db") is not None:
            entity["LAmax"] = _prop(data["lamax_db"], at, "2N")
        return entity
    if kind == "waste.fill_level":
        entity = _base("WasteContainer", data["container_id"], event)
        entity["fillingLevel"] = _prop(round(data["fill_pct"] / 100.0, 4), at)
        if data.get("temperature_c") is not None:
            entity["temperature"] = _prop(data["temperature_c"], at, "CEL")
        return entity
    if kind == "crowd.count":
        entity = _base("CrowdFlowObserved", data["sensor_id"], event)
        entity["peopleCount"] = _prop(data["count"], at)
        return entity
    return None


def _open311(event: dict[str, Any]) -> Wire | None:
    if event["type"] != "citizen.report":
        return None
    service = _OPEN311_SERVICE.get(event["data"]["category"])
    loc = event.get("location")
    if service is None or not loc:
        return None  # emergencies go to the emergency channel, not to a 311 service desk
    fields = {
        "service_code": service,
        "lat": f"{loc['lat']:.6f}",
        "long": f"{loc['lon']:.6f}",
        "description": event["data"].get("description", ""),
    }
    if service == "noise":
        fields["attribute[noise_source]"] = "music"
    return Wire(
        "open311",
        urlencode(fields).encode(),
        "application/x-www-form-urlencoded",
        f"open311 POST requests.json ({event['id']})",
    )


def _frigate(event: dict[str, Any]) -> Wire | None:
    """Camera motion and fire/smoke as a Frigate NVR ``frigate/events`` "new" message."""
    kind, data = event["type"], event["data"]
    if kind == "camera.motion":
        label = "person"
    elif kind == "camera.fire_smoke":
        label = data["kind"]
    else:
        return None  # fights, falls, wrong-way cars come from other analytics than Frigate's
    at = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
    suffix = hashlib.sha256(event["id"].encode()).hexdigest()[:6]
    zones = [data["zone"]] if data.get("zone") else []
    tracked = {
        "id": f"{at:.6f}-{suffix}",
        "camera": data["camera_id"],
        "frame_time": at,
        "label": label,
        "sub_label": None,
        "top_score": event.get("confidence", 0.8),
        "score": event.get("confidence", 0.8),
        "false_positive": False,
        "start_time": at,
        "end_time": None,
        "current_zones": zones,
        "entered_zones": zones,
        "active": True,
        "stationary": False,
        "has_snapshot": False,
        "has_clip": False,
    }
    message = {"type": "new", "before": tracked, "after": tracked}
    return Wire("frigate", orjson.dumps(message), "application/json", "frigate/events")


def frigate_cameras(cameras: list[tuple[str, float, float]]) -> dict[str, Any]:
    """Settings of the demo's Frigate server: where each of its cameras is."""
    return {
        "type": "frigate",
        "name": "frigate",
        "server": "demo-nvr",
        "cameras": {
            name: {"lon": lon, "lat": lat, "accuracy_m": 5.0} for name, lon, lat in cameras
        },
    }
