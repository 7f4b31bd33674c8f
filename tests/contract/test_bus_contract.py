"""Bus contract: every backend delivers in order, at least once, to every matching subscriber."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

import pytest

from safecity.bus.memory import MemoryBus
from safecity.core.ports import BusMessage, EventBus

BACKENDS: dict[str, Callable[[], EventBus]] = {"memory": MemoryBus}


@pytest.fixture(params=sorted(BACKENDS))
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    backend = BACKENDS[request.param]()
    await backend.start()
    yield backend
    await backend.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Collector:
    def __init__(self, expected: int) -> None:
        self.messages: list[BusMessage] = []
        self.batches = 0
        self.expected = expected
        self.done = asyncio.Event()

    async def __call__(self, batch: Sequence[BusMessage]) -> None:
        self.batches += 1
        self.messages.extend(batch)
        if len(self.messages) >= self.expected:
            self.done.set()

    async def wait(self) -> None:
        await asyncio.wait_for(self.done.wait(), timeout=5)


def msg(subject: str, n: int) -> BusMessage:
    return BusMessage(subject=subject, data=str(n).encode())


pytestmark = pytest.mark.anyio


async def test_delivers_in_publish_order(bus: EventBus) -> None:
    got = Collector(500)
    await bus.subscribe("events.>", got)
    await bus.publish([msg("events.camera.motion", i) for i in range(500)])
    await got.wait()
    assert [int(m.data) for m in got.messages] == list(range(500))


async def test_wildcards_follow_nats_rules(bus: EventBus) -> None:
    star = Collector(1)
    tail = Collector(2)
    exact = Collector(1)
    await bus.subscribe("events.*.motion", star)
    await bus.subscribe("events.camera.>", tail)
    await bus.subscribe("events.lamp.fault", exact)
    await bus.publish(
        [
            msg("events.camera.motion", 1),
            msg("events.camera.fire_smoke", 2),
            msg("events.lamp.fault", 3),
        ]
    )
    await asyncio.gather(star.wait(), tail.wait(), exact.wait())
    await asyncio.sleep(0.05)
    assert [int(m.data) for m in star.messages] == [1]
    assert [int(m.data) for m in tail.messages] == [1, 2]
    assert [int(m.data) for m in exact.messages] == [3]


async def test_every_subscriber_gets_every_message(bus: EventBus) -> None:
    a, b = Collector(10), Collector(10)
    await bus.subscribe("incidents.>", a)
    await bus.subscribe("incidents.>", b)
    await bus.publish([msg("incidents.opened", i) for i in range(10)])
    await asyncio.gather(a.wait(), b.wait())
    assert len(a.messages) == len(b.messages) == 10


async def test_failed_handler_gets_the_batch_again(bus: EventBus) -> None:
    seen: list[int] = []
    failures = 0
    done = asyncio.Event()

    async def flaky(batch: Sequence[BusMessage]) -> None:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise RuntimeError("transient")
        seen.extend(int(m.data) for m in batch)
        done.set()

    await bus.subscribe("events.>", flaky, max_deliver=5)
    await bus.publish([msg("events.x", 1)])
    await asyncio.wait_for(done.wait(), timeout=5)
    assert seen == [1]
    assert failures == 2


async def test_batches_are_bounded(bus: EventBus) -> None:
    got = Collector(1000)
    await bus.subscribe("events.>", got, max_batch=100)
    await bus.publish([msg("events.x", i) for i in range(1000)])
    await got.wait()
    assert got.batches >= 10


async def test_stopped_subscription_receives_nothing(bus: EventBus) -> None:
    got = Collector(1)
    sub = await bus.subscribe("events.>", got)
    await sub.stop()
    await bus.publish([msg("events.x", 1)])
    await asyncio.sleep(0.1)
    assert got.messages == []


@pytest.mark.parametrize("subject", ["", "events..x", "events.*", "events.>.x", "has space"])
async def test_invalid_subjects_are_refused_on_publish(bus: EventBus, subject: str) -> None:
    with pytest.raises(ValueError, match="invalid subject"):
        await bus.publish([BusMessage(subject=subject, data=b"")])


async def test_linger_gathers_a_trickle_into_one_batch(bus: EventBus) -> None:
    got = Collector(5)
    await bus.subscribe("events.>", got, linger_s=0.2)
    for i in range(5):
        await bus.publish([msg("events.x", i)])
        await asyncio.sleep(0.01)
    await got.wait()
    assert got.batches == 1
    assert [int(m.data) for m in got.messages] == list(range(5))


async def test_idle_waits_for_handlers_and_what_they_publish(bus: EventBus) -> None:
    seen: list[str] = []

    async def first(batch: Sequence[BusMessage]) -> None:
        await asyncio.sleep(0.02)
        seen.extend(m.subject for m in batch)
        await bus.publish([msg("incidents.opened", 1)])

    async def second(batch: Sequence[BusMessage]) -> None:
        await asyncio.sleep(0.02)
        seen.extend(m.subject for m in batch)

    await bus.subscribe("events.>", first)
    await bus.subscribe("incidents.>", second)
    await bus.publish([msg("events.camera.motion", 0)])
    assert await bus.idle(5.0)
    assert seen == ["events.camera.motion", "incidents.opened"]
