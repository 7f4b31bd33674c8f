"""Default automation rules a city can start from (and the demo loads).

They are written as the plain dicts a settings file holds and validated like one, so they double
as a worked example of the format (see docs/automations.md). Agency ids and the pedestrian zone
default to the Helsinki demo city; a city passes its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from safecity.processors.automation.rules import AutomationConfig, AutomationRule

POLICE = "helsinki-police"
RESCUE = "helsinki-rescue"
CITY = "helsinki-city"

#: Narinkka square and the Kamppi pedestrian streets, roughly (demo data, not a survey).
KAMPPI_PEDESTRIAN_ZONE: tuple[tuple[tuple[float, float], ...], ...] = (
    (
        (24.9310, 60.1684),
        (24.9400, 60.1684),
        (24.9400, 60.1706),
        (24.9310, 60.1706),
        (24.9310, 60.1684),
    ),
)


def example_rule_dicts(
    *,
    police: str = POLICE,
    rescue: str = RESCUE,
    city: str = CITY,
    pedestrian_zone: Sequence[Sequence[tuple[float, float]]] = KAMPPI_PEDESTRIAN_ZONE,
    zone_name: str = "Kamppi pedestrian zone",
) -> list[dict[str, Any]]:
    """The example rules as a settings file would hold them (``[[automations.rules]]``)."""
    zone = [[list(p) for p in ring] for ring in pedestrian_zone]
    in_zone = {"kind": "within_area", "name": zone_name, "polygon": zone}
    return [
        {
            "id": "gunshot-light-and-alert",
            "name": "Gunshot: light up the street and alert police and rescue",
            "description": (
                "A located gunshot brightens street lamps within 150 m to full for 15 minutes, "
                "so people can see a way out and responders can see the scene, and tells police "
                "and rescue."
            ),
            # On the incident rather than the event, so the notice carries the incident (the
            # incident opens within milliseconds of the located shot).
            "trigger": {"on": "incident", "changes": ["opened"], "incident_types": ["shooting"]},
            "conditions": [{"kind": "confidence_at_least", "confidence": 0.5}],
            "actions": [
                {"kind": "brighten_lamps", "radius_m": 150, "level_pct": 100, "duration_s": 900},
                {
                    "kind": "notify",
                    "agencies": [police, rescue],
                    "message": (
                        "{incident.title} at {location.lat}, {location.lon}: lamps within "
                        "150 m brightened for 15 min. Incident {incident.id}."
                    ),
                },
            ],
            "cooldown_s": 300,
            "agencies": [police],
        },
        {
            "id": "pedestrian-zone-vehicle-bollards",
            "name": "Fast vehicle in the pedestrian zone: raise bollards within 100 m",
            "description": (
                "A vehicle seen moving at 20 km/h or more inside the pedestrian zone proposes "
                "raising the retractable bollards within 100 m (raised = closed to vehicles) and "
                "alerts the police. An operator confirms within 2 minutes or nothing moves; the "
                "bollards' own safety interlocks still apply."
            ),
            "trigger": {"on": "event", "event_types": ["camera.vehicle"]},
            "conditions": [
                in_zone,
                {"kind": "field", "path": "data.speed_kmh", "op": "ge", "value": 20},
            ],
            "actions": [
                {
                    "kind": "raise_bollards",
                    "radius_m": 100,
                    "confirm": True,
                    "confirm_within_s": 120,
                },
                {
                    "kind": "notify",
                    "agencies": [police],
                    "message": (
                        "Vehicle moving fast in the pedestrian zone ({event.source}); raising "
                        "bollards within 100 m proposed, for an operator to confirm."
                    ),
                },
            ],
            "cooldown_s": 120,
            "agencies": [police, city],
        },
        {
            "id": "pedestrian-zone-crowd-surge-bollards",
            "name": "Crowd surge in the pedestrian zone: raise bollards within 100 m",
            "description": (
                "A dangerous crowd density (4 or more people per square metre) inside the "
                "pedestrian zone keeps vehicles out: raising the bollards within 100 m (closed "
                "to traffic) is proposed for an operator to confirm, and the police told."
            ),
            "trigger": {"on": "event", "event_types": ["camera.crowd_density"]},
            "conditions": [
                in_zone,
                {"kind": "field", "path": "data.persons_per_m2", "op": "ge", "value": 4.0},
            ],
            "actions": [
                {
                    "kind": "raise_bollards",
                    "radius_m": 100,
                    "confirm": True,
                    "confirm_within_s": 120,
                },
                {
                    "kind": "notify",
                    "agencies": [police],
                    "message": (
                        "Crowd surge in the pedestrian zone; raising bollards within 100 m "
                        "proposed, for an operator to confirm."
                    ),
                },
            ],
            "cooldown_s": 600,
            "agencies": [police, city],
        },
        {
            "id": "camera-fire-cap-draft",
            "name": "Fire seen by camera at priority 1-2: draft a warning for 300 m around",
            "description": (
                "Drafts a CAP warning to people within 300 m for a rescue operator to review "
                "and publish. It is only a draft; nothing is sent to the public automatically."
            ),
            "trigger": {"on": "incident", "changes": ["opened"], "incident_types": ["fire"]},
            "conditions": [{"kind": "priority_at_most", "priority": 2}],
            "actions": [
                {
                    "kind": "draft_cap_warning",
                    "headline": "Fire nearby: keep away from the area",
                    "instruction": (
                        "Keep at least 300 m away, let emergency vehicles through, and close "
                        "windows and vents if you smell smoke."
                    ),
                    "severity": "severe",
                    "urgency": "immediate",
                    "certainty": "likely",
                    "radius_m": 300,
                    "expires_s": 3600,
                },
                {
                    "kind": "notify",
                    "agencies": [rescue],
                    "message": (
                        "{incident.title}, incident {incident.id}: a CAP warning draft for "
                        "300 m awaits review."
                    ),
                },
            ],
            "cooldown_s": 1800,
            "agencies": [rescue],
        },
        {
            "id": "priority-1-opened-notify-all",
            "name": "Any priority 1 incident opened: notify every agency",
            "description": "Every agency hears at once of the most urgent incidents.",
            "trigger": {"on": "incident", "changes": ["opened"]},
            "conditions": [{"kind": "priority_at_most", "priority": 1}],
            "actions": [
                {
                    "kind": "notify",
                    "agencies": ["*"],
                    "message": (
                        "Priority {incident.priority} incident opened: {incident.title} "
                        "({incident.type}, {incident.id})"
                    ),
                }
            ],
            "agencies": [police, rescue, city],
        },
    ]


def example_rules(
    *,
    police: str = POLICE,
    rescue: str = RESCUE,
    city: str = CITY,
    pedestrian_zone: Sequence[Sequence[tuple[float, float]]] = KAMPPI_PEDESTRIAN_ZONE,
    zone_name: str = "Kamppi pedestrian zone",
) -> tuple[AutomationRule, ...]:
    """The example rules, validated."""
    dicts = example_rule_dicts(
        police=police,
        rescue=rescue,
        city=city,
        pedestrian_zone=pedestrian_zone,
        zone_name=zone_name,
    )
    return AutomationConfig.model_validate({"rules": dicts}).rules


#: The example rules for the Helsinki demo city.
EXAMPLE_RULES: tuple[AutomationRule, ...] = example_rules()
