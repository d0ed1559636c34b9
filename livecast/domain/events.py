"""Typed domain events, the channels they travel on, and their wire encoding.

Channels (one topic per kind of event, so a subscriber only receives what it asked for):
    ``stream.<streamId>.<topic>``  events of one stream; topics below.
    ``owner.<userId>.<topic>``     the same events for all streams of one owner (dashboards).
    ``streams.live``               a stream went live or ended (directory pages).

An event is encoded once per publish (compact JSON ``{"type": ..., "data": ...}``), not once per subscriber,
and decoded once per process that receives it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

logger = logging.getLogger(__name__)

STATUS = "status"
VIEWERS = "viewers"
HEALTH = "health"
ALERTS = "alerts"
CHAT = "chat"
REACTIONS = "reactions"
MODERATION = "moderation"
SCHEDULE = "schedule"
LIVE_CHANNEL = "streams.live"


def stream_channel(stream_id: str, topic: str = STATUS) -> str:
    return f"stream.{stream_id}.{topic}"


def owner_channel(user_id: str, topic: str = STATUS) -> str:
    return f"owner.{user_id}.{topic}"


_EVENT_TYPES: dict[str, type[Event]] = {}


@dataclass(frozen=True)
class Event:
    """Base of all events. ``at`` fields are ISO 8601 UTC strings."""

    type_name: ClassVar[str] = "Event"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.type_name = cls.__name__
        _EVENT_TYPES[cls.__name__] = cls


@dataclass(frozen=True)
class StreamStatusChanged(Event):
    """A stream's status changed (persisted first). Channels: stream/owner ``status``, and live."""

    stream_id: str
    owner_id: str
    status: str
    previous: str
    reason: str
    at: str


@dataclass(frozen=True)
class ViewerCountUpdated(Event):
    """Concurrent viewers (CCV) of a stream; a gauge: only the latest value matters. Topic ``viewers``."""

    stream_id: str
    owner_id: str
    count: int
    peak: int
    at: str


@dataclass(frozen=True)
class HealthSampled(Event):
    """One health sample (every ~5 s while live); a gauge. Topic ``health``.

    Bitrates in bits per second, drift and its deviation in milliseconds, keyframe interval in seconds.
    """

    stream_id: str
    owner_id: str
    status: str
    at: str
    drift_ms: float | None = None
    drift_deviation_ms: float | None = None
    video_bitrate: int | None = None
    audio_bitrate: int | None = None
    frame_rate: float | None = None
    width: int | None = None
    height: int | None = None
    keyframe_interval: float | None = None
    codec: str | None = None
    encoder: str | None = None
    media_gap: float | None = None
    """Seconds since the last media arrived."""
    dropped_frames: float | None = None
    """Percent of video frames dropped over the window."""
    packet_loss: float | None = None
    """Percent (providers with UDP/SRT ingest; ``None`` for RTMP)."""
    rtt_ms: float | None = None
    packager_speed: float | None = None
    """Packager (ffmpeg) speed, x real time."""


@dataclass(frozen=True)
class AlertRaised(Event):
    """A health alert started (severity ``INFO | WARNING | CRITICAL``; ``kind`` an ``AlertKind`` name).
    Channels: stream and owner ``alerts``."""

    alert_id: str
    stream_id: str
    owner_id: str
    kind: str
    severity: str
    message: str
    at: str


@dataclass(frozen=True)
class AlertCleared(Event):
    alert_id: str
    stream_id: str
    owner_id: str
    kind: str
    at: str


@dataclass(frozen=True)
class ChatMessagePosted(Event):
    """A chat message, persisted with its per-stream ``sequence`` before it is published. Topic ``chat``."""

    stream_id: str
    message_id: str
    sequence: int
    author_id: str
    content: str
    at: str
    author_name: str = ""


@dataclass(frozen=True)
class ChatMessageDeleted(Event):
    stream_id: str
    message_id: str
    sequence: int
    at: str


@dataclass(frozen=True)
class ChatMessagePinned(Event):
    stream_id: str
    message_id: str
    pinned: bool
    at: str


@dataclass(frozen=True)
class ReactionPosted(Event):
    """An emoji reaction at a screen position (percent of width/height, 0-100). Topic ``reactions``."""

    stream_id: str
    user_id: str
    emoji: str
    position_x: float
    position_y: float
    at: str


@dataclass(frozen=True)
class ModerationAction(Event):
    """Who did what to whom in a stream's chat (ban, timeout, delete, settings). Topic ``moderation``."""

    stream_id: str
    actor_id: str
    action: str
    target_user_id: str | None
    detail: str
    at: str


@dataclass(frozen=True)
class RecordingReady(Event):
    """A stream's recording can be watched (Mux ``video.asset.ready``): HLS at the provider's playback URL of
    ``playback_id``. Channels: stream and owner ``recording``."""

    stream_id: str
    owner_id: str
    asset_id: str
    playback_id: str
    at: str


@dataclass(frozen=True)
class StreamReminder(Event):
    """A scheduled stream starts soon (``STARTS_SOON``, ~10 min before) or now (``STARTING``). Topic ``schedule``."""

    stream_id: str
    owner_id: str
    kind: str
    scheduled_at: str
    at: str


def encode_event(event: Event) -> str:
    return json.dumps({"type": event.type_name, "data": dataclasses.asdict(event)}, separators=(",", ":"))


def decode_event(raw: str) -> Event | None:
    """Decode a bus message; ``None`` (and a log line) for an unknown or malformed message."""
    try:
        envelope: dict[str, Any] = json.loads(raw)
        return _EVENT_TYPES[envelope["type"]](**envelope["data"])
    except (ValueError, KeyError, TypeError):
        logger.warning("dropping undecodable bus message (%d bytes)", len(raw))
        return None
