"""Polling a CAP feed from a real HTTP server on loopback: alerts stored once, unchanged feeds
cost a 304, links inside the feed are never fetched."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from safecity.adapters.cap.adapter import CapPoller
from safecity.runtime import build_runtime
from safecity.settings import Settings
from support import INTEROP

ALERT = INTEROP / "cap" / "oasis-cap-1.2-spec-examples" / "Oasis_ThunderstormWarning.xml"


def feed() -> bytes:
    alert = ALERT.read_bytes().split(b"?>", 1)[1]
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<id>urn:test:feed</id><title>Warnings</title><updated>2003-06-17T21:57:00Z</updated>"
        b"<entry><id>urn:test:1</id><title>Thunderstorm</title><updated>2003-06-17T21:57:00Z"
        b'</updated><content type="text/xml">' + alert + b"</content></entry>"
        b"<entry><id>urn:test:2</id><title>Linked</title><updated>2003-06-17T21:57:00Z</updated>"
        b'<link href="http://127.0.0.1:9/never-fetched.cap"/></entry></feed>'
    )


class FeedServer:
    def __init__(self) -> None:
        self.paths: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.paths.append((self.path, self.headers.get("If-None-Match")))
                if self.headers.get("If-None-Match") == '"v1"':
                    self.send_response(304)
                    self.end_headers()
                    return
                body = feed()
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml")
                self.send_header("ETag", '"v1"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/alerts.atom"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.http.shutdown()
    server.http.server_close()


def test_a_polled_feed_is_stored_once_and_then_costs_a_304(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    settings = Settings(
        adapters=[
            {"type": "cap", "name": "nws", "poll": [{"url": feed_server.url, "interval_s": 3600}]}
        ]
    )
    settings.store.path = tmp_path / "p.db"
    settings.max_future_skew_s = 86_400.0 * 3650

    async def scenario() -> tuple[int, int, int]:
        runtime = build_runtime(settings)
        await runtime.start()
        try:
            (poller,) = [c for c in runtime.connectors if isinstance(c, CapPoller)]
            async with asyncio.timeout(10):
                while runtime.store.count_events() == 0:  # noqa: ASYNC110 - a thread serves
                    await asyncio.sleep(0.02)
            await poller.poll_once(poller._feeds[0])
            return runtime.store.count_events(), poller.fetched, poller.unchanged
        finally:
            await runtime.stop()

    stored, fetched, unchanged = asyncio.run(scenario())
    assert (stored, fetched, unchanged) == (1, 1, 1)
    # Only the configured URL was requested; the entry's link was noted, not fetched.
    assert [p for p, _ in feed_server.paths] == ["/alerts.atom", "/alerts.atom"]
    assert feed_server.paths[1][1] == '"v1"'
