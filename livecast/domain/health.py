"""Stream health, provider-neutral: the :class:`HealthSample` shape and the :class:`HealthSampler` that computes
it from media observations.

Any source of media timing can feed a sampler (the local RTMP ingest feeds every audio/video message it
relays); a provider that reports health itself (Mux) builds :class:`HealthSample` objects directly. Either way
the sample then goes through the same status (:func:`drift_status`) and alert rules
(:mod:`livecast.domain.alerts`).

Definitions (REFERENCE.md, "Stream health"):

* bitrates (bits per second) and frame rate (frames per second) are what arrived over the last
  ``window_seconds`` of wall time: a stalled upload shows as a low bitrate even if the encoder is set higher;
* stream drift (ms) = wall time since the publish started - media time received (advance of timestamps);
  its deviation (ms) is the drift minus its average over the last ``drift_window_seconds``;
* status from the absolute deviation: ``EXCELLENT`` <= 500 ms, ``GOOD`` <= 1 s, ``POOR`` > 1 s, ``UNKNOWN``
  before two drift values exist;
* keyframe interval (s) from the media timestamps of the last keyframes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from livecast.domain.models import HealthStatus

VIDEO: Literal["video"] = "video"
AUDIO: Literal["audio"] = "audio"
EXCELLENT_MAX_MS = 500.0
GOOD_MAX_MS = 1000.0
KEYFRAMES_KEPT = 4
"""Keyframe timestamps remembered: the interval is the mean of the last three gaps."""


def drift_status(deviation_ms: float | None) -> HealthStatus:
    """Status from the drift deviation in milliseconds (``None``: not enough data → ``UNKNOWN``)."""
    if deviation_ms is None:
        return HealthStatus.UNKNOWN
    deviation = abs(deviation_ms)
    if deviation <= EXCELLENT_MAX_MS:
        return HealthStatus.EXCELLENT
    if deviation <= GOOD_MAX_MS:
        return HealthStatus.GOOD
    return HealthStatus.POOR


@dataclass(frozen=True)
class HealthSample:
    """One health measurement of a publishing stream. ``None`` means "not known" (not measured, or not
    applicable to this provider: an RTMP/TCP ingest knows no packet loss or round-trip time)."""

    status: HealthStatus
    sampled_at: datetime
    drift_ms: float | None = None
    """Wall time since publish start minus media time received, milliseconds."""
    drift_deviation_ms: float | None = None
    """Drift minus its rolling average, milliseconds (the status is from its absolute value)."""
    video_bitrate: int | None = None
    """Bits per second received over the window."""
    audio_bitrate: int | None = None
    """Bits per second received over the window."""
    frame_rate: float | None = None
    """Video frames per second received over the window."""
    width: int | None = None
    height: int | None = None
    keyframe_interval: float | None = None
    """Seconds between keyframes (media time)."""
    codec: str | None = None
    """Video codec and profile, e.g. ``h264 High 4.0``."""
    encoder: str | None = None
    """What the encoder calls itself (RTMP metadata ``encoder``, e.g. ``obs-output module``)."""
    media_gap: float | None = None
    """Seconds since the last media message arrived."""
    dropped_frames: float | None = None
    """Percent of the video frames received over the window that were dropped before or by the packager."""
    packet_loss: float | None = None
    """Percent of packets lost on the way in (providers with UDP/SRT ingest)."""
    rtt_ms: float | None = None
    """Round-trip time to the encoder, milliseconds."""
    packager_speed: float | None = None
    """Packager (ffmpeg) speed relative to real time (1.0: keeping up)."""

    def measurements(self) -> dict[str, object]:
        """Every measured figure by field name (all fields but ``status`` and ``sampled_at``)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__ if name not in ("status", "sampled_at")}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (status as its name, ``sampled_at`` as ISO 8601)."""
        data = asdict(self)
        data["status"] = self.status.value
        data["sampled_at"] = self.sampled_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HealthSample:
        """Inverse of :meth:`to_dict`; unknown keys are ignored (older or newer rows)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["status"] = HealthStatus(known["status"])
        known["sampled_at"] = datetime.fromisoformat(known["sampled_at"])
        return cls(**known)


@dataclass
class _Snapshot:
    at: float
    video_bytes: int
    audio_bytes: int
    video_frames: int
    dropped: int


@dataclass
class StreamInfo:
    """What the media says about itself (metadata, codec configuration); set by :meth:`HealthSampler.describe`."""

    width: int | None = None
    height: int | None = None
    codec: str | None = None
    encoder: str | None = None


class HealthSampler:
    """Health of one publish, from (kind, timestamp, size, keyframe) observations.

    :meth:`observe` runs for every media message, so it only adds to counters. :meth:`sample` (every few
    seconds) turns the counters into a :class:`HealthSample`. ``clock`` is a monotonic clock in seconds and
    ``wall`` gives the sample's timestamp (both replaceable in tests). The publish starts at construction.
    """

    def __init__(
        self,
        *,
        window_seconds: float = 5.0,
        drift_window_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if window_seconds <= 0 or drift_window_seconds <= 0:
            raise ValueError("window_seconds and drift_window_seconds must be > 0")
        self.window_seconds = window_seconds
        self.drift_window_seconds = drift_window_seconds
        self._clock, self._wall = clock, wall
        self.started = clock()
        self.info = StreamInfo()
        self.video_bytes = self.audio_bytes = self.video_frames = 0
        self.dropped_frames = 0
        self.packager_speed: float | None = None
        self._first_ts: int | None = None
        self._max_ts = 0
        self._last_arrival: float | None = None
        self._keyframes: deque[int] = deque(maxlen=KEYFRAMES_KEPT)
        self._snapshots: deque[_Snapshot] = deque([_Snapshot(self.started, 0, 0, 0, 0)])
        self._drifts: deque[tuple[float, float]] = deque()

    def observe(self, kind: str, timestamp_ms: int, size: int, keyframe: bool = False) -> None:
        """One media message arrived: ``kind`` is ``"video"`` or ``"audio"``, ``timestamp_ms`` its media time
        (milliseconds), ``size`` its payload in bytes, ``keyframe`` for a video keyframe."""
        self._last_arrival = self._clock()
        first = self._first_ts
        if first is None or timestamp_ms < first:
            self._first_ts = timestamp_ms
        if timestamp_ms > self._max_ts:
            self._max_ts = timestamp_ms
        if kind == VIDEO:
            self.video_bytes += size
            self.video_frames += 1
            if keyframe:
                self._keyframes.append(timestamp_ms)
        else:
            self.audio_bytes += size

    def describe(self, **info: Any) -> None:
        """Set what is known about the media (``width``, ``height``, ``codec``, ``encoder``); ``None`` values
        leave the current ones. Unknown names raise ``TypeError``."""
        for name, value in info.items():
            if name not in StreamInfo.__dataclass_fields__:
                raise TypeError(f"unknown stream info {name!r}")
            if value is not None:
                setattr(self.info, name, value)

    def packager(self, *, speed: float | None = None, dropped_frames: int | None = None) -> None:
        """The packager's state: ``speed`` (x real time) and the publish's cumulative dropped video frames."""
        if speed is not None:
            self.packager_speed = speed
        if dropped_frames is not None:
            self.dropped_frames = dropped_frames

    def _window_base(self, now: float) -> _Snapshot:
        """The newest snapshot at least ~``window_seconds`` old (10 % slack for timer jitter), else the oldest."""
        slack = self.window_seconds * 0.9
        snapshots = self._snapshots
        while len(snapshots) > 1 and now - snapshots[1].at >= slack:
            snapshots.popleft()
        return snapshots[0]

    def _drift(self, now: float) -> tuple[float | None, float | None]:
        if self._first_ts is None:
            return None, None
        drift = ((now - self.started) - (self._max_ts - self._first_ts) / 1000) * 1000
        drifts = self._drifts
        drifts.append((now, drift))
        while drifts and now - drifts[0][0] > self.drift_window_seconds:
            drifts.popleft()
        if len(drifts) < 2:
            return drift, None
        average = sum(d for _, d in drifts) / len(drifts)
        return drift, drift - average

    def _keyframe_interval(self) -> float | None:
        keyframes = self._keyframes
        if not keyframes:
            return None
        since_last = (self._max_ts - keyframes[-1]) / 1000
        if len(keyframes) < 2:
            return since_last if since_last > 0 else None
        mean_gap = (keyframes[-1] - keyframes[0]) / (len(keyframes) - 1) / 1000
        return max(mean_gap, since_last)

    def sample(self) -> HealthSample:
        """The health now: rates over the last window, drift and its deviation, status, media facts."""
        now = self._clock()
        base = self._window_base(now)
        current = _Snapshot(now, self.video_bytes, self.audio_bytes, self.video_frames, self.dropped_frames)
        self._snapshots.append(current)
        span = now - base.at
        video_bitrate = audio_bitrate = frame_rate = dropped = None
        if span > 0:
            video_bitrate = round((current.video_bytes - base.video_bytes) * 8 / span)
            audio_bitrate = round((current.audio_bytes - base.audio_bytes) * 8 / span)
            frame_rate = round((current.video_frames - base.video_frames) / span, 2)
            frames = current.video_frames - base.video_frames
            lost = current.dropped - base.dropped
            dropped = round(100 * min(lost, frames) / frames, 2) if frames > 0 else None
        drift, deviation = self._drift(now)
        last = self._last_arrival
        return HealthSample(
            status=drift_status(deviation),
            sampled_at=self._wall(),
            drift_ms=None if drift is None else round(drift, 1),
            drift_deviation_ms=None if deviation is None else round(deviation, 1),
            video_bitrate=video_bitrate,
            audio_bitrate=audio_bitrate,
            frame_rate=frame_rate,
            width=self.info.width,
            height=self.info.height,
            keyframe_interval=None if (k := self._keyframe_interval()) is None else round(k, 3),
            codec=self.info.codec,
            encoder=self.info.encoder,
            media_gap=round(now - (last if last is not None else self.started), 3),
            dropped_frames=dropped,
            packager_speed=self.packager_speed,
        )
