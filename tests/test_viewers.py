"""Concurrent viewers (CCV) on the domain, with a simulated clock, against both viewer stores (memory, and
Redis with the ``redis_url`` fixture): tabs are not viewers, paused / ended / never-started / long-rebuffering
sessions do not count, a silent one stops counting after the 15 s window, and session time is accounted."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from livecast.domain.viewer_store import MemoryViewerStore, ViewerStore
from livecast.domain.viewer_store_redis import PREFIX, RedisViewerStore
from livecast.domain.viewers import Beacon, Viewers


class Clock:
    """Simulated Unix time (seconds), moved by the test."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[ViewerStore]:
    if request.param == "memory":
        yield MemoryViewerStore()
        return
    url = request.getfixturevalue("redis_url")
    redis_store = RedisViewerStore(url)
    try:
        yield redis_store
    finally:
        await redis_store.close()


class Player:
    """One tab of one viewer: sends beacons for ``stream`` through ``viewers`` (the domain service)."""

    def __init__(self, viewers: Viewers, stream: str, viewer: str, session: str | None = None) -> None:
        self.viewers, self.stream, self.viewer = viewers, stream, viewer
        self.session = session or uuid.uuid4().hex

    async def send(self, state: str, **extra: int) -> bool:
        beacon = Beacon(streamId=self.stream, viewerId=self.viewer, sessionId=self.session, state=state, **extra)
        return await self.viewers.store.record(self.stream, beacon.data(), now=self.viewers.now_ms(), window_ms=self.viewers.window_ms)


def stream_id() -> str:
    return str(uuid.uuid4())


async def test_three_viewers_in_five_tabs_pause_silence_and_end(store: ViewerStore) -> None:
    clock = Clock()
    viewers = Viewers(store, clock=clock)
    sid = stream_id()
    a1, a2 = Player(viewers, sid, "viewer-a"), Player(viewers, sid, "viewer-a")
    b1, b2 = Player(viewers, sid, "viewer-b"), Player(viewers, sid, "viewer-b")
    c1 = Player(viewers, sid, "viewer-c")
    tabs = [a1, a2, b1, b2, c1]
    for tab in tabs:
        assert await tab.send("playing")
    assert await viewers.concurrent(sid) == 3, "5 tabs, 3 viewers"

    clock.advance(5)
    assert not await a1.send("paused")
    await a2.send("playing")
    assert await viewers.concurrent(sid) == 3, "viewer a still plays in another tab"
    await b1.send("paused")
    await b2.send("paused")
    await c1.send("playing")
    assert await viewers.concurrent(sid) == 2, "b paused in every tab: gone at the next count"

    # c goes silent after its beacon at t=5; a keeps playing.
    for _ in range(2):
        clock.advance(5)
        await a2.send("playing")
    clock.advance(4.999)  # t = 19.999: c's last beacon is 14.999 s old
    assert await viewers.concurrent(sid) == 2
    clock.advance(0.002)  # 15.001 s
    assert await viewers.concurrent(sid) == 1, "a silent viewer is excluded after 15 s"

    assert not await a2.send("ended")
    assert await viewers.concurrent(sid) == 0
    assert await viewers.concurrent(stream_id()) == 0, "another stream"


async def test_rebuffering_counts_for_five_minutes_and_never_started_players_do_not(store: ViewerStore) -> None:
    clock = Clock()
    viewers = Viewers(store, clock=clock)
    sid = stream_id()
    rebuffering, loading, paused = Player(viewers, sid, "d"), Player(viewers, sid, "e"), Player(viewers, sid, "f")
    assert await rebuffering.send("playing")
    assert not await loading.send("buffering"), "has not started playing"
    assert not await paused.send("paused")
    assert await viewers.concurrent(sid) == 1

    clock.advance(5)
    start = clock.now
    while clock.now - start < 360:  # six minutes of rebuffering, a beacon every 5 s
        counts = await rebuffering.send("buffering")
        await loading.send("buffering")
        await paused.send("paused")
        expected = 1 if clock.now - start < 300 else 0
        assert counts == bool(expected), f"at {clock.now - start:.0f} s of rebuffering"
        assert await viewers.concurrent(sid) == expected, f"at {clock.now - start:.0f} s of rebuffering"
        clock.advance(5)
    assert await viewers.concurrent(sid) == 0, "a 6-minute rebuffer is excluded"
    assert await rebuffering.send("playing"), "playing again counts again"
    assert await viewers.concurrent(sid) == 1


async def test_session_time_is_accounted_between_beacons(store: ViewerStore) -> None:
    clock = Clock()
    viewers = Viewers(store, clock=clock)
    sid = stream_id()
    tab = Player(viewers, sid, "g", "session-1")
    script = [("playing", {}), ("playing", {}), ("buffering", {}), ("buffering", {"bufferingMs": 4000}),
              ("playing", {"bitrate": 2_500_000}), ("paused", {"errors": 2}), ("playing", {})]  # fmt: skip
    for state, extra in script:
        await tab.send(state, **extra)
        clock.advance(5)
    clock.advance(40)  # silent: the gap counts for at most the 15 s window
    await tab.send("ended")

    taken = await viewers.take_sessions(sid, limit=10)
    assert len(taken) == 1 and await viewers.take_sessions(sid, limit=10) == [], "each change is taken once"
    s = taken[0]
    assert (s.viewer_id, s.session_id, s.state) == ("g", "session-1", "ended")
    assert s.watch_ms == 5_000 + 5_000 + 5_000 + 15_000, "playing gaps (the last one capped at 15 s)"
    assert s.buffering_ms == 10_000, "max(measured 10 s, reported 4 s)"
    assert (s.errors, s.bitrate, s.played) == (2, 2_500_000, True)
    assert s.started_at == 1_800_000_000_000 and s.last_seen == s.started_at + 35_000 + 40_000

    await viewers.put_back(sid, taken)
    assert [t.session_id for t in await viewers.take_sessions(sid, limit=10)] == ["session-1"], "put back after a failed write"


async def test_redis_keys_expire_and_share_one_hash_slot(redis_url: str) -> None:
    store = RedisViewerStore(redis_url)
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        sid = stream_id()
        viewers = Viewers(store, clock=Clock())
        await Player(viewers, sid, "h", "s1").send("playing")
        keys = sorted([key async for key in redis.scan_iter(match=f"{PREFIX}:{{{sid}}}:*")])
        assert keys == [f"{PREFIX}:{{{sid}}}:{suffix}" for suffix in ("active", "dirty", "s:h|s1")]
        for key in keys:
            assert 0 < await redis.pttl(key) <= 3600 * 1000
    finally:
        await redis.aclose()
        await store.close()
