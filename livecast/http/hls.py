"""``/hls/<playbackId>/<file>``: the local pipeline's playlists and segments, from the media directory.

Before the pipeline has written a stream's playlist (the stream is ``SCHEDULED`` or ``PREPARING``), its
``index.m3u8`` is a live playlist (no ``EXT-X-ENDLIST``) of one "starting soon" slate segment rendered from the
stream's title (:mod:`livecast.providers.local.slate`), so a player opened early keeps reloading it and plays the
stream when its first segment is listed (hls.js gives up on a 404 manifest at once, on a playlist without
segments after ~3 s). If the slate cannot be rendered, the playlist has no segment. A stream that is over
without a playlist gets one without segments and with ``EXT-X-ENDLIST``. A playback id no stream has stays 404."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from livecast.domain.errors import Forbidden
from livecast.domain.playback import PlaybackGate
from livecast.providers.local.playlist import PLAYLIST, placeholder, target_for
from livecast.providers.local.slate import Slates, slate_playlist

PLAYBACK_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")
MEDIA_FILE = re.compile(r"^[A-Za-z0-9_.-]{1,80}\.(m3u8|ts|m4s|mp4)$")
CONTENT_TYPES = {
    "m3u8": "application/vnd.apple.mpegurl",  # RFC 8216 section 4
    "ts": "video/mp2t",
    "m4s": "video/iso.segment",
    "mp4": "video/mp4",
}
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Range",
    "Access-Control-Expose-Headers": "Content-Length, Content-Range",
}


def hls_endpoint(
    media_dir: Path, signing_key: Callable[[], str], *, segment_seconds: float = 2.0, ffmpeg: str = "ffmpeg"
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint serving files under ``media_dir``; ``SIGNED`` streams need ``?token=`` on every playlist and
    segment (:class:`PlaybackGate`, keys from ``signing_key``). Before the first segment: the slate, rendered by
    ``ffmpeg``, as long as a target duration (``segment_seconds``, ``LIVECAST_HLS_SEGMENT_SECONDS``, rounded up)."""
    media_root = media_dir.resolve()
    gate = PlaybackGate(signing_key)
    slate_seconds = float(target_for(segment_seconds))
    slates = Slates(ffmpeg, media_root, seconds=slate_seconds)

    async def before_live(playback_id: str, title: str) -> bytes:
        rendered = await slates.ensure(playback_id, title)
        if rendered is None:
            return placeholder(segment_seconds=segment_seconds, ended=False).encode()
        return slate_playlist(segment_seconds=segment_seconds, slate_seconds=slate_seconds, rendered=rendered).encode()

    async def hls(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=CORS)
        playback_id, filename = request.path_params["playback_id"], request.path_params["filename"]
        match = MEDIA_FILE.match(filename)
        if not PLAYBACK_ID.match(playback_id) or not match:
            return Response("not found", status_code=404, headers=CORS)
        try:
            access = await gate.check(playback_id, request.query_params.get("token"))
        except Forbidden as e:
            return Response(e.message, status_code=403, headers=CORS)
        path = _inside(media_root, media_root / playback_id / filename)
        if path is None:
            return Response("not found", status_code=404, headers=CORS)
        kind = match.group(1)
        if kind == "m3u8":  # read whole: the pipeline replaces playlists by rename, never serve a torn one
            try:
                body = access.playlist(path.read_bytes())  # signed: the token added to its segment URIs
            except FileNotFoundError:
                if filename != PLAYLIST or not access.known:
                    return Response("not found", status_code=404, headers=CORS)
                if access.over:
                    body = placeholder(segment_seconds=segment_seconds, ended=True).encode()
                else:
                    body = access.playlist(await before_live(playback_id, access.title))
            headers = {**CORS, "Cache-Control": "private, no-cache" if access.signed else "no-cache"}
            return Response(body, media_type=CONTENT_TYPES[kind], headers=headers)
        if not _is_file(path):
            return Response("not found", status_code=404, headers=CORS)
        headers = {**CORS, "Cache-Control": "private, max-age=3600" if access.signed else "public, max-age=3600"}
        return FileResponse(path, media_type=CONTENT_TYPES[kind], headers=headers)

    return hls


def _inside(root: Path, path: Path) -> Path | None:
    """``path`` with symlinks resolved, or ``None`` when that leaves ``root`` (itself resolved): ``/hls/`` never
    serves a file outside the media directory, whatever links are in it."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    return resolved if resolved.is_relative_to(root) else None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False
