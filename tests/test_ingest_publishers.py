"""Publishers as broadcasters' encoders behave (issue #11), against a real server with raw RTMP clients sending
real H.264/AAC (``tests.helpers.rtmp_client.Publisher``) and real ffmpeg encoders:

* a stalled publisher (half-open: it sends nothing and keeps its socket open) is replaced by a new publish with
  the same key within 2 s; the stream stays ``LIVE`` and the playlist continues across one discontinuity;
* no media for ``LIVECAST_INGEST_IDLE_TIMEOUT`` drops a publisher even while it sends other messages;
* Stop (``FCUnpublish`` + ``deleteStream``) ends the stream at once unless ``endOnUnpublish`` is false; a dropped
  connection keeps the reconnect window;
* six concurrent publishes while ``RECONNECTING``: exactly one is accepted and no ffmpeg is left behind.

The restart of a process during ``RECONNECTING`` is in ``test_reconnect_window.py``.
"""

from __future__ import annotations

import asyncio
import os

import httpx
import m3u8
import pytest

from livecast.domain.models import Stream, StreamStatus
from livecast.providers.local import rtmp
from livecast.settings import Settings
from tests.conftest import Server
from tests.helpers.client import create_stream, gql_http
from tests.helpers.encoder import Encoder
from tests.helpers.processes import ffmpeg_children
from tests.helpers.rtmp_client import MEDIA_CHUNK_SIZE, Publisher, encode_flv, message
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e

S = StreamStatus
Tags = list[tuple[int, int, bytes]]


@pytest.fixture(scope="session")
async def media(tmp_path_factory: pytest.TempPathFactory) -> Tags:
    """30 s of 320x180 H.264 (1 s GOP) + AAC as FLV tags, encoded once by the real ffmpeg."""
    return await encode_flv(str(tmp_path_factory.mktemp("media") / "test.flv"), 30)


class Statuses:
    """Every status a stream has had, polled from the database every 50 ms (transitions last ≥ 1 s here)."""

    def __init__(self, stream_id: str) -> None:
        self.stream_id, self.seen = stream_id, []
        self.task = asyncio.create_task(self._poll())

    async def _poll(self) -> None:
        while True:
            current = (await Stream.get(id=self.stream_id)).status.value
            if not self.seen or self.seen[-1] != current:
                self.seen.append(current)
            await asyncio.sleep(0.05)

    async def until(self, status: str, timeout: float = 30) -> None:
        await eventually(lambda: status in self.seen, timeout=timeout, what=f"{status} (seen {self.seen})")

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def playlist(url: str) -> tuple[str, m3u8.M3U8]:
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
    text = response.text if response.status_code == 200 else ""
    return text, m3u8.loads(text)


def seg_number(uri: str) -> int:
    return int(uri.removeprefix("seg_").removesuffix(".ts"))


async def status(stream_id: str) -> str:
    return (await Stream.get(id=stream_id)).status.value


async def new_stream(server: Server, **fields: object) -> tuple[dict, str]:
    token = await server.token("alice")
    return await create_stream(server.graphql_http, token, **fields), token


async def test_a_stale_publisher_is_replaced_within_2_s_and_the_playlist_continues(server: Server, media: Tags) -> None:
    s, _ = await new_stream(server, reconnectWindow=30)
    key, hls, port = s["ingest"]["streamKey"], s["playback"]["hlsUrl"], server.settings.rtmp_port
    statuses = Statuses(s["id"])
    stale = await Publisher.connect(port)
    fresh: Publisher | None = None
    loop = asyncio.get_running_loop()
    try:
        assert await stale.publish(key), stale.refusal
        assert await stale.send_media(media, seconds=4)  # then it stalls: nothing more, the socket stays open
        await statuses.until("LIVE")
        _, before = await eventually(lambda: _with_segments(hls, 2), what="segments of the first publisher")

        fresh = await Publisher.connect(port)
        asked = loop.time()
        assert await fresh.publish(key, timeout=5), f"the new publish was refused: {fresh.refusal}"
        accepted = loop.time() - asked
        feeding = asyncio.create_task(fresh.send_media(media, seconds=12))
        assert await stale.closed_by_server(max(0.1, asked + 2 - loop.time())), "stale publisher still connected"
        replaced = loop.time() - asked
        assert accepted <= 2 and replaced <= 2, (accepted, replaced)

        sequences, last_stale = [], seg_number(before.segments[-1].uri)

        async def seam_and_two_more() -> m3u8.M3U8 | None:
            _, current = await playlist(hls)
            sequences.append(current.media_sequence or 0)
            seams = [i for i, seg in enumerate(current.segments) if i and seg.discontinuity]
            return current if seams and len(current.segments) - seams[0] >= 2 else None

        after = await eventually(seam_and_two_more, timeout=20, what="segments after the seam")
        seams = [seg_number(seg.uri) for i, seg in enumerate(after.segments) if i and seg.discontinuity]
        numbers = [seg_number(seg.uri) for seg in after.segments]
        assert len(seams) == 1 and seams[0] > last_stale, f"one discontinuity, at the seam: {after.dumps()}"
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), f"segments continue: {numbers}"
        assert sequences == sorted(sequences) and sequences[-1] >= (before.media_sequence or 0)
        assert after.media_sequence == numbers[0], "the media sequence counts on across the seam"
        assert len(ffmpeg_children(os.getpid())) == 1, "the stale publisher's ffmpeg is stopped"
        assert statuses.seen == ["SCHEDULED", "PREPARING", "LIVE"], "LIVE throughout the takeover"

        feeding.cancel()
        assert await fresh.unpublish(key)
        await statuses.until("ENDED", timeout=3)
        assert (await playlist(hls))[0].rstrip().endswith("#EXT-X-ENDLIST")
    finally:
        await statuses.close()
        for client in (stale, fresh):
            if client is not None:
                await client.close()


async def _with_segments(url: str, count: int) -> tuple[str, m3u8.M3U8] | None:
    text, current = await playlist(url)
    return (text, current) if len(current.segments) >= count else None


async def test_no_media_for_the_idle_timeout_is_a_disconnect(server: Server, media: Tags) -> None:
    """The publisher keeps talking (acknowledgements every 0.5 s) but sends no media: dropped after the idle
    timeout (5 s in the test settings; at most 5 s by default) and the stream is ``RECONNECTING``."""
    s, _ = await new_stream(server, reconnectWindow=30)
    client = await Publisher.connect(server.settings.rtmp_port)
    statuses = Statuses(s["id"])
    loop = asyncio.get_running_loop()
    try:
        assert await client.publish(s["ingest"]["streamKey"]), client.refusal
        assert await client.send_media(media, seconds=3)
        await statuses.until("LIVE")
        stalled = loop.time()
        ack = message(2, rtmp.control(rtmp.MSG_ACK, 1000), MEDIA_CHUNK_SIZE)
        for _ in range(24):  # 12 s at most
            if not await client.send(ack):
                break
            await asyncio.sleep(0.5)
        dropped = loop.time() - stalled
        await statuses.until("RECONNECTING", timeout=2)
        idle = server.settings.ingest_idle_timeout
        assert idle - 0.5 <= dropped <= idle + 1.5, f"dropped {dropped:.1f} s after the last media"
        assert Settings.model_fields["ingest_idle_timeout"].default <= 5
    finally:
        await statuses.close()
        await client.close()


async def test_stop_ends_the_stream_at_once(server: Server, encoders: list[Encoder]) -> None:
    """ffmpeg ending normally sends ``FCUnpublish`` and ``deleteStream``, as OBS's Stop Streaming does."""
    s, _ = await new_stream(server, reconnectWindow=60)
    statuses = Statuses(s["id"])
    try:
        encoder = Encoder(f"{s['ingest']['rtmpUrl']}/{s['ingest']['streamKey']}", 5)
        encoders.append(await encoder.start())
        await statuses.until("LIVE")
        assert await encoder.wait(30) == 0, encoder.stderr
        stopped = asyncio.get_running_loop().time()
        await statuses.until("ENDED", timeout=3)
        assert asyncio.get_running_loop().time() - stopped <= 3
        assert statuses.seen == ["SCHEDULED", "PREPARING", "LIVE", "ENDED"]
        await eventually(lambda: _endlist(s["playback"]["hlsUrl"]), timeout=1, what="EXT-X-ENDLIST")
    finally:
        await statuses.close()


async def test_end_on_unpublish_false_and_a_dropped_connection_keep_the_window(server: Server, media: Tags) -> None:
    keep, token = await new_stream(server, reconnectWindow=60, endOnUnpublish=False)
    drop, _ = await new_stream(server, reconnectWindow=60)
    query = "query($id: ID!) { stream(id: $id) { endOnUnpublish } }"
    for s, expected in ((keep, False), (drop, True)):
        assert (await gql_http(server.graphql_http, query, {"id": s["id"]}))["stream"]["endOnUnpublish"] is expected
    port = server.settings.rtmp_port
    stopping, dropping = await Publisher.connect(port), await Publisher.connect(port)
    try:
        for client, s in ((stopping, keep), (dropping, drop)):
            assert await client.publish(s["ingest"]["streamKey"]), client.refusal
        await asyncio.gather(stopping.send_media(media, seconds=3), dropping.send_media(media, seconds=3))
        for s in (keep, drop):
            await eventually(lambda s=s: _is(s["id"], "LIVE"), what="LIVE")
        assert await stopping.unpublish(keep["ingest"]["streamKey"])
        await dropping.close()  # no FCUnpublish: a network failure
        for s in (keep, drop):
            await eventually(lambda s=s: _is(s["id"], "RECONNECTING"), timeout=5, what="RECONNECTING")
        await asyncio.sleep(2)
        assert [await status(keep["id"]), await status(drop["id"])] == ["RECONNECTING", "RECONNECTING"]

        update = "mutation($id: ID!) { updateStream(id: $id, input: {endOnUnpublish: true}) { ... on Stream { endOnUnpublish } } }"
        assert (await gql_http(server.graphql_http, update, {"id": keep["id"]}, token))["updateStream"] == {
            "endOnUnpublish": True
        }
    finally:
        await stopping.close()
        await dropping.close()


async def test_six_concurrent_publishes_while_reconnecting_accept_exactly_one(server: Server, media: Tags) -> None:
    s, _ = await new_stream(server, reconnectWindow=60)
    key, port, me = s["ingest"]["streamKey"], server.settings.rtmp_port, os.getpid()
    assert ffmpeg_children(me) == []
    first = await Publisher.connect(port)
    assert await first.publish(key), first.refusal
    assert await first.send_media(media, seconds=3)
    await eventually(lambda: _is(s["id"], "LIVE"), what="LIVE")
    await first.close()
    await eventually(lambda: _is(s["id"], "RECONNECTING"), timeout=5, what="RECONNECTING")
    await eventually(lambda: ffmpeg_children(me) == [], timeout=10, what="the first packager to exit")

    clients = [await Publisher.connect(port) for _ in range(6)]
    feeding: list[asyncio.Task[bool]] = []

    async def publish(client: Publisher) -> bool:
        if not await client.publish(key, timeout=10):
            return False
        feeding.append(asyncio.create_task(client.send_media(media, seconds=20)))  # an encoder sends at once
        return True

    try:
        accepted = await asyncio.gather(*(publish(c) for c in clients))
        assert sum(accepted) == 1, accepted
        refused = [c for c, ok in zip(clients, accepted, strict=True) if not ok]
        for client in refused:
            assert "NetStream.Publish.BadName" in client.refusal and "already has a publisher" in client.refusal
            assert await client.closed_by_server(2)
        assert len(ffmpeg_children(me)) == 1
        await eventually(lambda: _is(s["id"], "LIVE"), timeout=15, what="LIVE again")
        assert len(ffmpeg_children(me)) == 1

        winner = clients[accepted.index(True)]
        for task in feeding:
            task.cancel()
        assert await winner.unpublish(key)
        await eventually(lambda: _is(s["id"], "ENDED"), timeout=3, what="ENDED")
        await eventually(lambda: ffmpeg_children(me) == [], timeout=10, what="no ffmpeg left")
        assert await _endlist(s["playback"]["hlsUrl"])
    finally:
        for client in (first, *clients):
            await client.close()


async def _is(stream_id: str, expected: str) -> bool:
    return await status(stream_id) == expected


async def _endlist(url: str) -> bool:
    return "#EXT-X-ENDLIST" in (await playlist(url))[0]
