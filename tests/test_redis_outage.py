"""Redis goes away for 10 s under live subscriptions and comes back; livecast keeps running.

A private ``redis-server`` (started by the test, killed the hard way, restarted on the same port) carries the
event bus of a real livecast server. Subscribers are real websocket clients (``gql``). Expectations (issue #3):
no subscriber hangs; gauge subscriptions resume within 5 s of Redis returning; lossless subscriptions end
with ``EVENTS_MISSED`` so the client refetches; every mutation accepted meanwhile is in the database.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from gql import GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from redis.asyncio import Redis

from livecast.bus import create_bus
from livecast.domain.events import ViewerCountUpdated, stream_channel
from livecast.settings import Settings
from tests.conftest import run_server
from tests.helpers.client import create_stream, gql_http, ws_session
from tests.helpers.processes import PrivateRedis
from tests.helpers.waiting import eventually

OUTAGE_SECONDS = 10.0
GAUGE_RESUME_SECONDS = 5.0
VIEWERS = "subscription($id: ID!) { viewerCountChanged(streamId: $id) { count } }"
STATUS = "subscription($id: ID!) { streamStatusChanged(streamId: $id) { status } }"
CANCEL = "mutation($id: ID!) { cancelStream(id: $id) { __typename ... on Stream { status } } }"


async def test_subscribers_survive_a_redis_outage(settings: Settings, private_redis: PrivateRedis) -> None:
    settings = settings.model_copy(update={"bus_url": private_redis.url})
    async with run_server(settings) as server:
        token = await server.token("alice")
        stream = await create_stream(server.graphql_http, token, title="Through the outage")
        sid = stream["id"]
        gauge: list[tuple[int, float]] = []  # (count, monotonic time received)
        lossless_errors: list[str] = []

        async def watch_viewers() -> None:
            async with ws_session(server.graphql_ws) as session:
                async for result in session.subscribe(GraphQLRequest(VIEWERS, variable_values={"id": sid})):
                    gauge.append((result["viewerCountChanged"]["count"], time.monotonic()))

        async def watch_status() -> None:
            async with ws_session(server.graphql_ws, protocol="graphql-ws") as session:
                try:
                    async for _ in session.subscribe(GraphQLRequest(STATUS, variable_values={"id": sid})):
                        pass
                except TransportQueryError as e:
                    lossless_errors.append(e.errors[0]["extensions"]["code"])

        # Another process publishing viewer counts through the same Redis, four times a second.
        publisher = create_bus(private_redis.url)
        await publisher.connect()

        async def publish_viewers() -> None:
            n = 0
            while True:
                n += 1
                now = datetime.now(UTC).isoformat()
                await publisher.publish([stream_channel(sid, "viewers")], ViewerCountUpdated(sid, "owner", n, n, now))
                await asyncio.sleep(0.25)

        bus = server.runtime.deps.bus
        viewers_task, status_task = asyncio.create_task(watch_viewers()), asyncio.create_task(watch_status())
        await eventually(lambda: bus.subscriber_count(stream_channel(sid, "viewers")) == 1, what="gauge subscriber")
        await eventually(lambda: bus.subscriber_count(stream_channel(sid)) == 1, what="status subscriber")
        publishing = asyncio.create_task(publish_viewers())
        try:
            await eventually(lambda: len(gauge) >= 3, what="viewer counts flowing before the outage")

            await private_redis.kill()
            down_at = time.monotonic()
            # Writes during the outage are accepted and persisted (their events cannot cross processes).
            during = [await create_stream(server.graphql_http, token, title=f"During outage {i}") for i in range(3)]
            cancelled = await gql_http(server.graphql_http, CANCEL, {"id": during[0]["id"]}, token)
            assert cancelled["cancelStream"] == {"__typename": "Stream", "status": "CANCELLED"}
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
            assert not viewers_task.done() and not status_task.done(), "a subscription ended while Redis was down"
            before_return = len(gauge)

            await private_redis.start()
            back_at = time.monotonic()
            await eventually(lambda: len(gauge) > before_return, timeout=GAUGE_RESUME_SECONDS + 5, what="gauge resumes")
            resumed_after = gauge[before_return][1] - back_at
            assert resumed_after <= GAUGE_RESUME_SECONDS, f"gauge resumed {resumed_after:.1f} s after Redis returned"
            assert gauge[-1][0] > gauge[before_return - 1][0], "values after the outage are newer"

            await asyncio.wait_for(status_task, 10)  # ended, not hanging
            assert lossless_errors == ["EVENTS_MISSED"]
            assert not viewers_task.done(), "the gauge subscription stays open through the outage"
        finally:
            publishing.cancel()
            viewers_task.cancel()
            await asyncio.gather(publishing, viewers_task, status_task, return_exceptions=True)
            await publisher.disconnect()

        # Nothing accepted during the outage is lost; new subscriptions work end to end again.
        ids = {
            e["node"]["id"]: e["node"]["status"]
            for e in (await gql_http(server.graphql_http, "{ streams(first: 10) { edges { node { id status } } } }"))[
                "streams"
            ]["edges"]
        }
        assert ids[during[0]["id"]] == "CANCELLED"
        assert all(ids[s["id"]] == "SCHEDULED" for s in during[1:])
        received: list[str] = []

        async def watch_again() -> None:
            async with ws_session(server.graphql_ws) as session:
                async for result in session.subscribe(GraphQLRequest(STATUS, variable_values={"id": sid})):
                    received.append(result["streamStatusChanged"]["status"])
                    return

        again = asyncio.create_task(watch_again())
        channel = stream_channel(sid)
        async with Redis.from_url(private_redis.url) as redis:

            async def subscribed_on_redis() -> bool:
                return dict(await redis.pubsub_numsub(channel)).get(channel.encode(), 0) == 1

            await eventually(subscribed_on_redis, what="the server to subscribe the channel on Redis again")
        await gql_http(server.graphql_http, CANCEL, {"id": sid}, token)
        await asyncio.wait_for(again, 10)
        assert received == ["CANCELLED"]
