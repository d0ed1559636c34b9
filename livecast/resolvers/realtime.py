"""Subscription resolvers: async generators over the event bus, cleaned up when the client leaves.

Public: stream status, viewer counts, reminders, live directory. Owner (or admin) only: health and alerts.
A lossless subscription that sees a :class:`Gap` ends with ``EventsMissed`` so the client refetches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from livecast.domain import fanout, streams
from livecast.domain.bus import Delivery, EventsMissed, Gap
from livecast.domain.errors import Unauthenticated
from livecast.domain.events import (
    ALERTS,
    HEALTH,
    LIVE_CHANNEL,
    SCHEDULE,
    STATUS,
    VIEWERS,
    AlertCleared,
    AlertRaised,
    Event,
    HealthSampled,
    StreamReminder,
    ViewerCountUpdated,
    owner_channel,
    stream_channel,
)
from livecast.domain.models import Stream
from livecast.resolvers.context import RequestContext

MISSED = "events may have been missed while the event bus reconnected: refetch, then subscribe again"


async def _events(
    ctx: RequestContext, channel: str, types: tuple[type[Event], ...], delivery: Delivery = Delivery.LOSSLESS
) -> AsyncIterator[Event]:
    async with ctx.deps.bus.subscribe(channel, delivery=delivery) as items:
        async for item in items:
            if isinstance(item, Gap):
                raise EventsMissed(MISSED)
            if isinstance(item, types):
                yield item


async def _changes(ctx: RequestContext, channel: str) -> AsyncIterator[fanout.StreamChange]:
    """Each status change on ``channel`` with the stream after it: read once per change for all subscribers
    of this process (the bus's shared ``prepare`` step), so they all get the same object: read-only."""
    async with ctx.deps.bus.subscribe(channel, prepare=fanout.stream_after_change) as items:
        async for item in items:
            if isinstance(item, Gap):
                raise EventsMissed(MISSED)
            if item is not None:
                yield item


async def status_changes(ctx: RequestContext, stream_id: str) -> AsyncIterator[Stream]:
    """The stream (as persisted, with the status of each change) every time its status changes.

    The stream is read once per change for all subscribers of this process (shared: never modify it)."""
    await streams.existing_stream(stream_id)
    async for change in _changes(ctx, stream_channel(stream_id, STATUS)):
        if change.stream is None:
            return  # deleted
        yield change.stream


async def live_directory_changes(ctx: RequestContext) -> AsyncIterator[Stream]:
    """Any stream that went live or ended (read once per change for all subscribers, as above)."""
    async for change in _changes(ctx, LIVE_CHANNEL):
        if change.stream is not None:
            yield change.stream


async def viewer_counts(ctx: RequestContext, stream_id: str) -> AsyncIterator[ViewerCountUpdated]:
    await streams.existing_stream(stream_id)
    async for event in _events(ctx, stream_channel(stream_id, VIEWERS), (ViewerCountUpdated,), Delivery.GAUGE):
        yield event  # type: ignore[misc]


async def reminders(ctx: RequestContext, stream_id: str) -> AsyncIterator[StreamReminder]:
    await streams.existing_stream(stream_id)
    async for event in _events(ctx, stream_channel(stream_id, SCHEDULE), (StreamReminder,)):
        yield event  # type: ignore[misc]


async def health_samples(ctx: RequestContext, stream_id: str) -> AsyncIterator[HealthSampled]:
    await streams.managed_stream(ctx.actor, stream_id)
    async for event in _events(ctx, stream_channel(stream_id, HEALTH), (HealthSampled,), Delivery.GAUGE):
        yield event  # type: ignore[misc]


async def stream_alerts(ctx: RequestContext, stream_id: str) -> AsyncIterator[AlertRaised | AlertCleared]:
    await streams.managed_stream(ctx.actor, stream_id)
    async for event in _events(ctx, stream_channel(stream_id, ALERTS), (AlertRaised, AlertCleared)):
        yield event  # type: ignore[misc]


async def my_alerts(ctx: RequestContext) -> AsyncIterator[AlertRaised | AlertCleared]:
    actor = ctx.actor
    if actor is None:
        raise Unauthenticated("sign in to receive your streams' alerts")
    async for event in _events(ctx, owner_channel(actor.user_id, ALERTS), (AlertRaised, AlertCleared)):
        yield event  # type: ignore[misc]
