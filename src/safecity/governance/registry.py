"""The sensor and device register, for operators (all entries) and the public (public ones)."""

from __future__ import annotations

import asyncio

from safecity.core.errors import NotFound
from safecity.core.identity import Permission, Principal
from safecity.core.ports import Store
from safecity.core.registry import Sensor
from safecity.governance.access import require
from safecity.governance.audit import AuditLog


class SensorRegistry:
    def __init__(self, store: Store, audit: AuditLog) -> None:
        self._store = store
        self._audit = audit

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
