"""Playback resolvers: parse input, call one domain service (signed playback tokens, playback sessions)."""

from __future__ import annotations

from livecast.domain import playback
from livecast.domain.playback_sessions import PlaybackSession
from livecast.resolvers.context import RequestContext


async def create_playback_token(ctx: RequestContext, stream_id: str) -> playback.IssuedToken:
    return await playback.create_playback_token(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id)


def open_session(ctx: RequestContext, stream_id: str) -> PlaybackSession:
    """A new playback session (id + signed token) for one player of the stream; see ``domain.viewers``."""
    return ctx.deps.viewers.open_session(stream_id)
