"""The sensor and device register, for operators (all entries) and the public (public ones)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from safecity.core.clock import Clock
from safecity.core.device_health import DeviceHealthPage, DeviceHealthQuery, DeviceState
from safecity.core.errors import NotFound
from safecity.core.identity import Permission, Principal
from safecity.core.ports import Store
from safecity.core.registry import Sensor
from safecity.governance.access import require
from safecity.governance.audit import AuditLog


class SensorRegistry:
    def __init__(self, store: Store, audit: AuditLog, clock: Clock) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock

    async def upsert(self, principal: Principal, sensor: Sensor) -> Sensor:
        require(principal, Permission.SENSORS_WRITE)
        if await asyncio.to_thread(self._store.get_agency, sensor.owner_agency) is None:
            raise NotFound("agency", sensor.owner_agency)
        stored = await asyncio.to_thread(self._store.upsert_sensor, sensor)
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "sensors.upsert",
            "sensor",
            sensor.id,
            details={"kind": sensor.kind.value},
        )
        return stored

    async def get(self, principal: Principal, sensor_id: str) -> Sensor:
        require(principal, Permission.SENSORS_READ)
        sensor = await asyncio.to_thread(self._store.get_sensor, sensor_id)
        if sensor is None:
            raise NotFound("sensor", sensor_id)
        return sensor

    async def list_sensors(
        self,
        principal: Principal,
        *,
        kind: str | None = None,
        owner_agency: str | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[Sensor]:
        require(principal, Permission.SENSORS_READ)
        return await asyncio.to_thread(
            lambda: self._store.list_sensors(
                kind=kind, owner_agency=owner_agency, limit=limit, offset=offset
            )
        )

    async def health(
        self,
        principal: Principal,
        *,
        silent_after_min: int = 60,
        kind: str | None = None,
        owner_agency: str | None = None,
        state: DeviceState | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> tuple[datetime, DeviceHealthPage]:
        """Registered devices with what their events say: faulty (a reported fault, or not
        active in the register), silent (no event in the ``silent_after_min`` minutes before
        now, by this service's clock) or heard. Returns that now and the page. The answer
        tells when devices last sent events, so the read is audited like an event read."""
        require(principal, Permission.SENSORS_READ)
        now = self._clock.now()
        query = DeviceHealthQuery(
            silent_before=now - timedelta(minutes=silent_after_min),
            kind=kind,
            owner_agency=owner_agency,
            state=state,
            limit=limit,
            offset=offset,
        )
        page = await asyncio.to_thread(self._store.device_health, query)
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "sensors.health",
            "sensor",
            None,
            details={
                "silent_after_min": silent_after_min,
                "kind": kind,
                "owner_agency": owner_agency,
                "state": state.value if state else None,
                "count": len(page.items),
            },
        )
        return now, page

    async def delete(self, principal: Principal, sensor_id: str) -> None:
        require(principal, Permission.SENSORS_WRITE)
        removed = await asyncio.to_thread(self._store.delete_sensor, sensor_id)
        await asyncio.to_thread(
            self._audit.record,
            principal,
            "sensors.delete",
            "sensor",
            sensor_id,
            outcome="ok" if removed else "not_found",
        )
        if not removed:
            raise NotFound("sensor", sensor_id)

    async def public(
        self, *, kind: str | None = None, limit: int = 1000, offset: int = 0
    ) -> list[Sensor]:
        """The public register: entries marked public, for anyone to inspect."""
        return await asyncio.to_thread(
            lambda: self._store.list_sensors(
                kind=kind, public_only=True, limit=limit, offset=offset
            )
        )

    async def non_public_count(self) -> int:
        """How many registered devices are not in the public register: the public may know
        they exist, not what or where they are."""

        def count() -> int:
            found, offset, page = 0, 0, 5000
            while True:
                rows = self._store.list_sensors(limit=page, offset=offset)
                found += sum(1 for s in rows if not s.public)
                if len(rows) < page:
                    return found
                offset += page

        return await asyncio.to_thread(count)
