"""Outbound webhooks: a real HTTP receiver on loopback gets signed deliveries, retried until it
answers, and what never gets through is dead-lettered."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

from factories import raw_event
from safecity.adapters.configuration import load_instances
from safecity.adapters.webhook_out.signing import verify
from safecity.core.errors import InvalidInput
from safecity.core.identity import Principal, Purpose, Role
from safecity.runtime import Runtime, build_runtime
from safecity.settings import Settings

SECRET = "a-shared-secret-of-at-least-32-characters"
FEEDS = Principal("feeds", "city", Role.INTEGRATOR, Purpose.SYSTEM_OPERATIONS)


class Receiver:
    """An HTTP endpoint that fails its first ``failures`` requests, then accepts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                ok = len(receiver.requests) > receiver.failures
                self.send_response(204 if ok else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    r = Receiver(getattr(request, "param", 0))
    yield r
    r.close()


def runtime_for(tmp_path: Path, url: str, **extra: object) -> Runtime:
    settings = Settings(
        adapters=[
            {
                "type": "webhook_out",
                "name": "rescue-cad",
                "url": url,
                "secret": SECRET,
                "backoff_initial_s": 0.01,
                "backoff_max_s": 0.05,
                **extra,
            }
        ]
    )
    settings.store.path = tmp_path / "w.db"
    return build_runtime(settings)


async def ingest_fire_and_wait(runtime: Runtime, until: object) -> None:
    await runtime.start()
    try:
        await runtime.ingest.ingest_objects([raw_event(at=_now())], principal=FEEDS, channel="test")
        # Polls: the receiver runs in another thread, with nothing to await on.
        async with asyncio.timeout(10):
            while not until():  # type: ignore[operator]  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    finally:
        await runtime.stop()


def _now() -> object:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.mark.parametrize("receiver", [2], indirect=True)
def test_delivery_is_signed_and_retried_until_accepted(tmp_path: Path, receiver: Receiver) -> None:
    runtime = runtime_for(tmp_path, receiver.url)
    asyncio.run(ingest_fire_and_wait(runtime, lambda: len(receiver.requests) >= 3))
    # The opening is the first delivery; later changes (the procedure attaching) follow it.
    first = receiver.requests[0][0]["X-Safecity-Delivery"]
    attempts = [(h, b) for h, b in receiver.requests if h["X-Safecity-Delivery"] == first]
    assert len(attempts) == 3
    headers, body = attempts[-1]
    assert headers["X-Safecity-Attempt"] == "3"
    assert verify(SECRET.encode(), body, headers["X-Safecity-Signature"], now=int(time.time()))
    assert not verify(b"wrong-secret", body, headers["X-Safecity-Signature"], now=int(time.time()))
    message = orjson.loads(body)
    assert message["subject"] == "incidents.opened"
    assert message["data"]["incident"]["type"] == "fire"
    # All three attempts carried the same delivery id, so a receiver can de-duplicate.
    assert [h["X-Safecity-Attempt"] for h, _ in attempts] == ["1", "2", "3"]


@pytest.mark.parametrize("receiver", [1000], indirect=True)
def test_undeliverable_messages_are_dead_lettered(tmp_path: Path, receiver: Receiver) -> None:
    runtime = runtime_for(tmp_path, receiver.url, max_attempts=3)
    asyncio.run(ingest_fire_and_wait(runtime, lambda: len(receiver.requests) >= 3))
    check = build_runtime(runtime.settings)
    letters = check.store.list_dead_letters()
    check.store.close()
    first = receiver.requests[0][0]["X-Safecity-Delivery"]
    assert sum(h["X-Safecity-Delivery"] == first for h, _ in receiver.requests) == 3
    # The opening failed three times; what was still queued at the stop is dead-lettered too,
    # so nothing accepted is lost.
    opened = next(d for d in letters if orjson.loads(d.raw)["subject"] == "incidents.opened")
    assert opened.channel == "webhook_out:rescue-cad"
    assert "after 3 attempt(s): HTTP 503" in opened.errors[0]["reason"]
    assert all(d.channel == "webhook_out:rescue-cad" for d in letters)


def test_settings_are_checked_with_their_path() -> None:
    with pytest.raises(InvalidInput) as exc:
        load_instances(
            [
                {
                    "type": "webhook_out",
                    "url": "ftp://x",
                    "secret": "short",
                    "subjects": ["incidents.>.x"],
                }
            ]
        )
    fields = {e.field for e in exc.value.errors}
    assert {"adapters[0].url", "adapters[0].secret", "adapters[0].subjects"} <= fields
