"""The "starting soon" slate: what ``playback.hlsUrl`` plays before a local stream's first segment.

hls.js 1.7 gives up on a 404 manifest at once and on a live playlist without segments after ~3 s
(``levelEmptyError`` with its default retries), so a watch page opened before go-live would stay black. It keeps
reloading a live playlist that has one segment (it plays it and then waits, ``bufferStalledError``, not fatal),
so before go-live the playlist lists one short slate segment, rendered once per stream by ffmpeg: a dark card
with "Starting soon" and the stream's title (1280x720 H.264 High + silent 48 kHz stereo AAC, what encoders
like OBS send), as media sequence 0, discontinuity 0. The stream's own playlist starts at media sequence 1 with
``EXT-X-DISCONTINUITY-SEQUENCE:1`` (:data:`~livecast.providers.local.playlist.FIRST_SEQUENCE`), so a player that
played the slate sees the live media as the next segment, after a discontinuity.

The title is user input: it reaches ffmpeg as a file (``textfile``, ``expansion=none``), never in the filter
graph, and the command runs in the stream's folder. Without fonts (``drawtext`` fails) the card has no text.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from livecast.providers.local.playlist import MediaPlaylist, Segment, render, target_for

logger = logging.getLogger(__name__)

SLATE = "slate.ts"
TITLE_FILE = ".slate-title.txt"
TITLE_CHARS = 60
"""Characters of the title drawn (a longer one is cut with an ellipsis: drawtext does not wrap)."""
TEXT = (
    "drawtext=text='Starting soon':expansion=none:fontcolor=white:fontsize=64:x=(w-text_w)/2:y=h/2-text_h-20,"
    f"drawtext=textfile={TITLE_FILE}:expansion=none:fontcolor=0xc8ccd4:fontsize=36:x=(w-text_w)/2:y=h/2+20"
)
RENDER_TIMEOUT = 30.0


def slate_command(ffmpeg: str, *, seconds: float, text: bool) -> list[str]:
    """ffmpeg rendering ``seconds`` of slate as MPEG-TS to stdout (run in the stream's folder)."""
    return [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
        "-f", "lavfi", "-i", f"color=c=0x1f2430:s=1280x720:r=30:d={seconds:g}",
        "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", f"{seconds:g}",
        *(["-vf", TEXT] if text else []),
        "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p", "-g", "60",
        "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", "pipe:1",
    ]  # fmt: skip


def slate_playlist(*, segment_seconds: float, slate_seconds: float, rendered: datetime) -> str:
    """The live playlist before go-live: the slate (its program date-time: when it was rendered) and no
    ``EXT-X-ENDLIST``; the target duration is the stream's."""
    target = target_for(segment_seconds)
    return render(MediaPlaylist(target_duration=target, segments=[Segment(SLATE, slate_seconds, rendered)]))


class Slates:
    """Renders each stream's slate once, into ``<media_dir>/<playbackId>/slate.ts`` (concurrent requests for one
    stream share the rendering; at most ``concurrency`` ffmpeg at a time)."""

    def __init__(self, ffmpeg: str, media_dir: Path, *, seconds: float, concurrency: int = 2) -> None:
        self.ffmpeg = ffmpeg
        self.media_dir = media_dir
        self.seconds = seconds
        self._limit = asyncio.Semaphore(concurrency)
        self._rendering: dict[str, asyncio.Future[datetime | None]] = {}

    async def ensure(self, playback_id: str, title: str) -> datetime | None:
        """When the stream's slate was rendered (rendering it now if needed); ``None`` if ffmpeg failed."""
        path = self.media_dir / playback_id / SLATE
        rendered = _rendered_at(path)
        if rendered is not None:
            return rendered
        rendering = self._rendering.get(playback_id)
        if rendering is None:
            rendering = self._rendering[playback_id] = asyncio.ensure_future(self._render(path, title))
            rendering.add_done_callback(lambda _: self._rendering.pop(playback_id, None))
        return await asyncio.shield(rendering)

    async def _render(self, path: Path, title: str) -> datetime | None:
        await asyncio.to_thread(_write_title, path.parent, title)
        async with self._limit:
            for text in (True, False):
                media = await self._run(path.parent, text)
                if media:
                    return await asyncio.to_thread(_store, path, media)
        return None

    async def _run(self, folder: Path, text: bool) -> bytes | None:
        try:
            process = await asyncio.create_subprocess_exec(
                *slate_command(self.ffmpeg, seconds=self.seconds, text=text),
                cwd=folder, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
        except OSError as e:
            logger.warning("cannot run ffmpeg for a slate: %s", e)
            return None
        try:
            media, err = await asyncio.wait_for(process.communicate(), RENDER_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            return None
        if process.returncode != 0 or not media:
            logger.warning("slate rendering failed (text=%s): %s", text, err.decode(errors="replace")[-500:])
            return None
        return media


def _rendered_at(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except FileNotFoundError:
        return None


def _write_title(folder: Path, title: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    title = " ".join(title.split())
    (folder / TITLE_FILE).write_text(title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…")


def _store(path: Path, media: bytes) -> datetime:
    """Write the slate atomically (a player never gets a part of it); when it was rendered."""
    tmp = path.with_name(f".{SLATE}.tmp")
    tmp.write_bytes(media)
    os.replace(tmp, path)
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)
