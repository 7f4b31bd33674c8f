"""What every adapter shares: its manifest, the mapping contract and its results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from safecity.core.clock import Clock
from safecity.core.errors import FieldError
from safecity.core.events import Event
from safecity.core.ports import EventBus
from safecity.core.registry import Sensor


@dataclass(frozen=True)
class Manifest:
    """Describes an adapter; the registry reads this without importing the mapping."""

    name: str
    title: str
    standards: tuple[str, ...]
    directions: frozenset[Literal["in", "out"]]
    content_types: tuple[str, ...] = ("application/json",)
    docs: str = ""


@dataclass(frozen=True)
class MappingContext:
    """What a mapping may know besides the bytes. No network, no clock reads: time is given."""

    received_at: datetime
    content_type: str | None = None
    config: Any = None
    #: Where the bytes came from (topic, URL path, file name), for error messages and ids.
    origin: str | None = None


@dataclass(frozen=True)
class Rejection:
    """One part of an input that could not be mapped, kept separately so the rest still flows."""

    where: str
    errors: tuple[FieldError, ...]
    raw: bytes


@dataclass(frozen=True)
class Enclosed:
    """Content an envelope carries (EDXL-DE, Atom entries), for the adapter that speaks it."""

    adapter: str
    raw: bytes
    content_type: str | None
    where: str


@dataclass
class Mapped:
    """What a mapping made of one input."""

    events: list[Event] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    enclosed: list[Enclosed] = field(default_factory=list)
    #: Register entries the input describes (an NGSI-LD Device, a SensorThings Thing).
    sensors: list[Sensor] = field(default_factory=list)
    #: Non-fatal findings worth telling the sender about (unchecked signature, unknown field).
    notes: list[str] = field(default_factory=list)


class InboundMapping(Protocol):
    """``mapping.parse``: raise :class:`safecity.core.errors.InvalidInput` when nothing of the
    input can be used; otherwise return what could, with a :class:`Rejection` per bad part."""

    def __call__(self, raw: bytes, context: MappingContext) -> Mapped: ...


ParseFunction = Callable[[bytes, MappingContext], Mapped]


# --- connectors: adapters with their own transport (MQTT, outbound webhooks, feed polling) ----


class InboundSink(Protocol):
    """Hands a received document to the intake (mapping, ingest, dead letters)."""

    async def __call__(
        self, adapter: str, raw: bytes, *, content_type: str | None, origin: str | None
    ) -> None: ...


class InboundBatchSink(Protocol):
    """Hands several documents for one adapter to the intake at once: one store transaction
    for all their events (what lets a broker connection keep up with thousands a second)."""

    async def __call__(
        self,
        adapter: str,
        messages: Sequence[tuple[bytes, str | None]],
        *,
        content_type: str | None,
    ) -> None: ...


class DeadLetterSink(Protocol):
    """Keeps something that could not be delivered or read; returns the dead letter's id."""

    async def __call__(
        self, raw: bytes, *, channel: str, content_type: str | None, errors: list[FieldError]
    ) -> int: ...


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector gets from the runtime: its settings and the platform's ports."""

    name: str
    config: Any
    bus: EventBus
    clock: Clock
    receive: InboundSink
    dead_letter: DeadLetterSink
    receive_batch: InboundBatchSink | None = None


class Connector(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


#: ``adapter.py`` of a connector adapter defines ``connector(context) -> Connector``.
ConnectorFactory = Callable[[ConnectorContext], Connector]
