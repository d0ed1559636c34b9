"""The ingest under bad input and failures, with a real encoder publishing alongside:
garbage bytes on the RTMP port, a second publisher on a live key, ffmpeg killed mid-stream, and the owner
ending a live stream."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import httpx
import m3u8
import pytest

from livecast.domain.models import Stream, StreamStatus
from tests.conftest import Server
from tests.helpers.client import RESULT_FIELDS, create_stream, gql_http
from tests.helpers.encoder import Encoder
from tests.helpers.hls import PlaylistWatch
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e


async def status(stream_id: str) -> StreamStatus:
    return (await Stream.get(id=stream_id)).status


async def segment_uris(url: str) -> list[str]:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    return [s.uri for s in m3u8.loads(response.text).segments] if response.status_code == 200 else []


async def closed_by_server(reader: asyncio.StreamReader, timeout: float) -> bool:
    """True when the server closes the connection (EOF or reset) within ``timeout`` seconds."""
    try:
        while await asyncio.wait_for(reader.read(65536), timeout):
            pass
    except ConnectionError:
        return True
    except TimeoutError:
        return False
    return True


async def garbage_is_dropped(server: Server, payload: bytes, timeout: float) -> bool:
    """Send ``payload`` on a raw TCP connection; True if the server closes it within ``timeout`` s."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.settings.rtmp_port)
    try:
        writer.write(payload)
        await writer.drain()
        return await closed_by_server(reader, timeout)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_garbage_duplicate_publisher_and_ffmpeg_crash(
    server: Server, encoders: list[Encoder], playlists: PlaylistWatch
) -> None:
    token = await server.token("alice")
    s = await create_stream(server.graphql_http, token, reconnectWindow=5, endOnUnpublish=False)  # see the end
    url = f"{s['ingest']['rtmpUrl']}/{s['ingest']['streamKey']}"
    hls = s["playback"]["hlsUrl"]
    playlists.watch(hls)  # every rewrite checked against RFC 8216, across the ffmpeg restart
    main = await Encoder(url, 16).start()
    encoders.append(main)
    await eventually(lambda: status(s["id"]), what="stream exists")
    await eventually(lambda: _is(status(s["id"]), StreamStatus.LIVE), timeout=20, what="LIVE")

    # Garbage: a wrong version byte, random bytes after a valid C0, and a valid handshake followed by junk chunks.
    assert await garbage_is_dropped(server, b"\x07" + os.urandom(3000), 5)
    assert await garbage_is_dropped(server, b"\x03" + os.urandom(1536 + 1536 + 4096), 15)
    assert await garbage_is_dropped(server, b"\x03", 15), "a stalled handshake is dropped after the timeout"
    assert await status(s["id"]) is StreamStatus.LIVE

    # A second publisher on the live key is refused; the first one keeps going.
    intruder = await Encoder(url, 3).start()
    encoders.append(intruder)
    assert await intruder.wait(30) != 0
    assert b"already has a publisher" in intruder.stderr

    # ffmpeg (the HLS packager) is killed: it is restarted and the stream stays live.
    session = server.runtime.ingest.sessions[s["id"]]
    old_pid = session.pipeline.process.pid
    before = await segment_uris(hls)
    os.kill(old_pid, signal.SIGKILL)
    await eventually(
        lambda: session.pipeline is not None and session.pipeline.process.pid != old_pid, what="ffmpeg restart"
    )
    await eventually(lambda: _new_segment(hls, before), timeout=15, what="segments after restart")
    assert await status(s["id"]) is StreamStatus.LIVE

    assert await main.wait() == 0, main.stderr  # a clean stop, which waits the window (endOnUnpublish off)
    await eventually(lambda: _is(status(s["id"]), StreamStatus.RECONNECTING), what="RECONNECTING")
    await eventually(lambda: _is(status(s["id"]), StreamStatus.ENDED), timeout=15, what="ENDED")


async def test_owner_ends_a_live_stream(server: Server, encoders: list[Encoder], playlists: PlaylistWatch) -> None:
    token = await server.token("alice")
    s = await create_stream(server.graphql_http, token, reconnectWindow=60)
    playlists.watch(s["playback"]["hlsUrl"])
    main = await Encoder(f"{s['ingest']['rtmpUrl']}/{s['ingest']['streamKey']}", 30).start()
    encoders.append(main)
    await eventually(lambda: _is(status(s["id"]), StreamStatus.LIVE), timeout=20, what="LIVE")

    delete = "mutation($id: ID!) { deleteStream(id: $id) { __typename ... on Error { code } } }"
    refused = (await gql_http(server.graphql_http, delete, {"id": s["id"]}, token))["deleteStream"]
    assert refused == {"__typename": "InvalidStateError", "code": "INVALID_STATE"}

    end = f"mutation($id: ID!) {{ endStream(id: $id) {{ {RESULT_FIELDS} }} }}"
    ended = (await gql_http(server.graphql_http, end, {"id": s["id"]}, token))["endStream"]
    assert ended["status"] == "ENDED" and ended["endedAt"]
    # The encoder is disconnected well before its 30 s of media, and the playlist is closed.
    assert await main.wait(timeout=15) != 0
    await eventually(lambda: _endlist(s["playback"]["hlsUrl"]), what="EXT-X-ENDLIST")
    assert s["id"] not in server.runtime.ingest.sessions
    rejoin = await Encoder(f"{s['ingest']['rtmpUrl']}/{s['ingest']['streamKey']}", 2).start()
    encoders.append(rejoin)
    assert await rejoin.wait(30) != 0 and b"ENDED" in rejoin.stderr


async def _is(current: asyncio.Future[StreamStatus] | StreamStatus, expected: StreamStatus) -> bool:
    return (await current if not isinstance(current, StreamStatus) else current) is expected  # type: ignore[misc]


async def _new_segment(url: str, before: list[str]) -> bool:
    uris = await segment_uris(url)
    return bool(uris) and uris[-1] not in before


async def _endlist(url: str) -> bool:
    async with httpx.AsyncClient() as client:
        return "#EXT-X-ENDLIST" in (await client.get(url)).text
