"""Stream health types (samples, alerts, alert thresholds) and the health part of Query and Mutation.

The ``streamHealth``, ``streamAlerts`` and ``myStreamAlerts`` subscriptions (``schema/realtime.py``) deliver the
same ``HealthSample`` and ``StreamAlert`` types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from livecast.domain import alerts, events, health, health_models, models
from livecast.resolvers import health as resolve
from livecast.schema.context import Info
from livecast.schema.enums import AlertSeverity, HealthStatus
from livecast.schema.errors import ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError
from livecast.schema.results import as_result, relay_errors


@strawberry.type(description="A stream health sample. Bitrates in bits/s, drift in ms, keyframe interval in s.")
class HealthSample:
    stream_id: strawberry.ID
    status: HealthStatus
    drift: float | None = strawberry.field(description="Encoder connected time minus media time received (ms).")
    drift_deviation: float | None = strawberry.field(description="Drift minus its rolling average (ms).")
    video_bitrate: int | None
    audio_bitrate: int | None
    frame_rate: float | None
    width: int | None
    height: int | None
    keyframe_interval: float | None
    codec: str | None
    sampled_at: datetime
    encoder: str | None = strawberry.field(default=None, description="The encoder's name (RTMP metadata `encoder`).")
    media_gap: float | None = strawberry.field(default=None, description="Seconds since the last media arrived.")
    dropped_frames: float | None = strawberry.field(default=None, description="Percent of video frames dropped.")
    packet_loss: float | None = strawberry.field(default=None, description="Percent of packets lost (UDP/SRT ingest).")
    round_trip_time: float | None = strawberry.field(default=None, description="Round-trip time to the encoder (ms).")
    packager_speed: float | None = strawberry.field(
        default=None, description="Packager speed, x real time (1: keeping up)."
    )

    @classmethod
    def from_event(cls, e: events.HealthSampled) -> HealthSample:
        return cls(
            stream_id=strawberry.ID(e.stream_id), status=models.HealthStatus(e.status), drift=e.drift_ms,
            drift_deviation=e.drift_deviation_ms, video_bitrate=e.video_bitrate, audio_bitrate=e.audio_bitrate,
            frame_rate=e.frame_rate, width=e.width, height=e.height, keyframe_interval=e.keyframe_interval,
            codec=e.codec, sampled_at=datetime.fromisoformat(e.at), encoder=e.encoder, media_gap=e.media_gap,
            dropped_frames=e.dropped_frames, packet_loss=e.packet_loss, round_trip_time=e.rtt_ms,
            packager_speed=e.packager_speed,
        )  # fmt: skip

    @classmethod
    def from_sample(cls, stream_id: str, s: health.HealthSample) -> HealthSample:
        return cls(
            stream_id=strawberry.ID(stream_id), status=s.status, drift=s.drift_ms, drift_deviation=s.drift_deviation_ms,
            video_bitrate=s.video_bitrate, audio_bitrate=s.audio_bitrate, frame_rate=s.frame_rate, width=s.width,
            height=s.height, keyframe_interval=s.keyframe_interval, codec=s.codec, sampled_at=s.sampled_at,
            encoder=s.encoder, media_gap=s.media_gap, dropped_frames=s.dropped_frames, packet_loss=s.packet_loss,
            round_trip_time=s.rtt_ms, packager_speed=s.packager_speed,
        )  # fmt: skip


@strawberry.type(description="A health alert being raised (`active: true`) or cleared.")
class StreamAlert:
    id: strawberry.ID
    stream_id: strawberry.ID
    kind: str = strawberry.field(
        description="NO_MEDIA, STREAM_DRIFT, LOW_VIDEO_BITRATE, LOW_FRAME_RATE, DROPPED_FRAMES, PACKET_LOSS, "
        "HIGH_RTT or KEYFRAME_INTERVAL."
    )
    severity: AlertSeverity | None
    message: str | None
    active: bool
    at: datetime = strawberry.field(description="When it was raised (active) or cleared.")
    raised_at: datetime | None = None
    cleared_at: datetime | None = None

    @classmethod
    def from_event(cls, e: events.AlertRaised | events.AlertCleared) -> StreamAlert:
        raised = isinstance(e, events.AlertRaised)
        at = datetime.fromisoformat(e.at)
        return cls(
            id=strawberry.ID(e.alert_id), stream_id=strawberry.ID(e.stream_id), kind=e.kind,
            severity=models.AlertSeverity(e.severity) if raised else None,  # type: ignore[union-attr]
            message=e.message if raised else None, active=raised, at=at,  # type: ignore[union-attr]
            raised_at=at if raised else None, cleared_at=None if raised else at,
        )  # fmt: skip

    @classmethod
    def from_model(cls, a: health_models.StreamAlert) -> StreamAlert:
        return cls(
            id=strawberry.ID(str(a.id)), stream_id=strawberry.ID(str(a.stream_id)), kind=a.kind, severity=a.severity,
            message=a.message, active=a.cleared_at is None, at=a.cleared_at or a.raised_at, raised_at=a.raised_at,
            cleared_at=a.cleared_at,
        )  # fmt: skip


@strawberry.type(description="When a stream's health alerts are raised (defaults from the product brief).")
class AlertThresholds:
    min_video_bitrate: int = strawberry.field(description="Bits per second (default 500000).")
    min_frame_rate: float = strawberry.field(description="Frames per second (default 20).")
    max_dropped_frames: float = strawberry.field(description="Percent (default 5).")
    max_packet_loss: float = strawberry.field(description="Percent (default 2).")
    max_round_trip_time: float = strawberry.field(description="Milliseconds (default 300).")
    max_keyframe_interval: float = strawberry.field(description="Seconds (default 4).")
    max_media_gap: float = strawberry.field(description="Seconds without media before NO_MEDIA (default 5).")
    drift_alert: bool = strawberry.field(description="Alert when the health status is POOR (default true).")
    raise_after: int = strawberry.field(description="Consecutive bad samples before an alert is raised (default 2).")
    clear_after: int = strawberry.field(description="Consecutive good samples before it is cleared (default 2).")

    @classmethod
    def of(cls, t: alerts.AlertThresholds) -> AlertThresholds:
        return cls(
            min_video_bitrate=t.min_video_bitrate, min_frame_rate=t.min_frame_rate,
            max_dropped_frames=t.max_dropped_frames, max_packet_loss=t.max_packet_loss, max_round_trip_time=t.max_rtt_ms,
            max_keyframe_interval=t.max_keyframe_interval, max_media_gap=t.max_media_gap, drift_alert=t.drift_alert,
            raise_after=t.raise_after, clear_after=t.clear_after,
        )  # fmt: skip


@strawberry.input(description="Threshold overrides; omitted fields stay, `null` restores the default.")
class AlertThresholdsInput:
    min_video_bitrate: int | None = strawberry.field(default=strawberry.UNSET, description="Bits per second.")
    min_frame_rate: float | None = strawberry.UNSET
    max_dropped_frames: float | None = strawberry.field(default=strawberry.UNSET, description="Percent, 0-100.")
    max_packet_loss: float | None = strawberry.field(default=strawberry.UNSET, description="Percent, 0-100.")
    max_round_trip_time: float | None = strawberry.field(default=strawberry.UNSET, description="Milliseconds.")
    max_keyframe_interval: float | None = strawberry.field(default=strawberry.UNSET, description="Seconds.")
    max_media_gap: float | None = strawberry.field(default=strawberry.UNSET, description="Seconds, 1-600.")
    drift_alert: bool | None = strawberry.UNSET
    raise_after: int | None = strawberry.field(default=strawberry.UNSET, description="Samples, 1-60.")
    clear_after: int | None = strawberry.field(default=strawberry.UNSET, description="Samples, 1-60.")


INPUT_NAMES = {"max_round_trip_time": "max_rtt_ms"}
"""Input field → domain threshold name where they differ."""

AlertThresholdsResult = Annotated[
    AlertThresholds | ValidationError | NotFoundError | ForbiddenError | UnauthenticatedError,
    strawberry.union("AlertThresholdsResult"),
]


def _changes(data: AlertThresholdsInput) -> dict[str, Any]:
    return {
        INPUT_NAMES.get(name, name): value
        for name in AlertThresholdsInput.__dataclass_fields__  # type: ignore[attr-defined]
        if (value := getattr(data, name)) is not strawberry.UNSET
    }


@strawberry.type
class HealthQuery:
    @strawberry.field(description="A stream's alerts, newest first (owner or admin); `active` filters; `first` 1-200.")
    async def stream_alerts(
        self, info: Info, stream_id: strawberry.ID, active: bool | None = None, first: int = 50
    ) -> list[StreamAlert]:
        async with relay_errors():
            rows = await resolve.stream_alerts(info.context, str(stream_id), active, first)
        return [StreamAlert.from_model(r) for r in rows]


@strawberry.type
class HealthMutation:
    @strawberry.mutation(description="Override a stream's alert thresholds (owner or admin); returns those in force.")
    async def set_alert_thresholds(
        self, info: Info, stream_id: strawberry.ID, input: AlertThresholdsInput
    ) -> AlertThresholdsResult:
        change = resolve.set_alert_thresholds(info.context, str(stream_id), _changes(input))
        return await as_result(change, AlertThresholds.of)
