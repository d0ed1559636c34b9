"""Health resolvers: a stream's latest health and thresholds (owner or admin), its alerts, threshold changes."""

from __future__ import annotations

from livecast.domain import monitoring, streams
from livecast.domain.alerts import AlertThresholds
from livecast.domain.health_models import StreamAlert
from livecast.domain.models import Stream
from livecast.domain.monitoring import HealthState
from livecast.resolvers.context import RequestContext


async def health_state(ctx: RequestContext, stream: Stream) -> HealthState | None:
    """Latest sample and thresholds for the owner or an admin (batched per request); ``None`` for anyone else."""
    if not streams.can_manage(ctx.principal, stream):
        return None
    return await ctx.loaders.health.load(str(stream.id))


async def stream_alerts(ctx: RequestContext, stream_id: str, active: bool | None, first: int) -> list[StreamAlert]:
    return await monitoring.list_alerts(actor=ctx.actor, stream_id=stream_id, active=active, first=first)


async def set_alert_thresholds(ctx: RequestContext, stream_id: str, changes: dict[str, object]) -> AlertThresholds:
    return await monitoring.set_alert_thresholds(actor=ctx.actor, stream_id=stream_id, changes=changes)
