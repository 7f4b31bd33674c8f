"""Input in any supported standard: the adapter's mapping, then the common ingest path.

Everything refused on the way, the whole input or one part of it, is dead-lettered with the
adapter's reason, so an integrator can see exactly what a legacy system sent and why it failed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from safecity.adapters import registry
from safecity.adapters.base import Mapped, MappingContext
from safecity.adapters.configuration import AdapterInstance, default_instance
from safecity.core.clock import Clock
from safecity.core.errors import DomainError, FieldError, InvalidInput, NotFound
from safecity.core.events import Event
from safecity.core.identity import Permission, Principal
from safecity.governance.access import require
from safecity.governance.registry import SensorRegistry
from safecity.ingest.service import IngestService, ItemResult, Rejected

log = logging.getLogger(__name__)

#: Envelopes inside envelopes deeper than this are refused (a guard against crafted input).
MAX_NESTING = 3


@dataclass
class IntakeResult:
    """What became of one input: per-event results, refused parts, notes for the sender."""

    items: list[ItemResult] = field(default_factory=list)
    rejected_parts: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sensors: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i.status == status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.count("accepted"),
            "duplicates": self.count("duplicate"),
            "rejected": self.count("rejected") + len(self.rejected_parts),
            "events": [i.as_dict() for i in self.items],
            "rejected_parts": self.rejected_parts,
            "sensors_registered": self.sensors,
            "notes": self.notes,
        }


def map_input(adapter: str, raw: bytes, context: MappingContext) -> Mapped:
    """Run an adapter's mapping alone (no storage): for `safecity adapters parse` and tests.

    A mapping that fails with anything but :class:`InvalidInput` has met input it does not
    understand; that is reported as a refusal naming the adapter, never as a server error.
    """
    parse = registry.parser(adapter)
    try:
        return parse(raw, context)
    except InvalidInput:
        raise
    except Exception as exc:
        log.exception("the %s mapping failed on input from %s", adapter, context.origin)
        raise InvalidInput(
            [
                FieldError(
                    "body",
                    f"the {adapter} mapping could not read this input "
                    f"({type(exc).__name__}: {exc})"[:500],
                )
            ]
        ) from exc


class AdapterIntake:
    def __init__(
        self,
        ingest: IngestService,
        registry_: SensorRegistry,
        clock: Clock,
        instances: Mapping[str, AdapterInstance] | None = None,
    ) -> None:
        self._ingest = ingest
        self._register = registry_
        self._clock = clock
        self.instances = dict(instances or {})

    def resolve(self, name: str) -> AdapterInstance:
        """A configured instance by name, else the adapter of that name with its defaults."""
        if name in self.instances:
            return self.instances[name]
        if name in registry.names():
            return default_instance(name)
        raise NotFound("adapter", name)

    async def receive_many(
        self,
        adapter: str,
        messages: Sequence[tuple[bytes, str | None]],
        *,
        principal: Principal,
        channel: str,
        content_type: str | None = None,
    ) -> IntakeResult:
        """Several documents for one adapter: each mapped (and refused) on its own, their
        events stored together. Envelopes among them are opened one by one."""
        require(principal, Permission.EVENTS_INGEST)
        instance = self.resolve(adapter)
        where = f"{instance.name} {channel}"
        result = IntakeResult()
        events: list[Event] = []
        for raw, origin in messages:
            context = MappingContext(
                received_at=self._clock.now(),
                content_type=content_type,
                config=instance.config,
                origin=origin,
            )
            try:
                mapped = map_input(instance.adapter, raw, context)
            except InvalidInput as exc:
                letter = await self._ingest.dead_letter_raw(
                    raw,
                    channel=where,
                    content_type=content_type,
                    errors=exc.errors,
                    source=origin,
                )
                result.rejected_parts.append(
                    {
                        "where": origin or "message",
                        "errors": [e.as_dict() for e in exc.errors],
                        "dead_letter_id": letter,
                    }
                )
                continue
            if mapped.rejections or mapped.enclosed or mapped.sensors:
                # The rare message with parts to refuse, envelopes or register entries takes
                # the one-by-one path, which knows all of those.
                single = await self.receive(
                    adapter,
                    raw,
                    principal=principal,
                    channel=channel,
                    content_type=content_type,
                    origin=origin,
                )
                result.items.extend(single.items)
                result.rejected_parts.extend(single.rejected_parts)
                result.notes.extend(single.notes)
                result.sensors.extend(single.sensors)
                continue
            events.extend(mapped.events)
            result.notes.extend(mapped.notes)
        if events:
            batch = await self._ingest.ingest_events(events, principal=principal, channel=where)
            result.items.extend(batch.items)
        return result

    async def receive(
        self,
        adapter: str,
        raw: bytes,
        *,
        principal: Principal,
        channel: str,
        content_type: str | None = None,
        config: Any = None,
        origin: str | None = None,
        _depth: int = 0,
    ) -> IntakeResult:
        require(principal, Permission.EVENTS_INGEST)
        instance = self.resolve(adapter)
        where = f"{instance.name} {channel}"
        context = MappingContext(
            received_at=self._clock.now(),
            content_type=content_type,
            config=config if config is not None else instance.config,
            origin=origin,
        )
        try:
            mapped = map_input(instance.adapter, raw, context)
        except InvalidInput as exc:
            letter = await self._ingest.dead_letter_raw(
                raw, channel=where, content_type=content_type, errors=exc.errors, source=origin
            )
            raise Rejected(exc.errors, letter) from None
        result = IntakeResult(notes=list(mapped.notes))
        for part in mapped.rejections:
            letter = await self._ingest.dead_letter_raw(
                part.raw,
                channel=where,
                content_type=content_type,
                errors=list(part.errors),
                source=origin,
            )
            result.rejected_parts.append(
                {
                    "where": part.where,
                    "errors": [e.as_dict() for e in part.errors],
                    "dead_letter_id": letter,
                }
            )
        for inner in mapped.enclosed:
            if _depth >= MAX_NESTING:
                errors = [FieldError(inner.where, f"nested deeper than {MAX_NESTING} envelopes")]
                letter = await self._ingest.dead_letter_raw(
                    inner.raw,
                    channel=where,
                    content_type=inner.content_type,
                    errors=errors,
                    source=origin,
                )
                result.rejected_parts.append(
                    {
                        "where": inner.where,
                        "errors": [e.as_dict() for e in errors],
                        "dead_letter_id": letter,
                    }
                )
                continue
            try:
                nested = await self.receive(
                    inner.adapter,
                    inner.raw,
                    principal=principal,
                    channel=channel,
                    content_type=inner.content_type,
                    origin=origin,
                    _depth=_depth + 1,
                )
            except Rejected as exc:
                result.rejected_parts.append(
                    {
                        "where": inner.where,
                        "errors": [e.as_dict() for e in exc.errors],
                        "dead_letter_id": exc.dead_letter_id,
                    }
                )
                continue
            result.items.extend(nested.items)
            result.rejected_parts.extend(nested.rejected_parts)
            result.notes.extend(nested.notes)
        for sensor in mapped.sensors:
            try:
                stored = await self._register.upsert(principal, sensor)
            except DomainError as exc:
                errors = [FieldError(f"sensor {sensor.id}", str(exc))]
                letter = await self._ingest.dead_letter_raw(
                    sensor.model_dump_json().encode(),
                    channel=where,
                    content_type="application/json",
                    errors=errors,
                    source=origin,
                )
                result.rejected_parts.append(
                    {
                        "where": f"sensor {sensor.id}",
                        "errors": [e.as_dict() for e in errors],
                        "dead_letter_id": letter,
                    }
                )
                continue
            result.sensors.append(stored.id)
        if mapped.events:
            batch = await self._ingest.ingest_events(
                mapped.events, principal=principal, channel=where
            )
            result.items.extend(batch.items)
        return result
