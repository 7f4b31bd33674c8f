"""Procedures: per incident type, the checklist to work through and the agencies to involve.

A procedure is attached when an incident opens (or is reclassified before any step is done);
progress is kept on the incident, each step ticked by a person with the time and who did it.
The defaults are a starting point written for a European city centre; a city replaces them in
its settings (``procedures``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from safecity.core.clock import Clock
from safecity.core.errors import Conflict
from safecity.core.identity import Principal, Role
from safecity.core.incidents import ChecklistItem, Incident, ProcedureState
from safecity.core.messages import decode_incident_change
from safecity.core.ports import BusMessage, EventBus, Store, Subscription
from safecity.governance.identity import system_principal
from safecity.incidents.service import IncidentService

log = logging.getLogger(__name__)

ACTOR = "system:procedures"


class ProcedureStep(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=50)
    text: str = Field(min_length=1, max_length=300)
    agency_kind: str | None = Field(default=None, description="police, fire, ems, municipality")


class Procedure(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=50)
    name: str = Field(min_length=1, max_length=200)
    incident_types: tuple[str, ...] = Field(min_length=1)
    agency_kinds: tuple[str, ...] = ()
    required_capabilities: tuple[str, ...] = ()
    steps: tuple[ProcedureStep, ...] = ()


def _steps(*items: tuple[str, str, str | None]) -> tuple[ProcedureStep, ...]:
    return tuple(ProcedureStep(id=i, text=t, agency_kind=k) for i, t, k in items)


DEFAULT_PROCEDURES: tuple[Procedure, ...] = (
    Procedure(
        id="shots-fired",
        name="Shots fired",
        incident_types=("shooting",),
        agency_kinds=("police", "fire", "ems"),
        required_capabilities=("armed_response", "paramedic"),
        steps=_steps(
            ("confirm", "Confirm the location from the acoustic fix, cameras and calls", None),
            ("warn-units", "Warn responding units: possible armed person", "police"),
            ("armed-response", "Send armed response; set a safe approach route", "police"),
            ("stage-ems", "Stage ambulance at a safe distance until the scene is secured", "ems"),
            ("cordon", "Set a cordon; keep the public out", "police"),
            ("public-warning", "Decide on a public warning (CAP) if the threat continues", None),
            ("evidence", "Secure camera footage and casings for investigators", "police"),
        ),
    ),
    Procedure(
        id="fire",
        name="Fire or smoke",
        incident_types=("fire",),
        agency_kinds=("fire", "police"),
        required_capabilities=("fire_suppression",),
        steps=_steps(
            (
                "confirm",
                "Confirm fire or smoke on camera; ask the caller about people inside",
                None,
            ),
            ("send-engine", "Send the nearest fire engine", "fire"),
            ("traffic", "Close the street to traffic if needed", "police"),
            ("public-warning", "Decide on a smoke warning for nearby residents (CAP)", None),
        ),
    ),
    Procedure(
        id="violence",
        name="Violence or help request",
        incident_types=("violence", "help_request"),
        agency_kinds=("police", "ems"),
        required_capabilities=("patrol",),
        steps=_steps(
            ("confirm", "Look at the nearest cameras; is anyone hurt?", None),
            ("send-patrol", "Send a patrol", "police"),
            ("ems-if-injured", "Send an ambulance if anyone is injured", "ems"),
            ("lighting", "Raise street lighting around the scene", None),
        ),
    ),
    Procedure(
        id="medical",
        name="Medical emergency",
        incident_types=("medical",),
        agency_kinds=("ems",),
        required_capabilities=("paramedic",),
        steps=_steps(
            ("triage", "Triage by the caller's answers", "ems"),
            ("send-ambulance", "Send the nearest ambulance", "ems"),
            ("aed", "Direct a bystander to the nearest defibrillator", None),
        ),
    ),
    Procedure(
        id="traffic",
        name="Traffic incident",
        incident_types=("traffic",),
        agency_kinds=("police", "ems"),
        required_capabilities=("patrol",),
        steps=_steps(
            ("confirm", "Check cameras: injuries, lanes blocked, wrong-way driver?", None),
            ("send-patrol", "Send a patrol to secure the scene", "police"),
            ("ems-if-injured", "Send an ambulance if anyone is injured", "ems"),
            ("divert", "Divert traffic; inform the traffic centre", "municipality"),
        ),
    ),
    Procedure(
        id="public-order",
        name="Public order, crowds, property crime",
        incident_types=("public_order", "crowd", "property_crime"),
        agency_kinds=("police",),
        required_capabilities=("patrol",),
        steps=_steps(
            ("confirm", "Look at the nearest cameras and crowd counts", None),
            ("send-patrol", "Send a patrol if the situation needs one", "police"),
        ),
    ),
    Procedure(
        id="city-services",
        name="City services",
        incident_types=("noise", "infrastructure", "waste_collection"),
        agency_kinds=("municipality",),
        steps=_steps(
            ("assign", "Assign to the responsible city service", "municipality"),
            ("inform", "Tell the reporter what will happen (Open311 status)", "municipality"),
        ),
    ),
    Procedure(
        id="external-alert",
        name="Alert from another agency",
        incident_types=("external_alert",),
        agency_kinds=("police", "fire", "ems", "municipality"),
        steps=_steps(
            ("read", "Read the alert; does it affect the city?", None),
            ("share", "Share it in the area channel of the operation", None),
        ),
    ),
)


class ProcedureBook:
    """Procedures by incident type; a type appears in at most one procedure."""

    def __init__(self, procedures: Sequence[Procedure] = DEFAULT_PROCEDURES) -> None:
        self.procedures = tuple(procedures)
        self._by_type: dict[str, Procedure] = {}
        for procedure in self.procedures:
            for kind in procedure.incident_types:
                if kind in self._by_type:
                    raise ValueError(
                        f"incident type {kind!r} is in procedures {self._by_type[kind].id!r} "
                        f"and {procedure.id!r}; give each type one procedure"
                    )
                self._by_type[kind] = procedure

    def for_type(self, incident_type: str) -> Procedure | None:
        return self._by_type.get(incident_type)


def fresh_state(procedure: Procedure) -> ProcedureState:
    return ProcedureState(
        procedure_id=procedure.id,
        name=procedure.name,
        required_capabilities=procedure.required_capabilities,
        items=tuple(
            ChecklistItem(id=s.id, text=s.text, agency_kind=s.agency_kind) for s in procedure.steps
        ),
    )


class ProcedureService:
    """Attaches procedures to incidents and records checklist progress."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        clock: Clock,
        incidents: IncidentService,
        book: ProcedureBook | None = None,
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._incidents = incidents
        self.book = book or ProcedureBook()
        self._sub: Subscription | None = None
        #: Incident id -> the type a procedure was settled for (insertion-ordered, bounded).
        self._settled: dict[str, str] = {}

    async def start(self) -> None:
        self._sub = await self._bus.subscribe(
            "incidents.>", self._on_changes, durable="procedures", max_batch=200
        )

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.stop()
            self._sub = None

    def required_capabilities(self, incident: Incident) -> tuple[str, ...]:
        if incident.procedure is not None:
            return incident.procedure.required_capabilities
        procedure = self.book.for_type(incident.type)
        return procedure.required_capabilities if procedure else ()

    async def _on_changes(self, batch: Sequence[BusMessage]) -> None:
        for message in batch:
            change = decode_incident_change(message)
            incident = change.incident
            if change.actor == ACTOR or not incident.is_open:
                continue
            if self._settled.get(incident.id) == incident.type:
                continue  # already attached for this type (messages queued before it)
            procedure = self.book.for_type(incident.type)
            if procedure is None or not _replaceable(incident, procedure):
                continue
            try:
                await self.attach(incident.id)
            except Conflict as exc:
                log.info("procedure not attached to %s: %s", incident.id, exc)
            self._settled[incident.id] = incident.type
            while len(self._settled) > 10_000:
                self._settled.pop(next(iter(self._settled)))

    async def attach(self, incident_id: str) -> Incident:
        """Attach the procedure for the incident's current type and involve its agencies."""
        agencies = await asyncio.to_thread(self._store.list_agencies)
        current = await asyncio.to_thread(self._store.get_incident, incident_id)
        chosen = self.book.for_type(current.type) if current is not None else None
        if chosen is None:
            raise Conflict("no procedure for this incident type")

        def update(inc: Incident) -> dict[str, Any]:
            if self.book.for_type(inc.type) != chosen or not _replaceable(inc, chosen):
                raise Conflict("procedure already attached or in progress")
            kinds = set(chosen.agency_kinds)
            if "ems" in kinds and not any(a.kind == "ems" for a in agencies):
                kinds.add("fire")  # many cities run ambulances from the rescue service
            involved = [a.id for a in agencies if a.kind in kinds]
            return {
                "procedure": fresh_state(chosen),
                "agencies": tuple(dict.fromkeys([*inc.agencies, *involved])),
            }

        return await self._incidents.change(
            system_principal(role=Role.ADMIN, acting_as=ACTOR),
            incident_id,
            "procedure_attached",
            update,
            {"procedure": chosen.id, "name": chosen.name},
        )

    async def mark_step(
        self,
        principal: Principal,
        incident_id: str,
        step_id: str,
        *,
        done: bool = True,
        note: str | None = None,
        expected_version: int | None = None,
    ) -> Incident:
        """Tick (or untick) one checklist step; who and when are kept on the step."""
        now = self._clock.now()

        def update(inc: Incident) -> dict[str, Any]:
            state = inc.procedure
            if state is None:
                raise Conflict("the incident has no procedure")
            if step_id not in {i.id for i in state.items}:
                known = ", ".join(i.id for i in state.items)
                raise Conflict(f"no step {step_id!r} in {state.procedure_id}; steps: {known}")
            items = tuple(
                item.model_copy(
                    update={
                        "done_at": now if done else None,
                        "done_by": principal.actor if done else None,
                        "note": note,
                    }
                )
                if item.id == step_id
                else item
                for item in state.items
            )
            return {"procedure": state.model_copy(update={"items": items})}

        return await self._incidents.change(
            principal,
            incident_id,
            "checklist_step_done" if done else "checklist_step_undone",
            update,
            {"step": step_id, **({"note": note} if note else {})},
            expected_version=expected_version,
        )


def _replaceable(incident: Incident, procedure: Procedure) -> bool:
    state = incident.procedure
    if state is None:
        return True
    return state.procedure_id != procedure.id and state.done == 0
