"""Stream resolvers: parse input, call one domain service, return its result (domain objects or errors)."""

from __future__ import annotations

from livecast.domain import streams
from livecast.domain.models import Stream, StreamStatus
from livecast.domain.validation import StreamFields
from livecast.providers.base import IngestEndpoints, PlaybackInfo
from livecast.resolvers.context import RequestContext


async def stream(ctx: RequestContext, stream_id: str) -> Stream | None:
    return await streams.get_stream(stream_id)


async def stream_page(ctx: RequestContext, status: StreamStatus | None, first: int, after: str | None) -> streams.Page:
    return await streams.list_streams(status=status, first=first, after=after)


async def create_stream(ctx: RequestContext, fields: StreamFields, provider: str) -> Stream:
    return await streams.create_stream(deps=ctx.deps, actor=ctx.actor, fields=fields, provider=provider)


async def update_stream(ctx: RequestContext, stream_id: str, fields: StreamFields) -> Stream:
    return await streams.update_stream(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id, fields=fields)


async def end_stream(ctx: RequestContext, stream_id: str) -> Stream:
    return await streams.end_stream(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id)


async def cancel_stream(ctx: RequestContext, stream_id: str) -> Stream:
    return await streams.cancel_stream(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id)


async def reset_stream_key(ctx: RequestContext, stream_id: str) -> Stream:
    return await streams.reset_stream_key(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id)


async def delete_stream(ctx: RequestContext, stream_id: str) -> str:
    return await streams.delete_stream(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id)


def ingest(ctx: RequestContext, model: Stream) -> IngestEndpoints | None:
    """Ingest endpoints (with the secret stream key) for the owner or an admin; ``None`` for anyone else."""
    if not streams.can_manage(ctx.principal, model):
        return None
    return streams.ingest_endpoints(deps=ctx.deps, stream=model)


def playback(ctx: RequestContext, model: Stream) -> PlaybackInfo:
    return streams.playback(deps=ctx.deps, stream=model)


def beacon_url(ctx: RequestContext) -> str:
    """Where players send playback beacons (``POST``; see ``livecast.domain.viewers``)."""
    return ctx.deps.viewers.beacon_url
