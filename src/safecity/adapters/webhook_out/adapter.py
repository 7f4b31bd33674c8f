"""Delivers bus messages to a configured URL: signed, retried with backoff, dead-lettered."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
import orjson

from safecity.adapters.base import ConnectorContext
from safecity.adapters.webhook_out.config import WebhookOutConfig
from safecity.adapters.webhook_out.signing import sign
from safecity.core.errors import FieldError
from safecity.core.ids import new_id
from safecity.core.ports import BusMessage, Subscription

log = logging.getLogger(__name__)


@dataclass
class _Delivery:
    id: str
    body: bytes
    attempts: int = 0
    last_error: str = ""


class WebhookSender:
    """One subscription's sender. Deliveries go out one at a time, in order, so a receiver
    sees incident versions in the order they happened."""

    def __init__(self, context: ConnectorContext, client: httpx.AsyncClient | None = None) -> None:
        if not isinstance(context.config, WebhookOutConfig):
            raise TypeError("webhook_out needs a WebhookOutConfig")
        self._ctx = context
        self._config: WebhookOutConfig = context.config
        self._client = client
        self._own_client = client is None
        self._pending: deque[_Delivery] = deque()
        self._wake = asyncio.Event()
        self._subs: list[Subscription] = []
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.dead_lettered = 0

    async def start(self) -> None:
        if self._client is None:
            # No redirects: a receiver cannot bounce our signed payload somewhere else.
            self._client = httpx.AsyncClient(timeout=self._config.timeout_s, follow_redirects=False)
        # Automations call a webhook by this instance's name (never by a URL of their own).
        subjects = [*self._config.subjects, f"automations.webhook.{self._ctx.name}"]
        for subject in subjects:
            self._subs.append(await self._ctx.bus.subscribe(subject, self._enqueue, max_batch=500))
        self._task = asyncio.create_task(self._run(), name=f"webhook_out:{self._ctx.name}")

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # What could not be sent before stopping is kept, not dropped.
        while self._pending:
            await self._give_up(self._pending.popleft(), "stopped before delivery")
        if self._own_client and self._client is not None:
            await self._client.aclose()

    async def _enqueue(self, batch: Sequence[BusMessage]) -> None:
        now = self._ctx.clock.now()
        for message in batch:
            delivery = _Delivery(
                id=new_id("dlv", now),
                body=orjson.dumps(
                    {"subject": message.subject, "data": orjson.Fragment(message.data)}
                ),
            )
            if len(self._pending) >= self._config.max_pending:
                await self._give_up(delivery, "too many deliveries pending")
                continue
            self._pending.append(delivery)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            while not self._pending:
                self._wake.clear()
                await self._wake.wait()
            delivery = self._pending[0]
            if await self._send(delivery):
                self._pending.popleft()
                self.delivered += 1
                continue
            if delivery.attempts >= self._config.max_attempts:
                self._pending.popleft()
                await self._give_up(delivery, delivery.last_error)
                continue
            await asyncio.sleep(self._backoff(delivery.attempts))

    def _backoff(self, attempts: int) -> float:
        base = min(
            self._config.backoff_max_s, self._config.backoff_initial_s * 2.0 ** (attempts - 1)
        )
        return float(base * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not secrets

    async def _send(self, delivery: _Delivery) -> bool:
        assert self._client is not None
        delivery.attempts += 1
        timestamp = int(self._ctx.clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            "X-Safecity-Delivery": delivery.id,
            "X-Safecity-Attempt": str(delivery.attempts),
            "X-Safecity-Signature": sign(
                self._config.secret.get_secret_value().encode(), delivery.body, timestamp
            ),
        }
        try:
            response = await self._client.post(
                str(self._config.url), content=delivery.body, headers=headers
            )
        except httpx.HTTPError as exc:
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:300]
            return False
        if 200 <= response.status_code < 300:
            return True
        delivery.last_error = f"HTTP {response.status_code}"
        return False

    async def _give_up(self, delivery: _Delivery, reason: str) -> None:
        self.dead_lettered += 1
        log.warning("webhook %s: giving up on %s: %s", self._ctx.name, delivery.id, reason)
        await self._ctx.dead_letter(
            delivery.body,
            channel=f"webhook_out:{self._ctx.name}",
            content_type="application/json",
            errors=[
                FieldError(
                    "delivery",
                    f"not delivered to {self._config.url} after {delivery.attempts} "
                    f"attempt(s): {reason}",
                )
            ],
        )


def connector(context: ConnectorContext) -> WebhookSender:
    return WebhookSender(context)
