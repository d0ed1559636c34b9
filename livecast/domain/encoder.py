"""Commands the ingest (or a provider webhook) sends when an encoder connects, delivers media or drops.

They are the same lifecycle moves a person makes through GraphQL; see :mod:`livecast.domain.lifecycle`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from livecast.domain import broadcast_egress, lifecycle
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


async def encoder_connected(*, deps: Deps, stream_id: str) -> Stream:
    """An encoder started publishing: ``SCHEDULED`` → ``PREPARING``; a ``RECONNECTING`` stream stays so until
    its media is listed again (then :func:`media_ready` makes it ``LIVE``)."""
    stream = await Stream.get(id=stream_id)
    if stream.status is S.RECONNECTING:
        return stream
    return await lifecycle.transition(bus=deps.bus, stream_id=stream_id, to=S.PREPARING, reason="encoder connected")


async def media_ready(*, deps: Deps, stream_id: str) -> Stream:
    """The first segment of this publish is in the playlist: the stream is ``LIVE``."""
    return await lifecycle.transition(
        bus=deps.bus,
        stream_id=stream_id,
        to=S.LIVE,
        reason="first segment listed",
        only_from=frozenset({S.PREPARING, S.RECONNECTING}),
    )


async def encoder_disconnected(*, deps: Deps, stream_id: str) -> Stream:
    """The encoder went away: ``RECONNECTING`` for the stream's reconnect window, or ``ENDED`` at once when
    the window is 0. Returns the stream; its ``reconnect_window`` (s) tells the caller how long to wait."""
    stream = await Stream.get_or_none(id=stream_id)
    if stream is None:
        raise NotFound(f"stream {stream_id} does not exist")
    if stream.reconnect_window == 0:
        return await finish(deps=deps, stream_id=stream_id, reason="encoder disconnected (no reconnect window)")
    return await lifecycle.transition(
        bus=deps.bus, stream_id=stream_id, to=S.RECONNECTING, reason="encoder disconnected"
    )


async def reconnect_window_expired(*, deps: Deps, stream_id: str) -> Stream:
    """The encoder did not come back in time: ``RECONNECTING`` → ``ENDED``."""
    return await finish(
        deps=deps, stream_id=stream_id, reason="reconnect window passed", only_from=frozenset({S.RECONNECTING})
    )


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
