"""Signed playback over real HTTP: ``createPlaybackToken`` and the ``/hls/`` token check on every playlist and
segment request of a SIGNED stream (missing, expired, tampered, other-stream or wrong-key tokens → 403), the
token carried onto the playlist's segment and variant URIs (so a player needs only the tokenized playlist URL:
checked with a real HLS client, ffmpeg), and PUBLIC streams untouched."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import m3u8
import pytest

from livecast.domain.playback import with_token
from livecast.domain.provider_models import Broadcast
from livecast.providers.local import tokens
from livecast.settings import Settings
from tests.conftest import TEST_SECRET, Server, run_server
from tests.emulators.livekit import livekit_settings, running_livekit_emulator
from tests.helpers.client import create_stream, gql_http

CREATE_TOKEN = """
mutation($id: ID!) { createPlaybackToken(streamId: $id) {
  __typename
  ... on PlaybackToken { token expiresAt hlsUrl }
  ... on Error { code message }
  ... on ValidationError { field }
} }
"""
MEDIA = (
    "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
    '#EXT-X-MAP:URI="init.mp4"\n'
    "#EXTINF:2.0,\nseg_000000.m4s\n#EXTINF:2.0,\nseg_000001.m4s\n"
)
MULTIVARIANT = (
    "#EXTM3U\n"
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="audio.m3u8"\n'
    '#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO="aud"\r\nlow.m3u8\r\n'
    "#EXT-X-STREAM-INF:BANDWIDTH=3000000\nhttps://cdn.example/high.m3u8\n"
)


def _write_media(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"index.m3u8": MEDIA.encode(), "init.mp4": b"\x00\x00\x00\x18ftypiso6",
             "seg_000000.m4s": b"\x00" * 1000, "seg_000001.m4s": b"\x01" * 2000}  # fmt: skip
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return files


async def _token(server: Server, stream_id: str, user: str = "viewer") -> dict:
    data = await gql_http(server.graphql_http, CREATE_TOKEN, {"id": stream_id}, await server.token(user))
    return data["createPlaybackToken"]


def _tampered(token: str) -> list[str]:
    """The token with its payload changed (another ``exp``, same signature) and with its signature altered."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] += 3600
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return [f"{header}.{forged}.{signature}", f"{header}.{payload}.{flipped}", token + "x", "not-a-jwt"]


async def test_signed_stream_needs_a_valid_token_on_every_request(server: Server) -> None:
    owner = await server.token("alice")
    signed = await create_stream(server.graphql_http, owner, title="members only", playbackPolicy="SIGNED")
    other = await create_stream(server.graphql_http, owner, title="other", playbackPolicy="SIGNED")
    playback_id = urlsplit(signed["playback"]["hlsUrl"]).path.split("/")[2]
    files = _write_media(server.settings.hls_dir / playback_id)

    issued = await _token(server, signed["id"])
    assert issued["__typename"] == "PlaybackToken", issued
    expires_at = datetime.fromisoformat(issued["expiresAt"])
    ttl = server.settings.playback_token_ttl_seconds
    assert abs((expires_at - datetime.now(UTC)).total_seconds() - ttl) < 5
    assert issued["hlsUrl"] == f"{signed['playback']['hlsUrl']}?token={issued['token']}"
    assert tokens.verify(issued["token"], key=TEST_SECRET, playback_id=playback_id) == expires_at

    other_token = (await _token(server, other["id"]))["token"]
    expired = tokens.sign(key=TEST_SECRET, playback_id=playback_id, ttl_seconds=60,
                          now=datetime.now(UTC) - timedelta(minutes=5)).token  # fmt: skip
    wrong_key = tokens.sign(key="another-key-of-at-least-thirty-two-bytes!", playback_id=playback_id,
                            ttl_seconds=60).token  # fmt: skip
    access_token = await server.token("viewer")  # an API access token is not a playback token
    bad = [None, "", other_token, expired, wrong_key, access_token, *_tampered(issued["token"])]

    base = f"{server.http}/hls/{playback_id}/"
    async with httpx.AsyncClient() as client:
        for name in files:
            for token in bad:
                params = {} if token is None else {"token": token}
                response = await client.get(base + name, params=params)
                assert response.status_code == 403, (name, token, response.text)
                assert response.headers["access-control-allow-origin"] == "*"  # a browser player can see the 403
            assert (await client.head(base + name)).status_code == 403

        playlist = await client.get(issued["hlsUrl"])
        assert playlist.status_code == 200, playlist.text
        assert playlist.headers["content-type"] == "application/vnd.apple.mpegurl"
        assert playlist.headers["cache-control"] == "private, no-cache"
        parsed = m3u8.loads(playlist.text, uri=issued["hlsUrl"])
        uris = [segment.absolute_uri for segment in parsed.segments] + [parsed.segment_map[0].absolute_uri]
        assert len(uris) == 3
        for uri in uris:  # resolved as a player does (RFC 3986): the playlist's own query is dropped
            assert parse_qs(urlsplit(uri).query) == {"token": [issued["token"]]}
            response = await client.get(uri)
            assert response.status_code == 200, uri
            assert response.content == files[urlsplit(uri).path.rsplit("/", 1)[1]]
            assert response.headers["cache-control"] == "private, max-age=3600"
        bare = [urljoin(issued["hlsUrl"], s.uri.split("?")[0]) for s in parsed.segments]
        assert [(await client.get(uri)).status_code for uri in bare] == [403, 403]
        assert (await client.get(base + "missing.m4s", params={"token": issued["token"]})).status_code == 404


async def test_create_playback_token_rules(server: Server) -> None:
    owner = await server.token("alice")
    signed = await create_stream(server.graphql_http, owner, title="signed", playbackPolicy="SIGNED")
    public = await create_stream(server.graphql_http, owner, title="public")

    anonymous = (await gql_http(server.graphql_http, CREATE_TOKEN, {"id": signed["id"]}))["createPlaybackToken"]
    assert anonymous["__typename"] == "UnauthenticatedError" and anonymous["code"] == "UNAUTHENTICATED"
    refused = await _token(server, public["id"])
    assert refused["__typename"] == "ValidationError" and refused["field"] == "streamId", refused
    missing = await _token(server, "00000000-0000-4000-8000-000000000000")
    assert missing["__typename"] == "NotFoundError" and missing["code"] == "NOT_FOUND"
    assert (await _token(server, signed["id"], user="someone-else"))["__typename"] == "PlaybackToken"


async def test_public_streams_play_without_a_token(server: Server) -> None:
    public = await create_stream(server.graphql_http, await server.token("alice"), title="open")
    assert public["playback"]["policy"] == "PUBLIC"
    playback_id = urlsplit(public["playback"]["hlsUrl"]).path.split("/")[2]
    files = _write_media(server.settings.hls_dir / playback_id)
    async with httpx.AsyncClient() as client:
        playlist = await client.get(public["playback"]["hlsUrl"])
        assert playlist.status_code == 200 and playlist.content == files["index.m3u8"]  # served untouched
        assert playlist.headers["cache-control"] == "no-cache"
        segment = await client.get(urljoin(public["playback"]["hlsUrl"], "seg_000000.m4s"))
        assert segment.status_code == 200 and segment.headers["cache-control"] == "public, max-age=3600"
        junk = await client.get(public["playback"]["hlsUrl"], params={"token": "junk"})  # ignored on PUBLIC
        assert junk.status_code == 200 and junk.content == files["index.m3u8"]


async def test_a_real_hls_client_plays_a_signed_stream_from_the_tokenized_url(server: Server, tmp_path: Path) -> None:
    """ffmpeg, like hls.js and Safari, resolves segment URIs against the playlist URL without its query: it can
    only read the whole stream because the served playlist carries the token."""
    signed = await create_stream(
        server.graphql_http, await server.token("alice"), title="real", playbackPolicy="SIGNED"
    )
    playback_id = urlsplit(signed["playback"]["hlsUrl"]).path.split("/")[2]
    folder = server.settings.hls_dir / playback_id
    folder.mkdir(parents=True)
    ffmpeg = server.settings.ffmpeg_path
    make = await asyncio.create_subprocess_exec(
        ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=3",
        "-c:v", "libx264", "-g", "10", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
        "-hls_segment_filename", str(folder / "seg_%06d.ts"), str(folder / "index.m3u8"),
    )  # fmt: skip
    assert await make.wait() == 0
    segments = sorted(p.name for p in folder.glob("seg_*.ts"))
    assert len(segments) >= 3

    async def read(url: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            ffmpeg, "-hide_banner", "-loglevel", "error", "-i", url, "-map", "0:v", "-c", "copy",
            "-f", "framecrc", str(tmp_path / "frames.txt"), "-y",
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, stderr = await asyncio.wait_for(process.communicate(), 60)
        return process.returncode or 0, stderr.decode(errors="replace")

    issued = await _token(server, signed["id"])
    code, stderr = await read(issued["hlsUrl"])
    assert code == 0, stderr
    frames = [line for line in (tmp_path / "frames.txt").read_text().splitlines() if not line.startswith("#")]
    assert len(frames) == 30  # 3 s at 10 fps: every segment was fetched with the token
    code, _ = await read(signed["playback"]["hlsUrl"])  # the bare URL: refused
    assert code != 0


async def test_a_signed_livekit_stream_guards_its_paired_local_hls(settings: Settings) -> None:
    """A LiveKit room's HLS is its paired local stream's: the token is signed for, and checked on, that one."""
    async with (
        running_livekit_emulator() as lk,
        run_server(livekit_settings(settings, lk, livekit_viewer_provider="local")) as server,
    ):
        room = await create_stream(server.graphql_http, await server.token("host"), title="webrtc", provider="livekit",
                                   playbackPolicy="SIGNED")  # fmt: skip
        paired = await Broadcast.get(stream_id=room["id"])
        files = _write_media(server.settings.hls_dir / paired.paired_playback_id)
        issued = await _token(server, room["id"])
        assert issued["__typename"] == "PlaybackToken", issued
        assert urlsplit(issued["hlsUrl"]).path == f"/hls/{paired.paired_playback_id}/index.m3u8"
        assert tokens.verify(issued["token"], key=TEST_SECRET, playback_id=paired.paired_playback_id)
        async with httpx.AsyncClient() as client:
            bare = urljoin(issued["hlsUrl"], "index.m3u8")
            assert (await client.get(bare)).status_code == 403
            assert (await client.get(urljoin(bare, "seg_000000.m4s"))).status_code == 403
            playlist = await client.get(issued["hlsUrl"])
            assert playlist.status_code == 200
            segment = m3u8.loads(playlist.text, uri=issued["hlsUrl"]).segments[0].absolute_uri
            assert (await client.get(segment)).content == files["seg_000000.m4s"]


@pytest.mark.parametrize(
    ("playlist", "expected"),
    [
        (MEDIA, MEDIA.replace('"init.mp4"', '"init.mp4?token=T"').replace(".m4s\n", ".m4s?token=T\n")),
        (
            MULTIVARIANT,
            MULTIVARIANT.replace('"audio.m3u8"', '"audio.m3u8?token=T"').replace("low.m3u8\r", "low.m3u8?token=T\r"),
        ),
        (
            '#EXTM3U\n#EXTINF:2,\nseg.ts?v=2#t=1\n# a comment URI="x"\n',
            '#EXTM3U\n#EXTINF:2,\nseg.ts?v=2&token=T#t=1\n# a comment URI="x"\n',
        ),
        ("#EXTM3U\n#EXTINF:2,\n//cdn.example/seg.ts\n#EXTINF:2,\nrtmp://x/seg.ts\n", None),
    ],
)
def test_the_token_goes_on_relative_uris_only(playlist: str, expected: str | None) -> None:
    assert with_token(playlist.encode(), "T").decode() == (playlist if expected is None else expected)
