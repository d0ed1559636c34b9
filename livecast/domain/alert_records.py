"""Clearing stored alerts: the one path by which an active ``StreamAlert`` is closed and announced.

An alert is active while its ``cleared_at`` is null. Clearing it sets ``cleared_at`` only if it is still null
(so two processes clearing the same alert publish once), then publishes ``AlertCleared`` on the stream's and
the owner's ``alerts`` topic. Used by :mod:`livecast.domain.monitoring` (health alerts: hysteresis, stream
over) and :mod:`livecast.domain.broadcast_egress` (``EGRESS_FAILED`` once a later egress runs).
Kept apart from both so that neither imports the other (``monitoring`` → ``streams`` → ``broadcast`` →
``broadcast_egress``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from livecast.domain.bus import EventBus
from livecast.domain.events import ALERTS, AlertCleared, owner_channel, stream_channel
from livecast.domain.health_models import StreamAlert
from livecast.domain.models import Stream


def alert_channels(stream_id: str, owner_id: str) -> list[str]:
    """Where alert events of a stream go: the stream's and its owner's ``alerts`` topics."""
    return [stream_channel(stream_id, ALERTS), owner_channel(owner_id, ALERTS)]


async def clear_alert(*, bus: EventBus, stream_id: str, owner_id: str, kind: str, alert_id: str, at: datetime) -> bool:
    """Clear the alert ``alert_id`` (``cleared_at`` = ``at``, UTC) and publish ``AlertCleared``; ``False`` (and
    nothing published) when it was not active any more."""
    if not await StreamAlert.filter(id=alert_id, cleared_at__isnull=True).update(cleared_at=at):
        return False
    event = AlertCleared(alert_id=alert_id, stream_id=stream_id, owner_id=owner_id, kind=kind, at=at.isoformat())
    await bus.publish(alert_channels(stream_id, owner_id), event)
    return True


async def clear_kind(*, bus: EventBus, stream_id: str, kind: str, at: datetime | None = None) -> int:
    """Clear every active alert of ``kind`` of a stream (see :func:`clear_alert`); returns how many were cleared.
    One query when there is none (the common case)."""
    active = await StreamAlert.filter(stream_id=stream_id, kind=kind, cleared_at__isnull=True)
    if not active:
        return 0
    owner = str((await Stream.get(id=stream_id)).owner_id)
    at, cleared = at or datetime.now(UTC), 0
    for alert in active:
        cleared += await clear_alert(
            bus=bus, stream_id=stream_id, owner_id=owner, kind=kind, alert_id=str(alert.id), at=at
        )
    return cleared
