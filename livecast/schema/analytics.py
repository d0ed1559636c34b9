"""Stream analytics (owner or admin): ``Query.streamAnalytics``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from livecast.domain import analytics as domain
from livecast.resolvers import analytics as resolve
from livecast.schema.context import Info
from livecast.schema.results import relay_errors

Interval = Annotated[
    int, strawberry.argument(description="Bucket length in seconds, 5-86400 (error code VALIDATION otherwise).")
]


@strawberry.type(description="Concurrent viewers in the bucket [at, at + interval).")
class ViewerPoint:
    at: datetime
    average: float = strawberry.field(description="Mean of the counts taken in the bucket (every ~5 s).")
    peak: int


@strawberry.type(description="Health in the bucket [at, at + interval): means of its samples.")
class HealthPoint:
    at: datetime
    samples: int
    video_bitrate: float | None = strawberry.field(description="bits/s")
    audio_bitrate: float | None = strawberry.field(description="bits/s")
    frame_rate: float | None = strawberry.field(description="frames/s")
    drift: float | None = strawberry.field(description="ms")
    keyframe_interval: float | None = strawberry.field(description="s")


@strawberry.type(description="Chat activity in the bucket [at, at + interval).")
class ChatPoint:
    at: datetime
    messages: int = strawberry.field(description="Chat messages posted (deleted ones included).")
    reactions: int = strawberry.field(description="Emoji reactions sent.")


@strawberry.type(description="Audience and engagement of a stream (owner or admin). Durations in seconds.")
class StreamAnalytics:
    stream_id: strawberry.ID
    peak_concurrent_viewers: int
    average_concurrent_viewers: float = strawberry.field(description="Mean of the viewer counts taken while live.")
    total_views: int = strawberry.field(description="Playback sessions (players that sent a beacon).")
    unique_viewers: int = strawberry.field(description="Distinct viewer ids.")
    total_watch_time: float = strawberry.field(description="Seconds in the playing state, all sessions.")
    average_watch_time: float = strawberry.field(description="Seconds of watch time per view.")
    buffering_ratio: float | None = strawberry.field(
        description="Rebuffering time / watch time; null before any watch time."
    )
    live_minutes: float = strawberry.field(description="Minutes from going live to the end (or now).")
    chat_messages_per_minute: float | None = strawberry.field(description="Per live minute; null if never live.")
    reactions_per_minute: float | None = strawberry.field(description="Per live minute; null if never live.")

    @classmethod
    def of(cls, a: domain.StreamAnalytics) -> StreamAnalytics:
        return cls(
            stream_id=strawberry.ID(a.stream_id), peak_concurrent_viewers=a.peak_concurrent_viewers,
            average_concurrent_viewers=a.average_concurrent_viewers, total_views=a.total_views,
            unique_viewers=a.unique_viewers, total_watch_time=a.total_watch_seconds,
            average_watch_time=a.average_watch_seconds, buffering_ratio=a.buffering_ratio,
            live_minutes=a.live_minutes, chat_messages_per_minute=a.chat_messages_per_minute,
            reactions_per_minute=a.reactions_per_minute,
        )  # fmt: skip

    @strawberry.field(description="Concurrent viewers per bucket, oldest first (empty buckets left out).")
    async def viewer_series(self, info: Info, interval: Interval = 60) -> list[ViewerPoint]:
        async with relay_errors():
            points = await resolve.viewer_series(info.context, str(self.stream_id), interval)
        return [ViewerPoint(at=p.at, average=p.average, peak=p.peak) for p in points]

    @strawberry.field(
        description="Chat messages and reactions per bucket (e.g. per minute), oldest first (empty buckets left out)."
    )
    async def chat_series(self, info: Info, interval: Interval = 60) -> list[ChatPoint]:
        async with relay_errors():
            points = await resolve.chat_series(info.context, str(self.stream_id), interval)
        return [ChatPoint(at=p.at, messages=p.messages, reactions=p.reactions) for p in points]

    @strawberry.field(description="Health per bucket, oldest first (empty for streams without health samples).")
    async def health_series(self, info: Info, interval: Interval = 60) -> list[HealthPoint]:
        async with relay_errors():
            points = await resolve.health_series(info.context, str(self.stream_id), interval)
        return [
            HealthPoint(
                at=p.at,
                samples=p.samples,
                video_bitrate=p.video_bitrate,
                audio_bitrate=p.audio_bitrate,
                frame_rate=p.frame_rate,
                drift=p.drift_ms,
                keyframe_interval=p.keyframe_interval,
            )
            for p in points
        ]


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        description="A stream's analytics (owner or admin; errors UNAUTHENTICATED, FORBIDDEN, NOT_FOUND)."
    )
    async def stream_analytics(self, info: Info, stream_id: strawberry.ID) -> StreamAnalytics:
        async with relay_errors():
            return StreamAnalytics.of(await resolve.stream_analytics(info.context, str(stream_id)))
