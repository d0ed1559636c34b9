"""The Hub's shared ``prepare`` step (lanes): once per event for all subscribers, in order, errors delivered."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import pytest
from broadcaster._base import Event as BroadcastEvent

from livecast.bus import create_bus
from livecast.bus.hub import GAP_MESSAGE
from livecast.domain.bus import Delivery, Gap, SubscriberTooSlow
from livecast.domain.events import Event, StreamStatusChanged


def status(n: int) -> StreamStatusChanged:
    return StreamStatusChanged(
        stream_id="s", owner_id="u", status="LIVE", previous="PREPARING", reason=f"#{n}", at=f"t{n}"
    )


async def test_prepare_runs_once_per_event_for_all_subscribers_in_order() -> None:
    calls: list[str] = []

    async def prepare(event: Event) -> tuple[str, int]:
        assert isinstance(event, StreamStatusChanged)
        calls.append(event.reason)
        await asyncio.sleep(0.01 if event.reason == "#0" else 0)  # a slow first read does not reorder
        return event.reason, len(calls)

    bus = create_bus("memory://")
    await bus.connect()
    try:
        async with AsyncExitStack() as stack:
            subs = [await stack.enter_async_context(bus.subscribe("c", prepare=prepare)) for _ in range(200)]
            plain = await stack.enter_async_context(bus.subscribe("c"))
            assert bus.subscriber_count("c") == 201 and bus.lane_count == 1
            for n in range(5):
                await bus.publish(["c"], status(n))
            for sub in subs:
                got = [await asyncio.wait_for(anext(sub), 5) for _ in range(5)]
                assert [reason for reason, _ in got] == [f"#{n}" for n in range(5)]
            assert calls == [f"#{n}" for n in range(5)]  # 5 reads, not 1,000
            assert [(await anext(plain)).reason for _ in range(5)] == [f"#{n}" for n in range(5)]  # type: ignore[attr-defined]
            await bus.publish(["c"], status(9))
            got = [await asyncio.wait_for(anext(sub), 5) for sub in subs]
            assert all(item is got[0] for item in got) and len(calls) == 6  # one object, shared
        assert bus.channel_count == 0 and bus.lane_count == 0 and bus.backend_channel_count == 0
    finally:
        await bus.disconnect()


async def test_a_failing_prepare_ends_those_subscriptions_with_its_error() -> None:
    async def prepare(event: Event) -> object:
        raise ConnectionError("database down")

    bus = create_bus("memory://")
    await bus.connect()
    try:
        async with (
            bus.subscribe("c", prepare=prepare) as a,
            bus.subscribe("c", prepare=prepare) as b,
            bus.subscribe("c") as plain,
        ):
            await bus.publish(["c"], status(1))
            for sub in (a, b):
                with pytest.raises(ConnectionError):
                    await asyncio.wait_for(anext(sub), 5)
            assert (await asyncio.wait_for(anext(plain), 5)).reason == "#1"  # type: ignore[attr-defined]
    finally:
        await bus.disconnect()


async def test_gauge_lane_keeps_the_latest_and_gaps_pass_through() -> None:
    async def prepare(event: Event) -> str:
        return event.reason  # type: ignore[attr-defined]

    bus = create_bus("memory://")
    await bus.connect()
    try:
        async with (
            bus.subscribe("c", delivery=Delivery.GAUGE, prepare=prepare) as gauge,
            bus.subscribe("c", prepare=prepare) as lossless,
        ):
            for n in range(3):
                await bus.publish(["c"], status(n))
            await asyncio.sleep(0.05)
            assert await asyncio.wait_for(anext(gauge), 5) == "#2"
            assert [await asyncio.wait_for(anext(lossless), 5) for _ in range(3)] == ["#0", "#1", "#2"]
            bus._backend._published.put_nowait(BroadcastEvent("c", GAP_MESSAGE))  # type: ignore[attr-defined]  # as after a reconnect
            assert await asyncio.wait_for(anext(lossless), 5) == Gap("c")
    finally:
        await bus.disconnect()


async def test_a_lane_that_falls_behind_ends_its_subscribers_and_serves_new_ones() -> None:
    gate = asyncio.Event()

    async def prepare(event: Event) -> str:
        await gate.wait()  # a stuck database read
        return event.reason  # type: ignore[attr-defined]

    bus = create_bus("memory://", lossless_queue_size=10)
    await bus.connect()
    try:
        async with bus.subscribe("c", prepare=prepare) as early:
            for n in range(13):
                await bus.publish(["c"], status(n))
            with pytest.raises(SubscriberTooSlow):
                while True:
                    await asyncio.wait_for(anext(early), 5)
            gate.set()
            async with bus.subscribe("c", prepare=prepare) as late:
                await asyncio.sleep(0.05)
                await bus.publish(["c"], status(99))
                got = [await asyncio.wait_for(anext(late), 5) for _ in range(1)]
                while got[-1] != "#99":
                    got.append(await asyncio.wait_for(anext(late), 5))
                assert got[-1] == "#99"
        assert bus.lane_count == 0
    finally:
        await bus.disconnect()
