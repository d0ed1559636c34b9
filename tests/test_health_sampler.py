"""The health sampler on synthetic media and a fake clock: bitrates, frame rate, keyframe interval, drift,
its deviation and the status thresholds; and the ingest's H.264 configuration parsing on real x264 output."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from livecast.domain.health import AUDIO, VIDEO, HealthSample, HealthSampler, drift_status
from livecast.domain.models import HealthStatus
from livecast.providers.local.avc import avc_config, metadata_info
from tests.helpers.encoder import ffmpeg_exe

H = HealthStatus


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Publish:
    """Synthetic encoder: ``fps`` video frames and as many audio packets per media second, at ``speed`` x real
    time (0.5: media arrives at half speed, as from an encoder that cannot keep up)."""

    def __init__(self, sampler: HealthSampler, clock: FakeClock, *, fps: int = 30, gop_seconds: float = 2.0) -> None:
        self.sampler, self.clock, self.fps, self.gop = sampler, clock, fps, gop_seconds
        self.frame = 0

    def run(self, seconds: float, *, video_bps: int = 1_000_000, audio_bps: int = 96_000, speed: float = 1.0) -> None:
        for _ in range(round(seconds * self.fps * speed)):
            ts = round(self.frame * 1000 / self.fps)
            keyframe = self.frame % round(self.gop * self.fps) == 0
            self.sampler.observe(VIDEO, ts, video_bps // 8 // self.fps, keyframe)
            self.sampler.observe(AUDIO, ts, audio_bps // 8 // self.fps)
            self.frame += 1
            self.clock.now += 1 / self.fps / speed

    def sample_every(self, period: float, seconds: float, **media: float) -> list[HealthSample]:
        samples = []
        for _ in range(round(seconds / period)):
            self.run(period, **media)  # type: ignore[arg-type]
            samples.append(self.sampler.sample())
        return samples


def new(window: float = 5.0, drift_window: float = 30.0) -> tuple[HealthSampler, FakeClock, Publish]:
    clock = FakeClock()
    sampler = HealthSampler(window_seconds=window, drift_window_seconds=drift_window, clock=clock)
    return sampler, clock, Publish(sampler, clock)


def test_status_thresholds() -> None:
    assert drift_status(None) is H.UNKNOWN
    assert [drift_status(v) for v in (0, 500, -500)] == [H.EXCELLENT] * 3
    assert [drift_status(v) for v in (500.1, -900, 1000)] == [H.GOOD] * 3
    assert [drift_status(v) for v in (1000.1, -1500, 30_000)] == [H.POOR] * 3


def test_rates_keyframe_interval_and_stream_facts() -> None:
    sampler, _, publish = new()
    sampler.describe(width=1280, height=720, codec="h264 High 3.1", encoder="obs-output module (libobs version 30.1)")
    sampler.describe(codec=None)  # None leaves what is known
    samples = publish.sample_every(5, 10, video_bps=1_000_000, audio_bps=96_000)
    s = samples[-1]
    assert s.video_bitrate == pytest.approx(1_000_000, rel=0.01)
    assert s.audio_bitrate == pytest.approx(96_000, rel=0.01)
    assert s.frame_rate == pytest.approx(30, rel=0.01)
    assert s.keyframe_interval == pytest.approx(2.0, abs=0.05)
    assert (s.width, s.height, s.codec) == (1280, 720, "h264 High 3.1")
    assert s.encoder == "obs-output module (libobs version 30.1)"
    assert s.media_gap == pytest.approx(0, abs=0.05)
    assert s.packet_loss is None and s.rtt_ms is None  # not measurable on RTMP
    with pytest.raises(TypeError):
        sampler.describe(colour="blue")


def test_rates_are_over_the_last_window_only() -> None:
    _, _, publish = new(window=5)
    publish.sample_every(1, 10, video_bps=4_000_000)
    samples = publish.sample_every(1, 6, video_bps=320_000)
    assert samples[-1].video_bitrate == pytest.approx(320_000, rel=0.02), (
        "5 s after the drop, only 320 kbps is in the window"
    )
    assert 320_000 < samples[1].video_bitrate < 4_000_000, "2 s after the drop the window still holds both"


def test_a_slow_upload_shows_as_lower_received_rates() -> None:
    _, _, publish = new()
    s = publish.sample_every(5, 10, video_bps=2_000_000, speed=0.5)[-1]
    assert s.video_bitrate == pytest.approx(1_000_000, rel=0.02)
    assert s.frame_rate == pytest.approx(15, rel=0.02)


def test_drift_deviation_and_status_over_time() -> None:
    sampler, clock, publish = new(drift_window=10)
    assert sampler.sample().status is H.UNKNOWN, "no media yet"
    steady = publish.sample_every(1, 12)
    assert steady[0].status is H.UNKNOWN, "the first drift value has nothing to deviate from"
    assert steady[0].drift_ms == pytest.approx(0, abs=50)
    assert all(s.status is H.EXCELLENT for s in steady[1:])
    assert all(abs(s.drift_deviation_ms) < 100 for s in steady[1:])

    slow = publish.sample_every(1, 6, speed=0.5)  # 6 s of wall time deliver 3 s of media: drift grows 3 s
    assert slow[-1].drift_ms == pytest.approx(3000, abs=100)
    assert slow[-1].drift_deviation_ms > 1000 and slow[-1].status is H.POOR

    recovered = publish.sample_every(1, 15)  # back to real time: drift stays at +3 s, its average catches up
    assert recovered[-1].drift_ms == pytest.approx(3000, abs=100)
    assert recovered[-1].status is H.EXCELLENT, "a constant drift is not a deviation"
    assert [s.status for s in recovered].count(H.POOR) >= 1

    clock.now += 3  # a stall: wall time passes, no media
    stalled = sampler.sample()
    assert stalled.media_gap == pytest.approx(3, abs=0.1)
    assert stalled.drift_ms == pytest.approx(6000, abs=150)


def test_dropped_frames_and_packager_speed() -> None:
    sampler, _, publish = new()
    publish.sample_every(5, 5)
    publish.run(5)  # 150 frames in the next window, 15 of them dropped
    sampler.packager(speed=0.98, dropped_frames=15)
    s = sampler.sample()
    assert s.dropped_frames == pytest.approx(10.0)
    assert s.packager_speed == 0.98


def test_sample_round_trips_through_a_dict() -> None:
    sample = HealthSample(
        status=H.GOOD, sampled_at=datetime.now(UTC), drift_ms=620.0, video_bitrate=4_500_000, codec="h264 Main 4.0"
    )
    assert HealthSample.from_dict({**sample.to_dict(), "future_field": 1}) == sample


def test_windows_must_be_positive() -> None:
    with pytest.raises(ValueError):
        HealthSampler(window_seconds=0)


async def test_avc_configuration_of_real_x264_output(tmp_path) -> None:
    out = tmp_path / "a.flv"
    process = await asyncio.create_subprocess_exec(
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=854x480:rate=25",
        "-t", "0.2", "-c:v", "libx264", "-profile:v", "high", "-f", "flv", str(out),
    )  # fmt: skip
    assert await process.wait() == 0
    data, offset, record = out.read_bytes(), 13, b""
    while offset < len(data):  # FLV tags: find the AVC sequence header
        tag, size = data[offset], int.from_bytes(data[offset + 1 : offset + 4], "big")
        payload = data[offset + 11 : offset + 11 + size]
        if tag == 9 and payload[1] == 0:
            record = payload[5:]
            break
        offset += 15 + size
    config = avc_config(record)
    assert config is not None
    assert (config.codec, config.width, config.height) == ("h264 High 3.0", 854, 480)
    assert avc_config(b"\x01\x64") is None


def test_metadata_info() -> None:
    meta = {"width": 1920.0, "height": 1080.0, "videocodecid": 7.0, "encoder": " Lavf61.7.100 ", "framerate": 30.0}
    assert metadata_info(meta) == {"width": 1920, "height": 1080, "codec": "h264", "encoder": "Lavf61.7.100"}
    assert metadata_info({"videocodecid": "hvc1", "width": -1}) == {"codec": "hevc"}
    as_pyrtmp_decodes_it = [{"duration": 0.0}, {"width": 640.0}, {"height": 360.0}, {"encoder": "Lavf63.1.102"}]
    assert metadata_info(as_pyrtmp_decodes_it) == {"width": 640, "height": 360, "encoder": "Lavf63.1.102"}
    assert metadata_info("not a dict") == {}
