"""ffmpeg as the HLS segmenter: FLV on stdin → MPEG-TS segments in ``<media>/<playbackId>/``, listed by livecast.

One :class:`HlsPipeline` is one ffmpeg process (``-c copy``, passthrough) with the ``segment`` muxer: it cuts a
segment at the first keyframe after every ``segment_seconds`` and, once a segment file is complete, reports it
(``name,start,end`` in seconds) on a pipe of its own. The pipeline then lists it in the stream's playlist
(:class:`~livecast.providers.local.playlist.LivePlaylist`: RFC 8216 target duration, media and discontinuity
sequences, program date-times from the ingest's wall clock, atomic writes). A stream that is resumed (encoder
reconnect inside the window, or ffmpeg restarted after a crash) starts a new process that continues the same
playlist: numbering goes on from the playlist's next media sequence and the seam is marked with
``EXT-X-DISCONTINUITY``. ``EXT-X-ENDLIST`` comes only from :func:`finalize_playlist`, when the stream has ended.
ffmpeg's ``-progress`` report (speed, dropped frames) is read once per second from its stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from livecast.providers.local.clock import MediaClock
from livecast.providers.local.playlist import (
    PLAYLIST,
    SEGMENT_NAME,
    SEGMENT_PATTERN,
    LivePlaylist,
    finalize_playlist,
    segment_uris,
)

logger = logging.getLogger(__name__)

FLV_HEADER = b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00"
"""FLV signature, version 1, audio+video flags, header size 9, then PreviousTagSize0 = 0."""
TAG_AUDIO, TAG_VIDEO, TAG_SCRIPT = 8, 9, 18
KILL_AFTER = 2.0
"""Seconds a terminated (SIGTERM) ffmpeg gets before it is killed."""
AAC, EX_AUDIO = 10, 9
"""FLV SoundFormat of AAC, and of Enhanced RTMP's audio ExHeader."""
EX_CODED_FRAMES, EX_CODED_FRAMES_X = 1, 3
"""Enhanced RTMP video packet types with frames (with and without a composition time)."""
VIDEO_INFO_FRAME = 5
LIST_LINE_BYTES = 4096
"""A segment report is ``name,start,end``: far shorter. Longer lines are not ours."""

__all__ = ["FLV_HEADER", "PLAYLIST", "SEGMENT_PATTERN", "HlsPipeline", "finalize_playlist", "flv_tag", "segment_uris"]


class PipelineBroken(Exception):
    """ffmpeg is gone (crashed or killed); the caller restarts it."""


def flv_tag(tag_type: int, timestamp_ms: int, payload: bytes) -> bytes:
    """One FLV tag (Adobe FLV spec, E.4.1) followed by its PreviousTagSize."""
    size = len(payload)
    return _tag_header(tag_type, size, timestamp_ms) + payload + struct.pack(">I", 11 + size)


def _tag_header(tag_type: int, size: int, timestamp_ms: int) -> bytes:
    return (
        bytes([tag_type])
        + size.to_bytes(3, "big")
        + (timestamp_ms & 0xFFFFFF).to_bytes(3, "big")
        + bytes([(timestamp_ms >> 24) & 0xFF])
        + b"\x00\x00\x00"
    )


def _presentation_offset(tag: bytes) -> int | None:
    """For an audio or video FLV tag, ms from its timestamp (decode time) to its presentation time: the
    composition time of an H.264/HEVC frame (legacy or Enhanced RTMP), 0 for other frames; ``None`` for what is
    not a frame (codec configuration, end of sequence, video info)."""
    first = tag[11]
    if tag[0] == TAG_AUDIO:
        sound = first >> 4
        if sound == EX_AUDIO:  # Enhanced RTMP audio: AudioPacketType in the low bits, 1 = CodedFrames
            return 0 if first & 0x0F == 1 else None
        return None if sound == AAC and len(tag) > 12 and tag[12] == 0 else 0  # 0: AudioSpecificConfig
    if first & 0x80:  # Enhanced RTMP: packet type in the low bits, FourCC after
        packet = first & 0x0F
        if packet == EX_CODED_FRAMES and tag[12:16] in (b"avc1", b"hvc1") and len(tag) >= 19:
            return _signed24(tag[16:19])
        return 0 if packet == EX_CODED_FRAMES_X or packet == EX_CODED_FRAMES else None
    if (first >> 4) & 0x07 == VIDEO_INFO_FRAME:
        return None
    if first & 0x0F in (7, 12) and len(tag) >= 16:  # AVC / HEVC: AVCPacketType, CompositionTime
        return _signed24(tag[13:16]) if tag[12] == 1 else None
    return 0


def _signed24(value: bytes) -> int:
    number = int.from_bytes(value, "big")
    return number - (1 << 24) if number & 0x800000 else number


class HlsPipeline:
    """One ffmpeg process segmenting FLV into ``out_dir`` and the playlist it lists them in."""

    def __init__(self, *, ffmpeg: str, out_dir: Path, segment_seconds: float, list_size: int) -> None:
        self.ffmpeg = ffmpeg
        self.out_dir = out_dir
        self.segment_seconds = segment_seconds
        self.list_size = list_size
        self.process: asyncio.subprocess.Process | None = None
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self.progress: dict[str, str] = {}
        """The latest complete ``-progress`` block (``speed=1.01x``, ``drop_frames=0``, ...)."""
        self.clock = MediaClock()
        self.listing: LivePlaylist | None = None
        self._first_pts: int | None = None
        """Until the first segment is listed: the earliest presentation time (rebased ms) written. ffmpeg
        reports the first segment as starting at 0 whatever its first frame's time."""
        self._listed_any = False
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def playlist(self) -> Path:
        return self.out_dir / PLAYLIST

    def command(self, *, start_number: int, list_fd: int) -> list[str]:
        return [
            self.ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning",
            "-progress", "pipe:1", "-stats_period", "1",
            "-f", "flv", "-i", "pipe:0",
            "-map", "0:v?", "-map", "0:a?", "-c", "copy", "-copyts",
            "-f", "segment", "-segment_format", "mpegts",
            "-segment_time", f"{self.segment_seconds:g}",
            "-segment_start_number", str(start_number),
            "-segment_list", f"pipe:{list_fd}", "-segment_list_type", "csv",
            str(self.out_dir / SEGMENT_PATTERN),
        ]  # fmt: skip

    async def start(self) -> None:
        """Start ffmpeg, continuing the stream's playlist if it has one. Writes the FLV header."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.listing = await asyncio.to_thread(
            LivePlaylist.load, self.playlist, segment_seconds=self.segment_seconds, window=self.list_size
        )
        self.listing.begin_discontinuity()
        list_read, list_write = os.pipe()
        try:
            self.process = await asyncio.create_subprocess_exec(
                *self.command(start_number=self.listing.next_sequence, list_fd=list_write),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(list_write,),
            )
        except BaseException:
            os.close(list_read)
            raise
        finally:
            os.close(list_write)  # ffmpeg has its copy: the pipe ends when ffmpeg does
        segments = asyncio.StreamReader(limit=LIST_LINE_BYTES)
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(segments), os.fdopen(list_read, "rb", 0))
        self._tasks = [
            asyncio.create_task(self._drain_stderr(self.process)),
            asyncio.create_task(self._read_progress(self.process)),
            asyncio.create_task(self._list_segments(segments)),
        ]
        await self.write(FLV_HEADER)

    async def _list_segments(self, reports: asyncio.StreamReader) -> None:
        """Each segment ffmpeg completes (``name,start,end``): listed, dated by the clock."""
        while True:
            try:
                line = await reports.readline()
            except ValueError:  # longer than LIST_LINE_BYTES: not a report
                continue
            if not line:
                return
            try:
                name, start, end = line.decode().strip().split(",")
                start_s, end_s = float(start), float(end)
            except ValueError:
                logger.warning("ffmpeg reported an unreadable segment line %r", line[:100])
                continue
            self._list(name, start_s, end_s)

    def _list(self, name: str, start: float, end: float) -> None:
        listing = self.listing
        if listing is None or listing.ended or not SEGMENT_NAME.match(name):
            return
        if end - start <= 0:  # nothing in it (a last, empty cut)
            with contextlib.suppress(FileNotFoundError):
                (self.out_dir / name).unlink()
            return
        if not self._listed_any:
            self._listed_any = True
            if self._first_pts is not None and self._first_pts / 1000 < end:
                start = max(start, self._first_pts / 1000)
        wall = self.clock.wall_time(start)
        date = datetime.fromtimestamp(wall, UTC) if wall is not None else None
        try:
            listing.append(name, end - start, date)
        except OSError:
            logger.exception("could not write the playlist %s", self.playlist)

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
        """Write FLV bytes: the header, or one whole tag as :func:`flv_tag` makes it. An audio or video tag's
        timestamp is rebased for ffmpeg and its arrival noted (:class:`MediaClock`). Waits while ffmpeg's pipe
        is full; raises ``PipelineBroken`` if ffmpeg died."""
        process = self.process
        if process is None or process.stdin is None:
            raise PipelineBroken("ffmpeg is not running")
        if process.returncode is not None:
            raise PipelineBroken(f"ffmpeg exited ({process.returncode}): {' | '.join(self.stderr_tail)}")
        if len(data) > 11 and data[0] in (TAG_AUDIO, TAG_VIDEO):
            timestamp = int.from_bytes(data[4:7], "big") | data[7] << 24
            keyframe = data[0] == TAG_VIDEO and (data[11] >> 4) & 0x07 == 1  # FrameType, also with ExHeader
            rebased = self.clock.rebase(timestamp, keyframe=keyframe)
            if not self._listed_any and (offset := _presentation_offset(data)) is not None:
                pts = rebased + offset
                self._first_pts = pts if self._first_pts is None else min(self._first_pts, pts)
            if rebased != timestamp:
                data = _tag_header(data[0], len(data) - 15, rebased) + data[11:]
        try:
            process.stdin.write(data)
            await process.stdin.drain()
        except (BrokenPipeError, ConnectionResetError) as e:
            raise PipelineBroken(f"ffmpeg exited ({process.returncode}): {' | '.join(self.stderr_tail)}") from e

    async def close(self, timeout: float = 10.0) -> None:
        """Close stdin so ffmpeg writes and reports the last segment and exits; after ``timeout`` s terminate it
        (SIGTERM), after :data:`KILL_AFTER` more seconds kill it. Cancelled meanwhile, it kills ffmpeg before it
        returns: the process never outlives its pipeline."""
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
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
