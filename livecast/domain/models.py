"""Tortoise models. Only ``livecast.domain`` imports this module."""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class StreamStatus(str, Enum):
    """Lifecycle status of a stream; the allowed moves are in ``livecast.domain.lifecycle``."""

    SCHEDULED = "SCHEDULED"
    PREPARING = "PREPARING"
    LIVE = "LIVE"
    RECONNECTING = "RECONNECTING"
    ENDED = "ENDED"
    ARCHIVED = "ARCHIVED"
    CANCELLED = "CANCELLED"


class PlaybackPolicy(str, Enum):
    PUBLIC = "PUBLIC"
    SIGNED = "SIGNED"


class LatencyMode(str, Enum):
    """Mux's latency modes: STANDARD (~25-30 s), REDUCED (~12-20 s), LOW (~5 s)."""

    STANDARD = "STANDARD"
    REDUCED = "REDUCED"
    LOW = "LOW"


class HealthStatus(str, Enum):
    """Stream health from drift deviation (REFERENCE.md): EXCELLENT <= 500 ms, GOOD <= 1 s, POOR > 1 s."""

    EXCELLENT = "EXCELLENT"
    GOOD = "GOOD"
    POOR = "POOR"
    UNKNOWN = "UNKNOWN"


class AlertSeverity(str, Enum):
    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class ReminderKind(str, Enum):
    STARTS_SOON = "STARTS_SOON"
    STARTING = "STARTING"


class User(Model):
    id = fields.UUIDField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    roles = fields.JSONField(default=list)
    """Role names (``["admin"]``); authorization reads them from here, never from a token."""
    token_version = fields.IntField(default=0)
    """Tokens carry the version they were issued at (claim ``ver``); ``livecast token revoke`` increments it, so
    every token issued before is refused."""
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"


class Stream(Model):
    id = fields.UUIDField(primary_key=True)
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="streams", on_delete=fields.CASCADE
    )
    owner_id: str
    title = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    thumbnail_url = fields.CharField(max_length=2048, null=True)
    status = fields.CharEnumField(StreamStatus, max_length=16, default=StreamStatus.SCHEDULED, db_index=True)
    provider = fields.CharField(max_length=32, default="local")
    provider_stream_id = fields.CharField(max_length=128, null=True)
    provider_asset_id = fields.CharField(max_length=128, null=True)
    stream_key = fields.CharField(max_length=128)
    srt_passphrase = fields.CharField(max_length=128, null=True)
    """The provider's SRT passphrase (Mux ``srt_passphrase``), a secret like the key; null when there is none."""
    stream_key_hash = fields.CharField(max_length=64, unique=True)
    """SHA-256 hex of the stream key: the ingest looks a key up by its hash, then compares in constant time."""
    playback_id = fields.CharField(max_length=128, unique=True)
    playback_policy = fields.CharEnumField(PlaybackPolicy, max_length=8, default=PlaybackPolicy.PUBLIC)
    latency_mode = fields.CharEnumField(LatencyMode, max_length=8, default=LatencyMode.STANDARD)
    reconnect_window = fields.IntField(default=60)
    """Seconds the stream waits in RECONNECTING for the encoder to come back (0-1800)."""
    max_continuous_duration = fields.IntField(default=12 * 3600)
    """Seconds after going live at which the stream is ended (Mux's max_continuous_duration)."""
    recording_enabled = fields.BooleanField(default=False)
    end_on_unpublish = fields.BooleanField(default=True)
    """Local streams: the encoder's clean stop (RTMP ``FCUnpublish``/``deleteStream``, OBS "Stop Streaming") ends the
    stream at once; ``False``: it waits the reconnect window like a dropped connection (Mux's behaviour)."""
    reconnect_deadline = fields.DatetimeField(null=True)
    """While ``RECONNECTING`` (local streams): when the reconnect window ends. Stored so that a periodic job ends the
    stream after it even if the ingest process restarted or died; ``None`` in every other status."""
    ingest_id = fields.CharField(max_length=128, null=True)
    """The local ingest process (``LIVECAST_INGEST_ID``) that serves the stream's publisher, or last served it; set
    when a publish starts, cleared once that ingest has closed the playlist of the ended stream."""
    chat_enabled = fields.BooleanField(default=True)
    reactions_enabled = fields.BooleanField(default=True)
    scheduled_at = fields.DatetimeField(null=True)
    started_at = fields.DatetimeField(null=True)
    ended_at = fields.DatetimeField(null=True)
    status_changed_at = fields.DatetimeField(null=True)
    starts_soon_reminded_at = fields.DatetimeField(null=True)
    """When the ``STARTS_SOON`` reminder was sent (``livecast.domain.schedule``); reset by a reschedule."""
    starting_reminded_at = fields.DatetimeField(null=True)
    """When the ``STARTING`` reminder was sent; reset by a reschedule."""
    viewer_count = fields.IntField(default=0)
    """Concurrent viewers at the latest viewer count (every ~5 s while live; 0 once it is not live)."""
    peak_viewer_count = fields.IntField(default=0)
    """Highest ``viewer_count`` so far."""
    viewer_count_source = fields.CharField(max_length=16, default="LIVECAST")
    """Where ``viewer_count`` came from: ``LIVECAST`` (playback beacons) or ``MUX_DATA`` (Mux real-time API)."""
    recording_playback_id = fields.CharField(max_length=128, null=True)
    """Playback id of the recording (Mux asset) once ``video.asset.ready`` arrived."""
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "streams"

    def __str__(self) -> str:  # never includes the stream key
        return f"Stream({self.id}, {self.status.value})"
