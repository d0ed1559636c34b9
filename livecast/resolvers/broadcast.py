"""LiveKit broadcast resolvers: room tokens and the playback of a ``livekit`` stream (one domain call each)."""

from __future__ import annotations

from livecast.domain import broadcast, broadcast_tokens
from livecast.domain.models import Stream
from livecast.providers.base import PlaybackInfo
from livecast.providers.livekit.ports import RoomToken
from livecast.resolvers.context import RequestContext

PROVIDER = broadcast.PROVIDER


async def broadcast_token(ctx: RequestContext, stream_id: str) -> RoomToken:
    return await broadcast_tokens.broadcast_token(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id)


async def viewer_token(ctx: RequestContext, stream_id: str) -> RoomToken:
    return await broadcast_tokens.viewer_token(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id)


async def playback(ctx: RequestContext, model: Stream) -> PlaybackInfo:
    """The paired stream's HLS, with the WebRTC ``fallback`` while egress has failed (broadcast rows batched
    by the request's DataLoader: one query for a list of streams)."""
    paired = await ctx.loaders.broadcasts.load(str(model.id))
    return broadcast.playback_of(deps=ctx.deps, stream=model, paired=paired)
