"""Polling CAP feeds: fetch each configured URL on its schedule and hand what arrives to the
intake. Unchanged feeds cost one conditional request (ETag / Last-Modified)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx

from safecity.adapters.base import ConnectorContext
from safecity.adapters.cap.config import CapConfig, CapPoll

log = logging.getLogger(__name__)


class CapPoller:
    def __init__(self, context: ConnectorContext, client: httpx.AsyncClient | None = None) -> None:
        config = context.config if isinstance(context.config, CapConfig) else CapConfig()
        self._ctx = context
        self._feeds = config.poll
        self._client = client
        self._own_client = client is None
        self._tasks: list[asyncio.Task[None]] = []
        self._validators: dict[str, dict[str, str]] = {}
        self.fetched = 0
        self.unchanged = 0
        self.failures = 0

    async def start(self) -> None:
        if not self._feeds:
            return
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        for feed in self._feeds:
            self._tasks.append(asyncio.create_task(self._loop(feed), name=f"cap-poll {feed.url}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _loop(self, feed: CapPoll) -> None:
        while True:
            await self.poll_once(feed)
            await asyncio.sleep(feed.interval_s)

    async def poll_once(self, feed: CapPoll) -> None:
        assert self._client is not None
        url = str(feed.url)
        headers = self._validators.get(url, {})
        try:
            response = await self._client.get(url, headers=headers, timeout=feed.timeout_s)
        except httpx.HTTPError as exc:
            self.failures += 1
            log.warning("CAP feed %s: %s", url, exc)
            return
        if response.status_code == 304:
            self.unchanged += 1
            return
        if response.status_code != 200:
            self.failures += 1
            log.warning("CAP feed %s answered HTTP %d", url, response.status_code)
            return
        self.fetched += 1
        validators = {}
        if etag := response.headers.get("etag"):
            validators["If-None-Match"] = etag
        if modified := response.headers.get("last-modified"):
            validators["If-Modified-Since"] = modified
        self._validators[url] = validators
        # Re-fetched alerts keep their ids, so a feed seen again stores nothing twice.
        await self._ctx.receive(
            self._ctx.name,
            response.content,
            content_type=response.headers.get("content-type"),
            origin=url,
        )


def connector(context: ConnectorContext) -> CapPoller:
    return CapPoller(context)
