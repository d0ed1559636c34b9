"""A busy event loop is not a Redis outage.

With 10,000 subscribers one event keeps the loop busy for about a second (and a full garbage collection of such
a heap for longer). The Redis reader must not take the reads it could not do meanwhile for a dead Redis: that
would reconnect and end every lossless subscription with EVENTS_MISSED, and all of them would resubscribe.
"""

from __future__ import annotations

import asyncio
import time

from livecast.bus import create_bus
from livecast.bus.redis_backend import ResilientRedisBackend
from livecast.domain.events import StreamStatusChanged

PING = 0.3


async def test_a_busy_event_loop_is_not_taken_for_a_redis_outage(redis_url: str) -> None:
    bus = create_bus(redis_url, ping_interval=PING)
    backend = bus._backend
    assert isinstance(backend, ResilientRedisBackend)
    await bus.connect()
    try:
        async with bus.subscribe("livecast-test.busy-loop") as items:
            await asyncio.sleep(3 * PING)
            for _ in range(8):
                time.sleep(4 * PING)  # noqa: ASYNC251 - the loop is busy (not awaiting) for more than two ping intervals
                await asyncio.sleep(PING)
            assert backend.reconnects == 0
            event = StreamStatusChanged(
                stream_id="s", owner_id="u", status="LIVE", previous="PREPARING", reason="", at="t"
            )
            await bus.publish(["livecast-test.busy-loop"], event)
            assert await asyncio.wait_for(anext(items), 5) == event  # not a Gap
    finally:
        await bus.disconnect()


async def test_a_quiet_channel_is_not_taken_for_a_redis_outage(redis_url: str) -> None:
    """Nothing published for many ping intervals: Redis answers the PINGs, so no reconnect, no Gap."""
    bus = create_bus(redis_url, ping_interval=PING)
    backend = bus._backend
    assert isinstance(backend, ResilientRedisBackend)
    await bus.connect()
    try:
        async with bus.subscribe("livecast-test.quiet") as items:
            await asyncio.sleep(12 * PING)
            assert backend.reconnects == 0
            event = StreamStatusChanged(
                stream_id="s", owner_id="u", status="LIVE", previous="PREPARING", reason="", at="t"
            )
            await bus.publish(["livecast-test.quiet"], event)
            assert await asyncio.wait_for(anext(items), 5) == event  # not a Gap
    finally:
        await bus.disconnect()
