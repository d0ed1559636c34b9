"""Distributed mode on real processes: two API processes (``livecast serve`` without ingest) and one
``livecast ingest`` process share the test database, one Redis and the media directory.

A client subscribed on API process A (the third-party ``gql`` client, over both websocket protocols) sees
events caused by a mutation sent to process B and by an RTMP publish to the ingest process.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import m3u8
import pytest
from redis.asyncio import Redis

from livecast.domain.auth import ensure_user, issue_token
from livecast.domain.deps import Deps
from livecast.domain.events import stream_channel
from tests.conftest import TEST_SECRET
from tests.helpers.client import StatusWatcher, create_stream, gql_http
from tests.helpers.encoder import Encoder
from tests.helpers.hls import PlaylistWatch
from tests.helpers.processes import LivecastProcess, free_port, livecast_processes

pytestmark = pytest.mark.e2e

END = "mutation($id: ID!) { endStream(id: $id) { __typename ... on Error { code message } } }"
CANCEL = "mutation($id: ID!) { cancelStream(id: $id) { __typename ... on Error { code message } } }"


def subscribed_on_redis(redis: Redis, stream_id: str):
    """Process A has subscribed the stream's status channel on Redis (it does so for its first subscriber)."""

    async def check() -> bool:
        channel = stream_channel(stream_id)
        return dict(await redis.pubsub_numsub(channel)).get(channel.encode(), 0) >= 1

    return check


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
async def test_events_reach_subscribers_on_another_process(
    deps: Deps,
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    encoders: list[Encoder],
    protocol: str,
    playlists: PlaylistWatch,
) -> None:
    user = await ensure_user(name="alice", roles=[])
    token = issue_token(user=user, key=TEST_SECRET, ttl_seconds=3600)
    api_a, api_b, rtmp = free_port(), free_port(), free_port()
    common = {
        "LIVECAST_DATABASE_URL": database_url,
        "LIVECAST_BUS_URL": redis_url,
        "LIVECAST_SECRET_KEY": TEST_SECRET,
        "LIVECAST_DATA_DIR": str(tmp_path / "data"),
        "LIVECAST_MEDIA_DIR": str(tmp_path / "media"),
        "LIVECAST_HLS_SEGMENT_SECONDS": "1",
        "LIVECAST_RTMP_PUBLIC_URL": f"rtmp://127.0.0.1:{rtmp}/live",
        "LIVECAST_LOG_LEVEL": "WARNING",
    }
    api_env = common | {"LIVECAST_EMBEDDED_INGEST": "false"}
    redis = Redis.from_url(redis_url)
    async with livecast_processes() as processes:
        a = LivecastProcess("serve --no-migrate", api_env | {"LIVECAST_HTTP_PORT": str(api_a)}, tmp_path / "a.log")
        b = LivecastProcess("serve --no-migrate", api_env | {"LIVECAST_HTTP_PORT": str(api_b)}, tmp_path / "b.log")
        ingest = LivecastProcess("ingest", common | {"LIVECAST_RTMP_PORT": str(rtmp)}, tmp_path / "ingest.log")
        for process in (a, b, ingest):
            processes.append(await process.start())
        await a.ready(http_port=api_a)
        await b.ready(http_port=api_b)
        await ingest.ready(rtmp_port=rtmp)
        ws_a, http_b = f"ws://127.0.0.1:{api_a}/graphql", f"http://127.0.0.1:{api_b}/graphql"

        # 1. A mutation on B reaches a subscriber on A.
        scheduled = await create_stream(http_b, token, title="Cancelled on B")
        watcher = await StatusWatcher(ws_a, scheduled["id"], protocol).start(
            subscribed_on_redis(redis, scheduled["id"])
        )
        result = await gql_http(http_b, CANCEL, {"id": scheduled["id"]}, token)
        assert result["cancelStream"]["__typename"] == "Stream", result
        await watcher.until("CANCELLED", timeout=15)
        assert watcher.statuses == ["CANCELLED"]

        # 2. An RTMP publish to the ingest process reaches subscribers on A; ending it on B stops the encoder.
        live = await create_stream(http_b, token, title="Published to the ingest", reconnectWindow=30)
        assert live["ingest"]["rtmpUrl"] == f"rtmp://127.0.0.1:{rtmp}/live"
        playlists.watch(live["playback"]["hlsUrl"].replace(f":{api_b}/", f":{api_a}/"))  # RFC 8216 checks
        watcher = await StatusWatcher(ws_a, live["id"], protocol).start(subscribed_on_redis(redis, live["id"]))
        encoder = Encoder(f"{live['ingest']['rtmpUrl']}/{live['ingest']['streamKey']}", 60)
        encoders.append(await encoder.start())
        await watcher.until("LIVE", timeout=45)
        assert watcher.statuses == ["PREPARING", "LIVE"]

        # The HLS written by the ingest process is served by API process A from the shared media directory.
        playlist_url = live["playback"]["hlsUrl"].replace(f":{api_b}/", f":{api_a}/")
        async with httpx.AsyncClient() as client:
            response = await client.get(playlist_url)
        assert response.status_code == 200, response.text
        assert len(m3u8.loads(response.text).segments) >= 1

        result = await gql_http(http_b, END, {"id": live["id"]}, token)
        assert result["endStream"]["__typename"] == "Stream", result
        await watcher.until("ENDED", timeout=15)
        assert watcher.statuses == ["PREPARING", "LIVE", "ENDED"]
        assert await encoder.wait(30) != 0, "the ingest process disconnected the encoder of the ended stream"
        async with httpx.AsyncClient() as client:
            final = (await client.get(playlist_url)).text
        assert final.rstrip().endswith("#EXT-X-ENDLIST")

        for process in (a, b, ingest):
            assert process.running(), process.output()
            assert "Traceback" not in process.output(), process.output()
    await redis.aclose()
