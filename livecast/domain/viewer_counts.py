"""The periodic viewer count (every ~5 s, once per period across processes; see ``livecast.workers.viewers``).

For each live stream (``LIVE`` or ``RECONNECTING``): count concurrent viewers from the viewer store, append the
count to the time series (``ViewerSample``), and when it changed, store ``Stream.viewer_count`` /
``peak_viewer_count`` and publish ``ViewerCountUpdated`` (topic ``viewers``, stream and owner channels). A
stream that stopped being live drops to 0 the same way. Then (every run, or every few runs: ``flush``) the
sessions that beacons changed are written to ``ViewerSession`` in bulk (one upsert per batch of
:data:`FLUSH_BATCH`, never one write per beacon) for live and recently ended streams, and the viewer store
forgets the streams that are no longer live (an ended stream once its sessions are written): beacons of
streams that are not live are refused, so nothing would ever read them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from livecast.domain.deps import Deps
from livecast.domain.events import VIEWERS, ViewerCountUpdated, owner_channel, stream_channel
from livecast.domain.lifecycle import FINISHED
from livecast.domain.models import Stream
from livecast.domain.provider_monitoring import ViewerCountSource
from livecast.domain.viewer_models import ViewerSample, ViewerSession
from livecast.domain.viewer_store import SessionState
from livecast.domain.viewers import COUNTED, Viewers

FLUSH_BATCH = 2000
"""Sessions written per upsert statement."""
FLUSH_MAX_BATCHES = 20
"""Batches written per stream per run at most (the rest waits for the next run)."""
FLUSH_AFTER_END = timedelta(minutes=10)
"""How long after a stream ended its last beacons (players reporting ``ended``) are still written."""
SESSION_UPDATES = ("last_seen", "state", "watch_ms", "buffering_ms", "errors", "bitrate", "ended")


@dataclass
class CountRun:
    """What one run did: ``counts`` per live stream id, and how many session rows it wrote."""

    counts: dict[str, int] = field(default_factory=dict)
    published: int = 0
    sessions_written: int = 0
    streams_evicted: int = 0


async def refresh(*, deps: Deps, flush: bool = True) -> CountRun:
    """Count, publish, sample and (if ``flush``) write changed sessions (see the module docstring). Idempotent
    apart from the time series row. Database errors and ``StoreUnavailable`` propagate (the sessions of a failed
    write stay dirty for the next flush)."""
    viewers = deps.viewers
    at = datetime.fromtimestamp(viewers.clock(), UTC)
    run = CountRun()
    live = await Stream.filter(status__in=COUNTED).values(
        "id", "owner_id", "viewer_count", "peak_viewer_count", "viewer_count_source"
    )
    samples: list[ViewerSample] = []
    for row in live:
        if row["viewer_count_source"] != ViewerCountSource.LIVECAST.value:
            continue  # counted by its provider's analytics (livecast.domain.provider_viewers)
        stream_id = str(row["id"])
        count = run.counts[stream_id] = await viewers.concurrent(stream_id)
        samples.append(ViewerSample(stream_id=stream_id, at=at, count=count))
        if count != row["viewer_count"]:
            await _store_and_publish(deps, row, count, at)
            run.published += 1
    if samples:
        await ViewerSample.bulk_create(samples)
    stopped = (
        await Stream.filter(viewer_count__gt=0)
        .exclude(status__in=COUNTED)
        .values("id", "owner_id", "viewer_count", "peak_viewer_count")
    )
    for row in stopped:
        await _store_and_publish(deps, row, 0, at)
        run.published += 1
    if not flush:
        return run
    recent = await Stream.filter(status__in=FINISHED, ended_at__gte=at - FLUSH_AFTER_END).values_list("id", flat=True)
    live_ids, recent_ids = {str(row["id"]) for row in live}, {str(i) for i in recent}
    for stream_id in live_ids | recent_ids:
        run.sessions_written += await flush_sessions(viewers=viewers, stream_id=stream_id)
    run.streams_evicted = await viewers.evict(keep=live_ids, finishing=recent_ids)
    return run


async def _store_and_publish(deps: Deps, row: dict, count: int, at: datetime) -> None:
    peak = max(row["peak_viewer_count"], count)
    stream_id, owner_id = str(row["id"]), str(row["owner_id"])
    await Stream.filter(id=stream_id).update(viewer_count=count, peak_viewer_count=peak)
    event = ViewerCountUpdated(stream_id=stream_id, owner_id=owner_id, count=count, peak=peak, at=at.isoformat())
    await deps.bus.publish([stream_channel(stream_id, VIEWERS), owner_channel(owner_id, VIEWERS)], event)


async def flush_sessions(*, viewers: Viewers, stream_id: str) -> int:
    """Write the stream's changed sessions (upsert on stream + viewer id + session id); returns how many.

    On a database error the batch is marked dirty again and the error propagates."""
    written = 0
    for _ in range(FLUSH_MAX_BATCHES):
        sessions = await viewers.take_sessions(stream_id, limit=FLUSH_BATCH)
        if not sessions:
            break
        try:
            await ViewerSession.bulk_create(
                [_row(stream_id, s) for s in sessions],
                on_conflict=("stream_id", "viewer_id", "session_id"),
                update_fields=SESSION_UPDATES,
            )
        except BaseException:
            await viewers.put_back(stream_id, sessions)
            raise
        written += len(sessions)
        if len(sessions) < FLUSH_BATCH:
            break
    return written


def _row(stream_id: str, s: SessionState) -> ViewerSession:
    return ViewerSession(
        stream_id=stream_id, viewer_id=s.viewer_id, session_id=s.session_id, started_at=_time(s.started_at),
        last_seen=_time(s.last_seen), state=s.state, watch_ms=s.watch_ms, buffering_ms=s.buffering_ms,
        errors=s.errors, bitrate=s.bitrate, ended=s.state == "ended",
    )  # fmt: skip


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)
