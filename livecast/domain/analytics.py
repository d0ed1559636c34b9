"""Stream analytics for its owner (or an admin): audience, watch time, buffering, chat activity and time series.

Figures come from what the periodic viewer count stored: ``ViewerSample`` (concurrent viewers every ~5 s
while live) and ``ViewerSession`` (one row per player session, written from beacons), plus the chat tables.
Durations are in seconds, rates per minute of live time (``startedAt`` to ``endedAt``, or now while live).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.functions import Count, Max, Sum

from livecast.domain import analytics_chat
from livecast.domain import analytics_health as health
from livecast.domain.auth import Principal
from livecast.domain.chat_models import ChatMessage, Reaction
from livecast.domain.errors import ValidationFailed
from livecast.domain.models import Stream
from livecast.domain.streams import managed_stream
from livecast.domain.viewer_models import ViewerSample, ViewerSession

MIN_INTERVAL, MAX_INTERVAL = 5, 86_400
"""Bounds of a time series bucket, in seconds."""


@dataclass(frozen=True)
class ViewerPoint:
    """Concurrent viewers in the bucket ``[at, at + interval)``: the mean and the highest of its counts."""

    at: datetime
    average: float
    peak: int


@dataclass(frozen=True)
class StreamAnalytics:
    stream_id: str
    peak_concurrent_viewers: int
    average_concurrent_viewers: float
    """Mean of the counts taken while live (0 before any)."""
    total_views: int
    """Playback sessions (players that sent at least one beacon)."""
    unique_viewers: int
    """Distinct viewer ids among the sessions."""
    total_watch_seconds: float
    """Time spent in the playing state, all sessions."""
    average_watch_seconds: float
    """``total_watch_seconds / total_views`` (0 without views)."""
    buffering_ratio: float | None
    """Rebuffering time / watch time (``None`` before any watch time)."""
    live_minutes: float
    """Minutes from going live to the end (or now); 0 if it never went live."""
    chat_messages_per_minute: float | None
    """Messages posted while live (deleted ones included) per live minute; ``None`` if never live."""
    reactions_per_minute: float | None


def check_interval(interval: int) -> int:
    """The bucket length in seconds, or ``ValidationFailed`` (field ``interval``) outside 5-86,400."""
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise ValidationFailed(f"interval must be between {MIN_INTERVAL} and {MAX_INTERVAL} seconds", field="interval")
    return interval


async def stream_analytics(*, actor: Principal | None, stream_id: str, now: datetime | None = None) -> StreamAnalytics:
    """The stream's figures. ``Unauthenticated``, ``NotFound`` or ``Forbidden`` (not owner or admin)."""
    stream = await managed_stream(actor, stream_id)
    return await _figures(stream, now or datetime.now(UTC))


async def _figures(stream: Stream, now: datetime) -> StreamAnalytics:
    sid = str(stream.id)
    sessions = await (
        ViewerSession.filter(stream_id=sid)
        .annotate(views=Count("id"), viewers=Count("viewer_id", distinct=True), watch=Sum("watch_ms"), buffering=Sum("buffering_ms"))
        .first()
        .values("views", "viewers", "watch", "buffering")
    )  # fmt: skip
    samples = await (
        ViewerSample.filter(stream_id=sid)
        .annotate(n=Count("id"), total=Sum("count"), top=Max("count"))
        .first()
        .values("n", "total", "top")
    )
    views, watch_ms, buffering_ms = (
        int(sessions["views"] or 0),
        int(sessions["watch"] or 0),
        int(sessions["buffering"] or 0),
    )
    live_minutes = 0.0
    messages_rate = reactions_rate = None
    if stream.started_at is not None:
        end = stream.ended_at or now
        live_minutes = max((end - stream.started_at).total_seconds(), 0.0) / 60
        window = {"stream_id": sid, "created_at__gte": stream.started_at, "created_at__lte": end}
        messages, reactions = await ChatMessage.filter(**window).count(), await Reaction.filter(**window).count()
        if live_minutes > 0:
            messages_rate, reactions_rate = messages / live_minutes, reactions / live_minutes
    return StreamAnalytics(
        stream_id=sid,
        peak_concurrent_viewers=max(stream.peak_viewer_count, int(samples["top"] or 0)),
        average_concurrent_viewers=int(samples["total"] or 0) / samples["n"] if samples["n"] else 0.0,
        total_views=views,
        unique_viewers=int(sessions["viewers"] or 0),
        total_watch_seconds=watch_ms / 1000,
        average_watch_seconds=watch_ms / 1000 / views if views else 0.0,
        buffering_ratio=buffering_ms / watch_ms if watch_ms else None,
        live_minutes=live_minutes,
        chat_messages_per_minute=messages_rate,
        reactions_per_minute=reactions_rate,
    )


async def viewer_series(*, stream_id: str, interval: int) -> list[ViewerPoint]:
    """Concurrent viewers per ``interval`` seconds (buckets aligned on the Unix epoch; empty ones left out),
    oldest first. ``ValidationFailed`` for an interval outside 5-86,400 s. The caller checked access."""
    check_interval(interval)
    buckets: dict[int, list[int]] = {}
    for at, count in await ViewerSample.filter(stream_id=stream_id).order_by("at").values_list("at", "count"):
        buckets.setdefault(math.floor(at.timestamp() / interval), []).append(count)
    return [
        ViewerPoint(at=datetime.fromtimestamp(n * interval, UTC), average=sum(c) / len(c), peak=max(c))
        for n, c in sorted(buckets.items())
    ]


async def chat_series(*, stream_id: str, interval: int) -> list[analytics_chat.ChatPoint]:
    """Chat messages and reactions per ``interval`` seconds (see :mod:`livecast.domain.analytics_chat`)."""
    return await analytics_chat.series(stream_id=stream_id, interval=check_interval(interval))


async def health_series(*, stream_id: str, interval: int) -> list[health.HealthPoint]:
    """Health samples averaged per ``interval`` seconds (see :mod:`livecast.domain.analytics_health`)."""
    return await health.series(stream_id=stream_id, interval=check_interval(interval))


async def export_csv(
    *, actor: Principal | None, stream_id: str, interval: int = 60, now: datetime | None = None
) -> str:
    """The analytics as CSV (``metric,at,value``; RFC 4180): one row per figure (``at`` empty), then the viewer,
    chat (``chat_messages``, ``reactions``) and health series per bucket. Errors as :func:`stream_analytics`,
    plus ``ValidationFailed`` (interval)."""
    check_interval(interval)
    figures = await stream_analytics(actor=actor, stream_id=stream_id, now=now)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["metric", "at", "value"])
    for name in (
        "peak_concurrent_viewers", "average_concurrent_viewers", "total_views", "unique_viewers",
        "total_watch_seconds", "average_watch_seconds", "buffering_ratio", "live_minutes",
        "chat_messages_per_minute", "reactions_per_minute",
    ):  # fmt: skip
        value = getattr(figures, name)
        writer.writerow([name, "", "" if value is None else value])
    for point in await viewer_series(stream_id=figures.stream_id, interval=interval):
        writer.writerow(["viewers_average", point.at.isoformat(), point.average])
        writer.writerow(["viewers_peak", point.at.isoformat(), point.peak])
    for chat in await chat_series(stream_id=figures.stream_id, interval=interval):
        writer.writerow(["chat_messages", chat.at.isoformat(), chat.messages])
        writer.writerow(["reactions", chat.at.isoformat(), chat.reactions])
    for sample in await health_series(stream_id=figures.stream_id, interval=interval):
        for name, value in sample.values().items():
            if value is not None:
                writer.writerow([name, sample.at.isoformat(), value])
    return out.getvalue()
