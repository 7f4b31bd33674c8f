"""In-process event bus: the embedded default, for one machine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence

from safecity.core.ports import BatchHandler, BusMessage
from safecity.core.subjects import subject_matches, valid_subject

log = logging.getLogger(__name__)


class _MemorySubscription:
    def __init__(
        self,
        bus: MemoryBus,
        pattern: str,
        handler: BatchHandler,
        max_batch: int,
        max_deliver: int,
        linger_s: float = 0.0,
    ) -> None:
        self._bus = bus
        self.pattern = pattern
        self._handler = handler
        self._max_batch = max_batch
        self._max_deliver = max_deliver
        self._linger_s = linger_s
        # Pending chunks (one per publish call), not single messages: per-message queue
        # operations cost more than the handlers at tens of thousands of messages a second.
        self._chunks: deque[list[BusMessage]] = deque()
        self._ready = asyncio.Event()
        self.busy = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"bus:{pattern}")

    def offer(self, messages: list[BusMessage]) -> None:
        size = self._max_batch
        for start in range(0, len(messages), size):
            self._chunks.append(messages[start : start + size])
        self._ready.set()

    async def _run(self) -> None:
        chunks = self._chunks
        while True:
            while not chunks:
                self._ready.clear()
                await self._ready.wait()
            if self._linger_s and len(chunks[0]) < self._max_batch:
                await asyncio.sleep(self._linger_s)
            batch = chunks.popleft()
            if chunks and len(batch) + len(chunks[0]) <= self._max_batch:
                batch = list(batch)
                while chunks and len(batch) + len(chunks[0]) <= self._max_batch:
                    batch.extend(chunks.popleft())
            self.busy = True
            try:
                await self._deliver(batch)
            finally:
                self.busy = False

    @property
    def idle(self) -> bool:
        return not self._chunks and not self.busy

    async def _deliver(self, batch: list[BusMessage]) -> None:
        for attempt in range(1, self._max_deliver + 1):
            try:
                await self._handler(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "bus handler for %s failed (attempt %d of %d)",
                    self.pattern,
                    attempt,
                    self._max_deliver,
                )
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0))
            else:
                return
        self._bus.undeliverable += len(batch)
        log.error(
            "dropping %d message(s) for %s after %d attempts",
            len(batch),
            self.pattern,
            self._max_deliver,
        )

    async def stop(self) -> None:
        self._bus.remove(self)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class MemoryBus:
    """Fans each message out to every matching subscription's queue, in publish order.

    Messages published before a subscription exists are not replayed to it (there is no
    durable stream in-process; durability comes from the store, which commits first).
    """

    def __init__(self) -> None:
        self._subs: list[_MemorySubscription] = []
        self._routes: dict[str, list[_MemorySubscription]] = {}
        self.undeliverable = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for sub in list(self._subs):
            await sub.stop()

    async def publish(self, messages: Sequence[BusMessage]) -> None:
        per_sub: dict[_MemorySubscription, list[BusMessage]] = {}
        for message in messages:
            for sub in self._route(message.subject):
                chunk = per_sub.get(sub)
                if chunk is None:
                    per_sub[sub] = [message]
                else:
                    chunk.append(message)
        for sub, chunk in per_sub.items():
            sub.offer(chunk)

    async def idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until no subscription has messages queued or in hand; False on timeout.

        Handlers publish in turn (an event opens an incident, which attaches a procedure...),
        so quiet must hold across a few loop turns before it counts.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        quiet = 0
        while quiet < 3:
            if loop.time() > deadline:
                return False
            quiet = quiet + 1 if all(sub.idle for sub in self._subs) else 0
            await asyncio.sleep(0 if quiet else 0.002)
        return True

    def _route(self, subject: str) -> list[_MemorySubscription]:
        # Subjects repeat (one per event type), so matching is done once per subject.
        subs = self._routes.get(subject)
        if subs is None:
            if not valid_subject(subject):
                raise ValueError(f"invalid subject {subject!r}")
            subs = [s for s in self._subs if subject_matches(s.pattern, subject)]
            self._routes[subject] = subs
        return subs

    async def subscribe(
        self,
        subject: str,
        handler: BatchHandler,
        *,
        durable: str | None = None,
        max_batch: int = 500,
        max_deliver: int = 5,
        linger_s: float = 0.0,
    ) -> _MemorySubscription:
        del durable  # a process-local bus has nothing to resume
        if not valid_subject(subject, wildcards=True):
            raise ValueError(f"invalid subject pattern {subject!r}")
        sub = _MemorySubscription(self, subject, handler, max_batch, max_deliver, linger_s)
        self._subs.append(sub)
        self._routes.clear()
        return sub

    def remove(self, sub: _MemorySubscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._routes.clear()
