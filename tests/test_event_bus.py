"""The EventBus over both backends: memory:// always, redis:// against the real Redis (the ``redis_url``
fixture: required in CI, skipped on a developer machine without Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from livecast.bus import Hub, create_bus
from livecast.bus.redis_backend import ResilientRedisBackend
from livecast.domain.events import StreamStatusChanged, decode_event, encode_event
from tests.helpers.processes import PrivateRedis


def event(n: int) -> StreamStatusChanged:
    return StreamStatusChanged(
        stream_id="s1", owner_id="u1", status="LIVE", previous="PREPARING", reason=f"#{n}", at="t"
    )


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Hub]:
    """A connected bus on each backend (Redis: the real one)."""
    url = "memory://" if request.param == "memory" else request.getfixturevalue("redis_url")
    hub = create_bus(url)
    await hub.connect()
    try:
        yield hub
    finally:
        await hub.disconnect()


async def _subscribed(bus: Hub) -> None:
    """Redis acknowledges SUBSCRIBE asynchronously."""
    await asyncio.sleep(0.2 if isinstance(bus._backend, ResilientRedisBackend) else 0)


async def test_publish_reaches_every_subscriber_of_the_channel_in_order(bus: Hub) -> None:
    async with bus.subscribe("stream.s1") as a, bus.subscribe("stream.s1") as b, bus.subscribe("stream.other") as c:
        await _subscribed(bus)
        for n in range(20):
            await bus.publish(["stream.s1"], event(n))
        for events in (a, b):
            got = [(await asyncio.wait_for(anext(events), 5)).reason for _ in range(20)]
            assert got == [f"#{n}" for n in range(20)]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(c), 0.3)


async def test_publish_many_keeps_the_order_across_channels(bus: Hub) -> None:
    async with bus.subscribe("stream.s1") as a, bus.subscribe("stream.s2") as b:
        await _subscribed(bus)
        await bus.publish_many(
            [(["stream.s1", "stream.s2"] if n % 3 == 0 else ["stream.s1"], event(n)) for n in range(30)]
        )
        got_a = [(await asyncio.wait_for(anext(a), 5)).reason for _ in range(30)]
        got_b = [(await asyncio.wait_for(anext(b), 5)).reason for _ in range(10)]
        assert got_a == [f"#{n}" for n in range(30)]
        assert got_b == [f"#{n}" for n in range(0, 30, 3)]


async def test_publish_many_during_a_redis_outage_loses_the_events_but_does_not_raise(
    private_redis: PrivateRedis,
) -> None:
    bus = create_bus(private_redis.url)
    await bus.connect()
    try:
        await private_redis.kill()
        await bus.publish_many([(["stream.s1"], event(n)) for n in range(5)])  # the caller's writes already happened
        assert bus._backend.publish_failures == 5  # type: ignore[attr-defined]
    finally:
        await bus.disconnect()


def test_event_codec_round_trip_and_garbage() -> None:
    assert decode_event(encode_event(event(1))) == event(1)
    assert decode_event("not json") is None
    assert decode_event('{"type": "Nope", "data": {}}') is None
