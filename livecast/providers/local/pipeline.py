"""ffmpeg as the HLS packager: FLV on stdin → a rolling HLS playlist (RFC 8216) in ``<media>/<playbackId>/``.

One :class:`HlsPipeline` is one ffmpeg process; its ``-progress`` report (speed, dropped frames) is read once
per second from its stdout. A stream that is resumed (encoder reconnect inside the window,
or ffmpeg restarted after a crash) starts a new process with ``append_list+discont_start``: ffmpeg reads the
existing playlist, keeps counting the media sequence and marks the seam with ``EXT-X-DISCONTINUITY``.
The playlist gets ``EXT-X-ENDLIST`` only from :func:`finalize_playlist`, when the stream has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
from collections import deque
from pathlib import Path

logger = logging.getLogger(__name__)

PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg_%06d.ts"
FLV_HEADER = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"
"""FLV signature, version 1, audio+video flags, header size 9, then PreviousTagSize0 = 0."""
TAG_AUDIO, TAG_VIDEO, TAG_SCRIPT = 8, 9, 18
KILL_AFTER = 2.0
"""Seconds a terminated (SIGTERM) ffmpeg gets before it is killed."""


class PipelineBroken(Exception):
    """ffmpeg is gone (crashed or killed); the caller restarts it."""


def flv_tag(tag_type: int, timestamp_ms: int, payload: bytes) -> bytes:
    """One FLV tag (Adobe FLV spec, E.4.1) followed by its PreviousTagSize."""
    size = len(payload)
    header = (
        bytes([tag_type])
        + size.to_bytes(3, "big")
        + (timestamp_ms & 0xFFFFFF).to_bytes(3, "big")
        + bytes([(timestamp_ms >> 24) & 0xFF])
        + b"\x00\x00\x00"
    )
    return header + payload + struct.pack(">I", 11 + size)


class HlsPipeline:
    """One ffmpeg process packaging FLV (``-c copy``, passthrough) into HLS in ``out_dir``."""

    def __init__(self, *, ffmpeg: str, out_dir: Path, segment_seconds: float, list_size: int) -> None:
        self.ffmpeg = ffmpeg
        self.out_dir = out_dir
        self.segment_seconds = segment_seconds
        self.list_size = list_size
        self.process: asyncio.subprocess.Process | None = None
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self.progress: dict[str, str] = {}
        """The latest complete ``-progress`` block (``speed=1.01x``, ``drop_frames=0``, ...)."""
        self._stderr_task: asyncio.Task[None] | None = None
        self._progress_task: asyncio.Task[None] | None = None

    @property
    def playlist(self) -> Path:
        return self.out_dir / PLAYLIST

    def command(self, *, resume: bool) -> list[str]:
        flags = ["delete_segments", "omit_endlist", "temp_file", "program_date_time", "independent_segments"]
        if resume:
            flags += ["append_list", "discont_start"]
        return [
            self.ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning",
            "-progress", "pipe:1", "-stats_period", "1",
            "-f", "flv", "-i", "pipe:0",
            "-map", "0:v?", "-map", "0:a?", "-c", "copy",
            "-f", "hls",
            "-hls_time", f"{self.segment_seconds:g}",
            "-hls_list_size", str(self.list_size),
            "-hls_flags", "+".join(flags),
            "-hls_segment_filename", str(self.out_dir / SEGMENT_PATTERN),
            str(self.playlist),
        ]  # fmt: skip

    async def start(self) -> None:
        """Start ffmpeg; resumes (appends to) the playlist if one exists. Writes the FLV header."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        resume = self.playlist.exists()
        self.process = await asyncio.create_subprocess_exec(
            *self.command(resume=resume),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._stderr_task = asyncio.create_task(self._drain_stderr(self.process))
        self._progress_task = asyncio.create_task(self._read_progress(self.process))
        await self.write(FLV_HEADER)

    async def _drain_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        async for line in process.stderr:
            text = line.decode(errors="replace").rstrip()
            self.stderr_tail.append(text)
            logger.debug("ffmpeg[%s]: %s", process.pid, text)

    async def _read_progress(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        block: dict[str, str] = {}
        async for line in process.stdout:
            key, sep, value = line.decode(errors="replace").strip().partition("=")
            if not sep:
                continue
            block[key] = value
            if key == "progress":  # the last line of a report
                self.progress, block = block, {}

    @property
    def speed(self) -> float | None:
        """Packaging speed relative to real time from the last ``-progress`` report (``None``: not yet)."""
        try:
            return float(self.progress.get("speed", "").rstrip("x"))
        except ValueError:
            return None

    @property
    def dropped_frames(self) -> int:
        """Frames ffmpeg dropped (``drop_frames``) so far."""
        try:
            return int(self.progress.get("drop_frames", "0"))
        except ValueError:
            return 0

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def write(self, data: bytes) -> None:
        """Write FLV bytes, waiting while ffmpeg's pipe is full. Raises ``PipelineBroken`` if ffmpeg died."""
        process = self.process
        if process is None or process.stdin is None:
            raise PipelineBroken("ffmpeg is not running")
        if process.returncode is not None:
            raise PipelineBroken(f"ffmpeg exited ({process.returncode}): {' | '.join(self.stderr_tail)}")
        try:
            process.stdin.write(data)
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as e:
            raise PipelineBroken(f"ffmpeg exited ({process.returncode}): {' | '.join(self.stderr_tail)}") from e

    async def close(self, timeout: float = 10.0) -> None:
        """Close stdin so ffmpeg writes the last segment and exits; after ``timeout`` s terminate it (SIGTERM),
        after :data:`KILL_AFTER` more seconds kill it. Cancelled meanwhile, it kills ffmpeg before it returns: the
        process never outlives its pipeline."""
        process = self.process
        if process is None:
            return
        try:
            if process.stdin is not None and not process.stdin.is_closing():
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    process.stdin.close()
                    await process.stdin.wait_closed()
            try:
                await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                logger.warning(
                    "ffmpeg[%s] still running %s s after its input ended: terminating it", process.pid, timeout
                )
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), KILL_AFTER)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
        except BaseException:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            raise
        for task in (self._stderr_task, self._progress_task):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def segment_uris(playlist: Path) -> list[str]:
    """Segment URIs of a media playlist, in order; empty if it does not exist yet."""
    try:
        text = playlist.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def finalize_playlist(playlist: Path) -> None:
    """Append ``EXT-X-ENDLIST`` (idempotent, atomic rename) so players know the stream is over."""
    try:
        text = playlist.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    if "#EXT-X-ENDLIST" in text:
        return
    tmp = playlist.with_suffix(".m3u8.final")
    tmp.write_text(text.rstrip("\n") + "\n#EXT-X-ENDLIST\n", encoding="utf-8")
    os.replace(tmp, playlist)
