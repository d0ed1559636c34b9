"""Distributed viewer counting on real processes: two API processes (``livecast serve``) and one ``livecast
worker`` share the test database and one Redis (beacons, bus and jobs). Tabs of the same viewers beacon to
different API processes; subscribers on both processes see the same count, and both report it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
from redis.asyncio import Redis

from livecast.domain import encoder, streams
from livecast.domain.auth import Principal, ensure_user
from livecast.domain.deps import Deps
from livecast.domain.events import VIEWERS, stream_channel
from livecast.domain.validation import StreamFields
from tests.conftest import TEST_SECRET
from tests.helpers.client import gql_http
from tests.helpers.processes import LivecastProcess, free_port, livecast_processes
from tests.helpers.waiting import eventually
from tests.test_playback_beacons import COUNTS, SESSION, CountWatcher


async def keep_playing(
    client: httpx.AsyncClient,
    stream_id: str,
    tabs: dict[str, tuple[str, str, str]],
    sessions: dict[str, dict[str, str]],
) -> None:
    """Every tab (name -> (api base URL, viewer, state)) beacons its current state every 2 s until cancelled, with
    its playback session (``sessions[name]``: ``{id, token}``)."""
    while True:
        for tab, (base, viewer, state) in list(tabs.items()):
            session = sessions[tab]
            body = {"streamId": stream_id, "viewerId": viewer, "sessionId": session["id"], "sessionToken": session["token"],
                    "state": state}  # fmt: skip
            response = await client.post(f"{base}/v1/playback/beacon", json=body)
            assert response.status_code == 204, response.text
        await asyncio.sleep(2)


async def session_of(base: str, stream_id: str) -> dict[str, str]:
    return (await gql_http(f"{base}/graphql", SESSION, {"id": stream_id}))["stream"]["playback"]["session"]


async def _drop(redis: Redis, prefix: str) -> None:
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis.delete(*keys)


async def subscribed(redis: Redis, channel: str, n: int) -> bool:
    return dict(await redis.pubsub_numsub(channel)).get(channel.encode(), 0) >= n


async def test_two_api_processes_report_the_same_viewer_count(
    deps: Deps, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    user = await ensure_user(name=f"owner-{uuid.uuid4().hex[:6]}", roles=[])
    actor = Principal(user_id=str(user.id), name=user.name, roles=frozenset())
    stream = await streams.create_stream(deps=deps, actor=actor, fields=StreamFields(title="watched on two processes"))
    sid = str(stream.id)
    await encoder.encoder_connected(deps=deps, stream_id=sid)
    await encoder.media_ready(deps=deps, stream_id=sid)

    prefix = f"livecast-test-{uuid.uuid4().hex[:10]}"
    env = {
        "LIVECAST_DATABASE_URL": database_url,
        "LIVECAST_BUS_URL": redis_url,
        "LIVECAST_JOBS_URL": redis_url,
        "LIVECAST_JOBS_PREFIX": prefix,
        "LIVECAST_SECRET_KEY": TEST_SECRET,
        "LIVECAST_DATA_DIR": str(tmp_path / "data"),
        "LIVECAST_EMBEDDED_INGEST": "false",
        "LIVECAST_VIEWER_COUNT_SECONDS": "1",
        "LIVECAST_LOG_LEVEL": "WARNING",
    }
    ports = [free_port(), free_port()]
    redis = Redis.from_url(redis_url)
    try:
        async with livecast_processes() as processes, httpx.AsyncClient() as client:
            for n, port in enumerate(ports):
                api = LivecastProcess(
                    "serve --no-migrate", env | {"LIVECAST_HTTP_PORT": str(port)}, tmp_path / f"api{n}.log"
                )
                processes.append(await api.start())
            processes.append(await LivecastProcess("worker", env, tmp_path / "worker.log").start())
            for process, port in zip(processes, ports, strict=False):
                await process.ready(http_port=port)
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            watchers = [CountWatcher(base.replace("http://", "ws://") + "/graphql", sid) for base in bases]
            channel = stream_channel(sid, VIEWERS)
            await eventually(lambda: subscribed(redis, channel, 2), timeout=20, what="both processes subscribed")

            a, b = bases
            tabs = {"a1": (a, "viewer-a", "playing"), "a2": (b, "viewer-a", "playing"), "b1": (b, "viewer-b", "playing"),
                    "b2": (a, "viewer-b", "playing"), "c1": (a, "viewer-c", "playing")}  # fmt: skip
            other = {a: b, b: a}  # sessions opened on one process are accepted by the other (same secret key)
            sessions = {tab: await session_of(other[base], sid) for tab, (base, _, _) in tabs.items()}
            player = asyncio.create_task(keep_playing(client, sid, tabs, sessions))
            try:
                for watcher in watchers:
                    await eventually(lambda w=watcher: w.counts[-1:] == [3], timeout=30, what="CCV 3 on each process")
                tabs["b1"] = (a, "viewer-b", "paused")  # b paused in both tabs, each beacon to the other process
                tabs["b2"] = (b, "viewer-b", "paused")
                for watcher in watchers:
                    await eventually(lambda w=watcher: w.counts[-1:] == [2], timeout=30, what="CCV 2 on each process")
            finally:
                player.cancel()
                await asyncio.gather(player, return_exceptions=True)
            reported = [(await gql_http(f"{base}/graphql", COUNTS, {"id": sid}))["stream"] for base in bases]
            assert [(r["viewerCount"], r["peakViewerCount"]) for r in reported] == [(2, 3), (2, 3)]
            assert [r["playback"]["beaconUrl"] for r in reported] == [f"{base}/v1/playback/beacon" for base in bases]
            for watcher in watchers:
                await watcher.stop()
            assert watchers[0].counts == watchers[1].counts, "the same events on both processes"
            assert watchers[0].counts[-2:] == [3, 2] and max(watchers[0].counts) == 3, watchers[0].counts
            for process in processes:
                assert process.running() and "Traceback" not in process.output(), process.output()
    finally:
        await _drop(redis, prefix)
        await redis.aclose()
