"""Subscriptions (websocket: graphql-transport-ws or graphql-ws) and their payload types."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import TypeVar

import strawberry

from livecast.domain import events, models
from livecast.domain.errors import DomainError
from livecast.resolvers import realtime as resolve
from livecast.schema.context import Info
from livecast.schema.enums import ReminderKind
from livecast.schema.errors import to_graphql_error
from livecast.schema.health import HealthSample, StreamAlert
from livecast.schema.streams import Stream

T = TypeVar("T")


@strawberry.type(description="Concurrent viewers (CCV) of a stream.")
class ViewerCount:
    stream_id: strawberry.ID
    count: int
    peak: int
    at: datetime


@strawberry.type(description="A scheduled stream starts soon (about 10 min before) or now.")
class StreamReminder:
    stream_id: strawberry.ID
    kind: ReminderKind
    scheduled_at: datetime
    at: datetime


def _viewers(e: events.ViewerCountUpdated) -> ViewerCount:
    return ViewerCount(
        stream_id=strawberry.ID(e.stream_id), count=e.count, peak=e.peak, at=datetime.fromisoformat(e.at)
    )


def _reminder(e: events.StreamReminder) -> StreamReminder:
    return StreamReminder(
        stream_id=strawberry.ID(e.stream_id), kind=models.ReminderKind(e.kind),
        scheduled_at=datetime.fromisoformat(e.scheduled_at), at=datetime.fromisoformat(e.at),
    )  # fmt: skip


async def _relay(source: AsyncIterator[T]) -> AsyncIterator[T]:
    """Domain errors become GraphQL errors with ``extensions.code``; the subscription then ends."""
    try:
        async for item in source:
            yield item
    except DomainError as e:
        raise to_graphql_error(e) from e


@strawberry.type
class RealtimeSubscription:
    @strawberry.subscription(
        description="The stream each time its status changes. Ends with EVENTS_MISSED after an event bus outage."
    )
    async def stream_status_changed(self, info: Info, stream_id: strawberry.ID) -> AsyncGenerator[Stream, None]:
        async for m in _relay(resolve.status_changes(info.context, str(stream_id))):
            yield Stream.from_model(m)

    @strawberry.subscription(description="A stream went live or ended.")
    async def live_streams_changed(self, info: Info) -> AsyncGenerator[Stream, None]:
        async for m in _relay(resolve.live_directory_changes(info.context)):
            yield Stream.from_model(m)

    @strawberry.subscription(description="Concurrent viewers; the latest value (older ones may be skipped).")
    async def viewer_count_changed(self, info: Info, stream_id: strawberry.ID) -> AsyncGenerator[ViewerCount, None]:
        async for e in _relay(resolve.viewer_counts(info.context, str(stream_id))):
            yield _viewers(e)

    @strawberry.subscription(description="Health samples of a stream (owner or admin only); the latest value.")
    async def stream_health(self, info: Info, stream_id: strawberry.ID) -> AsyncGenerator[HealthSample, None]:
        async for e in _relay(resolve.health_samples(info.context, str(stream_id))):
            yield HealthSample.from_event(e)

    @strawberry.subscription(description="Alerts raised and cleared on a stream (owner or admin only).")
    async def stream_alerts(self, info: Info, stream_id: strawberry.ID) -> AsyncGenerator[StreamAlert, None]:
        async for e in _relay(resolve.stream_alerts(info.context, str(stream_id))):
            yield StreamAlert.from_event(e)

    @strawberry.subscription(description="Alerts of all the caller's streams (signed in).")
    async def my_stream_alerts(self, info: Info) -> AsyncGenerator[StreamAlert, None]:
        async for e in _relay(resolve.my_alerts(info.context)):
            yield StreamAlert.from_event(e)

    @strawberry.subscription(description="Start-time reminders of a scheduled stream.")
    async def stream_reminders(self, info: Info, stream_id: strawberry.ID) -> AsyncGenerator[StreamReminder, None]:
        async for e in _relay(resolve.reminders(info.context, str(stream_id))):
            yield _reminder(e)
