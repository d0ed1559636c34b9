"""Health alerts, provider-neutral: thresholds, the rules that turn a sample into findings, and hysteresis.

A :class:`~livecast.domain.health.HealthSample` (from the local ingest or any provider) is checked against the
stream's :class:`AlertThresholds` by :func:`evaluate`: one finding (kind, severity, a message a broadcaster
understands) per condition that holds. :class:`Hysteresis` then raises an alert of a kind only after its
condition held for ``raise_after`` consecutive samples, and clears it only after ``clear_after`` consecutive
samples without it, so a single bad (or good) sample never makes an alert flap. Its counts are plain data
(:meth:`Hysteresis.counts` / :meth:`Hysteresis.restore`), so every process sampling a stream can share them.
Storing and publishing the alerts is :mod:`livecast.domain.monitoring`'s job; this module is pure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from livecast.domain.errors import ValidationFailed
from livecast.domain.health import HealthSample
from livecast.domain.models import AlertSeverity, HealthStatus


class AlertKind(str, Enum):
    """What an alert is about (the ``kind`` of ``StreamAlert``)."""

    NO_MEDIA = "NO_MEDIA"
    STREAM_DRIFT = "STREAM_DRIFT"
    LOW_VIDEO_BITRATE = "LOW_VIDEO_BITRATE"
    LOW_FRAME_RATE = "LOW_FRAME_RATE"
    DROPPED_FRAMES = "DROPPED_FRAMES"
    PACKET_LOSS = "PACKET_LOSS"
    HIGH_RTT = "HIGH_RTT"
    KEYFRAME_INTERVAL = "KEYFRAME_INTERVAL"
    EGRESS_FAILED = "EGRESS_FAILED"
    """LiveKit egress to the paired HLS stream failed (``livecast.domain.broadcast_egress``); not a health finding."""


HEALTH_KINDS: tuple[AlertKind, ...] = tuple(k for k in AlertKind if k is not AlertKind.EGRESS_FAILED)
"""The kinds :func:`evaluate` can find, i.e. the ones the hysteresis raises and clears (``EGRESS_FAILED`` is
raised by the egress code and cleared by it when a later egress runs, or when the stream is over)."""

SEVERITY: dict[AlertKind, AlertSeverity] = {
    AlertKind.NO_MEDIA: AlertSeverity.CRITICAL,
    AlertKind.STREAM_DRIFT: AlertSeverity.WARNING,
    AlertKind.LOW_VIDEO_BITRATE: AlertSeverity.WARNING,
    AlertKind.LOW_FRAME_RATE: AlertSeverity.WARNING,
    AlertKind.DROPPED_FRAMES: AlertSeverity.WARNING,
    AlertKind.PACKET_LOSS: AlertSeverity.WARNING,
    AlertKind.HIGH_RTT: AlertSeverity.INFO,
    AlertKind.KEYFRAME_INTERVAL: AlertSeverity.INFO,
    AlertKind.EGRESS_FAILED: AlertSeverity.CRITICAL,
}


@dataclass(frozen=True)
class AlertThresholds:
    """When alerts are raised; defaults from the product brief. Any field can be overridden per stream."""

    min_video_bitrate: int = 500_000
    """Bits per second."""
    min_frame_rate: float = 20.0
    """Frames per second."""
    max_dropped_frames: float = 5.0
    """Percent of video frames."""
    max_packet_loss: float = 2.0
    """Percent of packets."""
    max_rtt_ms: float = 300.0
    """Round-trip time, milliseconds."""
    max_keyframe_interval: float = 4.0
    """Seconds."""
    max_media_gap: float = 5.0
    """Seconds without any media before ``NO_MEDIA``."""
    drift_alert: bool = True
    """Alert when the drift status is ``POOR``."""
    raise_after: int = 2
    """Consecutive samples a condition must hold before its alert is raised."""
    clear_after: int = 2
    """Consecutive samples without the condition before its alert is cleared."""

    def with_overrides(self, overrides: dict[str, Any]) -> AlertThresholds:
        """These thresholds with stored overrides applied (unknown or malformed names are ignored)."""
        known = {k: v for k, v in overrides.items() if k in LIMITS and v is not None}
        return dataclasses.replace(self, **known)

    def overrides(self) -> dict[str, Any]:
        """The fields that differ from the defaults (what is stored per stream)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {name: value for name, value in values.items() if value != getattr(DEFAULT_THRESHOLDS, name)}


DEFAULT_THRESHOLDS = AlertThresholds()

LIMITS: dict[str, tuple[type, float, float, str]] = {
    "min_video_bitrate": (int, 0, 1_000_000_000, "minVideoBitrate"),
    "min_frame_rate": (float, 0, 240, "minFrameRate"),
    "max_dropped_frames": (float, 0, 100, "maxDroppedFrames"),
    "max_packet_loss": (float, 0, 100, "maxPacketLoss"),
    "max_rtt_ms": (float, 0, 60_000, "maxRoundTripTime"),
    "max_keyframe_interval": (float, 0.1, 60, "maxKeyframeInterval"),
    "max_media_gap": (float, 1, 600, "maxMediaGap"),
    "drift_alert": (bool, 0, 1, "driftAlert"),
    "raise_after": (int, 1, 60, "raiseAfter"),
    "clear_after": (int, 1, 60, "clearAfter"),
}
"""Per field: type, inclusive range, and its name in the schema (for ``ValidationFailed.field``)."""


def validate_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """Check threshold changes (``None`` means "back to the default"); raises ``ValidationFailed``."""
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in LIMITS:
            raise ValidationFailed(f"unknown threshold {name}")
        kind, low, high, public = LIMITS[name]
        if value is None:
            clean[name] = None
            continue
        if kind is bool:
            if not isinstance(value, bool):
                raise ValidationFailed(f"{public} must be true or false", field=public)
        elif isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise ValidationFailed(f"{public} must be a number from {low:g} to {high:g}", field=public)
        elif kind is int and value != int(value):
            raise ValidationFailed(f"{public} must be a whole number", field=public)
        clean[name] = kind(value)
    return clean


@dataclass(frozen=True)
class Finding:
    """A condition that holds in one sample."""

    kind: AlertKind
    message: str

    @property
    def severity(self) -> AlertSeverity:
        return SEVERITY[self.kind]


def _kbps(bits_per_second: float) -> str:
    return f"{bits_per_second / 1000:,.0f} kbps"


def evaluate(sample: HealthSample, thresholds: AlertThresholds = DEFAULT_THRESHOLDS) -> dict[AlertKind, Finding]:
    """The conditions that hold in ``sample`` (kinds absent: fine, or not measured).

    While no media arrives, only ``NO_MEDIA`` is reported: the rates and the drift then merely echo it.
    Video rules are skipped for a stream without video (no codec known and no frames).
    """
    t, found = thresholds, {}
    if sample.media_gap is not None and sample.media_gap >= t.max_media_gap:
        message = f"no media received for {sample.media_gap:.0f} s: check that your encoder is still streaming"
        return {AlertKind.NO_MEDIA: Finding(AlertKind.NO_MEDIA, message)}
    if t.drift_alert and sample.status is HealthStatus.POOR and sample.drift_deviation_ms is not None:
        found[AlertKind.STREAM_DRIFT] = Finding(
            AlertKind.STREAM_DRIFT,
            f"stream drift varies by {abs(sample.drift_deviation_ms) / 1000:.1f} s (health POOR): your encoder or "
            "upload cannot keep up with real time; lower the bitrate or resolution, or check the encoder's CPU",
        )
    has_video = sample.codec is not None or bool(sample.frame_rate)
    if has_video and sample.video_bitrate is not None and sample.video_bitrate < t.min_video_bitrate:
        found[AlertKind.LOW_VIDEO_BITRATE] = Finding(
            AlertKind.LOW_VIDEO_BITRATE,
            f"video bitrate {_kbps(sample.video_bitrate)} is below {_kbps(t.min_video_bitrate)}: check your upload speed",
        )
    if has_video and sample.frame_rate is not None and sample.frame_rate < t.min_frame_rate:
        found[AlertKind.LOW_FRAME_RATE] = Finding(
            AlertKind.LOW_FRAME_RATE,
            f"frame rate {sample.frame_rate:.0f} fps is below {t.min_frame_rate:g} fps: your encoder may be "
            "overloaded; lower the resolution or use a faster preset",
        )
    if has_video and sample.keyframe_interval is not None and sample.keyframe_interval > t.max_keyframe_interval:
        found[AlertKind.KEYFRAME_INTERVAL] = Finding(
            AlertKind.KEYFRAME_INTERVAL,
            f"keyframe interval {sample.keyframe_interval:.1f} s is over {t.max_keyframe_interval:g} s: set it to 2 s "
            "in your encoder (OBS: Output > Keyframe Interval)",
        )
    if sample.dropped_frames is not None and sample.dropped_frames > t.max_dropped_frames:
        found[AlertKind.DROPPED_FRAMES] = Finding(
            AlertKind.DROPPED_FRAMES,
            f"{sample.dropped_frames:.1f} % of video frames were dropped (limit {t.max_dropped_frames:g} %): "
            "lower the bitrate or check the server's load",
        )
    if sample.packet_loss is not None and sample.packet_loss > t.max_packet_loss:
        found[AlertKind.PACKET_LOSS] = Finding(
            AlertKind.PACKET_LOSS,
            f"packet loss {sample.packet_loss:.1f} % is above {t.max_packet_loss:g} %: check your network "
            "(a wired connection is steadier than Wi-Fi)",
        )
    if sample.rtt_ms is not None and sample.rtt_ms > t.max_rtt_ms:
        found[AlertKind.HIGH_RTT] = Finding(
            AlertKind.HIGH_RTT,
            f"round-trip time {sample.rtt_ms:.0f} ms is above {t.max_rtt_ms:g} ms: use an ingest server closer to you",
        )
    return found


@dataclass
class _KindState:
    bad: int = 0
    good: int = 0
    alert_id: str | None = None


@dataclass
class Hysteresis:
    """Consecutive bad/good sample counts per alert kind of one stream (the :data:`HEALTH_KINDS`), and its
    active alerts.

    Feed it every sample's findings with :meth:`step`; it says which alerts to raise and which to clear.
    Start it with the stream's stored active alerts (``active``: kind → alert id) so that alerts raised
    before (another process, a reconnect) are still cleared, and with stored counts (:meth:`restore`) to
    continue where another process left off.
    """

    active: dict[AlertKind, str] = field(default_factory=dict)
    _states: dict[AlertKind, _KindState] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self._states = {kind: _KindState(alert_id=self.active.get(kind)) for kind in HEALTH_KINDS}

    @classmethod
    def restore(cls, active: dict[AlertKind, str], counts: dict[str, Any] | None) -> Hysteresis:
        """A hysteresis with the active alerts and the ``counts`` saved by :meth:`counts` (malformed or unknown
        entries count as zero: the worst case is one more sample before an alert changes)."""
        hysteresis = cls(dict(active))
        for name, pair in (counts or {}).items():
            kind = AlertKind.__members__.get(name)
            state = hysteresis._states.get(kind) if kind is not None else None
            if state is not None and isinstance(pair, list) and len(pair) == 2:
                bad, good = pair
                if all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (bad, good)):
                    state.bad, state.good = bad, good
        return hysteresis

    def counts(self) -> dict[str, list[int]]:
        """The consecutive counts as JSON: kind name → ``[bad, good]``. A good count matters only while the
        kind's alert is active (it is reset by the bad sample that raises one), so it is kept only then and the
        JSON stays small; kinds at zero are left out."""
        pairs = {kind.value: [s.bad, s.good if s.alert_id else 0] for kind, s in self._states.items()}
        return {name: pair for name, pair in pairs.items() if pair != [0, 0]}

    def step(
        self, findings: dict[AlertKind, Finding], *, raise_after: int, clear_after: int
    ) -> tuple[list[Finding], list[tuple[AlertKind, str]]]:
        """Count one sample; returns (findings to raise, (kind, alert id) to clear).

        A raised finding is not active until :meth:`opened` records its alert id; a cleared one is inactive
        at once. Raised once per episode: a condition that keeps holding raises nothing more.
        """
        to_raise: list[Finding] = []
        to_clear: list[tuple[AlertKind, str]] = []
        for kind, state in self._states.items():
            finding = findings.get(kind)
            if finding is not None:
                state.bad, state.good = state.bad + 1, 0
                if state.alert_id is None and state.bad >= raise_after:
                    to_raise.append(finding)
            else:
                state.bad, state.good = 0, state.good + 1
                if state.alert_id is not None and state.good >= clear_after:
                    to_clear.append((kind, state.alert_id))
                    state.alert_id = None
                    self.active.pop(kind, None)
        return to_raise, to_clear

    def opened(self, kind: AlertKind, alert_id: str) -> None:
        """The alert raised for ``kind`` was stored as ``alert_id``."""
        self._states[kind].alert_id = alert_id
        self.active[kind] = alert_id
