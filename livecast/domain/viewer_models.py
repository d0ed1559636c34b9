"""Tortoise models of viewers: playback sessions and the concurrent-viewer time series.
Only ``livecast.domain`` imports this module."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class ViewerSession(Model):
    """One player session (a tab or device) of one viewer on one stream.

    Written from the viewer store by the periodic viewer count (not once per beacon). Durations in ms."""

    id = fields.BigIntField(primary_key=True)
    stream = fields.ForeignKeyField("models.Stream", related_name="viewer_sessions", on_delete=fields.CASCADE)
    stream_id: str
    viewer_id = fields.CharField(max_length=128)
    session_id = fields.CharField(max_length=128)
    started_at = fields.DatetimeField()
    """Time of the session's first beacon."""
    last_seen = fields.DatetimeField()
    """Time of its latest beacon."""
    state = fields.CharField(max_length=16)
    """Latest player state: playing, paused, buffering or ended."""
    watch_ms = fields.BigIntField(default=0)
    """Time in the playing state."""
    buffering_ms = fields.BigIntField(default=0)
    """Rebuffering time (the larger of the player's report and the time seen in the buffering state)."""
    errors = fields.IntField(default=0)
    """Playback errors the player reported."""
    bitrate = fields.IntField(null=True)
    """Latest rendition bitrate the player reported (bits/s)."""
    ended = fields.BooleanField(default=False)

    class Meta:
        table = "viewer_sessions"
        unique_together = (("stream", "viewer_id", "session_id"),)


class ViewerSample(Model):
    """Concurrent viewers of a live stream at one moment (one row per stream per viewer count period)."""

    id = fields.BigIntField(primary_key=True)
    stream = fields.ForeignKeyField("models.Stream", related_name="viewer_samples", on_delete=fields.CASCADE)
    stream_id: str
    at = fields.DatetimeField()
    count = fields.IntField()

    class Meta:
        table = "viewer_samples"
        indexes = (("stream", "at"),)
