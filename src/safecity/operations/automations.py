"""Automations on the bus: rules evaluated on events and incident changes, actions carried
out, and every evaluation traced (why a rule fired, or why not, and what each action did).

What the actions may do is bounded on purpose: lamps and bollards are commanded through the
same audited actuator path a person uses (the audit names the rule); raising bollards is by
default only *proposed*, and a person confirms (the commands then go out as that person's, the
audit naming the rule too) or declines before it expires; agencies are notified in
the incident's shared channel; a public CAP warning is only ever *drafted* here, and a person
approves or rejects it; a webhook is called by the name of a configured outbound webhook,
never by a URL from a payload. Rules never dispatch units.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Protocol

import orjson

from safecity.core.actuators import CommandName, CommandOutcome
from safecity.core.clock import Clock
from safecity.core.errors import Conflict, InvalidInput, NotFound
from safecity.core.events import Event, parse_event
from safecity.core.geo import haversine_m
from safecity.core.identity import Permission, Principal, Role
from safecity.core.ids import new_id
from safecity.core.incidents import Incident
from safecity.core.messages import decode_incident_change
from safecity.core.operations import (
    AlertDraft,
    AutomationTraceRecord,
    CommandProposal,
    DeviceOutcome,
    DraftStatus,
    ProposalStatus,
)
from safecity.core.ports import BusMessage, EventBus, Store, Subscription
from safecity.core.registry import SensorKind
from safecity.governance.access import require
from safecity.governance.audit import AuditLog
from safecity.governance.identity import system_principal
from safecity.incidents.actuators import ActuatorService
from safecity.operations.channels import ChannelService
from safecity.processors.automation.engine import (
    AutomationEngine,
    PlannedAction,
    PlannedBrightenLamps,
    PlannedCapDraft,
    PlannedNotify,
    PlannedRaiseBollards,
    PlannedWebhookCall,
    RuleTrace,
)
from safecity.processors.automation.rules import AutomationRule, EventTrigger

log = logging.getLogger(__name__)

#: Subject prefix for webhook calls; a ``webhook_out`` instance named N receives
#: ``automations.webhook.N``.
WEBHOOK_SUBJECT = "automations.webhook"
#: Subject prefix for command proposals: ``proposals.proposed|confirmed|declined``.
PROPOSAL_SUBJECT = "proposals"


class Notifier(Protocol):
    """Posts an automation's notice into the incident's shared channel (or an area's)."""

    async def notify(
        self, incident_id: str | None, agencies: Sequence[str], message: str, *, rule_id: str
    ) -> str: ...


class ChannelNotifier:
    """Posts a rule's notice into the incident's shared channel, asking for acknowledgement;
    the channel's sharing rules decide which agencies see it."""

    def __init__(self, channels: ChannelService) -> None:
        self._channels = channels

    async def notify(
        self, incident_id: str | None, agencies: Sequence[str], message: str, *, rule_id: str
    ) -> str:
        if incident_id is None:
            raise Conflict("the notice has no incident to post to")
        author = system_principal(role=Role.ADMIN, acting_as=f"automation:{rule_id}")
        posted = await self._channels.post_to_incident(
            author, incident_id, f"{message} (for: {', '.join(agencies)})", requires_ack=True
        )
        return posted.id


class AutomationService:
    def __init__(
        self,
        store: Store,
        bus: EventBus,
        clock: Clock,
        audit: AuditLog,
        actuators: ActuatorService,
        rules: Sequence[AutomationRule],
        *,
        webhooks: Sequence[str] = (),
    ) -> None:
        self._store = store
        self._bus = bus
        self._clock = clock
        self._audit = audit
        self._actuators = actuators
        self.engine = AutomationEngine(rules, clock, webhooks=webhooks)
        self.notifier: Notifier | None = None
        self._subs: list[Subscription] = []
        self._event_triggers = [
            r.trigger
            for r in self.engine.rules
            if r.enabled and isinstance(r.trigger, EventTrigger)
        ]
        self.evaluations = 0
        self.fired = 0

    @property
    def rules(self) -> tuple[AutomationRule, ...]:
        return self.engine.rules

    async def start(self) -> None:
        if not self.engine.rules:
            return
        if self._event_triggers:
            self._subs.append(
                await self._bus.subscribe(
                    "events.>", self._on_events, durable="automations-events", max_batch=2000
                )
            )
        self._subs.append(
            await self._bus.subscribe(
                "incidents.>", self._on_incidents, durable="automations-incidents", max_batch=200
            )
        )

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.stop()
        self._subs.clear()

    # --- evaluation ------------------------------------------------------------------------

    async def _on_events(self, batch: Sequence[BusMessage]) -> None:
        for message in batch:
            type_name = message.subject.removeprefix("events.")
            if not any(t.matches(type_name) for t in self._event_triggers):
                continue
            event = (
                message.local
                if isinstance(message.local, Event)
                else parse_event(orjson.loads(message.data))
            )
            await self._run(self.engine.evaluate_event(event, context={}), None)

    async def _on_incidents(self, batch: Sequence[BusMessage]) -> None:
        for message in batch:
            change = decode_incident_change(message)
            if change.actor.startswith("automation:"):
                continue  # a rule's own changes never trigger rules (no loops)
            incident = change.incident
            traces = self.engine.evaluate_incident_change(
                change.action, incident, context={"sources": len(incident.signals.sources)}
            )
            await self._run(traces, incident)

    async def _run(self, traces: list[RuleTrace], incident: Incident | None) -> None:
        if not traces:
            return
        records = []
        for trace in traces:
            self.evaluations += 1
            results: list[dict[str, Any]] = []
            if trace.fired:
                self.fired += 1
                # One after another: a rule's actions run in the order it lists them.
                results.extend([await self._execute(trace, action) for action in trace.actions])
            # A proposal is part of why nothing moved yet: the trace says so.
            proposed = [str(r["detail"]) for r in results if r.get("outcome") == "proposed"]
            records.append(
                AutomationTraceRecord(
                    id=new_id("atr", trace.evaluated_at),
                    at=trace.evaluated_at,
                    rule_id=trace.rule_id,
                    fired=trace.fired,
                    reason="; ".join([trace.reason, *proposed]),
                    trigger=trace.trigger.model_dump(mode="json"),
                    incident_id=trace.trigger.incident_id
                    or (incident.id if incident is not None else None),
                    conditions=tuple(c.model_dump(mode="json") for c in trace.conditions),
                    actions=tuple(a.model_dump(mode="json") for a in trace.actions),
                    results=tuple(results),
                )
            )
        await asyncio.to_thread(self._store.add_automation_traces, records)
        fired = [r for r in records if r.fired]
        if fired:
            await self._bus.publish(
                [
                    BusMessage(
                        f"automations.fired.{r.rule_id}",
                        data=orjson.dumps(r.model_dump(mode="json")),
                    )
                    for r in fired
                ]
            )

    # --- actions ---------------------------------------------------------------------------

    async def _execute(self, trace: RuleTrace, action: PlannedAction) -> dict[str, Any]:
        actor = f"automation:{trace.rule_id}"
        principal = system_principal(role=Role.OPERATOR, acting_as=actor)
        try:
            if isinstance(action, PlannedBrightenLamps):
                return await self._lamps(principal, action)
            if isinstance(action, PlannedRaiseBollards):
                if action.confirm:
                    return await self._propose_bollards(trace, action)
                return await self._bollards(principal, action)
            if isinstance(action, PlannedNotify):
                return await self._notify(action)
            if isinstance(action, PlannedCapDraft):
                return await self._draft(action)
            if isinstance(action, PlannedWebhookCall):
                return await self._webhook(action)
        except (Conflict, NotFound, ValueError) as exc:
            return {"kind": action.kind, "outcome": "failed", "detail": str(exc)}
        return {"kind": action.kind, "outcome": "skipped", "detail": "unknown action"}

    async def _devices_near(
        self, kind: SensorKind, lon: float, lat: float, radius_m: float
    ) -> list[str]:
        sensors = await asyncio.to_thread(
            partial(self._store.list_sensors, kind=kind.value, limit=100_000)
        )
        near = []
        for sensor in sensors:
            loc = sensor.location
            if loc is not None and haversine_m(lon, lat, loc.lon, loc.lat) <= radius_m:
                near.append(sensor.id)
        return sorted(near)

    async def _command_all(
        self, principal: Principal, devices: Sequence[str], command: CommandName, value: object
    ) -> dict[str, int]:
        outcomes: dict[str, int] = {}
        for device in devices:
            result = await self._actuators.send(principal, device, command, value)
            outcomes[result.outcome.value] = outcomes.get(result.outcome.value, 0) + 1
        return outcomes

    async def _lamps(self, principal: Principal, action: PlannedBrightenLamps) -> dict[str, Any]:
        lamps = await self._devices_near(
            SensorKind.LAMPPOST, action.lon, action.lat, action.radius_m
        )
        outcomes = await self._command_all(
            principal, lamps, CommandName.LIGHT_LEVEL, action.level_pct
        )
        return {
            "kind": action.kind,
            "outcome": _overall(outcomes, len(lamps)),
            "devices": lamps,
            "by_outcome": outcomes,
            "until": action.until.isoformat(),
        }

    async def _bollard_ids(self, action: PlannedRaiseBollards) -> list[str]:
        devices = list(action.device_ids)
        if action.lon is not None and action.lat is not None and action.radius_m is not None:
            devices += await self._devices_near(
                SensorKind.BOLLARD, action.lon, action.lat, action.radius_m
            )
        return sorted(set(devices))

    async def _bollards(self, principal: Principal, action: PlannedRaiseBollards) -> dict[str, Any]:
        """``confirm = false``: raised at once, in the rule's name (interlocked sites only)."""
        devices = await self._bollard_ids(action)
        outcomes = await self._command_all(principal, devices, CommandName.BOLLARD, "up")
        return {
            "kind": action.kind,
            "outcome": _overall(outcomes, len(devices)),
            "devices": devices,
            "by_outcome": outcomes,
        }

    async def _propose_bollards(
        self, trace: RuleTrace, action: PlannedRaiseBollards
    ) -> dict[str, Any]:
        """Records the command for a person to confirm, tells the incident's channel and the
        live stream; sends nothing."""
        devices = await self._bollard_ids(action)
        if not devices:
            return {
                "kind": action.kind,
                "outcome": "no devices in range",
                "devices": [],
                "by_outcome": {},
            }
        incident_id = action.incident_id
        if incident_id is None and action.event_source and action.event_id:
            # An event rule: if correlation has already joined the event to an incident, the
            # proposal belongs there (its channel and incident view).
            stored = await asyncio.to_thread(
                self._store.get_event, action.event_source, action.event_id
            )
            incident_id = stored.incident_id if stored is not None else None
        now = self._clock.now()
        proposal = CommandProposal(
            id=new_id("prp", now),
            rule_id=action.rule_id,
            rule_name=trace.rule_name,
            incident_id=incident_id,
            event_source=action.event_source,
            event_id=action.event_id,
            device_ids=tuple(devices),
            command=CommandName.BOLLARD,
            value="up",
            reason=trace.reason,
            created_at=now,
            expires_at=now + timedelta(seconds=action.confirm_within_s),
        )
        await asyncio.to_thread(
            partial(self._store.save_command_proposal, proposal, expected_version=None)
        )
        await self._publish_proposal("proposed", proposal)
        result: dict[str, Any] = {
            "kind": action.kind,
            "outcome": "proposed",
            "detail": f"proposed: awaiting a person's confirmation (proposal {proposal.id})",
            "proposal_id": proposal.id,
            "devices": devices,
            "expires_at": proposal.expires_at.isoformat(),
        }
        if self.notifier is not None and proposal.incident_id is not None:
            rule = next((r for r in self.engine.rules if r.id == action.rule_id), None)
            owners = list(rule.agencies) if rule is not None else []
            text = (
                f"Rule {action.rule_id} proposes raising {len(devices)} bollard"
                f"{'' if len(devices) == 1 else 's'} ({', '.join(devices)}), closing the street "
                f"to vehicles. An operator must confirm or decline in the incident view by "
                f"{proposal.expires_at.strftime('%H:%M:%S')} UTC; unconfirmed, nothing moves. "
                f"Proposal {proposal.id}."
            )
            try:
                result["message_id"] = await self.notifier.notify(
                    proposal.incident_id, owners, text, rule_id=action.rule_id
                )
            except (Conflict, NotFound) as exc:
                result["notice"] = f"not posted: {exc}"
        return result

    async def _publish_proposal(self, what: str, proposal: CommandProposal) -> None:
        await self._bus.publish(
            [
                BusMessage(
                    f"{PROPOSAL_SUBJECT}.{what}",
                    data=orjson.dumps(proposal.model_dump(mode="json")),
                )
            ]
        )

    async def _notify(self, action: PlannedNotify) -> dict[str, Any]:
        agencies = list(action.agencies)
        if agencies == ["*"]:
            agencies = [a.id for a in await asyncio.to_thread(self._store.list_agencies)]
        if self.notifier is None:
            return {"kind": action.kind, "outcome": "failed", "detail": "no channel service"}
        message_id = await self.notifier.notify(
            action.incident_id, agencies, action.message, rule_id=action.rule_id
        )
        return {
            "kind": action.kind,
            "outcome": "posted",
            "message_id": message_id,
            "agencies": agencies,
        }

    async def _draft(self, action: PlannedCapDraft) -> dict[str, Any]:
        now = self._clock.now()
        draft = AlertDraft(
            id=new_id("alr", now),
            created_at=now,
            incident_id=action.incident_id,
            rule_id=action.rule_id,
            headline=action.headline,
            description=action.instruction or "",
            severity=str(action.severity),
            urgency=str(action.urgency),
            certainty=str(action.certainty),
            area={"lon": action.lon, "lat": action.lat, "radius_m": action.radius_m},
            expires_at=action.expires_at,
        )
        await asyncio.to_thread(partial(self._store.save_alert_draft, draft, expected_version=None))
        await self._bus.publish(
            [BusMessage("alerts.drafted", data=orjson.dumps(draft.model_dump(mode="json")))]
        )
        return {"kind": action.kind, "outcome": "drafted", "draft_id": draft.id}

    async def _webhook(self, action: PlannedWebhookCall) -> dict[str, Any]:
        body = action.model_dump(mode="json")
        await self._bus.publish(
            [BusMessage(f"{WEBHOOK_SUBJECT}.{action.target}", data=orjson.dumps(body))]
        )
        return {"kind": action.kind, "outcome": "queued", "target": action.target}

    # --- reads and decisions -----------------------------------------------------------------

    async def traces(
        self,
        principal: Principal,
        *,
        incident_id: str | None = None,
        rule_id: str | None = None,
        fired: bool | None = None,
        limit: int = 200,
    ) -> list[AutomationTraceRecord]:
        require(principal, Permission.INCIDENTS_READ)
        return await asyncio.to_thread(
            partial(
                self._store.automation_traces,
                incident_id=incident_id,
                rule_id=rule_id,
                fired=fired,
                limit=limit,
            )
        )

    async def drafts(self, principal: Principal, *, status: str | None = None) -> list[AlertDraft]:
        require(principal, Permission.INCIDENTS_READ)
        return await asyncio.to_thread(partial(self._store.list_alert_drafts, status=status))

    async def decide(
        self,
        principal: Principal,
        draft_id: str,
        *,
        approve: bool,
        reason: str,
        headline: str | None = None,
        description: str | None = None,
    ) -> AlertDraft:
        """A person approves (optionally editing the text) or rejects a drafted warning.
        Approved warnings are published in the public CAP feed."""
        require(principal, Permission.ALERTS_APPROVE)
        draft = await asyncio.to_thread(self._store.get_alert_draft, draft_id)
        if draft is None:
            raise NotFound("alert draft", draft_id)
        if draft.status is not DraftStatus.DRAFT:
            raise Conflict(f"the draft was already {draft.status.value}")
        now = self._clock.now()
        decided = draft.model_copy(
            update={
                "status": DraftStatus.APPROVED if approve else DraftStatus.REJECTED,
                "headline": headline or draft.headline,
                "description": description if description is not None else draft.description,
                "decided_by": principal.actor,
                "decided_at": now,
                "decision_reason": reason,
                "version": draft.version + 1,
            }
        )
        await asyncio.to_thread(
            partial(self._store.save_alert_draft, decided, expected_version=draft.version)
        )
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "alerts.approved" if approve else "alerts.rejected",
            "alert",
            draft_id,
            details={"reason": reason, "incident_id": draft.incident_id},
        )
        await self._bus.publish(
            [
                BusMessage(
                    f"alerts.{decided.status.value}",
                    data=orjson.dumps(decided.model_dump(mode="json")),
                )
            ]
        )
        return decided

    async def proposals(
        self,
        principal: Principal,
        *,
        status: str | None = None,
        incident_id: str | None = None,
        limit: int = 200,
    ) -> list[CommandProposal]:
        """Command proposals as they stand now (a pending one past its deadline is expired)."""
        require(principal, Permission.INCIDENTS_READ)
        return await asyncio.to_thread(
            partial(
                self._store.list_command_proposals,
                now=self._clock.now(),
                status=status,
                incident_id=incident_id,
                limit=limit,
            )
        )

    async def decide_proposal(
        self, principal: Principal, proposal_id: str, *, confirm: bool, reason: str | None
    ) -> CommandProposal:
        """A person confirms (the commands go out now, as that person's, the audit naming the
        rule too) or declines a pending proposal. Deciding one that expired or was decided
        already is a :class:`Conflict` that says its state."""
        require(principal, Permission.ACTUATORS_COMMAND)
        now = self._clock.now()
        proposal = await asyncio.to_thread(
            partial(self._store.get_command_proposal, proposal_id, now=now)
        )
        if proposal is None:
            raise NotFound("command proposal", proposal_id)
        if proposal.status is ProposalStatus.EXPIRED:
            raise Conflict(
                f"the proposal expired at {proposal.expires_at.isoformat()} without a decision;"
                " nothing was sent"
            )
        if proposal.status is not ProposalStatus.PENDING:
            raise Conflict(
                f"the proposal was already {proposal.status.value} by {proposal.decided_by}"
            )
        decided = proposal.model_copy(
            update={
                "status": ProposalStatus.CONFIRMED if confirm else ProposalStatus.DECLINED,
                "decided_by": principal.actor,
                "decided_at": now,
                "decision_reason": reason,
                "version": proposal.version + 1,
            }
        )
        # Claimed before anything is sent: of two people deciding at once, one wins.
        await asyncio.to_thread(
            partial(self._store.save_command_proposal, decided, expected_version=proposal.version)
        )
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "actuators.proposal_confirmed" if confirm else "actuators.proposal_declined",
            "command_proposal",
            proposal.id,
            details={
                "rule_id": proposal.rule_id,
                "incident_id": proposal.incident_id,
                "devices": list(proposal.device_ids),
                "reason": reason,
            },
        )
        if confirm:
            outcomes = [
                await self._send_confirmed(principal, decided, device)
                for device in decided.device_ids
            ]
            sent = decided.model_copy(
                update={"outcomes": tuple(outcomes), "version": decided.version + 1}
            )
            await asyncio.to_thread(
                partial(self._store.save_command_proposal, sent, expected_version=decided.version)
            )
            decided = sent
        await self._publish_proposal(decided.status.value, decided)
        return decided

    async def _send_confirmed(
        self, principal: Principal, proposal: CommandProposal, device_id: str
    ) -> DeviceOutcome:
        context = {"rule_id": proposal.rule_id, "proposal_id": proposal.id}
        try:
            result = await self._actuators.send(
                principal, device_id, proposal.command, proposal.value, context=context
            )
        except (NotFound, InvalidInput) as exc:
            # Removed from the register, or no longer a bollard, since the rule fired.
            return DeviceOutcome(device_id=device_id, outcome="failed", detail=str(exc))
        return DeviceOutcome(
            device_id=device_id,
            outcome=result.outcome.value,
            detail=result.detail,
            command_id=result.command.id,
            answered_at=result.answered_at,
        )

    async def published(self, now: datetime) -> list[AlertDraft]:
        """Approved warnings not yet expired, for the public feed."""
        approved = await asyncio.to_thread(
            partial(self._store.list_alert_drafts, status=DraftStatus.APPROVED.value)
        )
        return [d for d in approved if d.expires_at is None or d.expires_at > now]


def _overall(outcomes: dict[str, int], total: int) -> str:
    if total == 0:
        return "no devices in range"
    if outcomes.get(CommandOutcome.ACKNOWLEDGED.value, 0) == total:
        return "acknowledged"
    return "partial" if outcomes.get(CommandOutcome.ACKNOWLEDGED.value) else "not acknowledged"
