"""Tortoise models of chat, reactions and moderation. Only ``livecast.domain`` imports this module."""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class ChatMode(str, Enum):
    """Who may write: everyone signed in, followers of the owner, or the owner's subscribers (members)."""

    OPEN = "OPEN"
    FOLLOWERS = "FOLLOWERS"
    SUBSCRIBERS = "SUBSCRIBERS"


class ChatRoom(Model):
    """Per-stream chat state: the sequence counter, counts, pinned message and settings (one row per stream).

    ``last_sequence`` is incremented in the same transaction that inserts a message, so sequences are gap-free
    (a rolled-back insert rolls the counter back) and ordered under concurrent writers (the row lock).
    """

    stream = fields.OneToOneField("models.Stream", related_name="chat_room", on_delete=fields.CASCADE, primary_key=True)
    stream_id: str
    last_sequence = fields.BigIntField(default=0)
    message_count = fields.IntField(default=0)
    """Messages posted and not deleted."""
    reaction_count = fields.BigIntField(default=0)
    pinned_message_id = fields.UUIDField(null=True)
    slow_mode_seconds = fields.IntField(default=0)
    """Seconds a user must wait between two messages (0: off). Moderators and the owner are exempt."""
    mode = fields.CharEnumField(ChatMode, max_length=16, default=ChatMode.OPEN)
    emote_only = fields.BooleanField(default=False)
    blocked_words = fields.JSONField(default=list)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "chat_rooms"


class ChatMessage(Model):
    id = fields.UUIDField(primary_key=True)
    stream = fields.ForeignKeyField("models.Stream", related_name="chat_messages", on_delete=fields.CASCADE)
    stream_id: str
    sequence = fields.BigIntField()
    """Per-stream, gap-free, increasing from 1 (assigned at insert)."""
    author = fields.ForeignKeyField("models.User", related_name="chat_messages", on_delete=fields.CASCADE)
    author_id: str
    content = fields.TextField()
    """Plain text (never rendered as HTML by the server); emptied when the message is deleted."""
    created_at = fields.DatetimeField(auto_now_add=True)
    deleted_at = fields.DatetimeField(null=True)
    deleted_by_id = fields.UUIDField(null=True)

    class Meta:
        table = "chat_messages"
        unique_together = (("stream", "sequence"),)


class StreamModerator(Model):
    id = fields.IntField(primary_key=True)
    stream = fields.ForeignKeyField("models.Stream", related_name="moderators", on_delete=fields.CASCADE)
    stream_id: str
    user = fields.ForeignKeyField("models.User", related_name="moderating", on_delete=fields.CASCADE)
    user_id: str
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "stream_moderators"
        unique_together = (("stream", "user"),)


class ChatBan(Model):
    """A ban (``until`` null) or a timeout (``until`` set) of a user in one stream's chat and reactions."""

    id = fields.IntField(primary_key=True)
    stream = fields.ForeignKeyField("models.Stream", related_name="bans", on_delete=fields.CASCADE)
    stream_id: str
    user = fields.ForeignKeyField("models.User", related_name="bans", on_delete=fields.CASCADE)
    user_id: str
    until = fields.DatetimeField(null=True)
    reason = fields.CharField(max_length=500, default="")
    banned_by_id = fields.UUIDField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "chat_bans"
        unique_together = (("stream", "user"),)


class ModerationLog(Model):
    """Who did what to whom, when (kept after bans are lifted)."""

    id = fields.IntField(primary_key=True)
    stream = fields.ForeignKeyField("models.Stream", related_name="moderation_log", on_delete=fields.CASCADE)
    stream_id: str
    actor_id = fields.UUIDField()
    action = fields.CharField(max_length=32)
    target_user_id = fields.UUIDField(null=True)
    detail = fields.CharField(max_length=1000, default="")
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "moderation_log"


class Follow(Model):
    """``follower`` follows the channel of ``channel_owner`` (FOLLOWERS chat mode)."""

    id = fields.IntField(primary_key=True)
    follower = fields.ForeignKeyField("models.User", related_name="following", on_delete=fields.CASCADE)
    follower_id: str
    channel_owner = fields.ForeignKeyField("models.User", related_name="followers", on_delete=fields.CASCADE)
    channel_owner_id: str
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "follows"
        unique_together = (("follower", "channel_owner"),)


class Membership(Model):
    """``member`` is a subscriber (paying member) of ``channel_owner`` until ``expires_at`` (SUBSCRIBERS mode)."""

    id = fields.IntField(primary_key=True)
    member = fields.ForeignKeyField("models.User", related_name="memberships", on_delete=fields.CASCADE)
    member_id: str
    channel_owner = fields.ForeignKeyField("models.User", related_name="members", on_delete=fields.CASCADE)
    channel_owner_id: str
    expires_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "memberships"
        unique_together = (("member", "channel_owner"),)


class Reaction(Model):
    """One emoji reaction at a screen position (percent of width and height, 0-100)."""

    id = fields.BigIntField(primary_key=True)
    stream = fields.ForeignKeyField("models.Stream", related_name="reactions", on_delete=fields.CASCADE)
    stream_id: str
    user_id = fields.UUIDField()
    emoji = fields.CharField(max_length=32)
    position_x = fields.FloatField()
    position_y = fields.FloatField()
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "reactions"
