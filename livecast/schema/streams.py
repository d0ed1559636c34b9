"""Stream types and the stream part of Query, Mutation and Subscription."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry

from livecast.domain import models
from livecast.domain.errors import DomainError
from livecast.resolvers import broadcast as resolve_broadcast
from livecast.resolvers import chat as resolve_chat
from livecast.resolvers import health as resolve_health
from livecast.resolvers import simulcast as resolve_simulcast
from livecast.resolvers import streams as resolve
from livecast.schema.chat import ChatMessage
from livecast.schema.context import Info
from livecast.schema.enums import LatencyMode, StreamStatus, ViewerCountSource
from livecast.schema.errors import (
    ForbiddenError,
    InvalidStateError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    UnauthenticatedError,
    ValidationError,
    to_graphql_error,
)
from livecast.schema.health import AlertThresholds, HealthSample
from livecast.schema.moderation import ChatSettings, settings_of
from livecast.schema.playback import Playback
from livecast.schema.results import as_result
from livecast.schema.simulcast import SimulcastTarget
from livecast.schema.stream_inputs import CreateStreamInput, UpdateStreamInput, stream_fields
from livecast.schema.users import User


@strawberry.type(description="Where an encoder publishes. OBS: Server = `rtmpUrl`, Stream Key = `streamKey`.")
class Ingest:
    rtmp_url: str
    srt_url: str | None
    stream_key: str = strawberry.field(description="Secret: anyone with it can broadcast as this stream.")


@strawberry.type
class ReactionCount:
    emoji: str
    count: int


@strawberry.type(description="A live stream and its lifecycle.")
class Stream:
    id: strawberry.ID
    title: str
    description: str
    thumbnail_url: str | None
    status: StreamStatus
    provider: str
    latency_mode: LatencyMode
    reconnect_window: int = strawberry.field(description="Seconds the stream waits for a dropped encoder (0-1800).")
    max_continuous_duration: int = strawberry.field(description="Seconds after going live at which it is ended.")
    recording_enabled: bool
    end_on_unpublish: bool = strawberry.field(
        description="Local streams: the encoder's Stop (RTMP `FCUnpublish`/`deleteStream`) ends the stream at once; "
        "false: it waits `reconnectWindow` like a dropped connection. Default true."
    )
    reconnect_deadline: datetime | None = strawberry.field(
        description="While RECONNECTING (local streams): when the reconnect window ends and the stream is ENDED "
        "unless its encoder is back. Null otherwise."
    )
    chat_enabled: bool
    reactions_enabled: bool
    scheduled_at: datetime | None
    started_at: datetime | None = strawberry.field(description="When it first became LIVE.")
    ended_at: datetime | None
    viewer_count: int = strawberry.field(description="Concurrent viewers at the latest count (every ~5 s while live).")
    peak_viewer_count: int
    viewer_count_source: ViewerCountSource = strawberry.field(
        description="Where `viewerCount` comes from: Mux Data's real-time API, or livecast's playback beacons."
    )
    created_at: datetime
    updated_at: datetime
    model: strawberry.Private[models.Stream]

    @classmethod
    def from_model(cls, m: models.Stream) -> Stream:
        return cls(
            id=strawberry.ID(str(m.id)),
            title=m.title,
            description=m.description,
            thumbnail_url=m.thumbnail_url,
            status=m.status,
            provider=m.provider,
            latency_mode=m.latency_mode,
            reconnect_window=m.reconnect_window,
            max_continuous_duration=m.max_continuous_duration,
            recording_enabled=m.recording_enabled,
            end_on_unpublish=m.end_on_unpublish,
            reconnect_deadline=m.reconnect_deadline,
            chat_enabled=m.chat_enabled,
            reactions_enabled=m.reactions_enabled,
            scheduled_at=m.scheduled_at,
            started_at=m.started_at,
            ended_at=m.ended_at,
            viewer_count=m.viewer_count,
            peak_viewer_count=m.peak_viewer_count,
            viewer_count_source=ViewerCountSource(m.viewer_count_source),
            created_at=m.created_at,
            updated_at=m.updated_at,
            model=m,
        )

    @strawberry.field(description="SCHEDULED with `scheduledAt` in the future.")
    def is_upcoming(self) -> bool:
        return self.status is models.StreamStatus.SCHEDULED and bool(
            self.scheduled_at and self.scheduled_at > datetime.now(UTC)
        )

    @strawberry.field
    async def owner(self, info: Info) -> User:
        user = await info.context.loaders.users.load(str(self.model.owner_id))
        assert user is not None  # owner is a non-null foreign key with ON DELETE CASCADE
        return User.from_model(user)

    @strawberry.field(description="Only for the owner or an admin; `null` for everyone else.")
    def ingest(self, info: Info) -> Ingest | None:
        endpoints = resolve.ingest(info.context, self.model)
        if endpoints is None:
            return None
        return Ingest(rtmp_url=endpoints.rtmp_url, srt_url=endpoints.srt_url, stream_key=endpoints.stream_key)

    @strawberry.field(description="Messages posted and not deleted.")
    async def chat_message_count(self, info: Info) -> int:
        return (await resolve_chat.chat_room(info.context, str(self.id))).message_count

    @strawberry.field(description="Reactions sent on this stream.")
    async def reaction_count(self, info: Info) -> int:
        return (await resolve_chat.chat_room(info.context, str(self.id))).reaction_count

    @strawberry.field(description="Reactions per emoji.")
    async def reaction_counts(self, info: Info) -> list[ReactionCount]:
        counts = await resolve_chat.reaction_counts(info.context, str(self.id))
        return [ReactionCount(emoji=e, count=n) for e, n in sorted(counts.items(), key=lambda kv: -kv[1])]

    @strawberry.field
    async def chat_settings(self, info: Info) -> ChatSettings:
        view = await resolve_chat.stream_chat_settings(info.context, self.model)
        return settings_of(
            view.room,
            chat_enabled=view.chat_enabled,
            reactions_enabled=view.reactions_enabled,
            moderator=view.moderator,
        )

    @strawberry.field
    async def pinned_message(self, info: Info) -> ChatMessage | None:
        message = await resolve_chat.pinned_message(info.context, str(self.id))
        return ChatMessage.of(message) if message else None

    @strawberry.field(description="Users who moderate this stream's chat (besides the owner).")
    async def moderators(self, info: Info) -> list[User]:
        return [User.from_model(u) for u in await resolve_chat.moderators(info.context, str(self.id))]

    @strawberry.field(description="The latest health sample (owner or admin; null for others and before the first).")
    async def health(self, info: Info) -> HealthSample | None:
        state = await resolve_health.health_state(info.context, self.model)
        if state is None or state.latest is None:
            return None
        return HealthSample.from_sample(str(self.id), state.latest)

    @strawberry.field(description="The alert thresholds in force (owner or admin; null for others).")
    async def alert_thresholds(self, info: Info) -> AlertThresholds | None:
        state = await resolve_health.health_state(info.context, self.model)
        return AlertThresholds.of(state.thresholds) if state is not None else None

    @strawberry.field(description="Restream destinations (owner or admin; empty for others). Never their keys.")
    async def simulcast_targets(self, info: Info) -> list[SimulcastTarget]:
        return [SimulcastTarget.of(t) for t in await resolve_simulcast.targets(info.context, self.model)]

    @strawberry.field
    async def playback(self, info: Info) -> Playback:
        if self.model.provider == resolve_broadcast.PROVIDER:  # HLS of the paired stream, WebRTC fallback
            p = await resolve_broadcast.playback(info.context, self.model)
        else:
            p = resolve.playback(info.context, self.model)
        return Playback(
            hls_url=p.hls_url,
            policy=models.PlaybackPolicy(p.policy),
            beacon_url=resolve.beacon_url(info.context),
            fallback=p.fallback,
            stream_id=str(self.id),
        )


@strawberry.type
class StreamEdge:
    cursor: str
    node: Stream


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="Relay connection of streams, newest first.")
class StreamConnection:
    edges: list[StreamEdge]
    page_info: PageInfo


@strawberry.type
class DeletedStream:
    id: strawberry.ID


StreamResult = Annotated[
    Stream | ValidationError | NotFoundError | ForbiddenError | UnauthenticatedError | InvalidStateError | ProviderError
    | RateLimitedError,
    strawberry.union("StreamResult"),
]  # fmt: skip
"""``RateLimitedError``: ``createStream`` past the per-user creation rate."""
DeleteStreamResult = Annotated[
    DeletedStream | NotFoundError | ForbiddenError | UnauthenticatedError | InvalidStateError | ProviderError,
    strawberry.union("DeleteStreamResult"),
]


@strawberry.type
class StreamQuery:
    @strawberry.field(description="A stream by id, or null.")
    async def stream(self, info: Info, id: strawberry.ID) -> Stream | None:
        m = await resolve.stream(info.context, str(id))
        return Stream.from_model(m) if m else None

    @strawberry.field(description="Streams newest first; `first` is 1-100 (error code VALIDATION otherwise).")
    async def streams(
        self, info: Info, status: StreamStatus | None = None, first: int = 20, after: str | None = None
    ) -> StreamConnection:
        try:
            page = await resolve.stream_page(info.context, status, first, after)
        except DomainError as e:
            raise to_graphql_error(e) from e
        edges = [StreamEdge(cursor=_cursor(m), node=Stream.from_model(m)) for m in page.items]
        return StreamConnection(
            edges=edges, page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor)
        )


def _cursor(m: models.Stream) -> str:
    from livecast.domain.streams import encode_cursor

    return encode_cursor(m)


@strawberry.type
class StreamMutation:
    @strawberry.mutation(description="Create a SCHEDULED stream owned by the caller; its `ingest` has the key.")
    async def create_stream(self, info: Info, input: CreateStreamInput) -> StreamResult:
        return await as_result(
            resolve.create_stream(info.context, stream_fields(input), input.provider), Stream.from_model
        )

    @strawberry.mutation
    async def update_stream(self, info: Info, id: strawberry.ID, input: UpdateStreamInput) -> StreamResult:
        return await as_result(resolve.update_stream(info.context, str(id), stream_fields(input)), Stream.from_model)

    @strawberry.mutation(description="End a PREPARING, LIVE or RECONNECTING stream; disconnects the encoder.")
    async def end_stream(self, info: Info, id: strawberry.ID) -> StreamResult:
        return await as_result(resolve.end_stream(info.context, str(id)), Stream.from_model)

    @strawberry.mutation(description="Cancel a SCHEDULED stream.")
    async def cancel_stream(self, info: Info, id: strawberry.ID) -> StreamResult:
        return await as_result(resolve.cancel_stream(info.context, str(id)), Stream.from_model)

    @strawberry.mutation(description="Replace the stream key; the old key stops working for new publishes.")
    async def reset_stream_key(self, info: Info, id: strawberry.ID) -> StreamResult:
        return await as_result(resolve.reset_stream_key(info.context, str(id)), Stream.from_model)

    @strawberry.mutation(description="Delete a stream that is not running.")
    async def delete_stream(self, info: Info, id: strawberry.ID) -> DeleteStreamResult:
        return await as_result(
            resolve.delete_stream(info.context, str(id)), lambda i: DeletedStream(id=strawberry.ID(i))
        )
