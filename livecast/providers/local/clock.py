"""When the ingest saw each frame: the wall clock behind ``EXT-X-PROGRAM-DATE-TIME`` (RFC 8216 4.3.2.6).

ffmpeg reports a segment by the media time of its first frame; :class:`MediaClock` answers the wall-clock time
at which the ingest handed that frame to ffmpeg (encoders send in real time, so that is when it was captured
plus the network's delay, within milliseconds on a healthy link). It also gives ffmpeg timestamps that start
at 0 for each process (:meth:`MediaClock.rebase`): an encoder may start at any RTMP timestamp (a reconnect, a
restarted ffmpeg fed from the middle of a publish), and with ``-copyts`` ffmpeg cuts segments at multiples of
the segment duration from 0 and reports them in the timestamps it was given.
"""

from __future__ import annotations

import time
from collections import deque

MARKS = 512
"""Marks kept (keyframes, and at least one per second of media): minutes of media, far more than a segment."""
SPARSE_MS = 1000
"""A mark at least this often (ms of media) even without keyframes (audio-only publishes)."""
HALF = 1 << 31


class MediaClock:
    """Rebased media time (ms) ↔ the wall clock (``time.time()`` seconds) when that media reached ffmpeg."""

    def __init__(self, now=time.time) -> None:
        self._now = now
        self._base: int | None = None
        self._marks: deque[tuple[int, float]] = deque(maxlen=MARKS)

    def rebase(self, timestamp_ms: int, *, keyframe: bool) -> int:
        """The timestamp for ffmpeg (the first media tag's is 0; earlier ones are clamped to 0; 32-bit RTMP
        time wraps around), noting the wall clock now for keyframes and at least every :data:`SPARSE_MS`."""
        if self._base is None:
            self._base = timestamp_ms
        offset = (timestamp_ms - self._base) & 0xFFFFFFFF
        rebased = 0 if offset >= HALF else offset
        if keyframe or not self._marks or rebased - self._marks[-1][0] >= SPARSE_MS:
            self._marks.append((rebased, self._now()))
        return rebased

    def wall_time(self, media_seconds: float) -> float | None:
        """Wall-clock time (epoch seconds) of the frame at ``media_seconds`` (rebased): the latest mark at or
        before it, plus the media time between them. ``None`` before any mark."""
        target = media_seconds * 1000
        for ms, wall in reversed(self._marks):
            if ms <= target + 0.5:
                return wall + (target - ms) / 1000
        if self._marks:  # before every mark kept: extrapolate back from the oldest
            ms, wall = self._marks[0]
            return wall + (target - ms) / 1000
        return None
