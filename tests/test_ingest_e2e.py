"""End to end on real input: GraphQL over HTTP creates a stream, a real ffmpeg encoder publishes over RTMP,
the local pipeline writes HLS served by the app, and status changes arrive over a real websocket."""

from __future__ import annotations

from pathlib import Path

import httpx
import m3u8
import pytest

from livecast.domain.events import stream_channel
from tests.conftest import Server
from tests.helpers.client import StatusWatcher, create_stream
from tests.helpers.encoder import Encoder, decode_ok
from tests.helpers.hls import PlaylistWatch

pytestmark = pytest.mark.e2e


async def fetch_playlist(url: str) -> tuple[str, m3u8.M3U8]:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    assert response.headers["cache-control"] == "no-cache"
    return response.text, m3u8.loads(response.text, uri=url)


async def segments_decode(playlist: m3u8.M3U8, base_url: str, tmp_path: Path) -> int:
    async with httpx.AsyncClient() as client:
        for segment in playlist.segments:
            response = await client.get(f"{base_url}/{segment.uri}")
            assert response.status_code == 200
            assert response.headers["content-type"] == "video/mp2t"
            path = tmp_path / segment.uri
            path.write_bytes(response.content)
            ok, err = await decode_ok(str(path))
            assert ok, f"{segment.uri} does not decode: {err}"
    return len(playlist.segments)


def seg_number(uri: str) -> int:
    return int(uri.removeprefix("seg_").removesuffix(".ts"))


async def test_publish_reconnect_and_end(
    server: Server, encoders: list[Encoder], tmp_path: Path, playlists: PlaylistWatch
) -> None:
    token = await server.token("alice")
    # ffmpeg ending normally stops cleanly (FCUnpublish): with endOnUnpublish off that waits the window too
    stream = await create_stream(
        server.graphql_http, token, title="End to end", reconnectWindow=6, endOnUnpublish=False
    )
    ingest, hls_url = stream["ingest"], stream["playback"]["hlsUrl"]
    history = playlists.watch(hls_url)  # every rewrite checked against RFC 8216 (tests/helpers/hls.py)
    assert ingest["rtmpUrl"] == server.settings.rtmp_base_url
    bus = server.runtime.deps.bus
    watcher = await StatusWatcher(server.graphql_ws, stream["id"]).start(
        lambda: bus.subscriber_count(stream_channel(stream["id"])) > 0
    )

    wrong = Encoder(f"{ingest['rtmpUrl']}/lk_not-a-real-key", 2)
    encoders.append(wrong)
    assert await (await wrong.start()).wait(30) != 0
    assert b"unknown stream key" in wrong.stderr
    assert watcher.statuses == []

    first = Encoder(f"{ingest['rtmpUrl']}/{ingest['streamKey']}", 12)
    encoders.append(await first.start())
    await watcher.until("LIVE")
    assert watcher.statuses == ["PREPARING", "LIVE"]
    assert await first.wait() == 0, first.stderr
    await watcher.until("RECONNECTING")

    text, playlist = await fetch_playlist(hls_url)
    assert "#EXT-X-ENDLIST" not in text
    assert len(playlist.segments) >= 3
    base = hls_url.rsplit("/", 1)[0]
    assert await segments_decode(playlist, base, tmp_path) >= 3
    last_before = seg_number(playlist.segments[-1].uri)
    sequence_before = playlist.media_sequence

    second = Encoder(f"{ingest['rtmpUrl']}/{ingest['streamKey']}", 4)
    encoders.append(await second.start())
    await watcher.until("LIVE", count=2)
    assert await second.wait() == 0, second.stderr
    await watcher.until("ENDED", timeout=30)
    assert watcher.statuses == ["PREPARING", "LIVE", "RECONNECTING", "LIVE", "RECONNECTING", "ENDED"]

    text, playlist = await fetch_playlist(hls_url)
    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    assert "#EXT-X-DISCONTINUITY" in text
    numbers = [seg_number(s.uri) for s in playlist.segments]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert numbers[-1] > last_before, "the second publish appended to the same playlist"
    assert playlist.media_sequence >= sequence_before
    assert playlist.media_sequence == numbers[0], "media sequence keeps counting across the reconnect"
    await segments_decode(playlist, base, tmp_path)
    assert any(view.tagged for view in history.segments), "the reconnect is marked with EXT-X-DISCONTINUITY"
    assert history.segments[-1].discontinuity_number == 2  # 1 after the slate, 2 after the reconnect
