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
from datetime import UTC, datetime
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
SESSION = "query($id: ID!) { stream(id: $id) { playback { beaconUrl session { id token expiresAt } } } }"


@pytest.fixture
async def quick(settings: Settings) -> AsyncIterator[Server]:
    async with run_server(
        settings.model_copy(update={"viewer_count_seconds": 0.3, "viewer_flush_seconds": 0.9})
    ) as server:
        yield server


async def open_session(server: Server, stream_id: str) -> dict[str, str]:
    """``Stream.playback.session`` as a player reads it (anonymous GraphQL query): ``{id, token, expiresAt}``."""
    return (await gql_http(server.graphql_http, SESSION, {"id": stream_id}))["stream"]["playback"]["session"]


class Beacons:
    """Players on one HTTP client: ``await beacons.send(viewer, tab, state)`` returns the response. Each tab
    opens its playback session over GraphQL on its first beacon, and takes a renewed token from a 200 reply."""

    def __init__(self, server: Server, client: httpx.AsyncClient, stream_id: str) -> None:
        self.server, self.url, self.client, self.stream_id = (
            server,
            f"{server.http}/v1/playback/beacon",
            client,
            stream_id,
        )
        self.sessions: dict[str, dict[str, str]] = {}

    async def body(self, viewer: str, tab: str, state: str, **extra: Any) -> dict[str, Any]:
        if tab not in self.sessions:
            self.sessions[tab] = await open_session(self.server, self.stream_id)
        session = self.sessions[tab]
        return {"streamId": self.stream_id, "viewerId": viewer, "sessionId": session["id"],
                "sessionToken": session["token"], "state": state, **extra}  # fmt: skip

    async def send(self, viewer: str, tab: str, state: str, **extra: Any) -> httpx.Response:
        body = await self.body(viewer, tab, state, **extra)
        response = await self.client.post(self.url, content=json.dumps(body), headers={"Content-Type": "text/plain"})
        if response.status_code == 200:
            renewed = response.json()
            self.sessions[tab] = {
                "id": body["sessionId"],
                "token": renewed["sessionToken"],
                "expiresAt": renewed["expiresAt"],
            }
        return response

    async def all(self, tabs: dict[str, str], state: str = "playing") -> None:
        for tab, viewer in tabs.items():
            assert (await self.send(viewer, tab, state)).status_code in (200, 204)


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
    states = {
        players.sessions[tab]["id"]: state for tab, state in (("a1", "buffering"), ("b1", "paused"), ("c1", "playing"))
    }
    await eventually(lambda: sessions_written(sid, states), timeout=20,
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
    viewers = server.runtime.deps.viewers
    session = await open_session(server, sid)
    good = {
        "streamId": sid,
        "viewerId": "viewer-1",
        "sessionId": session["id"],
        "sessionToken": session["token"],
        "state": "playing",
    }
    bad: list[tuple[bytes, int, str | None]] = [(body, status, None) for body, status in BAD]
    for change in ({"state": "stalled"}, {"viewerId": "a|b"}, {"sessionId": ""}, {"bufferingMs": -1},
                   {"bitrate": "fast"}, {"errors": 1.5}, {"viewerId": "x" * 129}, {"sessionToken": "x" * 57}):  # fmt: skip
        bad.append((json.dumps(good | change).encode(), 422, "VALIDATION"))
    bad.append((json.dumps({k: v for k, v in good.items() if k != "sessionToken"}).encode(), 422, "VALIDATION"))
    bad.append((json.dumps(good | {"padding": "x" * 5000}).encode(), 413, "PAYLOAD_TOO_LARGE"))
    expires, signature = session["token"].split(".")
    for change in ({"sessionToken": f"{int(expires) + 60}.{signature}"}, {"sessionToken": f"{expires}.{'A' * 43}"},
                   {"sessionId": "tab-1"}, {"streamId": str(uuid.uuid4())}):  # fmt: skip
        bad.append((json.dumps(good | change).encode(), 403, "SESSION_INVALID"))
    expired = viewers.signer.issue(sid, now=time.time() - viewers.signer.ttl - 1)
    bad.append(
        (json.dumps(good | {"sessionId": expired.id, "sessionToken": expired.token}).encode(), 401, "SESSION_EXPIRED")
    )
    gone = viewers.open_session(str(uuid.uuid4()))  # a genuine session of a stream deleted since
    bad.append(
        (
            json.dumps(good | {"streamId": gone.stream_id, "sessionId": gone.id, "sessionToken": gone.token}).encode(),
            404,
            "NOT_FOUND",
        )
    )
    scheduled = await create_stream(server.graphql_http, await server.token("bob"), title="later")
    early = await open_session(server, scheduled["id"])
    not_live = {"streamId": scheduled["id"], "sessionId": early["id"], "sessionToken": early["token"]}
    bad.append((json.dumps(good | not_live).encode(), 409, "INVALID_STATE"))
    url = f"{server.http}/v1/playback/beacon"
    async with httpx.AsyncClient() as client:
        for body, status, code in bad:
            response = await client.post(url, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == status, (body[:80], response.text)
            assert response.headers["access-control-allow-origin"] == "*"
            assert "code" in response.json() and "message" in response.json()
            assert code is None or response.json()["code"] == code, response.text
            if status == 409:
                assert response.json()["currentStatus"] == "SCHEDULED"
        chunked = await client.post(url, content=chunks(8, 1024))  # no Content-Length
        assert chunked.status_code == 413
        assert await viewers.concurrent(sid) == 0 and await viewers.take_sessions(sid, limit=10) == []

        preflight = await client.options(url, headers={"Origin": "https://player.example", "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": "content-type"})  # fmt: skip
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] in (
            "*",
            "https://player.example",
        )
        ok = await client.post(url, json=good | {"unknownField": 1}, headers={"Origin": "https://player.example"})
        assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == "*"
        assert await viewers.concurrent(sid) == 1
    data = await gql_http(server.graphql_http, COUNTS, {"id": sid})
    assert data["stream"]["playback"]["beaconUrl"] == url


async def test_each_read_of_playback_session_opens_a_new_session(server: Server) -> None:
    sid = await live_stream(server)
    first, second = await open_session(server, sid), await open_session(server, sid)
    assert first["id"] != second["id"] and first["token"] != second["token"]
    expires_at = datetime.fromisoformat(first["expiresAt"])
    ttl = server.settings.playback_session_ttl_seconds
    assert abs((expires_at - datetime.now(UTC)).total_seconds() - ttl) < 5
    viewers = server.runtime.deps.viewers
    assert viewers.signer.verify(sid, first["id"], first["token"], now=time.time()) == int(expires_at.timestamp())


async def test_subscriptions_carry_no_playback_session(server: Server) -> None:
    """Subscription results may be shared between viewers: ``playback.session`` is null there."""
    created = await create_stream(server.graphql_http, await server.token("carol"), title="subscribed")
    query = (
        "subscription($s: ID!) { streamStatusChanged(streamId: $s) { status playback { beaconUrl session { id } } } }"
    )
    seen: list[dict[str, Any]] = []

    async def watch() -> None:
        async with ws_session(server.graphql_ws) as session:
            async for result in session.subscribe(GraphQLRequest(query, variable_values={"s": created["id"]})):
                seen.append(result["streamStatusChanged"])

    task = asyncio.create_task(watch())
    try:
        await eventually(
            lambda: server.runtime.deps.bus.subscriber_count(f"stream.{created['id']}.status") >= 1, what="subscribed"
        )
        await encoder.encoder_connected(deps=server.runtime.deps, stream_id=created["id"])
        await eventually(lambda: seen, what="a status event")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert seen[0]["playback"]["session"] is None and seen[0]["playback"]["beaconUrl"]


async def test_a_long_session_is_renewed_in_the_beacon_reply(settings: Settings) -> None:
    async with run_server(settings.model_copy(update={"playback_session_ttl_seconds": 60}), workers=False) as server:
        clock = Clock(start=time.time())
        server.runtime.deps.viewers.clock = clock
        sid = await live_stream(server)
        async with httpx.AsyncClient() as client:
            players = Beacons(server, client, sid)
            assert (await players.send("viewer-1", "tab", "playing")).status_code == 204
            first = dict(players.sessions["tab"])
            clock.advance(29)
            assert (await players.send("viewer-1", "tab", "playing")).status_code == 204, "not yet past half its life"
            clock.advance(2)
            renewed = await players.send("viewer-1", "tab", "playing")
            assert renewed.status_code == 200 and renewed.headers["access-control-allow-origin"] == "*"
            assert set(renewed.json()) == {"sessionToken", "expiresAt"}
            assert datetime.fromisoformat(renewed.json()["expiresAt"]) > datetime.fromisoformat(first["expiresAt"])
            clock.advance(40)  # the first token has expired; the renewed one has not
            stale = await players.body("viewer-1", "tab", "playing") | {"sessionToken": first["token"]}
            expired = await client.post(players.url, json=stale)
            assert expired.status_code == 401 and expired.json()["code"] == "SESSION_EXPIRED"
            assert (await players.send("viewer-1", "tab", "playing")).status_code == 200, "renewed again: due"
        [session] = await server.runtime.deps.viewers.take_sessions(sid, limit=10)
        assert session.session_id == first["id"], "one session all along"


async def test_one_address_over_its_beacon_limit_gets_429(settings: Settings) -> None:
    async with run_server(settings.model_copy(update={"beacon_rate_limit": "5/minute"}), workers=False) as server:
        sid = await live_stream(server)
        url = f"{server.http}/v1/playback/beacon"
        async with httpx.AsyncClient() as client:
            players = Beacons(server, client, sid)
            for n in range(5):
                assert (await players.send(f"viewer-{n}", f"tab-{n}", "playing")).status_code == 204
            refused = await players.send("viewer-5", "tab-5", "playing")
            assert refused.status_code == 429 and refused.json()["code"] == "RATE_LIMITED", refused.text
            assert (
                1 <= int(refused.headers["retry-after"]) <= 60 and refused.headers["access-control-allow-origin"] == "*"
            )
            assert (await client.post(url, content=b"{not json")).status_code == 429, "counted before the body is read"
        other = httpx.AsyncHTTPTransport(local_address="127.0.0.2")  # another client address (Linux loopback)
        async with httpx.AsyncClient(transport=other) as client:
            elsewhere = Beacons(server, client, sid)
            elsewhere.sessions = players.sessions
            assert (await elsewhere.send("viewer-5", "tab-5", "playing")).status_code == 204
        assert await server.runtime.deps.viewers.concurrent(sid) == 6


async def test_a_full_stream_refuses_new_sessions_with_503(settings: Settings) -> None:
    async with run_server(settings.model_copy(update={"viewer_sessions_per_stream": 2}), workers=False) as server:
        sid = await live_stream(server)
        async with httpx.AsyncClient() as client:
            players = Beacons(server, client, sid)
            await players.all({"a": "viewer-a", "b": "viewer-b"})
            full = await players.send("viewer-c", "c", "playing")
            assert full.status_code == 503 and full.json()["code"] == "TOO_MANY_SESSIONS", full.text
            assert full.headers["retry-after"] == "30"
            await players.all({"a": "viewer-a", "b": "viewer-b"}, "paused")  # sessions already in keep working
        assert await server.runtime.deps.viewers.concurrent(sid) == 0


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
