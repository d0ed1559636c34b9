"""The durable reconnect window of local streams, and what an ingest process owns.

When a local stream's encoder drops, the stream is ``RECONNECTING`` until ``streams.reconnect_deadline`` (now +
its ``reconnect_window`` seconds), stored with the status in one conditional update
(:func:`livecast.domain.encoder.encoder_disconnected`). The ingest that served the publish keeps a timer as the
fast path, but the stored deadline is the truth: :func:`end_streams_past_reconnect_deadline` runs periodically
(embedded workers or ``livecast worker``) and ends every stream whose deadline has passed, so a restart, a
crash or a lost timer cannot leave a stream ``RECONNECTING`` forever.

Ownership: every local publish records the ingest process serving it in ``streams.ingest_id`` (its
``LIVECAST_INGEST_ID``, by default ``<hostname>:<rtmp_port>``, the same across restarts). On start-up an ingest
calls :func:`reconcile_ingest`: the streams recorded with its name (or with none, from before the column
existed) that are ``LIVE``/``PREPARING`` have lost their publisher with the previous process, so they move to
``RECONNECTING`` with a fresh deadline; those ``RECONNECTING`` keep theirs; those that ended while it was away
still need ``EXT-X-ENDLIST``. Streams of other ingest processes are left alone, so several ingest processes may
share one database; an encoder publishes to one ingest at a time (an ingest's disconnect does not move a
stream another ingest has taken over, see ``encoder_disconnected``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q

from livecast.domain import lifecycle
from livecast.domain.deps import Deps
from livecast.domain.errors import InvalidState
from livecast.domain.models import Stream, StreamStatus
from livecast.domain.streams import finish

S = StreamStatus
LOCAL = "local"
WINDOW_PASSED = "reconnect window passed"


def deadline(stream: Stream, now: datetime | None = None) -> datetime:
    """When the reconnect window of ``stream`` ends if its encoder drops ``now``."""
    return (now or datetime.now(UTC)) + timedelta(seconds=stream.reconnect_window)


async def end_if_past_deadline(*, deps: Deps, stream_id: str, now: datetime) -> Stream:
    """``RECONNECTING`` → ``ENDED`` if ``reconnect_deadline`` ≤ ``now`` (checked in the conditional update, so an
    encoder that came back and moved the deadline wins). Raises ``InvalidState`` otherwise."""
    return await finish(
        deps=deps,
        stream_id=stream_id,
        reason=WINDOW_PASSED,
        only_from=frozenset({S.RECONNECTING}),
        when={"reconnect_deadline__lte": now},
    )


async def end_streams_past_reconnect_deadline(*, deps: Deps, now: datetime | None = None) -> list[str]:
    """End every ``RECONNECTING`` stream whose stored ``reconnect_deadline`` has passed; returns their ids.

    Periodic (``livecast.workers.lifecycle``), idempotent, and independent of the ingest that served them."""
    now = now or datetime.now(UTC)
    ended = []
    for stream in await Stream.filter(status=S.RECONNECTING, reconnect_deadline__lte=now).only("id"):
        try:
            await end_if_past_deadline(deps=deps, stream_id=str(stream.id), now=now)
        except InvalidState:
            continue  # the encoder came back, or somebody else ended it meanwhile
        ended.append(str(stream.id))
    return ended


@dataclass(frozen=True)
class IngestOrphan:
    """A stream an ingest process finds at start-up without a publisher: HLS under ``<media>/<playback_id>/``.

    ``reconnect_deadline`` is when its window ends (``RECONNECTING``); ``None``: it is over and its playlist only
    needs ``EXT-X-ENDLIST`` (then :func:`release_ingest`)."""

    stream_id: str
    playback_id: str
    reconnect_deadline: datetime | None


async def reconcile_ingest(*, deps: Deps, ingest_id: str, now: datetime | None = None) -> list[IngestOrphan]:
    """Start-up of the ingest ``ingest_id`` (it has no publisher yet): move its local ``LIVE``/``PREPARING``
    streams to ``RECONNECTING`` with a fresh deadline (``ENDED`` when their window is 0), give its
    ``RECONNECTING`` streams without a deadline one, and claim the streams recorded with no ingest. Returns what
    it must watch: the ``RECONNECTING`` streams and the ended streams whose playlist it has not closed."""
    now = now or datetime.now(UTC)
    mine = Q(ingest_id=ingest_id) | Q(ingest_id__isnull=True)
    orphans = []
    for stream in await Stream.filter(mine, provider=LOCAL, status__in=list(lifecycle.ACTIVE)):
        try:
            stream = await _orphaned(deps, stream, ingest_id, now)
        except InvalidState:  # moved meanwhile (ended, or taken over by another ingest)
            continue
        over = stream.status in lifecycle.FINISHED
        orphans.append(IngestOrphan(str(stream.id), stream.playback_id, None if over else stream.reconnect_deadline))
    for stream in await Stream.filter(ingest_id=ingest_id, provider=LOCAL, status__in=list(lifecycle.FINISHED)):
        orphans.append(IngestOrphan(str(stream.id), stream.playback_id, None))
    return orphans


async def _orphaned(deps: Deps, stream: Stream, ingest_id: str, now: datetime) -> Stream:
    sid, owner = str(stream.id), {"ingest_id": stream.ingest_id}
    if stream.status is S.RECONNECTING:
        changes: dict[str, object] = {"ingest_id": ingest_id}
        if stream.reconnect_deadline is None:
            changes["reconnect_deadline"] = deadline(stream, now)
        updated = await Stream.filter(id=stream.id, status=S.RECONNECTING, **owner).update(**changes)
        if not updated:
            raise InvalidState("stream changed concurrently", current_status=stream.status.value)
        for name, value in changes.items():
            setattr(stream, name, value)
        return stream
    reason = "the ingest restarted without its encoder"
    if stream.reconnect_window == 0:
        return await finish(deps=deps, stream_id=sid, reason=reason, when=owner)
    return await lifecycle.transition(
        bus=deps.bus,
        stream_id=sid,
        to=S.RECONNECTING,
        reason=reason,
        when=owner,
        also={"reconnect_deadline": deadline(stream, now), "ingest_id": ingest_id},
    )


async def release_ingest(*, stream_id: str, ingest_id: str) -> None:
    """The ingest ``ingest_id`` has closed the playlist of the ended stream: it owns nothing of it any more."""
    await Stream.filter(id=stream_id, ingest_id=ingest_id, status__in=list(lifecycle.FINISHED)).update(ingest_id=None)
