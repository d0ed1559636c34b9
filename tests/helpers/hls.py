"""An independent check of the live playlists livecast serves: parsed by the ``m3u8`` package, held to the
RFC 8216 rules players rely on, one snapshot at a time and across rewrites.

In one snapshot (:func:`check_playlist`): a media playlist with ``EXT-X-TARGETDURATION`` at least every
``EXTINF`` rounded to the nearest integer (4.3.3.1), positive durations, ``EXT-X-INDEPENDENT-SEGMENTS``, no
``EXT-X-DISCONTINUITY`` before the first segment (the discontinuity sequence counts it instead, 6.2.2), and
``EXT-X-PROGRAM-DATE-TIME`` on every segment, strictly increasing.

Across snapshots of one URL (:class:`PlaylistHistory`): the media sequence never goes back (6.2.2), nor the
discontinuity sequence; a segment seen twice has the same URI, duration, date and discontinuity number (the
discontinuity sequence plus the ``EXT-X-DISCONTINUITY`` tags up to and including it, as hls.js counts it), so a
tag that slid out was counted by ``EXT-X-DISCONTINUITY-SEQUENCE``; the target duration never shrinks; after
``EXT-X-ENDLIST`` nothing changes.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

import httpx
import m3u8
import pytest


def nearest_integer(seconds: float) -> int:
    return math.floor(seconds + 0.5)


@dataclass(frozen=True)
class SegmentView:
    """A segment as one snapshot lists it."""

    sequence: int
    uri: str
    duration: float
    date: datetime | None
    discontinuity_number: int
    tagged: bool


def check_playlist(text: str) -> m3u8.M3U8:
    """Parse ``text`` with ``m3u8`` and assert the rules of one snapshot; returns the parsed playlist."""
    assert text.startswith("#EXTM3U"), text[:200]
    playlist = m3u8.loads(text)
    assert not playlist.is_variant, "a media playlist was expected"
    assert playlist.target_duration is not None and playlist.target_duration >= 1, text
    assert playlist.media_sequence is not None, "EXT-X-MEDIA-SEQUENCE is missing"
    assert playlist.is_independent_segments, "EXT-X-INDEPENDENT-SEGMENTS is missing"
    for segment in playlist.segments:
        assert segment.duration > 0, f"{segment.uri}: EXTINF {segment.duration}"
        assert nearest_integer(segment.duration) <= playlist.target_duration, (
            f"{segment.uri}: EXTINF {segment.duration} rounds above EXT-X-TARGETDURATION {playlist.target_duration}"
        )
        assert segment.program_date_time is not None, f"{segment.uri} has no EXT-X-PROGRAM-DATE-TIME"
    if playlist.segments:
        assert not playlist.segments[0].discontinuity, "EXT-X-DISCONTINUITY before the first segment"
    dates = [s.program_date_time for s in playlist.segments]
    assert all(a < b for a, b in pairwise(dates)), f"program date-times go back: {dates}"
    return playlist


def segments_of(playlist: m3u8.M3U8) -> list[SegmentView]:
    number = playlist.discontinuity_sequence or 0
    views = []
    for i, segment in enumerate(playlist.segments):
        number += 1 if segment.discontinuity else 0
        views.append(
            SegmentView(
                playlist.media_sequence + i, segment.uri, segment.duration, segment.program_date_time, number,
                segment.discontinuity,
            )
        )  # fmt: skip
    return views


@dataclass
class PlaylistHistory:
    """Snapshots of one playlist URL, checked as they come (:meth:`add`)."""

    texts: list[str] = field(default_factory=list)
    seen: dict[int, SegmentView] = field(default_factory=dict)
    """Every segment ever listed, by media sequence number."""
    last: m3u8.M3U8 | None = None

    def add(self, text: str) -> m3u8.M3U8:
        playlist = check_playlist(text)
        previous = self.last
        if previous is not None:
            assert playlist.media_sequence >= previous.media_sequence, (
                f"media sequence went back: {previous.media_sequence} -> {playlist.media_sequence}"
            )
            assert (playlist.discontinuity_sequence or 0) >= (previous.discontinuity_sequence or 0)
            assert playlist.target_duration >= previous.target_duration, "target duration shrank"
            if previous.is_endlist:
                assert text == self.texts[-1], "the playlist changed after EXT-X-ENDLIST"
        for view in segments_of(playlist):
            before = self.seen.setdefault(view.sequence, view)
            assert (before.uri, before.duration, before.date, before.discontinuity_number) == (
                view.uri, view.duration, view.date, view.discontinuity_number,
            ), f"segment {view.sequence} changed between rewrites: {before} -> {view}"  # fmt: skip
        self.texts.append(text)
        self.last = playlist
        return playlist

    @property
    def segments(self) -> list[SegmentView]:
        """Every segment ever listed, in media sequence order."""
        return [self.seen[n] for n in sorted(self.seen)]


class PlaylistWatch:
    """Playlist URLs fetched every ``interval`` seconds during a test, each snapshot checked
    (:class:`PlaylistHistory`; 404s are skipped). The ``playlists`` fixture fetches each once more and fails the
    test at teardown if a rule was broken."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.histories: dict[str, PlaylistHistory] = {}
        self.failures: list[BaseException] = []
        self._client = httpx.AsyncClient(timeout=10)
        self._tasks: list[asyncio.Task[None]] = []

    def watch(self, url: str) -> PlaylistHistory:
        """Start watching ``url``; its history fills while the test runs."""
        history = self.histories.setdefault(url, PlaylistHistory())
        self._tasks.append(asyncio.create_task(self._poll(url, history)))
        return history

    async def _fetch(self, url: str, history: PlaylistHistory) -> None:
        response = await self._client.get(url)
        if response.status_code == 404:
            return
        assert response.status_code == 200, (url, response.status_code, response.text)
        if not history.texts or response.text != history.texts[-1]:
            history.add(response.text)

    async def _poll(self, url: str, history: PlaylistHistory) -> None:
        while True:
            try:
                await self._fetch(url, history)
            except AssertionError as e:
                self.failures.append(e)
                return
            except httpx.HTTPError:
                pass  # busy or restarting: the next poll tells
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        """Stop polling, fetch every URL once more (if the server still answers), raise the first failure."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if not self.failures:
            for url, history in self.histories.items():
                try:
                    await self._fetch(url, history)
                except AssertionError as e:
                    self.failures.append(e)
                except httpx.HTTPError:
                    pass
        await self._client.aclose()
        if self.failures:
            raise self.failures[0]


@pytest.fixture
async def playlists() -> AsyncIterator[PlaylistWatch]:
    """Watch playlists during the test (``playlists.watch(url)``); a snapshot that breaks a rule fails it."""
    watch = PlaylistWatch()
    try:
        yield watch
    finally:
        await watch.close()
