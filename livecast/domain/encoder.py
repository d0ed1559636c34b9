"""Commands the ingest (or a provider webhook) sends when an encoder connects, delivers media or drops.

They are the same lifecycle moves a person makes through GraphQL; see :mod:`livecast.domain.lifecycle`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from livecast.domain import broadcast_egress, lifecycle, reconnect
from livecast.domain.deps import Deps
from livecast.domain.errors import InvalidState, NotFound
from livecast.domain.models import Stream, StreamStatus
from livecast.domain.streams import finish, key_hash

S = StreamStatus


async def authorize_publish(*, stream_key: str, provider: str = "local") -> Stream:
    """The stream an encoder may publish to with ``stream_key``.

    The key is looked up by its SHA-256 and then compared in constant time. Raises ``NotFound`` for an
    unknown key and ``InvalidState`` for a stream that is over (``ENDED``, ``ARCHIVED``, ``CANCELLED``).
    """
    stream = await Stream.get_or_none(stream_key_hash=key_hash(stream_key))
    if stream is None or not hmac.compare_digest(stream.stream_key.encode(), stream_key.encode()):
        raise NotFound("unknown stream key")
    if stream.provider != provider:
        raise NotFound("unknown stream key")
    if stream.status in lifecycle.FINISHED:
        raise InvalidState(f"stream is {stream.status.value}", current_status=stream.status.value)
    return stream


@dataclass(frozen=True)
class PublishTarget:
    """What an accepted publish feeds: ``stream`` (its lifecycle, health), HLS under ``/hls/<playback_id>/``.

    ``drives_lifecycle`` is ``False`` for a LiveKit broadcast's egress: the room's participants drive that
    stream (``livecast.domain.broadcast``); the publish only carries its HLS media."""

    stream: Stream
    playback_id: str
    drives_lifecycle: bool = True


async def authorize_ingest(*, stream_key: str) -> PublishTarget:
    """What the local ingest may accept for ``stream_key``: a ``local`` stream's key (see
    :func:`authorize_publish`), or the paired key of a ``livekit`` stream paired with the local pipeline (its
    RTMP egress; see :func:`livecast.domain.broadcast_egress.egress_publish`). Raises ``NotFound`` for an
    unknown key and ``InvalidState`` for a stream that is over."""
    try:
        stream = await authorize_publish(stream_key=stream_key)
    except NotFound:
        broadcast, stream = await broadcast_egress.egress_publish(stream_key=stream_key)
        return PublishTarget(stream=stream, playback_id=broadcast.paired_playback_id, drives_lifecycle=False)
    return PublishTarget(stream=stream, playback_id=stream.playback_id)


class ServedElsewhere(InvalidState):
    """Another ingest process serves the stream now (its encoder reconnected there)."""


async def encoder_connected(*, deps: Deps, stream_id: str, ingest_id: str | None = None) -> Stream:
    """An encoder started publishing, on the ingest process ``ingest_id`` (recorded on the stream).

    ``SCHEDULED`` → ``PREPARING``. A ``PREPARING`` or ``LIVE`` stream stays so (a new publisher took over from a
    stalled one). A ``RECONNECTING`` stream stays so until its media is listed again (then :func:`media_ready`
    makes it ``LIVE``); its reconnect deadline moves to a full window from now meanwhile, so that the deadline
    job (:mod:`livecast.domain.reconnect`) does not end a stream whose encoder is back. Raises ``NotFound``, or
    ``InvalidState`` for a stream that is over (also when it ends concurrently)."""
    stream = await _stream(stream_id)
    owner = {"ingest_id": ingest_id} if ingest_id is not None else {}
    if stream.status is S.SCHEDULED:
        return await lifecycle.transition(
            bus=deps.bus, stream_id=stream_id, to=S.PREPARING, reason="encoder connected", also=owner
        )
    if stream.status not in lifecycle.ACTIVE:
        raise InvalidState(f"stream is {stream.status.value}", current_status=stream.status.value)
    changes: dict[str, object] = dict(owner)
    if stream.status is S.RECONNECTING:
        changes["reconnect_deadline"] = reconnect.deadline(stream)
    if changes:
        await _update_in_status(stream, changes)
    return stream


async def media_ready(*, deps: Deps, stream_id: str) -> Stream:
    """The first segment of this publish is in the playlist: the stream is ``LIVE`` (it may already be, when a
    publisher took over from another without a gap in the status)."""
    stream = await _stream(stream_id)
    if stream.status is S.LIVE:
        return stream
    return await lifecycle.transition(
        bus=deps.bus,
        stream_id=stream_id,
        to=S.LIVE,
        reason="first segment listed",
        only_from=frozenset({S.PREPARING, S.RECONNECTING}),
    )


async def encoder_disconnected(
    *, deps: Deps, stream_id: str, ingest_id: str | None = None, unpublished: bool = False
) -> Stream:
    """The encoder went away: ``RECONNECTING`` until ``reconnect_deadline`` (now + the stream's reconnect window,
    stored), or ``ENDED`` at once when the window is 0 or, with ``unpublished`` (a clean stop: RTMP ``FCUnpublish``
    or ``deleteStream``), when the stream's ``end_on_unpublish`` is set. A ``RECONNECTING`` stream (a publish that
    dropped before its first segment) gets a fresh deadline.

    With ``ingest_id``, only the ingest recorded on the stream may do this (:class:`ServedElsewhere` when another
    ingest process has taken the stream over). Returns the stream; ``reconnect_deadline`` tells when to end it."""
    stream = await _stream(stream_id)
    if ingest_id is None:
        return await _disconnect(deps, stream, {}, unpublished)
    _check_served_by(stream, ingest_id)
    try:
        return await _disconnect(deps, stream, {"ingest_id": stream.ingest_id}, unpublished)
    except InvalidState:
        _check_served_by(await _stream(stream_id), ingest_id)  # taken over meanwhile?
        raise


def _check_served_by(stream: Stream, ingest_id: str) -> None:
    if stream.ingest_id not in (None, ingest_id):
        raise ServedElsewhere(f"stream is served by ingest {stream.ingest_id}", current_status=stream.status.value)


async def _disconnect(deps: Deps, stream: Stream, owner: dict[str, object], unpublished: bool) -> Stream:
    stream_id = str(stream.id)
    if stream.reconnect_window == 0 or (unpublished and stream.end_on_unpublish):
        reason = "encoder stopped publishing" if unpublished else "encoder disconnected (no reconnect window)"
        return await finish(deps=deps, stream_id=stream_id, reason=reason, when=owner)
    deadline = reconnect.deadline(stream)
    if stream.status is S.RECONNECTING:
        await _update_in_status(stream, {"reconnect_deadline": deadline}, when=owner)
        return stream
    reason = "encoder stopped publishing (endOnUnpublish is false)" if unpublished else "encoder disconnected"
    return await lifecycle.transition(
        bus=deps.bus,
        stream_id=stream_id,
        to=S.RECONNECTING,
        reason=reason,
        when=owner,
        also={"reconnect_deadline": deadline},
    )


async def reconnect_window_expired(*, deps: Deps, stream_id: str, now: datetime | None = None) -> Stream:
    """The encoder did not come back in time: ``RECONNECTING`` → ``ENDED`` if its stored deadline has passed.

    Raises ``InvalidState`` when the stream is not ``RECONNECTING`` or its deadline is still ahead (an encoder
    came back meanwhile and moved it)."""
    return await reconnect.end_if_past_deadline(deps=deps, stream_id=stream_id, now=now or datetime.now(UTC))


async def _stream(stream_id: str) -> Stream:
    stream = await Stream.get_or_none(id=stream_id)
    if stream is None:
        raise NotFound(f"stream {stream_id} does not exist")
    return stream


async def _update_in_status(stream: Stream, changes: dict[str, object], when: dict[str, object] | None = None) -> None:
    """Update columns of ``stream`` if its status (and ``when``) still hold, else ``InvalidState``."""
    updated = await Stream.filter(id=stream.id, status=stream.status, **(when or {})).update(**changes)
    if not updated:
        fresh = await Stream.get(id=stream.id)
        raise InvalidState(f"stream changed to {fresh.status.value} concurrently", current_status=fresh.status.value)
    for name, value in changes.items():
        setattr(stream, name, value)


async def end_streams_over_max_duration(*, deps: Deps, now: datetime | None = None) -> list[str]:
    """End every running stream live for longer than its ``max_continuous_duration``; returns their ids.

    Run periodically by a worker, so it holds even when the ingest that served the stream has died.
    """
    now = now or datetime.now(UTC)
    ended = []
    for stream in await Stream.filter(status__in=list(lifecycle.ACTIVE), started_at__isnull=False):
        if (now - stream.started_at).total_seconds() >= stream.max_continuous_duration:
            try:
                await finish(deps=deps, stream_id=str(stream.id), reason="max continuous duration reached")
            except InvalidState:
                continue  # ended by someone else meanwhile
            ended.append(str(stream.id))
    return ended
