"""The live HLS media playlist of one stream (RFC 8216), written by livecast from the segments ffmpeg reports.

ffmpeg writes the segments; :class:`LivePlaylist` lists them. It keeps the rules players rely on:

- ``EXT-X-TARGETDURATION`` is at least every segment's ``EXTINF`` rounded to the nearest integer (section
  4.3.3.1); it starts at the configured segment duration rounded up and only grows (an encoder whose
  keyframes are further apart than that makes longer segments).
- ``EXT-X-MEDIA-SEQUENCE`` counts every segment ever listed and never goes back, across reconnects,
  ffmpeg restarts and process restarts (section 6.2.2): the playlist file is the state, read back by
  :meth:`LivePlaylist.load`. Segment ``seg_<n>.ts`` has media sequence number ``n``; the first is
  :data:`FIRST_SEQUENCE` (1), after the "starting soon" slate served before it (:mod:`.slate`), and the seam
  between them is already counted (``EXT-X-DISCONTINUITY-SEQUENCE:1``).
- ``EXT-X-DISCONTINUITY`` marks the first segment of every new ffmpeg process (a reconnect, a restart)
  except the very first segment; when the segment that carries it becomes the first of the window, the tag
  is removed and ``EXT-X-DISCONTINUITY-SEQUENCE`` advanced (section 6.2.2), so the first segment never
  carries one and every segment keeps its discontinuity number (the sequence plus the tags up to it).
- ``EXT-X-PROGRAM-DATE-TIME`` on every segment: the ingest's wall clock at its first frame (given by the
  caller), strictly increasing.
- ``EXT-X-INDEPENDENT-SEGMENTS``: every segment starts with a keyframe (ffmpeg cuts there).
- ``EXT-X-ENDLIST`` only once the stream is over (:meth:`LivePlaylist.end`); nothing changes afterwards.

Every write is atomic (a temporary file renamed over the playlist), so ``/hls/`` never serves a torn one.
Segments that left the window are deleted ``keep`` segments later (players holding an older playlist may
still fetch them).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

logger = logging.getLogger(__name__)

PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg_%06d.ts"
SEGMENT_NAME = re.compile(r"^seg_(\d{1,12})\.ts$")
VERSION = 3
"""Floating-point ``EXTINF`` needs version 3 (RFC 8216 section 7); nothing here needs more."""
KEEP_AFTER_WINDOW = 2
"""Segments kept on disk after they left the playlist window."""
MIN_STEP = timedelta(milliseconds=1)
FIRST_SEQUENCE = 1
"""Media sequence number of a stream's first segment: 0 is the slate a player may have played before it."""


def nearest_integer(seconds: float) -> int:
    """RFC 8216 4.3.3.1's rounding of an ``EXTINF`` duration (halves up, not to even)."""
    return math.floor(seconds + 0.5)


def target_for(segment_seconds: float) -> int:
    """The ``EXT-X-TARGETDURATION`` for a configured segment duration (seconds, rounded up, at least 1)."""
    return max(1, math.ceil(segment_seconds - 1e-9))


@dataclass
class Segment:
    """One listed segment: ``duration`` in seconds (``EXTINF``), ``date`` its ``EXT-X-PROGRAM-DATE-TIME`` (UTC)."""

    uri: str
    duration: float
    date: datetime | None = None
    discontinuity: bool = False


@dataclass
class MediaPlaylist:
    """What a live media playlist says; :func:`render` writes it, :func:`parse` reads it back."""

    target_duration: int
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    segments: list[Segment] = field(default_factory=list)
    ended: bool = False

    @property
    def next_sequence(self) -> int:
        return self.media_sequence + len(self.segments)


def _date(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render(playlist: MediaPlaylist) -> str:
    """The playlist as RFC 8216 text (UTF-8, LF line endings)."""
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{VERSION}",
        f"#EXT-X-TARGETDURATION:{playlist.target_duration}",
        f"#EXT-X-MEDIA-SEQUENCE:{playlist.media_sequence}",
    ]
    if playlist.discontinuity_sequence:
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{playlist.discontinuity_sequence}")
    lines.append("#EXT-X-INDEPENDENT-SEGMENTS")
    for segment in playlist.segments:
        if segment.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        if segment.date is not None:
            lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_date(segment.date)}")
        lines += [f"#EXTINF:{segment.duration:.6f},", segment.uri]
    if playlist.ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def parse(text: str) -> MediaPlaylist:
    """Read back a playlist :func:`render` wrote (other tags are ignored); ``ValueError`` if it is not one."""
    lines = [line.strip() for line in text.splitlines()]
    if not lines or lines[0] != "#EXTM3U":
        raise ValueError("not an M3U8 playlist")
    playlist = MediaPlaylist(target_duration=1)
    duration: float | None = None
    date: datetime | None = None
    discontinuity = False
    for line in lines[1:]:
        tag, _, value = line.partition(":")
        if tag == "#EXT-X-TARGETDURATION":
            playlist.target_duration = int(value)
        elif tag == "#EXT-X-MEDIA-SEQUENCE":
            playlist.media_sequence = int(value)
        elif tag == "#EXT-X-DISCONTINUITY-SEQUENCE":
            playlist.discontinuity_sequence = int(value)
        elif tag == "#EXT-X-DISCONTINUITY":
            discontinuity = True
        elif tag == "#EXT-X-PROGRAM-DATE-TIME":
            date = datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif tag == "#EXTINF":
            duration = float(value.split(",", 1)[0])
        elif tag == "#EXT-X-ENDLIST":
            playlist.ended = True
        elif line and not line.startswith("#"):
            if duration is None:
                raise ValueError(f"segment {line!r} has no #EXTINF")
            playlist.segments.append(Segment(line, duration, date, discontinuity))
            duration, date, discontinuity = None, None, False
    if playlist.target_duration < 1 or playlist.media_sequence < 0 or playlist.discontinuity_sequence < 0:
        raise ValueError("negative or zero counters")
    return playlist


class LivePlaylist:
    """The playlist at ``path``, kept by one writer at a time (the stream's current ffmpeg pipeline).

    ``window`` segments are listed (``LIVECAST_HLS_LIST_SIZE``); ``segment_seconds`` is the configured segment
    duration (``LIVECAST_HLS_SEGMENT_SECONDS``)."""

    def __init__(self, path: Path, *, segment_seconds: float, window: int, keep: int = KEEP_AFTER_WINDOW) -> None:
        self.path = path
        self.window = max(1, window)
        self.keep = keep
        self.state = MediaPlaylist(
            target_duration=target_for(segment_seconds), media_sequence=FIRST_SEQUENCE, discontinuity_sequence=1
        )
        self._retired: deque[str] = deque()
        self._discontinuity = False

    @classmethod
    def load(cls, path: Path, *, segment_seconds: float, window: int) -> LivePlaylist:
        """The playlist as stored at ``path`` (a fresh one if there is none, or an unreadable one: then the media
        sequence continues after the highest segment file in the folder)."""
        playlist = cls(path, segment_seconds=segment_seconds, window=window)
        try:
            stored = parse(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return playlist
        except (OSError, ValueError, UnicodeDecodeError) as e:
            logger.warning("playlist %s is unreadable (%s); starting after its segment files", path, e)
            numbers = [int(m.group(1)) for p in path.parent.iterdir() if (m := SEGMENT_NAME.match(p.name))]
            playlist.state.media_sequence = max(numbers, default=FIRST_SEQUENCE - 1) + 1
            return playlist
        stored.target_duration = max(stored.target_duration, playlist.state.target_duration)
        if stored.segments and stored.segments[0].discontinuity:  # written by another writer (ffmpeg's hls)
            stored.segments[0].discontinuity = False
            stored.discontinuity_sequence += 1
        playlist.state = stored
        playlist._collect_leftovers()
        return playlist

    @property
    def next_sequence(self) -> int:
        """The media sequence number (and file number) of the next segment."""
        return self.state.next_sequence

    @property
    def ended(self) -> bool:
        return self.state.ended

    def begin_discontinuity(self) -> None:
        """The next segment comes from a new ffmpeg process: mark it with ``EXT-X-DISCONTINUITY`` (unless it is
        the first in the playlist: the stream's first segment, whose seam with the slate is already counted)."""
        self._discontinuity = True

    def append(self, uri: str, duration: float, date: datetime | None) -> None:
        """List a complete segment (``duration`` seconds; ``date`` of its first frame) and write the playlist.

        ``ValueError`` after :meth:`end`. The date is moved just after the previous segment's if it is not
        later (a wall clock stepped back): program date-times only increase."""
        state = self.state
        if state.ended:
            raise ValueError("the playlist has ended")
        last_date = next((s.date for s in reversed(state.segments) if s.date is not None), None)
        if date is not None and last_date is not None and date <= last_date:
            date = last_date + MIN_STEP
        discontinuity = self._discontinuity and bool(state.segments)
        self._discontinuity = False
        state.segments.append(Segment(uri, duration, date, discontinuity))
        state.target_duration = max(state.target_duration, nearest_integer(duration))
        while len(state.segments) > self.window:
            self._retired.append(state.segments.pop(0).uri)
            state.media_sequence += 1
            if state.segments[0].discontinuity:  # its tag leaves the playlist: the sequence counts it
                state.segments[0].discontinuity = False
                state.discontinuity_sequence += 1
        self.write()
        while len(self._retired) > self.keep:
            self._delete(self._retired.popleft())

    def end(self) -> None:
        """Append ``EXT-X-ENDLIST`` (idempotent); the playlist is final."""
        if not self.state.ended:
            self.state.ended = True
            self.write()

    def write(self) -> None:
        """Replace the file atomically (see :func:`write_atomically`)."""
        write_atomically(self.path, render(self.state))

    def _delete(self, uri: str) -> None:
        if SEGMENT_NAME.match(uri):
            with contextlib.suppress(FileNotFoundError):
                (self.path.parent / uri).unlink()

    def _collect_leftovers(self) -> None:
        """Segment files an earlier writer retired: deleted when older than the window plus ``keep``, else
        deleted in turn as new segments retire."""
        first = self.state.media_sequence
        kept: list[int] = []
        with contextlib.suppress(OSError):
            for path in self.path.parent.iterdir():
                match = SEGMENT_NAME.match(path.name)
                if match is None or (n := int(match.group(1))) >= first:
                    continue
                if n < first - self.keep:
                    path.unlink(missing_ok=True)
                else:
                    kept.append(n)
        self._retired = deque(SEGMENT_PATTERN % n for n in sorted(kept))


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``: readers see the old file
    or the new one, never a part of it (POSIX ``rename``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def placeholder(*, segment_seconds: float, ended: bool) -> str:
    """A valid playlist without segments: live (players keep reloading it until segments appear) or ended."""
    return render(MediaPlaylist(target_duration=target_for(segment_seconds), ended=ended))


def segment_uris(playlist: Path) -> list[str]:
    """Segment URIs of a media playlist, in order; empty if it does not exist yet."""
    try:
        text = playlist.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def finalize_playlist(playlist: Path) -> None:
    """Append ``EXT-X-ENDLIST`` to the playlist at ``playlist`` (idempotent, atomic) so players know the stream
    is over; nothing to do if it has no playlist."""
    if not playlist.exists():
        return
    try:
        stored = parse(playlist.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as e:
        logger.warning("playlist %s is unreadable (%s); not finalized", playlist, e)
        return
    if not stored.ended:
        stored.ended = True
        write_atomically(playlist, render(stored))
