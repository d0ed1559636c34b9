"""Tortoise models of the managed providers (Mux, LiveKit): simulcast targets, the webhook inbox, broadcasts.

Only ``livecast.domain`` imports this module.
"""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class SimulcastStatus(str, Enum):
    """Mux's simulcast target states: ``idle`` until the stream is live, then ``starting`` → ``broadcasting``,
    ``errored`` when the destination refuses or drops the restream."""

    IDLE = "IDLE"
    STARTING = "STARTING"
    BROADCASTING = "BROADCASTING"
    ERRORED = "ERRORED"


class SimulcastTarget(Model):
    """A restream destination of a stream (RTMP(S) URL + stream key), e.g. YouTube or Twitch ingest."""

    id = fields.UUIDField(primary_key=True)
    stream = fields.ForeignKeyField("models.Stream", related_name="simulcast_targets", on_delete=fields.CASCADE)
    stream_id: str
    provider_target_id = fields.CharField(max_length=128, null=True, db_index=True)
    url = fields.CharField(max_length=2048)
    stream_key = fields.CharField(max_length=512)
    """The destination's stream key: a secret, never returned by the API."""
    status = fields.CharEnumField(SimulcastStatus, max_length=16, default=SimulcastStatus.IDLE)
    error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "simulcast_targets"


class WebhookStatus(str, Enum):
    PENDING = "PENDING"
    """Stored, not applied yet."""
    APPLIED = "APPLIED"
    """Applied through a domain command."""
    SKIPPED = "SKIPPED"
    """Recorded but not applied: an illegal or stale transition, an unknown stream or an ignored type."""
    FAILED = "FAILED"
    """Applying raised an unexpected error (retried by the next run)."""


class WebhookEvent(Model):
    """The webhook inbox: every verified delivery, keyed by the provider's event id (duplicates are dropped)."""

    id = fields.UUIDField(primary_key=True)
    provider = fields.CharField(max_length=16)
    event_id = fields.CharField(max_length=128)
    type = fields.CharField(max_length=96)
    object_id = fields.CharField(max_length=128, null=True, db_index=True)
    """What the event is about: a Mux live stream id, a LiveKit room name."""
    stream = fields.ForeignKeyField("models.Stream", related_name=False, null=True, on_delete=fields.SET_NULL)
    stream_id: str | None
    occurred_at = fields.DatetimeField(db_index=True)
    """The provider's timestamp of the event (events of a stream are applied in this order)."""
    received_at = fields.DatetimeField(auto_now_add=True)
    payload = fields.JSONField()
    status = fields.CharEnumField(WebhookStatus, max_length=16, default=WebhookStatus.PENDING, db_index=True)
    outcome = fields.TextField(default="")
    """What applying did, or why it was skipped (kept for operators)."""
    attempts = fields.IntField(default=0)
    applied_at = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_events"
        unique_together = (("provider", "event_id"),)


class EgressStatus(str, Enum):
    IDLE = "IDLE"
    STARTING = "STARTING"
    ACTIVE = "ACTIVE"
    STOPPING = "STOPPING"
    FAILED = "FAILED"


class Broadcast(Model):
    """A LiveKit stream's room and the paired stream (Mux or local) its RTMP egress feeds for HLS viewers."""

    id = fields.UUIDField(primary_key=True)
    stream = fields.OneToOneField("models.Stream", related_name="broadcast", on_delete=fields.CASCADE)
    stream_id: str
    room_name = fields.CharField(max_length=128, unique=True)
    paired_provider = fields.CharField(max_length=32)
    paired_stream_id = fields.CharField(max_length=128, null=True)
    paired_stream_key = fields.CharField(max_length=128)
    paired_playback_id = fields.CharField(max_length=128)
    egress_id = fields.CharField(max_length=128, null=True, db_index=True)
    egress_status = fields.CharEnumField(EgressStatus, max_length=16, default=EgressStatus.IDLE)
    egress_error = fields.TextField(null=True)
    egress_started_at = fields.DatetimeField(null=True)
    zero_viewers_since = fields.DatetimeField(null=True)
    """When the HLS viewer count last dropped to zero while egress ran (egress stops after the grace period)."""
    publishers = fields.IntField(default=0)
    """Participants publishing tracks in the room at the latest event or reconciliation."""
    room_delete_at = fields.DatetimeField(null=True)
    room_deleted_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "broadcasts"
