"""Device health: which registered devices have been heard from lately, and which report a fault.

An event speaks for a device in two ways:

- it was *sent by* the device: :func:`device_keys` names the register ids an event may be
  matched to (its source and parts of it, or the ``sensor_id`` in its payload);
- it *reports on* a device's condition: :func:`reported_fault` reads ``lamp.fault``,
  ``access.bollard_state`` and ``lamp.light_level``.

Both name devices by one rule, :func:`id_keys`: a reference (a source, a payload's device id)
may equal a register id as it is, by its last segment or by its last two segments.

The store folds every newly stored event into one row per key (:func:`health_changes`) in the
same transaction as the event, keeping only keys that could be a register id; a health query
joins those rows to the register, so a device registered after it started sending is matched
too, and a device that sent nothing at all is listed as silent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache, lru_cache
from typing import NamedTuple

from safecity.core.events import Event
from safecity.core.payloads import (
    BollardPosition,
    BollardState,
    EventPayload,
    LampFault,
    LampLightLevel,
)
from safecity.core.registry import IDENT_MAX_LENGTH, IDENT_PATTERN

#: The register status of a device in service; any other status counts as a fault.
ACTIVE = "active"

_PLAUSIBLE = re.compile(IDENT_PATTERN)
_SEPARATORS = re.compile(r"[:/]")
# References repeat (one source per device or per feeding system), so their keys are worth
# remembering.
_ID_CACHE = 65_536


class DeviceState(StrEnum):
    """``faulty`` (a reported fault or a register status other than active) wins over
    ``silent`` (no event since the cutoff, or none at all) and ``heard``."""

    FAULTY = "faulty"
    SILENT = "silent"
    HEARD = "heard"


def is_device_id(key: str) -> bool:
    """True when ``key`` could be a register id (the register's own pattern and length)."""
    return 0 < len(key) <= IDENT_MAX_LENGTH and _PLAUSIBLE.fullmatch(key) is not None


@lru_cache(maxsize=_ID_CACHE)
def id_keys(ref: str) -> tuple[str, ...]:
    """The register ids a device reference may name, without repeats, in this order:

    1. the reference as it is (``urn:city:noise:n-7``);
    2. its last segment, splitting at ``:`` and ``/`` (``n-7``);
    3. its last two segments joined with ``-`` (``noise-n-7``: the demo's
       ``urn:safecity:demo:<slug>:<ref>`` becomes the register id ``<slug>-<ref>``).

    A key that could not be a register id (too long, or characters the register does not
    allow) is left out: it could never match, and storing it would only grow the table.
    """
    keys = [ref]
    parts = [part for part in _SEPARATORS.split(ref) if part]
    if parts:
        keys.append(parts[-1])
    if len(parts) > 1:
        keys.append(f"{parts[-2]}-{parts[-1]}")
    return tuple(dict.fromkeys(key for key in keys if is_device_id(key)))


#: Payload fields naming the device that sent or observed an event (a gateway or a platform
#: like NGSI-LD forwarding for it): the device counts as heard.
DEVICE_FIELDS = ("sensor_id", "camera_id", "lamp_id", "bollard_id", "container_id")


def device_keys(event: Event) -> tuple[str, ...]:
    """The register ids ``event`` may have been sent by, without repeats: the :func:`id_keys` of
    its ``source``, then those of the devices its payload names (``sensor_id``, ``camera_id``,
    ``lamp_id``, ``bollard_id``, ``container_id``: a gateway naming the device it forwards)."""
    keys = id_keys(event.source)
    named = _named_devices(event)
    if not named:
        return keys
    return tuple(dict.fromkeys((*keys, *(k for ref in named for k in id_keys(ref)))))


def _named_devices(event: Event) -> list[str]:
    out: list[str] = []
    for name in _device_fields(type(event.data)):
        value = getattr(event.data, name, None)
        if isinstance(value, str):
            out.append(value)
    return out


@cache
def _device_fields(payload: type[EventPayload]) -> tuple[str, ...]:
    # Asked per payload class once: looking up a missing attribute on a model raises inside
    # pydantic, which cost more than everything else here together.
    return tuple(f for f in DEVICE_FIELDS if f in payload.model_fields)


@dataclass(frozen=True)
class FaultReport:
    """What an event says about a device's condition: ``fault`` is None when it works."""

    device_id: str
    fault: str | None


def reported_fault(event: Event) -> FaultReport | None:
    """The device condition ``event`` reports, or None when it reports none.

    ``lamp.fault`` sets the fault (its kind, e.g. ``lamp_out``) or, with ``cleared``, clears it;
    ``access.bollard_state`` sets ``bollard fault`` for the state ``fault`` and clears it for
    any other state; ``lamp.light_level`` clears it (a lamp reporting its level works). The
    device is the payload's ``lamp_id`` or ``bollard_id``, matched to the register by
    :func:`id_keys` (an NGSI-LD ``urn:ngsi-ld:Streetlight:lamp-17`` names ``lamp-17``).
    """
    data = event.data
    report: FaultReport
    if isinstance(data, LampFault):
        report = FaultReport(data.lamp_id, None if data.cleared else data.fault.value)
    elif isinstance(data, BollardState):
        fault = "bollard fault" if data.state is BollardPosition.FAULT else None
        report = FaultReport(data.bollard_id, fault)
    elif isinstance(data, LampLightLevel):
        report = FaultReport(data.lamp_id, None)
    else:
        return None
    return report


# The payloads reported_fault reads; others are skipped without a call.
_REPORTS_FAULTS: tuple[type[EventPayload], ...] = (LampFault, BollardState, LampLightLevel)


class DeviceHealthChange(NamedTuple):
    """What a set of events changes for one key: its newest event (time and type) and its newest
    fault report (time and fault, None when cleared). A part the events do not touch is None;
    a store applies a part only when it is not older than what it holds."""

    device_id: str
    last_event_at: datetime | None = None
    last_event_type: str | None = None
    fault_reported_at: datetime | None = None
    fault: str | None = None


# (event time, position in the batch, event type): compared as a tuple, the newest event wins
# and of two at the same time the later one.
_Newest = tuple[datetime, int, str]


def health_changes(events: Iterable[Event]) -> list[DeviceHealthChange]:
    """Fold newly stored events into one change per key of :func:`device_keys` (and per device
    a fault report names), sorted by key.

    By event time, not arrival: the newest event wins, and of two at the same time the later
    one in ``events``. A store applies the result with the same rule, so an event that arrives
    late never moves a device's last event (or its fault state) backwards.
    """
    # Per source and per device a payload names first, keys after: a source sends many events in a
    # batch, and its keys are then compared once, not once per event.
    by_source: dict[str, _Newest] = {}
    by_named: dict[str, _Newest] = {}
    faults: dict[str, tuple[datetime, str | None]] = {}
    for index, event in enumerate(events):
        at = event.time
        seen = by_source.get(event.source)
        if seen is None or at >= seen[0]:
            by_source[event.source] = (at, index, event.type)
        for named in _named_devices(event):
            seen = by_named.get(named)
            if seen is None or at >= seen[0]:
                by_named[named] = (at, index, event.type)
        if type(event.data) in _REPORTS_FAULTS:
            report = reported_fault(event)
            if report is not None:
                for key in id_keys(report.device_id):
                    known = faults.get(key)
                    if known is None or at >= known[0]:
                        faults[key] = (at, report.fault)
    heard: dict[str, _Newest] = {}
    for refs in (by_source, by_named):
        for ref, newest in refs.items():
            for key in id_keys(ref):
                seen = heard.get(key)
                if seen is None or newest > seen:
                    heard[key] = newest
    changes: list[DeviceHealthChange] = []
    for device_id in sorted(heard.keys() | faults.keys()):
        seen = heard.get(device_id)
        known = faults.get(device_id)
        changes.append(
            DeviceHealthChange(
                device_id,
                seen[0] if seen else None,
                seen[2] if seen else None,
                known[0] if known else None,
                known[1] if known else None,
            )
        )
    return changes


def device_fault(reported: str | None, register_status: str) -> str | None:
    """A device's fault as shown: the one it reported, else ``register: <status>`` when the
    register does not list it as active, else None."""
    if reported is not None:
        return reported
    return None if register_status == ACTIVE else f"register: {register_status}"


@dataclass(frozen=True)
class DeviceHealthQuery:
    """Registered devices with their health. A device is ``heard`` when its newest event is at
    or after ``silent_before``; ``kind``, ``owner_agency`` and ``state`` filter the rows
    (the counts too, except ``state``); ``limit`` and ``offset`` page them."""

    silent_before: datetime
    kind: str | None = None
    owner_agency: str | None = None
    state: DeviceState | None = None
    limit: int = 1000
    offset: int = 0


@dataclass(frozen=True)
class DeviceHealth:
    """One registered device and what its events say."""

    sensor_id: str
    name: str
    kind: str
    owner_agency: str
    status: str
    state: DeviceState
    last_event_at: datetime | None = None
    last_event_type: str | None = None
    #: The reported fault, else ``register: <status>`` for a device not active in the register.
    fault: str | None = None
    #: When the device's newest fault report (a fault or its clearing) happened.
    fault_reported_at: datetime | None = None


@dataclass(frozen=True)
class DeviceHealthCounts:
    registered: int = 0
    faulty: int = 0
    silent: int = 0
    heard: int = 0

    def in_state(self, state: DeviceState) -> int:
        """How many devices are in ``state``."""
        if state is DeviceState.FAULTY:
            return self.faulty
        return self.silent if state is DeviceState.SILENT else self.heard


@dataclass(frozen=True)
class DeviceHealthPage:
    """Counts over every device the query's kind and agency select (whatever its state and
    page), and the page of rows: faulty first, then silent (never heard first, then the longest
    silent), then heard; by register id within each."""

    counts: DeviceHealthCounts
    items: list[DeviceHealth]
