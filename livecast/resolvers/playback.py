"""Playback resolvers: parse input, call one domain service (signed playback tokens)."""

from __future__ import annotations

from livecast.domain import playback
from livecast.resolvers.context import RequestContext


async def create_playback_token(ctx: RequestContext, stream_id: str) -> playback.IssuedToken:
    return await playback.create_playback_token(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id)
