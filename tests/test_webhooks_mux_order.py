"""Mux webhooks arriving out of order and applied as they arrive (embedded workers on, real HTTP on the Mux
emulator): whatever the arrival order, a stream ends in the state that provider-time order gives, late events
are recorded as stale and skipped events are not applied (nothing is published for them).

The rules under test are in :mod:`livecast.domain.webhooks` (stale events, skipped events pending again when an
older one is applied late, ``idle`` final). Stored-then-drained shuffles: ``tests/test_webhooks_mux.py``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from livecast.domain import streams, webhooks
from livecast.domain.events import StreamStatusChanged, stream_channel
from livecast.settings import Settings
from tests.helpers.mux_webhooks import SEQUENCE, MuxSetup, mux_setup, sequence, settled, status_of
from tests.helpers.webhooks import T0, inbox, mux_event

IDLE = SEQUENCE.index("idle")
ORDERS = [
    [IDLE, 0, 1, 2, 3, 4],  # idle first, then the rest in order: the reported defect (stuck LIVE)
    [IDLE, 4, 3, 2, 1, 0],  # newest first throughout
    [3, IDLE, 4, 1, 0, 2],  # disconnected first (illegal while SCHEDULED), then idle
    [2, IDLE, 0, 1, 3, 4],  # active, idle, then all the older ones
    *(random.Random(seed).sample(range(len(SEQUENCE)), len(SEQUENCE)) for seed in (11, 12, 13, 14)),
]


@pytest.fixture
async def mux(settings: Settings) -> AsyncIterator[MuxSetup]:
    async with mux_setup(settings) as setup:  # embedded workers: each delivery is applied as it arrives
        yield setup


async def _statuses_published(mux: MuxSetup, stream_id: str, deliver: object) -> list[str]:
    """Run ``deliver()`` and return the statuses the stream's channel published meanwhile."""
    published: list[str] = []
    async with mux.server.runtime.deps.bus.subscribe(stream_channel(stream_id)) as events:

        async def collect() -> None:
            async for event in events:
                if isinstance(event, StreamStatusChanged):
                    published.append(event.status)

        collector = asyncio.create_task(collect())
        try:
            await deliver()  # type: ignore[operator]
            await asyncio.sleep(0.3)  # let the last publication through
        finally:
            collector.cancel()
    return published


@pytest.mark.parametrize("order", ORDERS, ids=["-".join(SEQUENCE[i][:4] for i in o) for o in ORDERS])
async def test_any_arrival_order_applied_as_it_arrives_ends_like_provider_time_order(
    mux: MuxSetup, order: list[int]
) -> None:
    stream_id, mux_id = await mux.stream()
    events = sequence(mux_id)
    names = {events[i]["id"]: f"{SEQUENCE[i]}@{i}" for i in range(len(SEQUENCE))}

    async def deliver_all() -> None:
        for n, i in enumerate(order, start=1):
            response = await mux.deliver(events[i])
            assert response.status_code == 200 and response.json()["status"] == "PENDING", response.text
            await settled(stream_id, n)  # applied (or recorded) before the next one arrives
            if n == 1 and i == IDLE:  # idle while SCHEDULED: recorded, not applied (yet)
                [row] = await inbox(stream_id=stream_id)
                assert row.status.value == "SKIPPED" and "SCHEDULED" in row.outcome, row.outcome
                assert await status_of(stream_id) == "SCHEDULED"

    published = await _statuses_published(mux, stream_id, deliver_all)
    assert await status_of(stream_id) == "ENDED"
    rows = await inbox(stream_id=stream_id)
    by_name = {names[r.event_id]: r for r in rows}
    assert by_name[f"idle@{IDLE}"].status.value == "APPLIED"
    applied = sorted((r for r in rows if r.status.value == "APPLIED"), key=lambda r: r.applied_at)
    assert [r.occurred_at for r in applied] == sorted(r.occurred_at for r in applied)  # in provider time
    assert applied[-1].type == "video.live_stream.idle"
    # every status change came from an applied event, one each; skipped events published nothing
    assert published == [r.outcome.rsplit(" → ", 1)[-1] for r in applied], (
        published,
        [(names[r.event_id], r.outcome) for r in rows],
    )
    assert published[-1] == "ENDED" and published.count("ENDED") == 1
    for r in rows:
        if r.status.value == "SKIPPED":
            assert r.applied_at is None and r.outcome.startswith(("stale:", "not applied:")), (
                names[r.event_id],
                r.outcome,
            )
    late = [
        r
        for r in rows
        if r.status.value == "SKIPPED" and r.occurred_at < applied[-1].occurred_at and r.outcome.startswith("stale:")
    ]
    if order[0] == IDLE:  # everything but one older event arrived after the stream had ended: all stale
        assert len(late) == len(SEQUENCE) - 2, [(names[r.event_id], r.outcome) for r in rows]
    ended = await streams.existing_stream(stream_id)
    assert ended.ended_at is not None


@pytest.mark.parametrize(
    "order", [["c2", "a2", "idle"], ["idle", "c2", "a2"]], ids=["second-broadcast-first", "idle-first"]
)
async def test_a_second_broadcast_arriving_before_the_first_ones_events_does_not_keep_the_stream(
    mux: MuxSetup, order: list[str]
) -> None:
    """In provider time the first broadcast's ``idle`` ends the stream and a second broadcast on the same Mux
    stream (a minute later) is refused. Delivered first, the second broadcast's ``connected``/``active`` apply
    (nothing older is known yet); the first broadcast's ``idle`` still ends the stream, whether it comes after
    them (a final event is never stale) or before them (skipped while ``SCHEDULED``, then pending again)."""
    stream_id, mux_id = await mux.stream()
    first = sequence(mux_id)
    kinds = {"idle": first[IDLE], **{
        f"{k[0]}2": mux_event(f"video.live_stream.{k}", mux_id, at=T0 + timedelta(seconds=60 + i))
        for i, k in enumerate(["connected", "active"])
    }}  # fmt: skip
    for n, name in enumerate(order, start=1):
        assert (await mux.deliver(kinds[name])).status_code == 200
        await settled(stream_id, n)
    assert await status_of(stream_id) == "ENDED"
    idle = next(r for r in await inbox(stream_id=stream_id) if r.event_id == first[IDLE]["id"])
    assert idle.status.value == "APPLIED" and idle.outcome.endswith("→ ENDED"), idle.outcome
    # the first broadcast's other events arrive last: stale or refused, the stream stays ENDED
    for n, payload in enumerate(first[:IDLE], start=len(order) + 1):
        assert (await mux.deliver(payload)).status_code == 200
        await settled(stream_id, n)
    rows = await inbox(stream_id=stream_id)
    assert all(r.status.value == "SKIPPED" for r in rows if r.event_id in {e["id"] for e in first[:IDLE]})
    assert await status_of(stream_id) == "ENDED"


async def test_skipped_events_pending_again_are_applied_by_a_drain_in_time_order(settings: Settings) -> None:
    """Without workers: ``idle`` stored and applied alone (skipped), then ``connected`` stored; one run applies
    ``connected`` and then ``idle`` again, in that order, and the stream ends."""
    async with mux_setup(settings, workers=False) as mux:
        stream_id, mux_id = await mux.stream()
        events = sequence(mux_id)
        deps, locks = mux.server.runtime.deps, webhooks.StreamLocks()
        assert (await mux.deliver(events[IDLE])).status_code == 200
        assert await webhooks.apply_stream(deps=deps, stream_id=stream_id, locks=locks) == 1
        assert await status_of(stream_id) == "SCHEDULED"
        assert (await mux.deliver(events[0])).status_code == 200
        assert await webhooks.apply_stream(deps=deps, stream_id=stream_id, locks=locks) == 2  # connected, idle again
        rows = await inbox(stream_id=stream_id)
        assert [(r.type.rsplit(".", 1)[-1], r.status.value, r.attempts) for r in rows] == [
            ("connected", "APPLIED", 1),
            ("idle", "APPLIED", 2),
        ]
        assert rows[0].applied_at < rows[1].applied_at and rows[1].outcome == "PREPARING → ENDED"
        assert await status_of(stream_id) == "ENDED"


async def test_many_arrival_orders_applied_one_by_one_all_end_like_provider_time_order(settings: Settings) -> None:
    """24 seeded arrival orders of the broadcast, each event applied (a run of the stream's job) right after it
    is stored: every stream ends ``ENDED`` with ``idle`` applied last and the applied events in provider time."""
    async with mux_setup(settings, workers=False) as mux:
        deps, locks = mux.server.runtime.deps, webhooks.StreamLocks()
        rng = random.Random(2026)
        for _ in range(24):
            stream_id, mux_id = await mux.stream()
            events = sequence(mux_id)
            for payload in rng.sample(events, len(events)):
                assert (await mux.deliver(payload)).status_code == 200
                assert await webhooks.apply_stream(deps=deps, stream_id=stream_id, locks=locks) >= 1
            assert await status_of(stream_id) == "ENDED"
            rows = await inbox(stream_id=stream_id)
            assert all(r.status.value in ("APPLIED", "SKIPPED") for r in rows)
            applied = sorted((r for r in rows if r.status.value == "APPLIED"), key=lambda r: r.applied_at)
            assert [r.occurred_at for r in applied] == sorted(r.occurred_at for r in applied)
            assert applied[-1].type == "video.live_stream.idle"
