"""Every lifecycle transition and refusal, on the domain, with the events it publishes."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta

import pytest

from livecast.domain import encoder, lifecycle, streams
from livecast.domain.auth import Principal, ensure_user
from livecast.domain.deps import Deps
from livecast.domain.errors import Forbidden, InvalidState, NotFound, Unauthenticated
from livecast.domain.events import LIVE_CHANNEL, StreamStatusChanged, owner_channel, stream_channel
from livecast.domain.models import Stream, StreamStatus
from livecast.domain.validation import StreamFields

S = StreamStatus
EXPECTED = {
    (S.SCHEDULED, S.PREPARING), (S.SCHEDULED, S.LIVE), (S.SCHEDULED, S.CANCELLED),
    (S.PREPARING, S.LIVE), (S.PREPARING, S.RECONNECTING), (S.PREPARING, S.ENDED),
    (S.LIVE, S.RECONNECTING), (S.LIVE, S.ENDED),
    (S.RECONNECTING, S.LIVE), (S.RECONNECTING, S.ENDED),
    (S.ENDED, S.ARCHIVED),
}  # fmt: skip


async def owner(name: str = "owner") -> Principal:
    user = await ensure_user(name=name, roles=[])
    return Principal(user_id=str(user.id), name=user.name, roles=frozenset())


async def new_stream(deps: Deps, status: StreamStatus = S.SCHEDULED, **fields: object) -> Stream:
    actor = await owner()
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="t", **fields))
    if status is not S.SCHEDULED:
        await Stream.filter(id=stream.id).update(status=status)
        stream.status = status
    return stream


def test_transition_table_is_exactly_the_documented_one() -> None:
    allowed = {(a, b) for a, b in itertools.product(S, S) if lifecycle.can_move(a, b)}
    assert allowed == EXPECTED


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)), ids=lambda s: s.value)
async def test_every_transition_applies_or_is_refused(deps: Deps, current: StreamStatus, target: StreamStatus) -> None:
    stream = await new_stream(deps, current)
    async with deps.bus.subscribe(stream_channel(str(stream.id))) as events:
        if (current, target) in EXPECTED:
            moved = await lifecycle.transition(bus=deps.bus, stream_id=str(stream.id), to=target, reason="test")
            assert moved.status is target
            event = await asyncio.wait_for(anext(events), 5)
            assert isinstance(event, StreamStatusChanged)
            assert (event.previous, event.status, event.reason) == (current.value, target.value, "test")
        else:
            with pytest.raises(InvalidState) as refused:
                await lifecycle.transition(bus=deps.bus, stream_id=str(stream.id), to=target, reason="test")
            assert refused.value.current_status == current.value
    assert (await Stream.get(id=stream.id)).status is (target if (current, target) in EXPECTED else current)


async def test_timestamps_and_channels(deps: Deps) -> None:
    stream = await new_stream(deps)
    sid = str(stream.id)
    async with (
        deps.bus.subscribe(owner_channel(str(stream.owner_id))) as mine,
        deps.bus.subscribe(LIVE_CHANNEL) as live,
    ):
        await encoder.encoder_connected(deps=deps, stream_id=sid)
        await encoder.media_ready(deps=deps, stream_id=sid)
        first_live = (await Stream.get(id=sid)).started_at
        assert first_live is not None
        await encoder.encoder_disconnected(deps=deps, stream_id=sid)
        await encoder.media_ready(deps=deps, stream_id=sid)
        assert (await Stream.get(id=sid)).started_at == first_live, "started_at is the first time it went live"
        await streams.end_stream(deps=deps, actor=await owner(), stream_id=sid)
        owner_events = [(await asyncio.wait_for(anext(mine), 5)).status for _ in range(5)]
        live_events = [(await asyncio.wait_for(anext(live), 5)).status for _ in range(3)]
    assert owner_events == ["PREPARING", "LIVE", "RECONNECTING", "LIVE", "ENDED"]
    assert live_events == ["LIVE", "LIVE", "ENDED"]
    assert (await Stream.get(id=sid)).ended_at is not None


async def test_zero_reconnect_window_ends_at_disconnect(deps: Deps) -> None:
    stream = await new_stream(deps, S.LIVE, reconnect_window=0)
    ended = await encoder.encoder_disconnected(deps=deps, stream_id=str(stream.id))
    assert ended.status is S.ENDED


async def test_reconnect_expiry_only_ends_a_reconnecting_stream(deps: Deps) -> None:
    stream = await new_stream(deps, S.LIVE)
    with pytest.raises(InvalidState):
        await encoder.reconnect_window_expired(deps=deps, stream_id=str(stream.id))
    assert (await Stream.get(id=stream.id)).status is S.LIVE


async def test_concurrent_moves_apply_once(deps: Deps) -> None:
    stream = await new_stream(deps, S.LIVE)
    results = await asyncio.gather(
        *(lifecycle.transition(bus=deps.bus, stream_id=str(stream.id), to=S.ENDED, reason="race") for _ in range(5)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, Stream) for r in results) == 1
    assert all(isinstance(r, InvalidState) for r in results if not isinstance(r, Stream))


async def test_publish_authorization(deps: Deps) -> None:
    stream = await new_stream(deps)
    assert (await encoder.authorize_publish(stream_key=stream.stream_key)).id == stream.id
    with pytest.raises(NotFound):
        await encoder.authorize_publish(stream_key=stream.stream_key + "x")
    for over in (S.ENDED, S.CANCELLED, S.ARCHIVED):
        await Stream.filter(id=stream.id).update(status=over)
        with pytest.raises(InvalidState):
            await encoder.authorize_publish(stream_key=stream.stream_key)


async def test_max_continuous_duration_ends_running_streams(deps: Deps) -> None:
    long = await new_stream(deps, max_continuous_duration=60)
    short = await new_stream(deps, max_continuous_duration=3600)
    for s in (long, short):
        await encoder.encoder_connected(deps=deps, stream_id=str(s.id))
        await encoder.media_ready(deps=deps, stream_id=str(s.id))
    later = datetime.now(UTC) + timedelta(seconds=61)
    assert await encoder.end_streams_over_max_duration(deps=deps, now=later) == [str(long.id)]
    assert (await Stream.get(id=long.id)).status is S.ENDED
    assert (await Stream.get(id=short.id)).status is S.LIVE


async def test_owner_only_commands(deps: Deps) -> None:
    stream = await new_stream(deps)
    intruder = await owner("intruder")
    admin_user = await ensure_user(name="root", roles=["admin"])
    admin = Principal(user_id=str(admin_user.id), name="root", roles=frozenset({"admin"}))
    for command in (streams.end_stream, streams.cancel_stream, streams.reset_stream_key, streams.delete_stream):
        with pytest.raises(Forbidden):
            await command(deps=deps, actor=intruder, stream_id=str(stream.id))
        with pytest.raises(Unauthenticated):
            await command(deps=deps, actor=None, stream_id=str(stream.id))
    old_key = stream.stream_key
    reset = await streams.reset_stream_key(deps=deps, actor=admin, stream_id=str(stream.id))
    assert reset.stream_key != old_key and len(reset.stream_key) >= 32
    with pytest.raises(NotFound):
        await encoder.authorize_publish(stream_key=old_key)
    cancelled = await streams.cancel_stream(deps=deps, actor=admin, stream_id=str(stream.id))
    assert cancelled.status is S.CANCELLED
