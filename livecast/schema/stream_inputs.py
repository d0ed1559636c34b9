"""GraphQL inputs of the stream mutations (``createStream``, ``updateStream``) and their conversion to the
domain's :class:`~livecast.domain.validation.StreamFields` (limits are checked there; ``ValidationError`` then)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from livecast.domain.validation import UNSET, StreamFields
from livecast.schema.enums import LatencyMode, PlaybackPolicy

END_ON_UNPUBLISH = (
    "Local streams: true (default) ends the stream as soon as the encoder stops cleanly (OBS Stop Streaming: RTMP "
    "`FCUnpublish`/`deleteStream`); false waits `reconnectWindow` for it as after a dropped connection. May change "
    "at any time."
)


@strawberry.input
class CreateStreamInput:
    title: str = strawberry.field(description="1-200 characters after trimming.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="At most 5,000 characters.")
    thumbnail_url: str | None = strawberry.UNSET
    scheduled_at: datetime | None = strawberry.field(default=strawberry.UNSET, description="ISO 8601 with offset.")
    latency_mode: LatencyMode | None = strawberry.UNSET
    playback_policy: PlaybackPolicy | None = strawberry.UNSET
    reconnect_window: int | None = strawberry.field(
        default=strawberry.UNSET, description="Seconds, 0-1800 (default 60)."
    )
    max_continuous_duration: int | None = strawberry.field(
        default=strawberry.UNSET, description="Seconds, 60-43200 (12 h)."
    )
    recording_enabled: bool | None = strawberry.UNSET
    end_on_unpublish: bool | None = strawberry.field(default=strawberry.UNSET, description=END_ON_UNPUBLISH)
    chat_enabled: bool | None = strawberry.UNSET
    reactions_enabled: bool | None = strawberry.UNSET
    provider: str = strawberry.field(
        default="local",
        description="Media provider: `local` (livecast's RTMP ingest and HLS), `mux` or `livekit` (when "
        "configured; see the README).",
    )


@strawberry.input
class UpdateStreamInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    thumbnail_url: str | None = strawberry.UNSET
    scheduled_at: datetime | None = strawberry.UNSET
    latency_mode: LatencyMode | None = strawberry.UNSET
    playback_policy: PlaybackPolicy | None = strawberry.UNSET
    reconnect_window: int | None = strawberry.UNSET
    max_continuous_duration: int | None = strawberry.UNSET
    recording_enabled: bool | None = strawberry.UNSET
    end_on_unpublish: bool | None = strawberry.field(default=strawberry.UNSET, description=END_ON_UNPUBLISH)
    chat_enabled: bool | None = strawberry.UNSET
    reactions_enabled: bool | None = strawberry.UNSET


def stream_fields(data: CreateStreamInput | UpdateStreamInput) -> StreamFields:
    """The domain's :class:`StreamFields` of an input (fields left out stay ``UNSET``: unchanged or defaulted)."""
    names = StreamFields.__dataclass_fields__
    return StreamFields(**{name: _unset(getattr(data, name)) for name in names})


def _unset(value: Any) -> Any:
    return UNSET if value is strawberry.UNSET else value
