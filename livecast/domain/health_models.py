"""Tortoise models of stream health: the sample time series, alerts, and per-stream health state.

Only ``livecast.domain`` imports this module.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from livecast.domain.models import AlertSeverity, HealthStatus


class StreamQualityMetric(Model):
    """One health sample of a stream (a time series; purged after ``health_retention_days``).

    Units: bitrates in bits per second, frame rate in frames per second, drift in milliseconds, keyframe
    interval and media gap in seconds, dropped frames and packet loss in percent, round-trip time in ms.
    """

    id = fields.BigIntField(primary_key=True)
    stream = fields.ForeignKeyField("models.Stream", related_name="quality_metrics", on_delete=fields.CASCADE)
    stream_id: str
    sampled_at = fields.DatetimeField(db_index=True)
    status = fields.CharEnumField(HealthStatus, max_length=16)
    drift_ms = fields.FloatField(null=True)
    drift_deviation_ms = fields.FloatField(null=True)
    video_bitrate = fields.BigIntField(null=True)
    audio_bitrate = fields.BigIntField(null=True)
    frame_rate = fields.FloatField(null=True)
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    keyframe_interval = fields.FloatField(null=True)
    codec = fields.CharField(max_length=64, null=True)
    encoder = fields.CharField(max_length=128, null=True)
    media_gap = fields.FloatField(null=True)
    dropped_frames = fields.FloatField(null=True)
    packet_loss = fields.FloatField(null=True)
    rtt_ms = fields.FloatField(null=True)
    packager_speed = fields.FloatField(null=True)

    class Meta:
        table = "stream_quality_metrics"
        indexes = (("stream", "sampled_at"),)


class StreamAlert(Model):
    """A health alert of a stream: active while ``cleared_at`` is null."""

    id = fields.UUIDField(primary_key=True)
    stream = fields.ForeignKeyField("models.Stream", related_name="alerts", on_delete=fields.CASCADE)
    stream_id: str
    kind = fields.CharField(max_length=32)
    """An ``AlertKind`` name (``LOW_VIDEO_BITRATE``, ``STREAM_DRIFT``, ...)."""
    severity = fields.CharEnumField(AlertSeverity, max_length=8)
    message = fields.CharField(max_length=500)
    raised_at = fields.DatetimeField()
    cleared_at = fields.DatetimeField(null=True)

    class Meta:
        table = "stream_alerts"
        indexes = (("stream", "cleared_at"), ("stream", "raised_at"))


class StreamHealthState(Model):
    """Per stream: alert threshold overrides, the latest health sample and the alert hysteresis (one row per stream)."""

    stream = fields.OneToOneField(
        "models.Stream", related_name="health_state", on_delete=fields.CASCADE, primary_key=True
    )
    stream_id: str
    thresholds = fields.JSONField(default=dict)
    """Overrides of ``AlertThresholds`` fields (snake_case names); absent fields use the defaults."""
    latest_sample = fields.JSONField(null=True)
    """The latest ``HealthSample`` as a dict (``HealthSample.to_dict``), or null before the first."""
    hysteresis = fields.JSONField(null=True)
    """Alert hysteresis counts (``Hysteresis.counts``: kind → ``[bad, good]`` consecutive samples), shared by
    every process that samples the stream; null before the first sample."""
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "stream_health"
