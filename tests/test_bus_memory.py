"""Subscribing and unsubscribing leaves memory flat: 10,000 cycles after a 1,000-cycle warm-up must not grow
the process's traced Python memory by more than ``BOUND`` (a leak of 100 bytes per cycle would be 1 MB), and
every channel and subscriber is released.

Two levels: the Hub itself (``memory://``, many distinct channels, an event delivered in every cycle), and what
users hit: a real server and one websocket speaking ``graphql-transport-ws`` that subscribes to
``streamStatusChanged`` and completes, 10,000 times.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import websockets

from livecast.bus import create_bus
from livecast.domain.bus import Delivery
from livecast.domain.events import STATUS, VIEWERS, Event, StreamStatusChanged, ViewerCountUpdated, stream_channel
from livecast.settings import Settings
from tests.conftest import Server
from tests.helpers.client import create_stream

WARMUP = 1_000
CYCLES = 10_000
BOUND = 512 * 1024
"""Bytes of growth allowed over ``CYCLES`` (≈ 52 bytes per cycle): allocator and interpreter noise only."""
_snapshot: tracemalloc.Snapshot | None = None
_growth_sites = ""
"""The allocation sites that grew most during the last measurement (tracemalloc), for the failure message."""
STATUS_SUBSCRIPTION = "subscription($id: ID!) { streamStatusChanged(streamId: $id) { id status title } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test server, with its periodic jobs quiet: their (bounded) journal of runs grows with time, not cycles."""
    return settings.model_copy(update={"lifecycle_check_seconds": 3600.0, "schedule_check_seconds": 3600.0})


def rss() -> int:
    """Resident set size of this process in bytes (reported alongside, not asserted: it is too coarse)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096


async def measure(cycle: Callable[[int], Awaitable[None]]) -> tuple[int, int, float]:
    """Run ``WARMUP`` then ``CYCLES`` cycles; (traced bytes grown, RSS bytes grown, seconds) over the latter."""
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    try:
        for i in range(WARMUP):
            await cycle(i)
        gc.collect()
        global _snapshot
        _snapshot = tracemalloc.take_snapshot()
        before, rss_before, t0 = tracemalloc.get_traced_memory()[0], rss(), time.monotonic()
        for i in range(WARMUP, WARMUP + CYCLES):
            await cycle(i)
        elapsed = time.monotonic() - t0
        gc.collect()
        await asyncio.sleep(0)
        gc.collect()
        global _growth_sites
        after = tracemalloc.take_snapshot().compare_to(_snapshot, "lineno")
        _growth_sites = "\n".join(str(stat) for stat in after[:8])
        return tracemalloc.get_traced_memory()[0] - before, rss() - rss_before, elapsed
    finally:
        if started_here:
            tracemalloc.stop()


async def until(check: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Let the loop (the server runs in it) work until ``check()``. Sleeps briefly rather than spinning, so that
    the database's thread gets the GIL at once instead of after the 5 ms switch interval."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.0002)


def report(growth: int, rss_growth: int, elapsed: float) -> str:
    return (
        f"traced memory grew {growth / 1024:.1f} KiB ({growth / CYCLES:.1f} B/cycle, bound {BOUND // 1024} KiB) over "
        f"{CYCLES} cycles in {elapsed:.1f} s; RSS grew {rss_growth / 1024:.0f} KiB; where it grew most:\n{_growth_sites}"
    )


async def echo(event: Event) -> tuple[Event]:
    return (event,)


async def test_hub_subscribe_unsubscribe_cycles_leave_memory_flat() -> None:
    bus = create_bus("memory://")
    await bus.connect()
    try:

        async def cycle(i: int) -> None:
            stream_id = f"s{i}"
            gauge = i % 2 == 1
            channel = stream_channel(stream_id, VIEWERS if gauge else STATUS)
            delivery = Delivery.GAUGE if gauge else Delivery.LOSSLESS
            event = (
                ViewerCountUpdated(stream_id=stream_id, owner_id="u", count=i, peak=i, at="t")
                if gauge
                else StreamStatusChanged(stream_id=stream_id, owner_id="u", status="LIVE", previous="PREPARING", reason="", at="t")
            )  # fmt: skip
            shared = i % 3 == 0  # a third with a shared prepare step (a lane per channel)
            async with bus.subscribe(channel, delivery=delivery, prepare=echo if shared else None) as events:
                assert bus.subscriber_count(channel) == 1
                await bus.publish([channel], event)
                assert await asyncio.wait_for(anext(events), 5) == ((event,) if shared else event)

        growth, rss_growth, elapsed = await measure(cycle)
        assert bus.channel_count == 0
        assert bus.backend_channel_count == 0
        assert bus.lane_count == 0
        assert growth < BOUND, report(growth, rss_growth, elapsed)
    finally:
        await bus.disconnect()


async def test_websocket_subscribe_complete_cycles_leave_server_memory_flat(server: Server) -> None:
    token = await server.token("memory")
    stream = await create_stream(server.graphql_http, token, title="memory")
    channel = stream_channel(stream["id"], STATUS)
    bus = server.runtime.deps.bus
    channels_before = bus.channel_count
    backend_before = bus.backend_channel_count
    async with websockets.connect(server.graphql_ws, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        subscribe = {"type": "subscribe", "payload": {"query": STATUS_SUBSCRIPTION, "variables": {"id": stream["id"]}}}

        async def cycle(i: int) -> None:
            await ws.send(json.dumps({**subscribe, "id": str(i)}))
            await until(lambda: bus.subscriber_count(channel) == 1, f"subscription {i} to be registered")
            await ws.send(json.dumps({"type": "complete", "id": str(i)}))
            await until(lambda: bus.subscriber_count(channel) == 0, f"subscription {i} to be released")

        growth, rss_growth, elapsed = await measure(cycle)

        # The connection still works: a last subscription receives a real status change.
        await ws.send(json.dumps({**subscribe, "id": "last"}))
        await until(lambda: bus.subscriber_count(channel) == 1, "the last subscription")
        await bus.publish(
            [channel],
            StreamStatusChanged(stream_id=stream["id"], owner_id="u", status="CANCELLED", previous="SCHEDULED", reason="", at="t"),
        )  # fmt: skip
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert message["type"] == "next", message
        assert message["payload"]["data"]["streamStatusChanged"] == {
            "id": stream["id"],
            "status": "CANCELLED",
            "title": "memory",
        }
    await until(lambda: bus.subscriber_count(channel) == 0, "the socket's subscriptions to be released")
    assert bus.channel_count == channels_before
    assert bus.backend_channel_count == backend_before
    assert growth < BOUND, report(growth, rss_growth, elapsed)


async def test_websocket_deliveries_on_one_subscription_leave_server_memory_flat(server: Server) -> None:
    """10,000 events delivered on one long subscription (a viewer watching for hours) keep memory flat."""
    token = await server.token("memory")
    stream = await create_stream(server.graphql_http, token, title="memory")
    channel = stream_channel(stream["id"], STATUS)
    bus = server.runtime.deps.bus
    async with websockets.connect(server.graphql_ws, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        subscribe = {"query": STATUS_SUBSCRIPTION, "variables": {"id": stream["id"]}}
        await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": subscribe}))
        await until(lambda: bus.subscriber_count(channel) == 1, "the subscription to be registered")
        statuses = ("LIVE", "RECONNECTING")

        async def cycle(i: int) -> None:
            status = statuses[i % 2]
            event = StreamStatusChanged(
                stream_id=stream["id"], owner_id="u", status=status, previous="", reason="", at=f"t{i}"
            )
            await bus.publish([channel], event)
            message = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert (
                message["type"] == "next" and message["payload"]["data"]["streamStatusChanged"]["status"] == status
            ), message

        growth, rss_growth, elapsed = await measure(cycle)
    await until(lambda: bus.subscriber_count(channel) == 0, "the subscription to be released")
    assert growth < BOUND, report(growth, rss_growth, elapsed)
