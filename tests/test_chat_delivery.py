"""Chat under concurrency and failure: no gap, no duplicate, nothing lost.

* Four concurrent writers on two API processes (real ``livecast serve`` processes on PostgreSQL and one Redis)
  send 2,000 messages into one stream: sequences are exactly 1..2000 and a subscriber on each process
  receives all 2,000 in order.
* Redis goes away while messages are sent: every message is in the database, and a subscriber that missed
  the live events gets all of them (the server refills from the database), as does a resume by sequence.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from livecast.domain.auth import ensure_user, issue_token
from livecast.domain.deps import Deps
from livecast.domain.events import CHAT, stream_channel
from livecast.settings import Settings
from tests.conftest import TEST_SECRET, run_server
from tests.helpers.chat import SEND, ChatSubscriber
from tests.helpers.client import create_stream, gql_http
from tests.helpers.processes import LivecastProcess, PrivateRedis, free_port, livecast_processes
from tests.helpers.waiting import eventually

WRITERS = 4
MESSAGES = 2000


async def post(client: httpx.AsyncClient, url: str, token: str, stream_id: str, content: str) -> dict:
    response = await client.post(
        url,
        json={"query": SEND, "variables": {"s": stream_id, "c": content}},
        headers={"Authorization": f"Bearer {token}"},
    )
    response.raise_for_status()
    return response.json()["data"]["sendChatMessage"]


async def test_concurrent_writers_on_two_processes(
    deps: Deps, database_url: str, redis_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgres"):
        pytest.skip("needs PostgreSQL (several processes writing one stream); .ci/run's second pass runs it")
    tokens = [
        issue_token(user=await ensure_user(name=f"writer{n}", roles=[]), key=TEST_SECRET, ttl_seconds=3600)
        for n in range(WRITERS)
    ]
    ports = [free_port(), free_port()]
    env = {
        "LIVECAST_DATABASE_URL": database_url, "LIVECAST_BUS_URL": redis_url, "LIVECAST_SECRET_KEY": TEST_SECRET,
        "LIVECAST_DATA_DIR": str(tmp_path / "data"), "LIVECAST_EMBEDDED_INGEST": "false",
        "LIVECAST_CHAT_RATE_LIMIT": "100000/1 second", "LIVECAST_CHAT_RATE_LIMIT_PRIVILEGED": "100000/1 second",
        "LIVECAST_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    redis = Redis.from_url(redis_url)
    async with livecast_processes() as processes:
        for n, port in enumerate(ports):
            process = LivecastProcess(
                "serve --no-migrate", env | {"LIVECAST_HTTP_PORT": str(port)}, tmp_path / f"api{n}.log"
            )
            processes.append(await process.start())
        for process, port in zip(processes, ports, strict=True):
            await process.ready(http_port=port)
        urls = [f"http://127.0.0.1:{port}/graphql" for port in ports]
        sid = (await create_stream(urls[0], tokens[0], title="Busy chat"))["id"]
        subscribers = [ChatSubscriber(url.replace("http://", "ws://"), sid, after=0) for url in urls]
        channel = stream_channel(sid, CHAT)

        async def both_subscribed() -> bool:
            return dict(await redis.pubsub_numsub(channel)).get(channel.encode(), 0) == 2

        try:
            await eventually(both_subscribed, what="a chat subscriber on each process")

            async def writer(n: int) -> list[int]:
                async with httpx.AsyncClient(timeout=30) as client:
                    sent = []
                    for i in range(MESSAGES // WRITERS):
                        result = await post(client, urls[n % 2], tokens[n], sid, f"writer {n} message {i}")
                        assert result["__typename"] == "ChatMessage", result
                        sent.append(result["sequence"])
                    return sent

            per_writer = await asyncio.gather(*(writer(n) for n in range(WRITERS)))
            assert all(seqs == sorted(seqs) for seqs in per_writer), "each writer's messages are ordered"
            assert sorted(s for seqs in per_writer for s in seqs) == list(range(1, MESSAGES + 1)), "gap-free, unique"
            for subscriber in subscribers:
                await eventually(
                    lambda s=subscriber: len(s.sequences()) >= MESSAGES or s.task.done(),
                    timeout=60,
                    what="all messages",
                )
                assert subscriber.error is None, subscriber.error
                assert subscriber.sequences() == list(range(1, MESSAGES + 1))
            counted = await gql_http(urls[1], "query($s: ID!) { stream(id: $s) { chatMessageCount } }", {"s": sid})
            assert counted["stream"]["chatMessageCount"] == MESSAGES, "the count is kept under concurrent writers"
        finally:
            for subscriber in subscribers:
                await subscriber.stop()
            await redis.aclose()
        for process in processes:
            assert "Traceback" not in process.output(), process.output()


async def test_redis_outage_loses_no_chat_message(settings: Settings, private_redis: PrivateRedis) -> None:
    redis = private_redis
    async with run_server(settings.model_copy(update={"bus_url": redis.url})) as server:
        owner = await server.token("alice")
        sid = (await create_stream(server.graphql_http, owner))["id"]
        listener = ChatSubscriber(server.graphql_ws, sid, after=0)
        try:
            bus = server.runtime.deps.bus
            await eventually(lambda: bus.subscriber_count(stream_channel(sid, CHAT)) == 1, what="subscriber")
            async with httpx.AsyncClient(timeout=30) as client:
                for n in range(5):
                    await post(client, server.graphql_http, owner, sid, f"before {n}")
                await eventually(lambda: len(listener.events) == 5, what="live messages before the outage")
                await redis.kill()
                for n in range(20):  # accepted and stored; their events cannot reach Redis
                    assert (await post(client, server.graphql_http, owner, sid, f"during {n}"))["sequence"] == 6 + n
                await asyncio.sleep(2)
                assert len(listener.events) == 5, "nothing was delivered while the bus was down"
                await redis.start()
                await eventually(lambda: len(listener.sequences()) >= 25, timeout=20, what="refill after the outage")
                assert listener.sequences() == list(range(1, 26)), "the subscriber got every message, in order, once"
                assert listener.error is None and not listener.task.done()
                resumed = ChatSubscriber(server.graphql_ws, sid, after=5)
                await eventually(lambda: len(resumed.events) >= 20, what="resume by sequence")
                assert resumed.sequences() == list(range(6, 26))
                await resumed.stop()
        finally:
            await listener.stop()
