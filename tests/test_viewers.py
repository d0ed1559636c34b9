"""Concurrent viewers (CCV) on the domain, with a simulated clock, against both viewer stores (memory, and
Redis with the ``redis_url`` fixture): tabs are not viewers, paused / ended / never-started / long-rebuffering
sessions do not count, a silent one stops counting after the 15 s window, and session time is accounted.
The stores are bounded: a session keeps its first viewer, a stream holds at most its cap of sessions, the memory
store prunes on write, holds at most its total cap and forgets streams that are no longer live."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from livecast.domain.viewer_store import MemoryViewerStore, StoreFull, ViewerStore
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
    """One tab of one viewer: sends beacons for ``stream`` straight into the store of ``viewers`` (the store's
    rules; session tokens and stream status are checked before, in ``Viewers.record``)."""

    def __init__(self, viewers: Viewers, stream: str, viewer: str, session: str | None = None) -> None:
        self.viewers, self.stream, self.viewer = viewers, stream, viewer
        self.session = session or uuid.uuid4().hex

    async def send(self, state: str, **extra: int) -> bool:
        beacon = Beacon(
            streamId=self.stream, viewerId=self.viewer, sessionId=self.session, sessionToken="-", state=state, **extra
        )
        return await self.viewers.store.record(
            self.stream, beacon.data(), now=self.viewers.now_ms(), window_ms=self.viewers.window_ms
        )


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
    assert [t.session_id for t in await viewers.take_sessions(sid, limit=10)] == ["session-1"], (
        "put back after a failed write"
    )


async def test_redis_keys_expire_and_share_one_hash_slot(redis_url: str) -> None:
    store = RedisViewerStore(redis_url)
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        sid = stream_id()
        viewers = Viewers(store, clock=Clock())
        await Player(viewers, sid, "h", "s1").send("playing")
        keys = sorted([key async for key in redis.scan_iter(match=f"{PREFIX}:{{{sid}}}:*")])
        assert keys == [f"{PREFIX}:{{{sid}}}:{suffix}" for suffix in ("active", "dirty", "s:s1", "sessions")]
        for key in keys:
            assert 0 < await redis.pttl(key) <= 3600 * 1000
    finally:
        await redis.aclose()
        await store.close()


@pytest.fixture(params=["memory", "redis"])
async def make_store(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., ViewerStore]]:
    """Stores with the given caps (``max_sessions_per_stream``, ``session_ttl_ms``) on either backend."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    made: list[ViewerStore] = []

    def make(**caps: int) -> ViewerStore:
        made.append(MemoryViewerStore(**caps) if url is None else RedisViewerStore(url, **caps))
        return made[-1]

    yield make
    for store in made:
        await store.close()


async def test_a_session_stays_with_the_viewer_of_its_first_beacon(store: ViewerStore) -> None:
    viewers = Viewers(store, clock=Clock())
    sid = stream_id()
    for n in range(5):  # one session token, five made-up viewer ids
        assert await Player(viewers, sid, f"made-up-{n}", "one-session").send("playing")
    assert await viewers.concurrent(sid) == 1, "one session is one viewer"
    [session] = await viewers.take_sessions(sid, limit=10)
    assert (session.viewer_id, session.session_id) == ("made-up-0", "one-session")


async def test_a_stream_holds_at_most_its_cap_of_sessions(make_store: Callable[..., ViewerStore]) -> None:
    clock = Clock()
    viewers = Viewers(make_store(max_sessions_per_stream=3, session_ttl_ms=60_000), clock=clock)
    sid = stream_id()
    tabs = [Player(viewers, sid, f"v{n}") for n in range(3)]
    for tab in tabs:
        assert await tab.send("playing")
    with pytest.raises(StoreFull):
        await Player(viewers, sid, "v3").send("playing")
    assert await viewers.concurrent(sid) == 3, "the refused session stored nothing"
    clock.advance(5)
    for tab in tabs:
        assert await tab.send("playing"), "sessions already in keep working"
    assert await Player(viewers, stream_id(), "elsewhere").send("playing"), "another stream has room of its own"

    clock.advance(61)  # all three silent past the session TTL, and written: room again
    assert len(await viewers.take_sessions(sid, limit=10)) == 3
    assert await Player(viewers, sid, "v4").send("playing")


async def test_the_memory_store_prunes_on_write_and_holds_at_most_its_total_cap() -> None:
    clock = Clock()
    store = MemoryViewerStore(max_sessions=4, session_ttl_ms=60_000)
    viewers = Viewers(store, clock=clock)
    a, b = stream_id(), stream_id()
    for n in range(2):
        await Player(viewers, a, f"a{n}").send("playing")
        await Player(viewers, b, f"b{n}").send("paused")
    with pytest.raises(StoreFull):
        await Player(viewers, b, "b2").send("playing")
    assert store.total == 4

    clock.advance(61)  # silent past the TTL and written; no count runs
    for sid in (a, b):
        await viewers.take_sessions(sid, limit=10)
    assert await Player(viewers, a, "a2").send("playing"), "a full store prunes every stream before refusing"
    assert store.total == 1

    keep = Player(viewers, b, "b3")
    await keep.send("playing")
    clock.advance(61)
    await viewers.take_sessions(a, limit=10)
    await viewers.take_sessions(b, limit=10)
    await keep.send("playing")  # a beacon on b forgets b's idle sessions only
    await Player(viewers, a, "a3").send("playing")  # and one on a, a's
    assert store.total == 2


async def test_the_memory_store_forgets_streams_that_are_not_live_once_written() -> None:
    store = MemoryViewerStore()
    viewers = Viewers(store, clock=Clock())
    live, ended, deleted = stream_id(), stream_id(), stream_id()
    for sid in (live, ended, deleted):
        await Player(viewers, sid, "v").send("playing")
    assert await viewers.evict(keep={live}, finishing={ended}) == 1, "not live, not finishing: forgotten"
    assert store.total == 2
    await viewers.take_sessions(ended, limit=10)  # written
    assert await viewers.evict(keep={live}, finishing={ended}) == 1
    assert store.total == 1 and await viewers.concurrent(live) == 1 and await viewers.concurrent(ended) == 0
