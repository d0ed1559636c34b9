"""Simulcast target resolvers: parse input, call one domain service, return domain objects (or raise its errors)."""

from __future__ import annotations

from livecast.domain import simulcast, streams
from livecast.domain.models import Stream
from livecast.domain.provider_models import SimulcastTarget
from livecast.resolvers.context import RequestContext


async def targets(ctx: RequestContext, stream: Stream) -> list[SimulcastTarget]:
    """The stream's simulcast targets for its owner or an admin (batched per request); ``[]`` for anyone else."""
    if not streams.can_manage(ctx.principal, stream):
        return []
    return await ctx.loaders.simulcast_targets.load(str(stream.id))


async def add_target(ctx: RequestContext, stream_id: str, url: str, stream_key: str) -> SimulcastTarget:
    return await simulcast.add_target(
        deps=ctx.deps, actor=ctx.actor, stream_id=stream_id, url=url, stream_key=stream_key
    )


async def remove_target(ctx: RequestContext, stream_id: str, target_id: str) -> str:
    return await simulcast.remove_target(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id, target_id=target_id)
