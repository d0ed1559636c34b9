"""Analytics resolvers: the caller's access is checked once, by ``stream_analytics``; the series fields of
its result read the same stream."""

from __future__ import annotations

from livecast.domain import analytics
from livecast.domain.analytics_chat import ChatPoint
from livecast.domain.analytics_health import HealthPoint
from livecast.resolvers.context import RequestContext


async def stream_analytics(ctx: RequestContext, stream_id: str) -> analytics.StreamAnalytics:
    return await analytics.stream_analytics(actor=ctx.actor, stream_id=stream_id)


async def viewer_series(ctx: RequestContext, stream_id: str, interval: int) -> list[analytics.ViewerPoint]:
    return await analytics.viewer_series(stream_id=stream_id, interval=interval)


async def health_series(ctx: RequestContext, stream_id: str, interval: int) -> list[HealthPoint]:
    return await analytics.health_series(stream_id=stream_id, interval=interval)


async def chat_series(ctx: RequestContext, stream_id: str, interval: int) -> list[ChatPoint]:
    return await analytics.chat_series(stream_id=stream_id, interval=interval)
