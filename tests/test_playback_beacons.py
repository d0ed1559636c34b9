"""``POST /v1/playback/beacon`` on a served app, and the periodic viewer count that turns beacons into
``viewerCountChanged`` events and ``Stream.viewerCount`` / ``peakViewerCount``.

The server's viewer clock is simulated where the rules are about minutes (window, rebuffering); the periodic
job runs every 0.3 s of real time, and assertions on it wait with ``eventually`` (no tight timing)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from gql import GraphQLRequest

from livecast.domain import encoder
from livecast.domain.models import Stream
from livecast.domain.viewer_models import ViewerSession
from livecast.settings import Settings
from livecast.workers.viewers import flush_due
from tests.conftest import Server, run_server
from tests.helpers.client import create_stream, gql_http, ws_session
from tests.helpers.processes import PrivateRedis
from tests.helpers.waiting import eventually
from tests.test_viewers import Clock

VIEWERS = "subscription($s: ID!) { viewerCountChanged(streamId: $s) { streamId count peak at } }"
COUNTS = "query($id: ID!) { stream(id: $id) { viewerCount peakViewerCount playback { hlsUrl beaconUrl } } }"


@pytest.fixture
async def quick(settings: Settings) -> AsyncIterator[Server]:
    async with run_server(settings.model_copy(update={"viewer_count_seconds": 0.3, "viewer_flush_seconds": 0.9})) as server:
        yield server


class Beacons:
    """Players on one HTTP client: ``await beacons.send(viewer, session, state)`` returns the response."""

    def __init__(self, server: Server, client: httpx.AsyncClient, stream_id: str) -> None:
        self.url, self.client, self.stream_id = f"{server.http}/v1/playback/beacon", client, stream_id

    async def send(self, viewer: str, session: str, state: str, **extra: Any) -> httpx.Response:
        body = {"streamId": self.stream_id, "viewerId": viewer, "sessionId": session, "state": state, **extra}
        return await self.client.post(self.url, content=json.dumps(body), headers={"Content-Type": "text/plain"})

    async def all(self, tabs: dict[str, str], state: str = "playing") -> None:
        for session, viewer in tabs.items():
            assert (await self.send(viewer, session, state)).status_code == 204


async def live_stream(server: Server) -> str:
    stream = await create_stream(server.graphql_http, await server.token("alice"), title="watched")
    deps = server.runtime.deps
    await encoder.encoder_connected(deps=deps, stream_id=stream["id"])
    await encoder.media_ready(deps=deps, stream_id=stream["id"])
    return stream["id"]


class CountWatcher:
    """``viewerCountChanged`` over a real websocket; collects the counts."""

    def __init__(self, ws_url: str, stream_id: str) -> None:
        self.counts: list[int] = []
        self.task = asyncio.create_task(self._run(ws_url, stream_id))

    async def _run(self, ws_url: str, stream_id: str) -> None:
        async with ws_session(ws_url) as session:
            async for result in session.subscribe(GraphQLRequest(VIEWERS, variable_values={"s": stream_id})):
                self.counts.append(result["viewerCountChanged"]["count"])

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def viewer_count(server: Server, stream_id: str) -> int:
    return (await gql_http(server.graphql_http, COUNTS, {"id": stream_id}))["stream"]["viewerCount"]


TABS = {"a1": "viewer-a", "a2": "viewer-a", "b1": "viewer-b", "b2": "viewer-b", "c1": "viewer-c"}


async def test_viewer_count_over_http_with_a_simulated_clock(quick: Server) -> None:
    clock = Clock(start=time.time())
    quick.runtime.deps.viewers.clock = clock
    sid = await live_stream(quick)
    stream_before = await Stream.get(id=sid)
    watcher = CountWatcher(quick.graphql_ws, sid)
    await eventually(lambda: quick.runtime.deps.bus.subscriber_count(f"stream.{sid}.viewers") >= 1, what="subscribed")
    async with httpx.AsyncClient() as client:
        players = Beacons(quick, client, sid)
        await players.all(TABS)
        await eventually(lambda: watcher.counts[-1:] == [3], timeout=20, what="CCV 3 (5 tabs)")
        assert await viewer_count(quick, sid) == 3

        clock.advance(5)
        await players.all({"a1": "viewer-a", "a2": "viewer-a", "c1": "viewer-c"})
        await players.all({"b1": "viewer-b", "b2": "viewer-b"}, "paused")
        await eventually(lambda: watcher.counts[-1:] == [2], timeout=20, what="b paused: CCV 2")

        for _ in range(3):  # c is silent from t=5; a plays on
            clock.advance(5)
            await players.all({"a1": "viewer-a"})
        clock.advance(0.5)  # t = 20.5: c's last beacon is 15.5 s old
        await eventually(lambda: watcher.counts[-1:] == [1], timeout=20, what="c silent: excluded after 15 s")

        rebuffer_start = clock.now
        while clock.now - rebuffer_start <= 360:
            await players.send("viewer-a", "a1", "buffering")
            assert await quick.runtime.deps.viewers.concurrent(sid) == (1 if clock.now - rebuffer_start < 300 else 0)
            clock.advance(5)
        await eventually(lambda: watcher.counts[-1:] == [0], timeout=20, what="6-minute rebuffer excluded")
    await watcher.stop()
    row = await Stream.get(id=sid)
    assert (row.viewer_count, row.peak_viewer_count) == (0, 3)
    assert row.updated_at == stream_before.updated_at, "counts are not edits of the stream"
    first = watcher.counts.index(3)  # the first five beacons may be counted before all arrived (1, 2, then 3)
    assert watcher.counts[first:] == [3, 2, 1, 0], "published when the count changes, and only then"
    assert watcher.counts[:first] == sorted(set(watcher.counts[:first])), watcher.counts
    await eventually(lambda: sessions_written(sid, {"a1": "buffering", "b1": "paused", "c1": "playing"}), timeout=20,
                     what="sessions written by the periodic job (every third count)")  # fmt: skip


async def sessions_written(stream_id: str, states: dict[str, str]) -> bool:
    rows = {row.session_id: row.state for row in await ViewerSession.filter(stream_id=stream_id)}
    return len(rows) == 5 and all(rows[k] == v for k, v in states.items())


def test_sessions_are_written_every_flush_period(settings: Settings) -> None:
    quick = settings.model_copy(update={"viewer_count_seconds": 5, "viewer_flush_seconds": 30})
    assert [slot for slot in range(100, 120) if flush_due(slot, quick)] == [102, 108, 114]
    assert all(flush_due(slot, settings.model_copy(update={"viewer_flush_seconds": 1})) for slot in range(5))


async def test_a_pause_shows_within_20_seconds(quick: Server) -> None:
    sid = await live_stream(quick)
    watcher = CountWatcher(quick.graphql_ws, sid)
    await eventually(lambda: quick.runtime.deps.bus.subscriber_count(f"stream.{sid}.viewers") >= 1, what="subscribed")
    async with httpx.AsyncClient() as client:
        players = Beacons(quick, client, sid)
        await players.all(TABS)
        await eventually(lambda: watcher.counts[-1:] == [3], timeout=20)
        paused_at = time.monotonic()
        await players.all({"b1": "viewer-b", "b2": "viewer-b"}, "paused")
        await eventually(lambda: watcher.counts[-1:] == [2], timeout=20, what="CCV 2 after a pause")
        assert time.monotonic() - paused_at < 20
    await watcher.stop()


async def chunks(n: int, size: int) -> AsyncIterator[bytes]:
    for _ in range(n):
        yield b"x" * size


BAD = [
    (b"{not json", 400),
    (b"", 400),
    (b"[]", 422),
    (json.dumps({"viewerId": "v", "sessionId": "s", "state": "playing"}).encode(), 422),  # no streamId
    (json.dumps({"streamId": "nope", "viewerId": "v", "sessionId": "s", "state": "playing"}).encode(), 422),
]


async def test_bad_beacons_get_4xx_and_change_nothing(server: Server) -> None:
    sid = await live_stream(server)
    good = {"streamId": sid, "viewerId": "viewer-1", "sessionId": "tab-1", "state": "playing"}
    bad: list[tuple[bytes, int]] = [*BAD]
    for change in ({"state": "stalled"}, {"viewerId": "a|b"}, {"sessionId": ""}, {"bufferingMs": -1},
                   {"bitrate": "fast"}, {"errors": 1.5}, {"viewerId": "x" * 129}):  # fmt: skip
        bad.append((json.dumps(good | change).encode(), 422))
    bad.append((json.dumps(good | {"padding": "x" * 5000}).encode(), 413))
    bad.append((json.dumps(good | {"streamId": str(uuid.uuid4())}).encode(), 404))
    url = f"{server.http}/v1/playback/beacon"
    async with httpx.AsyncClient() as client:
        for body, status in bad:
            response = await client.post(url, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == status, (body[:80], response.text)
            assert response.headers["access-control-allow-origin"] == "*"
            assert "code" in response.json()
        chunked = await client.post(url, content=chunks(8, 1024))  # no Content-Length
        assert chunked.status_code == 413
        viewers = server.runtime.deps.viewers
        assert await viewers.concurrent(sid) == 0 and await viewers.take_sessions(sid, limit=10) == []

        preflight = await client.options(url, headers={"Origin": "https://player.example", "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": "content-type"})  # fmt: skip
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] in ("*", "https://player.example")
        ok = await client.post(url, json=good | {"unknownField": 1}, headers={"Origin": "https://player.example"})
        assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == "*"
        assert await viewers.concurrent(sid) == 1
    data = await gql_http(server.graphql_http, COUNTS, {"id": sid})
    assert data["stream"]["playback"]["beaconUrl"] == url


async def test_a_viewer_store_outage_answers_503_and_recovers(settings: Settings, private_redis: PrivateRedis) -> None:
    redis = private_redis
    async with run_server(settings.model_copy(update={"viewers_url": redis.url}), workers=False) as server:
        sid = await live_stream(server)
        async with httpx.AsyncClient() as client:
            players = Beacons(server, client, sid)
            assert (await players.send("v1", "s1", "playing")).status_code == 204
            await redis.kill()
            down = await players.send("v2", "s2", "playing")
            assert down.status_code == 503 and down.headers["retry-after"] == "5", down.text
            await redis.start()  # the same port, empty: players re-announce themselves with their next beacon
            await eventually(lambda: _accepted(players, "v2", "s2"), timeout=20, what="beacons accepted again")
        assert await server.runtime.deps.viewers.concurrent(sid) == 1


async def _accepted(players: Beacons, viewer: str, session: str) -> bool:
    return (await players.send(viewer, session, "playing")).status_code == 204
