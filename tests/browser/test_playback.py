"""A viewer's browser against the local pipeline (issue #11): hls.js 1.x in headless Chromium plays
``playback.hlsUrl`` of a real livecast server fed by real ffmpeg encoders over RTMP.

Every assertion is read from the page: ``<video>.currentTime`` advancing, the ``ended`` event, hls.js events
(``FRAG_CHANGED`` with its discontinuity counter ``cc``, fatal errors). hls.js runs with its default config,
as a watch page would: no raised retry counts.
"""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from tests.browser.conftest import OpenPlayer
from tests.browser.harness import Player
from tests.conftest import Server
from tests.helpers.client import create_stream, gql_http
from tests.helpers.encoder import Encoder
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PRE_LIVE_SECONDS = 8
"""How long the page is open before the encoder starts (a viewer who arrives early). Longer than hls.js 1.7
gives a 404 (``manifestLoadError``, fatal at once) or a live playlist without segments (``levelEmptyError``,
fatal after ~3 s with the default retries); a live playlist with at least one segment (a slate) that stops
growing only stalls it (non-fatal ``bufferStalledError``) while it keeps reloading."""
WINDOW = 60
"""Reconnect window of the test streams (s): longer than every test, so only a Stop can end them in time."""
RECONNECT_DELAY = 3
"""Seconds between the stream going RECONNECTING and the new publish: OBS retries after 2-10 s by default, so
the page runs out of buffer (~3 segments of 1 s) and must recover from a stall by itself."""
STATUS = "query($id: ID!) { stream(id: $id) { status } }"
END = "mutation($id: ID!) { endStream(id: $id) { __typename ... on Stream { status } ... on Error { code message } } }"


async def status(server: Server, token: str, stream_id: str) -> str:
    data = await gql_http(server.graphql_http, STATUS, {"id": stream_id}, token)
    return data["stream"]["status"]


async def until_status(server: Server, token: str, stream_id: str, wanted: str, timeout: float = 30) -> None:
    async def reached() -> bool:
        return await status(server, token, stream_id) == wanted

    await eventually(reached, timeout=timeout, interval=0.2, what=f"stream {wanted}")


async def live_stream(server: Server, encoders: list[Encoder], token: str, title: str) -> tuple[dict, Encoder]:
    """A stream with an encoder publishing (for up to 120 s), once it is LIVE."""
    stream = await create_stream(server.graphql_http, token, title=title, reconnectWindow=WINDOW)
    encoder = await publish(stream, encoders)
    await until_status(server, token, stream["id"], "LIVE")
    return stream, encoder


async def publish(stream: dict, encoders: list[Encoder], seconds: float = 120) -> Encoder:
    ingest = stream["ingest"]
    encoder = Encoder(f"{ingest['rtmpUrl']}/{ingest['streamKey']}", seconds)
    encoders.append(await encoder.start())
    return encoder


def played_cc(state: dict) -> int:
    """The highest discontinuity counter (``cc``) of the fragments played so far; -1: none played yet."""
    return max((e["cc"] for e in state["log"] if e["name"] == "hls.fragChanged"), default=-1)


async def plays_on_after(player: Player, cc: int, *, timeout: float, what: str) -> None:
    """A fragment of a later discontinuity than ``cc`` plays (new media: the seam is crossed), and then media
    time advances 3 s more."""
    state = await player.until(
        f"p.log.some(e => e.name === 'hls.fragChanged' && e.cc > {cc})", timeout=timeout, what=what
    )
    await player.plays_past(state["currentTime"] + 3, timeout=20, what=f"{what}, then 3 s more")


def stop_streaming(encoder: Encoder) -> None:
    """Like OBS's Stop Streaming: ffmpeg exits on SIGINT, and closing its RTMP output sends ``FCUnpublish``
    and ``deleteStream`` (libavformat/rtmpproto.c ``rtmp_close``) before the socket closes."""
    assert encoder.process is not None
    os.kill(encoder.process.pid, signal.SIGINT)


async def test_plays_a_live_stream_and_ends_after_end_stream(
    server: Server, encoders: list[Encoder], open_player: OpenPlayer
) -> None:
    """The harness itself: a stream that is already live plays (media time advances), and the owner's
    ``endStream`` (ENDED, ``EXT-X-ENDLIST``) makes the video element fire ``ended``."""
    token = await server.token("alice")
    stream, _ = await live_stream(server, encoders, token, "Already live")

    player = await open_player(stream["playback"]["hlsUrl"])
    state = await player.plays_past(2, timeout=30, what="playback of a live stream")
    await player.plays_past(state["currentTime"] + 2, timeout=15, what="playback going on")

    result = (await gql_http(server.graphql_http, END, {"id": stream["id"]}, token))["endStream"]
    assert result == {"__typename": "Stream", "status": "ENDED"}, result
    state = await player.until("p.ended", timeout=20, what="the video's ended event after endStream")
    assert state["currentTime"] > 4


async def test_plays_a_stream_opened_before_go_live(
    server: Server, encoders: list[Encoder], open_player: OpenPlayer
) -> None:
    """A watch page opened while the stream is SCHEDULED starts playing by itself once the encoder is live."""
    token = await server.token("alice")
    stream = await create_stream(server.graphql_http, token, title="Opened early", reconnectWindow=WINDOW)
    assert stream["status"] == "SCHEDULED"

    player = await open_player(stream["playback"]["hlsUrl"])
    await player.until("p.log.length > 0", timeout=10, what="the first answer to the playlist request")
    await asyncio.sleep(PRE_LIVE_SECONDS)  # the scenario, not synchronisation: the viewer waits for the start
    assert await status(server, token, stream["id"]) == "SCHEDULED"

    before_live = played_cc(await player.state())  # a "starting soon" slate may have played (cc 0), or nothing
    await publish(stream, encoders, seconds=60)
    await plays_on_after(player, before_live, timeout=45, what="the live media playing by itself after go-live")


async def test_continues_across_a_reconnect(server: Server, encoders: list[Encoder], open_player: OpenPlayer) -> None:
    """The encoder dies without unpublishing (SIGKILL); a new one publishes the same key inside the window:
    the page plays on across the seam (a fragment of the next discontinuity plays, and time advances)."""
    token = await server.token("alice")
    stream, first = await live_stream(server, encoders, token, "Reconnecting")
    player = await open_player(stream["playback"]["hlsUrl"])
    state = await player.plays_past(2, timeout=30, what="playback before the reconnect")
    before_seam = played_cc(state)

    assert first.process is not None
    first.process.kill()
    await first.process.wait()
    await until_status(server, token, stream["id"], "RECONNECTING", timeout=15)
    await asyncio.sleep(RECONNECT_DELAY)  # the scenario: the encoder's retry delay, during which the page stalls
    await publish(stream, encoders)

    await plays_on_after(player, before_seam, timeout=45, what="a fragment after the seam playing")
    state = await player.state()
    assert not state["ended"], await player.describe()


async def test_fires_ended_after_stop(server: Server, encoders: list[Encoder], open_player: OpenPlayer) -> None:
    """Stop Streaming (a clean unpublish) ends the stream at once: the page plays out what is left and the
    video element fires ``ended`` - well before the 60 s reconnect window would end the stream."""
    token = await server.token("alice")
    stream, encoder = await live_stream(server, encoders, token, "Stopped")
    player = await open_player(stream["playback"]["hlsUrl"])
    await player.plays_past(2, timeout=30, what="playback before Stop")

    stop_streaming(encoder)
    assert await encoder.wait(15) >= 0, "ffmpeg did not exit by itself on SIGINT"
    try:
        state = await player.until("p.ended", timeout=20, what="the video's ended event after Stop")
    except AssertionError as e:
        raise AssertionError(f"{e}\nstream status: {await status(server, token, stream['id'])}") from None
    assert state["currentTime"] > 2
