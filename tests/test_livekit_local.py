"""A LiveKit broadcast paired with the local pipeline, end to end on a served app: the LiveKit emulator (real
``livekit-api`` SDK) runs the room and records the RTMP URL its egress was asked to push to; a real ffmpeg
then does what LiveKit's egress worker would, publishing to exactly that URL on livecast's RTMP ingest. The
HLS must appear under the paired playback id and be served at the stream's ``playback.hlsUrl``, without the
publish touching the stream's status (the room's participants drive it); ending the stream cuts the publish."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import m3u8
import pytest
from google.protobuf.json_format import MessageToDict
from livekit import api as lk_api

from livecast.domain import broadcast, broadcast_jobs, viewer_counts
from livecast.domain.health_models import StreamQualityMetric
from livecast.domain.models import Stream, StreamStatus
from livecast.domain.provider_models import Broadcast, EgressStatus
from livecast.providers.base import ProviderEvent
from livecast.providers.local.slate import SLATE
from livecast.settings import Settings
from tests.conftest import Server, run_server
from tests.emulators.livekit import LiveKitEmulator, Participant, livekit_settings
from tests.helpers.beacons import Player
from tests.helpers.client import gql_http
from tests.helpers.encoder import Encoder, decode_ok
from tests.helpers.hls import PlaylistWatch
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.e2e

S = StreamStatus
CREATE = """mutation { createStream(input: {title: "webrtc to hls", provider: "livekit"}) {
  __typename ... on Stream { id status playback { hlsUrl fallback } } ... on Error { code message } } }"""
STREAM = "query($s: ID!) { stream(id: $s) { status playback { hlsUrl fallback } } }"
END = "mutation($s: ID!) { endStream(id: $s) { __typename ... on Stream { status } } }"


@pytest.fixture
def settings(settings: Settings, livekit_emulator: LiveKitEmulator) -> Settings:
    return livekit_settings(settings, livekit_emulator, livekit_viewer_provider="local", health_sample_seconds=1.0)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Server]:
    async with run_server(settings, workers=False) as server:  # the test runs the LiveKit check itself
        yield server


def track_published(room: str, participant: Participant) -> ProviderEvent:
    """The verified ``track_published`` webhook LiveKit sends for ``participant`` (from the emulator's state)."""
    now = datetime.now(UTC)
    message = lk_api.WebhookEvent(
        event="track_published", id=f"EV_{uuid.uuid4().hex[:12]}", created_at=int(now.timestamp())
    )
    message.room.name = room
    message.participant.CopyFrom(participant.info())
    return ProviderEvent(
        provider="livekit", event_id=message.id, type=message.event, object_id=room, occurred_at=now,
        data=MessageToDict(message, preserving_proto_field_name=True),
    )  # fmt: skip


async def served_playlist(url: str) -> tuple[str, m3u8.M3U8]:
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    return response.text, m3u8.loads(response.text, uri=url)


async def playlist_with_segments(url: str) -> m3u8.M3U8 | None:
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    if response.status_code != 200:
        return None
    playlist = m3u8.loads(response.text, uri=url)
    return playlist if any(s.uri != SLATE for s in playlist.segments) else None  # not just the slate


async def test_egress_to_the_local_ingest_carries_the_media(
    app: Server, livekit_emulator: LiveKitEmulator, encoders: list[Encoder], tmp_path: Path, playlists: PlaylistWatch
) -> None:
    settings, deps, ingest = app.settings, app.runtime.deps, app.runtime.ingest
    url, owner = app.graphql_http, await app.token("host")
    created = (await gql_http(url, CREATE, token=owner))["createStream"]
    assert created["__typename"] == "Stream", created
    sid, hls_url = created["id"], created["playback"]["hlsUrl"]
    b = await Broadcast.get(stream_id=sid)
    assert b.paired_provider == "local"
    assert hls_url == f"{settings.http_base_url}/hls/{b.paired_playback_id}/index.m3u8"
    playlists.watch(hls_url)  # every rewrite checked against RFC 8216 (tests/helpers/hls.py)

    # a publisher joins the room: LIVE; the first HLS viewer starts the egress towards the local ingest
    host = livekit_emulator.join(b.room_name, "host")
    outcome = await broadcast.apply_livekit_event(deps, track_published(b.room_name, host))
    assert outcome.startswith("1 publisher(s): LIVE")
    await Player(deps.viewers, sid, "v1").send("playing")
    assert (await viewer_counts.refresh(deps=deps)).counts[sid] == 1
    [started] = await broadcast_jobs.check(deps=deps)
    assert "started (first viewer)" in started
    [egress] = livekit_emulator.active_egresses(b.room_name)
    [egress_url] = egress.urls
    assert egress_url == f"{settings.rtmp_base_url}/{b.paired_stream_key}"
    assert (await Broadcast.get(stream_id=sid)).egress_status is EgressStatus.STARTING
    before = await Stream.get(id=sid)
    assert before.status is S.LIVE

    # keys that are not the paired key are still refused
    for key in (b.paired_stream_key + "x", b.paired_stream_key[:-1], before.stream_key):
        wrong = Encoder(f"{settings.rtmp_base_url}/{key}", 2)
        encoders.append(await wrong.start())
        assert await wrong.wait(30) != 0
        assert b"unknown stream key" in wrong.stderr, wrong.stderr
    # (the folder may hold the "starting soon" slate the watched playlist showed; no playlist was written)
    assert sid not in ingest.sessions and not (settings.hls_dir / b.paired_playback_id / "index.m3u8").exists()

    # "LiveKit's egress worker" publishes to exactly the recorded URL: HLS under the paired playback id
    first = Encoder(egress_url, 6)
    encoders.append(await first.start())
    playlist = await eventually(lambda: playlist_with_segments(hls_url), timeout=30, what="HLS of the egress publish")
    assert (settings.hls_dir / b.paired_playback_id / "index.m3u8").is_file()
    assert ingest.sessions[sid].publisher is not None
    assert await first.wait(60) == 0, first.stderr
    text, playlist = await served_playlist(hls_url)
    assert "#EXT-X-ENDLIST" not in text and len(playlist.segments) >= 3
    async with httpx.AsyncClient() as http:
        segment = await http.get(f"{hls_url.rsplit('/', 1)[0]}/{playlist.segments[-1].uri}")
    assert segment.status_code == 200 and segment.headers["content-type"] == "video/mp2t"
    (tmp_path / "segment.ts").write_bytes(segment.content)
    ok, err = await decode_ok(str(tmp_path / "segment.ts"))
    assert ok, err

    # the publish neither made nor unmade the stream's status: it stays LIVE after the egress publish ended
    after = await Stream.get(id=sid)
    assert (after.status, after.status_changed_at) == (before.status, before.status_changed_at)
    assert sid in ingest.sessions and ingest.sessions[sid].publisher is None
    served = (await gql_http(url, STREAM, {"s": sid}))["stream"]
    assert served == {"status": "LIVE", "playback": {"hlsUrl": hls_url, "fallback": None}}
    assert await StreamQualityMetric.filter(stream_id=sid).count() >= 1  # health of the egress, on the livekit stream

    # the egress publishes again (as after an idle stop); ending the stream disconnects it
    second = Encoder(egress_url, 120)
    encoders.append(await second.start())
    await eventually(
        lambda: sid in ingest.sessions and ingest.sessions[sid].publisher is not None, what="second publish"
    )
    last_before = playlist.segments[-1].uri
    await eventually(lambda: _more_segments(hls_url, last_before), timeout=30, what="segments of the second publish")
    assert (await Stream.get(id=sid)).status is S.LIVE
    ended = (await gql_http(url, END, {"s": sid}, owner))["endStream"]
    assert ended == {"__typename": "Stream", "status": "ENDED"}
    assert await second.wait(20) != 0, "the egress publish outlived its stream"
    await eventually(lambda: sid not in ingest.sessions, what="the session closed")
    text, playlist = await served_playlist(hls_url)
    assert text.rstrip().endswith("#EXT-X-ENDLIST") and "#EXT-X-DISCONTINUITY" in text
    numbers = [_number(segment.uri) for segment in playlist.segments]
    assert numbers == sorted(numbers) and numbers[-1] > _number(last_before), "the second publish appended"
    assert not egress.active and (await Broadcast.get(stream_id=sid)).egress_status is EgressStatus.IDLE

    # the paired key of an ended stream is refused with the reason
    late = Encoder(egress_url, 2)
    encoders.append(await late.start())
    assert await late.wait(30) != 0
    assert b"stream is ENDED" in late.stderr, late.stderr


def _number(uri: str) -> int:
    return int(uri.removeprefix("seg_").removesuffix(".ts"))


async def _more_segments(url: str, last_uri: str) -> bool:
    playlist = await playlist_with_segments(url)
    return playlist is not None and playlist.segments[-1].uri != last_uri
