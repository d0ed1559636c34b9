"""The playlist livecast writes (livecast.providers.local.playlist) and the clock that dates its segments, without
ffmpeg: every file written is read back by the independent checker (tests/helpers/hls.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from livecast.providers.local.clock import MediaClock
from livecast.providers.local.pipeline import _presentation_offset, flv_tag
from livecast.providers.local.playlist import (
    LivePlaylist,
    MediaPlaylist,
    Segment,
    finalize_playlist,
    parse,
    placeholder,
    render,
)
from tests.helpers.hls import PlaylistHistory, check_playlist

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def name(n: int) -> str:
    return f"seg_{n:06d}.ts"


def add(playlist: LivePlaylist, duration: float = 1.0, at: datetime | None = None) -> None:
    n = playlist.next_sequence
    (playlist.path.parent / name(n)).write_bytes(b"\x47")
    playlist.append(name(n), duration, at or T0 + timedelta(seconds=n))


def test_render_and_parse_round_trip() -> None:
    state = MediaPlaylist(
        target_duration=2, media_sequence=7, discontinuity_sequence=3, ended=True,
        segments=[Segment(name(7), 2.002, T0), Segment(name(8), 1.5, T0 + timedelta(seconds=2.002), True)],
    )  # fmt: skip
    text = render(state)
    assert parse(text) == state
    playlist = check_playlist(text)
    assert (playlist.media_sequence, playlist.discontinuity_sequence, playlist.is_endlist) == (7, 3, True)
    assert playlist.segments[1].discontinuity and playlist.segments[1].program_date_time == state.segments[1].date
    with pytest.raises(ValueError):
        parse("not a playlist")
    with pytest.raises(ValueError):
        parse("#EXTM3U\nseg_000001.ts\n")  # a segment without EXTINF


def test_a_seam_that_slides_out_is_counted_by_the_discontinuity_sequence(tmp_path: Path) -> None:
    playlist = LivePlaylist(tmp_path / "index.m3u8", segment_seconds=1, window=3)
    history = PlaylistHistory()
    playlist.begin_discontinuity()  # the first ffmpeg of a stream: no seam before the first segment
    for _ in range(2):
        add(playlist)
        history.add(playlist.path.read_text())
    playlist.begin_discontinuity()  # a reconnect
    for _ in range(4):
        add(playlist)
        history.add(playlist.path.read_text())
    texts = history.texts  # the first segment is 1 and discontinuity 1: 0 is the slate served before it
    assert "#EXT-X-MEDIA-SEQUENCE:1\n" in texts[0] and "#EXT-X-DISCONTINUITY-SEQUENCE:1\n" in texts[0]
    assert "#EXT-X-DISCONTINUITY\n" in texts[2] and "#EXT-X-DISCONTINUITY-SEQUENCE:1\n" in texts[2]
    assert "#EXT-X-DISCONTINUITY\n" not in texts[4] and "#EXT-X-DISCONTINUITY-SEQUENCE:2\n" in texts[4]
    assert [s.discontinuity_number for s in history.segments] == [1, 1, 2, 2, 2, 2]
    assert history.last.media_sequence == 4 and not (tmp_path / name(1)).exists()  # 3 in the window + 2 kept
    assert (tmp_path / name(2)).exists() and (tmp_path / name(3)).exists()


def test_any_sequence_of_publishes_restarts_and_reloads_keeps_the_rules(tmp_path: Path) -> None:
    rng = random.Random(11)
    path = tmp_path / "index.m3u8"
    history = PlaylistHistory()
    playlist = LivePlaylist.load(path, segment_seconds=2, window=4)
    at = T0
    for _ in range(300):
        action = rng.random()
        if action < 0.1:  # a reconnect or an ffmpeg restart: a new process continues the playlist
            playlist.begin_discontinuity()
        elif action < 0.15:  # a process restart: the file is the state
            playlist = LivePlaylist.load(path, segment_seconds=2, window=4)
            playlist.begin_discontinuity()
        else:
            duration = rng.choice([2.0, 2.002, 1.96, 2.5, 3.4, 0.4])
            at += timedelta(seconds=duration if rng.random() < 0.9 else -5)  # sometimes the wall clock steps back
            add(playlist, duration, at)
            history.add(path.read_text())
    assert history.last.target_duration == 3  # 3.4 s rounds to 3 and 2.5 to 3 (RFC 8216 rounds halves up)
    assert history.last.discontinuity_sequence > 0
    on_disk = sorted(p.name for p in tmp_path.glob("seg_*.ts"))
    assert len(on_disk) == 4 + 2, on_disk  # the window and two kept, whatever the reloads
    playlist.end()
    playlist.end()
    history.add(path.read_text())
    assert history.last.is_endlist and path.read_text().count("#EXT-X-ENDLIST") == 1
    with pytest.raises(ValueError):
        add(playlist)
    assert not list(tmp_path.glob(".*.tmp")), "the temporary file was renamed over the playlist"


def test_loading_an_unreadable_playlist_continues_after_its_segment_files(tmp_path: Path) -> None:
    for n in (4, 5, 9):
        (tmp_path / name(n)).write_bytes(b"\x47")
    (tmp_path / "index.m3u8").write_text("garbage\n")
    playlist = LivePlaylist.load(tmp_path / "index.m3u8", segment_seconds=2, window=6)
    assert playlist.next_sequence == 10
    add(playlist)
    assert check_playlist((tmp_path / "index.m3u8").read_text()).media_sequence == 10


def test_a_playlist_ffmpeg_wrote_is_continued_by_the_rules(tmp_path: Path) -> None:
    (tmp_path / "index.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:4\n"
        "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T12:00:04.000+0000\n#EXTINF:2.000000,\n"
        "seg_000004.ts\n"
    )  # what the hls muxer wrote before livecast listed segments itself (a stray tag before the first segment)
    playlist = LivePlaylist.load(tmp_path / "index.m3u8", segment_seconds=2, window=6)
    playlist.begin_discontinuity()
    add(playlist, 2.0, T0 + timedelta(seconds=30))
    listed = check_playlist(playlist.path.read_text())
    assert listed.media_sequence == 4 and listed.discontinuity_sequence == 1
    assert [s.discontinuity for s in listed.segments] == [False, True]


def test_finalize_and_placeholders(tmp_path: Path) -> None:
    finalize_playlist(tmp_path / "index.m3u8")
    assert not (tmp_path / "index.m3u8").exists()
    playlist = LivePlaylist(tmp_path / "index.m3u8", segment_seconds=2, window=6)
    add(playlist, 2.0)
    finalize_playlist(playlist.path)
    finalize_playlist(playlist.path)
    text = playlist.path.read_text()
    assert text.count("#EXT-X-ENDLIST") == 1 and check_playlist(text).segments[0].uri == name(1)
    live, ended = (
        check_playlist(placeholder(segment_seconds=2, ended=False)),
        placeholder(segment_seconds=1.5, ended=True),
    )
    assert not live.segments and not live.is_endlist and live.target_duration == 2 and live.media_sequence == 0
    assert check_playlist(ended).is_endlist and check_playlist(ended).target_duration == 2


def test_the_clock_rebases_media_time_and_dates_frames_by_arrival() -> None:
    now = [1000.0]
    clock = MediaClock(now=lambda: now[0])
    assert clock.wall_time(0) is None
    assert clock.rebase(50_000, keyframe=True) == 0  # the first media tag is 0 for ffmpeg
    assert clock.rebase(49_990, keyframe=False) == 0  # a little earlier (interleaving): clamped, not wrapped
    now[0] = 1001.02
    assert clock.rebase(51_000, keyframe=True) == 1000
    assert clock.wall_time(1.0) == pytest.approx(1001.02)  # the keyframe at 1 s arrived at 1001.02
    assert clock.wall_time(1.033) == pytest.approx(1001.053)  # its B-frame-delayed pts: plus the media time
    assert clock.wall_time(0.5) == pytest.approx(1000.5)
    wrapping = MediaClock(now=lambda: 0.0)
    assert wrapping.rebase(0xFFFFFF00, keyframe=True) == 0
    assert wrapping.rebase(0x100, keyframe=True) == 0x200  # 32-bit RTMP time wrapped around


def test_presentation_offsets_of_flv_frames() -> None:
    def tag(kind: int, payload: bytes) -> bytes:
        return flv_tag(kind, 1000, payload)

    assert _presentation_offset(tag(9, b"\x17\x00\x00\x00\x00\x01")) is None  # AVC sequence header
    assert _presentation_offset(tag(9, b"\x17\x01\x00\x00\x43\x00")) == 67  # a keyframe shown 67 ms later
    assert _presentation_offset(tag(9, b"\x27\x01\xff\xff\xdf\x00")) == -33
    assert _presentation_offset(tag(9, b"\x91avc1\x00\x00\x21\x00")) == 33  # Enhanced RTMP CodedFrames
    assert _presentation_offset(tag(9, b"\x93hvc1\x00")) == 0  # CodedFramesX: no composition time
    assert _presentation_offset(tag(9, b"\x90hvc1\x01")) is None  # SequenceStart
    assert _presentation_offset(tag(9, b"\x52\x00")) is None  # video info / command frame
    assert _presentation_offset(tag(8, b"\xaf\x00\x12\x10")) is None  # AAC AudioSpecificConfig
    assert _presentation_offset(tag(8, b"\xaf\x01\x21")) == 0
    assert _presentation_offset(tag(8, b"\x90mp4a\x00")) is None  # Enhanced audio SequenceStart
