"""Every subscription over a real websocket with real events on the bus: who may subscribe, what arrives.

Events are published on the running server's event bus exactly as the domain publishes them (the health,
alert and viewer producers arrive with their issues; the plumbing, auth and fan-out are tested here).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from gql import GraphQLRequest
from gql.transport.exceptions import TransportQueryError

from livecast.domain import lifecycle
from livecast.domain.auth import ensure_user
from livecast.domain.events import (
    ALERTS,
    HEALTH,
    LIVE_CHANNEL,
    VIEWERS,
    AlertCleared,
    AlertRaised,
    Event,
    HealthSampled,
    ViewerCountUpdated,
    owner_channel,
    stream_channel,
)
from livecast.domain.models import StreamStatus
from livecast.settings import Settings
from tests.conftest import Server, run_server
from tests.helpers.client import create_stream, ws_session
from tests.helpers.waiting import eventually

NOW = datetime.now(UTC).isoformat()


class Subscription:
    """Runs one subscription in the background and collects its results (or its GraphQL error code)."""

    def __init__(self, server: Server, query: str, variables: dict[str, Any] | None = None, token: str | None = None):
        self.server, self.query, self.variables, self.token = server, query, variables, token
        self.results: list[dict[str, Any]] = []
        self.error: str | None = None
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async with ws_session(self.server.graphql_ws, token=self.token) as session:
            try:
                async for result in session.subscribe(GraphQLRequest(self.query, variable_values=self.variables)):
                    self.results.append(result)
            except TransportQueryError as e:
                self.error = e.errors[0]["extensions"]["code"]

    async def refused(self) -> str:
        await asyncio.wait_for(self.task, 10)
        assert self.error is not None and not self.results
        return self.error

    async def receive(self, count: int) -> list[dict[str, Any]]:
        await eventually(lambda: len(self.results) >= count or self.task.done(), what=f"{count} result(s)")
        assert self.error is None, self.error
        return self.results

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def publish_when_subscribed(server: Server, channel: str, *events: Event, subscribers: int = 1) -> None:
    bus = server.runtime.deps.bus
    await eventually(lambda: bus.subscriber_count(channel) >= subscribers, what=f"subscriber on {channel}")
    for event in events:
        await bus.publish([channel], event)


def health(stream_id: str, owner_id: str) -> HealthSampled:
    return HealthSampled(
        stream_id=stream_id, owner_id=owner_id, status="GOOD", at=NOW, drift_ms=620.0, drift_deviation_ms=80.0,
        video_bitrate=4_500_000, audio_bitrate=128_000, frame_rate=30.0, width=1280, height=720,
        keyframe_interval=2.0, codec="h264 High",
    )  # fmt: skip


async def owned_stream(server: Server) -> tuple[str, str, str]:
    """(owner token, stream id, owner id) of a new stream owned by alice."""
    token = await server.token("alice")
    stream = await create_stream(server.graphql_http, token)
    return token, stream["id"], stream["owner"]["id"]


async def test_viewer_count_is_public_and_delivered(server: Server) -> None:
    _, sid, owner = await owned_stream(server)
    sub = Subscription(
        server, "subscription($id: ID!) { viewerCountChanged(streamId: $id) { streamId count peak } }", {"id": sid}
    )
    try:
        await publish_when_subscribed(server, stream_channel(sid, VIEWERS), ViewerCountUpdated(sid, owner, 12, 40, NOW))
        assert (await sub.receive(1))[0]["viewerCountChanged"] == {"streamId": sid, "count": 12, "peak": 40}
    finally:
        await sub.close()


async def test_health_is_for_the_owner_only(server: Server) -> None:
    token, sid, owner = await owned_stream(server)
    query = "subscription($id: ID!) { streamHealth(streamId: $id) { status drift videoBitrate frameRate width height codec } }"
    assert await Subscription(server, query, {"id": sid}).refused() == "UNAUTHENTICATED"
    assert await Subscription(server, query, {"id": sid}, await server.token("mallory")).refused() == "FORBIDDEN"
    admin = Subscription(server, query, {"id": sid}, await server.token("root", ["admin"]))
    sub = Subscription(server, query, {"id": sid}, token)
    try:
        await publish_when_subscribed(server, stream_channel(sid, HEALTH), health(sid, owner), subscribers=2)
        expected = {"status": "GOOD", "drift": 620.0, "videoBitrate": 4_500_000, "frameRate": 30.0, "width": 1280,
                    "height": 720, "codec": "h264 High"}  # fmt: skip
        assert (await sub.receive(1))[0]["streamHealth"] == expected
        assert (await admin.receive(1))[0]["streamHealth"] == expected
    finally:
        await sub.close()
        await admin.close()


async def test_stream_alerts_raise_and_clear_for_the_owner(server: Server) -> None:
    token, sid, owner = await owned_stream(server)
    query = "subscription($id: ID!) { streamAlerts(streamId: $id) { id kind severity message active } }"
    assert await Subscription(server, query, {"id": sid}, await server.token("mallory")).refused() == "FORBIDDEN"
    sub = Subscription(server, query, {"id": sid}, token)
    try:
        raised = AlertRaised(
            "a1", sid, owner, "LOW_VIDEO_BITRATE", "WARNING", "video bitrate 320 kbps is below 500 kbps", NOW
        )
        await publish_when_subscribed(
            server, stream_channel(sid, ALERTS), raised, AlertCleared("a1", sid, owner, "LOW_VIDEO_BITRATE", NOW)
        )
        results = [r["streamAlerts"] for r in await sub.receive(2)]
        assert results == [
            {"id": "a1", "kind": "LOW_VIDEO_BITRATE", "severity": "WARNING", "message": raised.message, "active": True},
            {"id": "a1", "kind": "LOW_VIDEO_BITRATE", "severity": None, "message": None, "active": False},
        ]
    finally:
        await sub.close()


async def test_my_stream_alerts_cover_all_of_the_callers_streams(server: Server) -> None:
    token, first, owner = await owned_stream(server)
    second = (await create_stream(server.graphql_http, token))["id"]
    query = "subscription { myStreamAlerts { streamId kind } }"
    assert await Subscription(server, query).refused() == "UNAUTHENTICATED"
    sub = Subscription(server, query, token=token)
    other = Subscription(server, query, token=await server.token("bob"))
    bob = await ensure_user(name="bob", roles=[])
    try:
        await eventually(lambda: server.runtime.deps.bus.subscriber_count(owner_channel(str(bob.id), ALERTS)) == 1)
        events = [
            AlertRaised(f"a{n}", sid, owner, "NO_MEDIA", "CRITICAL", "no media for 5 s", NOW)
            for n, sid in enumerate((first, second))
        ]
        await publish_when_subscribed(server, owner_channel(owner, ALERTS), *events)
        assert [r["myStreamAlerts"] for r in await sub.receive(2)] == [
            {"streamId": first, "kind": "NO_MEDIA"},
            {"streamId": second, "kind": "NO_MEDIA"},
        ]
        await asyncio.sleep(0.3)  # bob is subscribed (above): anything for him would have arrived by now
        assert other.results == [], "another user's dashboard does not see alice's alerts"
    finally:
        await sub.close()
        await other.close()


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_live_directory_sees_streams_go_live_and_end(server: Server, protocol: str) -> None:
    _, sid, _ = await owned_stream(server)
    results: list[tuple[str, str]] = []

    async def watch() -> None:
        async with ws_session(server.graphql_ws, protocol=protocol) as session:
            async for r in session.subscribe(GraphQLRequest("subscription { liveStreamsChanged { id status } }")):
                results.append((r["liveStreamsChanged"]["id"], r["liveStreamsChanged"]["status"]))

    bus = server.runtime.deps.bus
    already = bus.subscriber_count(LIVE_CHANNEL)  # the ingest follows the directory too
    task = asyncio.create_task(watch())
    try:
        await eventually(lambda: bus.subscriber_count(LIVE_CHANNEL) > already, what="live directory subscriber")
        for status in (StreamStatus.LIVE, StreamStatus.ENDED):  # the same command the ingest and webhooks use
            await lifecycle.transition(bus=bus, stream_id=sid, to=status, reason="test")
        await eventually(lambda: len(results) >= 2, what="LIVE and ENDED")
        assert results == [(sid, "LIVE"), (sid, "ENDED")]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_websocket_limits(settings: Settings) -> None:
    """Init timeout (close 4408) and the per-connection subscription limit, both from settings."""
    import json

    import websockets

    limited = settings.model_copy(update={"ws_init_timeout_seconds": 0.5, "ws_max_subscriptions": 2})
    async with run_server(limited) as server:
        async with websockets.connect(server.graphql_ws, subprotocols=["graphql-transport-ws"]) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)  # no connection_init sent
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408
        _, sid, _ = await owned_stream(server)
        async with websockets.connect(server.graphql_ws, subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            query = "subscription($id: ID!) { streamStatusChanged(streamId: $id) { status } }"
            for n in range(3):
                await ws.send(
                    json.dumps(
                        {"id": str(n), "type": "subscribe", "payload": {"query": query, "variables": {"id": sid}}}
                    )
                )
            reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert (reply["id"], reply["type"]) == ("2", "error")
            assert "limit" in reply["payload"][0]["message"].lower()
