"""LiveKit broadcasts: a ``livekit`` stream is a LiveKit room (WebRTC publishers, WebRTC viewers) paired with
a stream on ``LIVECAST_LIVEKIT_VIEWER_PROVIDER`` (Mux or local) that RTMP egress feeds for HLS viewers.

* :func:`pair` (at creation): the paired stream is created and stored in ``Broadcast`` (room, paired ids/key).
* :func:`apply_livekit_event` (LiveKit webhooks, through the inbox) and :func:`reconcile` (re-read from the
  LiveKit API when events were dropped): the first publisher makes the stream ``LIVE``, the last one leaving
  makes it ``RECONNECTING`` (ended after its reconnect window by ``livecast.domain.broadcast_jobs``); egress
  events update the broadcast; a failed egress switches playback to the WebRTC fallback and raises an alert.
* :func:`on_finished` (the stream ``ENDED``): egress stops, the room is deleted ``livekit_room_delete_seconds``
  later (by the periodic check). Egress start on first viewer / idle stop: ``livecast.domain.broadcast_jobs``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from livecast.domain import broadcast_egress as egress
from livecast.domain import lifecycle
from livecast.domain.deps import Deps
from livecast.domain.errors import InvalidState, NotFound, ValidationFailed, provider_failure
from livecast.domain.models import Stream, StreamStatus
from livecast.domain.provider_models import Broadcast
from livecast.providers.base import PlaybackInfo, ProviderError, ProviderEvent, ProviderNotFound, StreamRef, StreamSpec
from livecast.providers.livekit.ports import EgressState

logger = logging.getLogger(__name__)

PROVIDER = egress.PROVIDER
S = StreamStatus
JOINS = frozenset({"participant_joined", "track_published"})
LEAVES = frozenset({"participant_left", "track_unpublished"})
EGRESS_EVENTS = frozenset({"egress_started", "egress_updated", "egress_ended"})


def _spec(stream: Stream) -> StreamSpec:
    return StreamSpec(
        title=stream.title, latency_mode=stream.latency_mode.value, playback_policy=stream.playback_policy.value,
        reconnect_window=stream.reconnect_window, max_continuous_duration=stream.max_continuous_duration,
        recording_enabled=stream.recording_enabled,
    )  # fmt: skip


def _room_ref(stream: Stream) -> StreamRef:
    return StreamRef(stream.provider_stream_id, stream.stream_key, stream.playback_id, stream.playback_policy.value)


async def pair(*, deps: Deps, stream: Stream) -> Broadcast:
    """Create the paired stream for a just-saved ``livekit`` stream and store the ``Broadcast``.

    On failure the room and the stream row are removed and ``ProviderFailed``/``ProviderDown`` is raised
    (``ValidationFailed`` when the viewer provider is misconfigured as ``livekit``).
    """
    lk = egress.rooms(deps)
    viewer = lk.policy.viewer_provider
    try:
        if viewer == PROVIDER:
            message = "LIVECAST_LIVEKIT_VIEWER_PROVIDER must be an HLS provider (mux or local)"
            raise ValidationFailed(message, field="provider")
        paired = await deps.providers.get(viewer).create_stream(_spec(stream))
    except (ProviderError, ValidationFailed) as e:
        await Stream.filter(id=stream.id).delete()
        try:
            await lk.delete_stream(_room_ref(stream))
        except ProviderError:
            logger.warning("room %s of a failed creation could not be deleted", stream.provider_stream_id)
        if isinstance(e, ValidationFailed):
            raise
        raise provider_failure(f"could not create the paired {viewer} stream", e) from e
    return await Broadcast.create(
        stream_id=stream.id, room_name=stream.provider_stream_id, paired_provider=viewer,
        paired_stream_id=paired.provider_stream_id, paired_stream_key=paired.stream_key,
        paired_playback_id=paired.playback_id,
    )  # fmt: skip


async def broadcast_of(stream_id: str) -> Broadcast | None:
    return await Broadcast.get_or_none(stream_id=stream_id)


async def broadcasts_by_stream_ids(stream_ids: list[str]) -> list[Broadcast | None]:
    """The broadcast of each stream (``None``: not a ``livekit`` stream, or not paired), in the order of
    ``stream_ids`` (one query; a DataLoader batch function)."""
    rows = {str(b.stream_id): b for b in await Broadcast.filter(stream_id__in=stream_ids)}
    return [rows.get(str(stream_id)) for stream_id in stream_ids]


async def playback(*, deps: Deps, stream: Stream) -> PlaybackInfo:
    """HLS from the paired stream; ``fallback`` (WebRTC hint) while egress is ``FAILED`` (one query; in lists
    load the broadcasts with :func:`broadcasts_by_stream_ids` and use :func:`playback_of`)."""
    return playback_of(deps=deps, stream=stream, paired=await broadcast_of(str(stream.id)))


def playback_of(*, deps: Deps, stream: Stream, paired: Broadcast | None) -> PlaybackInfo:
    """:func:`playback` of a ``livekit`` stream whose broadcast (``paired``, ``None`` when it has none: the
    room's own playback) is already loaded. No query, no provider call."""
    lk = egress.rooms(deps)
    b = paired
    if b is None:
        return lk.playback(_room_ref(stream))
    info = deps.providers.get(b.paired_provider).playback(egress.paired_ref(b, stream.playback_policy.value))
    failed = b.egress_status is egress.EgressStatus.FAILED
    return dataclasses.replace(info, fallback=lk.webrtc_fallback(b.room_name) if failed else None)


async def on_finished(*, deps: Deps, stream: Stream) -> str:
    """The stream ended: stop egress now and schedule the room's deletion. Provider failures are left to the
    periodic check (it stops what still runs and deletes due rooms)."""
    b = await broadcast_of(str(stream.id))
    if b is None:
        return "no broadcast"
    outcome = await egress.stop(deps=deps, broadcast=b, reason="stream ended")
    if b.room_delete_at is None:
        b.room_delete_at = datetime.now(UTC) + timedelta(seconds=egress.rooms(deps).policy.room_delete_seconds)
        await b.save(update_fields=["room_delete_at", "updated_at"])
    return outcome


async def release(*, deps: Deps, stream: Stream) -> None:
    """Before a ``livekit`` stream is deleted: delete its paired stream (the room goes with the stream)."""
    b = await broadcast_of(str(stream.id))
    if b is None:
        return
    try:
        await deps.providers.get(b.paired_provider).delete_stream(egress.paired_ref(b, stream.playback_policy.value))
    except ProviderNotFound:
        pass  # already deleted on the paired provider
    except ProviderError as e:
        raise provider_failure(f"the paired {b.paired_provider} stream could not be deleted", e) from e


def _field(data: Mapping[str, Any] | None, *names: str) -> Any:
    for name in names:
        if data and data.get(name) not in (None, ""):
            return data[name]
    return None


def _publishing(participant: Mapping[str, Any] | None) -> bool:
    return bool(_field(participant, "is_publisher", "isPublisher") or _field(participant, "tracks"))


def egress_state(info: Mapping[str, Any]) -> EgressState:
    """An ``EgressInfo`` as JSON (webhook ``egressInfo``; camelCase or snake_case) → :class:`EgressState`."""
    status = _field(info, "status") or "EGRESS_STARTING"
    if isinstance(status, int):  # protobuf enum number (EGRESS_STARTING = 0 ... LIMIT_REACHED = 6)
        status = ["STARTING", "ACTIVE", "ENDING", "COMPLETE", "FAILED", "ABORTED", "LIMIT_REACHED"][status]
    results = _field(info, "stream_results", "streamResults") or []
    return EgressState(
        egress_id=str(_field(info, "egress_id", "egressId") or ""), room=str(_field(info, "room_name", "roomName") or ""),
        status=str(status).removeprefix("EGRESS_"), urls=tuple(r.get("url", "") for r in results),
        error=_field(info, "error"),
    )  # fmt: skip


async def apply_livekit_event(deps: Deps, event: ProviderEvent) -> str:
    """Apply a verified LiveKit webhook (``ProviderEvent``; ``object_id`` or ``data.room.name`` = room name).

    Returns a short outcome. Raises ``NotFound`` for a room no broadcast has, ``InvalidState`` for a
    participant event on a finished stream or an illegal move. Publisher counts are re-read from the LiveKit
    API (the event's own data is the fallback when LiveKit cannot be reached).
    """
    data: Mapping[str, Any] = event.data or {}
    info = _field(data, "egress_info", "egressInfo") or {}
    room = event.object_id or _field(_field(data, "room") or {}, "name") or _field(info, "room_name", "roomName")
    b = await Broadcast.get_or_none(room_name=room) if room else None
    if b is None:
        raise NotFound(f"no LiveKit broadcast for room {room!r}")
    stream = await Stream.get(id=b.stream_id)
    participant = _field(data, "participant") or {}
    who = _field(participant, "identity") or "?"
    if event.type in EGRESS_EVENTS:
        state = egress_state(info)
        if state.active and b.egress_id == state.egress_id and b.egress_status not in egress.RUNNING:
            message = f"egress {state.egress_id} is over here; {event.type} is stale"
            raise InvalidState(message, current_status=stream.status.value)
        return await egress.observed(deps=deps, broadcast=b, state=state)
    if event.type == "room_finished":
        b.publishers = 0
        await b.save(update_fields=["publishers", "updated_at"])
        return await _publishers_changed(deps, b, stream, 0, "LiveKit room finished")
    if event.type not in JOINS | LEAVES:
        return f"{event.type}: nothing to do"
    if stream.status in lifecycle.FINISHED:
        raise InvalidState(
            f"stream is {stream.status.value}; {event.type} is stale", current_status=stream.status.value
        )
    if event.type == "participant_joined" and not _publishing(participant):
        return f"participant {who} joined without publishing"
    if event.type in JOINS:  # the event is proof for its own participant, LiveKit's list for the others
        count = await _count_publishers(deps, b, guess=max(b.publishers, 1), joined=who)
    elif event.type == "participant_left":
        guess = max(b.publishers - 1, 0) if _publishing(participant) else b.publishers
        count = await _count_publishers(deps, b, guess=guess, left=who)
    else:  # track_unpublished: the participant may still publish other tracks
        count = await _count_publishers(deps, b, guess=max(b.publishers - (not _publishing(participant)), 0))
    return await _publishers_changed(deps, b, stream, count, f"LiveKit {event.type} ({who})")


async def _count_publishers(
    deps: Deps, b: Broadcast, *, guess: int, joined: str | None = None, left: str | None = None
) -> int:
    """Publishers in the room per LiveKit, with ``joined`` counted and ``left`` not (whatever the list says
    yet); ``guess`` when LiveKit cannot be asked. Stores the count in ``Broadcast.publishers``."""
    try:
        people = await egress.rooms(deps).list_participants(b.room_name)
        publishing = {p.identity for p in people if p.publishing and p.identity != left} | (
            {joined} if joined else set()
        )
        count = len(publishing)
    except ProviderError as e:
        logger.info("room %s: participants not readable (%s); using the event", b.room_name, e.message)
        count = guess
    if count != b.publishers:
        b.publishers = count
        await b.save(update_fields=["publishers", "updated_at"])
    return count


async def _publishers_changed(deps: Deps, b: Broadcast, stream: Stream, count: int, reason: str) -> str:
    if count > 0 and stream.status in (S.SCHEDULED, S.PREPARING, S.RECONNECTING):
        await lifecycle.transition(bus=deps.bus, stream_id=str(stream.id), to=S.LIVE, reason=reason)
        outcome = f"{count} publisher(s): LIVE"
        if b.egress_status is egress.EgressStatus.FAILED:  # a new publishing session may egress again
            b.egress_status = egress.EgressStatus.IDLE
            await b.save(update_fields=["egress_status", "updated_at"])
        if egress.rooms(deps).policy.egress_start == "GO_LIVE":
            outcome += "; " + await egress.start(deps=deps, broadcast=b, reason="went live")
        return outcome
    if count == 0 and stream.status in (S.LIVE, S.PREPARING):
        await lifecycle.transition(bus=deps.bus, stream_id=str(stream.id), to=S.RECONNECTING, reason=reason)
        return "no publisher left: RECONNECTING"
    return f"{count} publisher(s): stream stays {stream.status.value}"


async def reconcile(deps: Deps, stream_id: str) -> str:
    """Re-read the room's participants and the broadcast's egress from LiveKit; fix ``Broadcast`` and status.

    Raises ``NotFound`` (no such livekit stream), ``ProviderFailed``/``ProviderDown`` (LiveKit refused or
    unreachable) and ``InvalidState`` from an illegal move.
    """
    b = await broadcast_of(stream_id)
    if b is None:
        raise NotFound(f"stream {stream_id} has no LiveKit broadcast")
    stream = await Stream.get(id=b.stream_id)
    outcomes = []
    lk = egress.rooms(deps)
    try:
        if b.egress_id and b.egress_status in egress.RUNNING:
            outcomes.append(await egress.observed(deps=deps, broadcast=b, state=await lk.egress_status(b.egress_id)))
        elif b.egress_status is egress.EgressStatus.IDLE and b.room_deleted_at is None:
            for state in await lk.list_egress(b.room_name, active_only=True):  # one we failed to record
                b.egress_id = None
                outcomes.append(await egress.observed(deps=deps, broadcast=b, state=state))
    except ProviderError as e:
        raise provider_failure("could not read the egress from LiveKit", e) from e
    if stream.status in lifecycle.FINISHED or b.room_deleted_at is not None:
        return "; ".join([*outcomes, f"stream is {stream.status.value}: room not checked"])
    try:
        participants = await lk.list_participants(b.room_name)
    except ProviderNotFound:  # LiveKit closed the empty room: nobody publishes
        participants = []
    except ProviderError as e:
        raise provider_failure("could not read the room from LiveKit", e) from e
    count = sum(p.publishing for p in participants)
    if count != b.publishers:
        b.publishers = count
        await b.save(update_fields=["publishers", "updated_at"])
    if count == 0 and stream.status is S.SCHEDULED:
        return "; ".join([*outcomes, "no publisher yet"])
    outcomes.append(await _publishers_changed(deps, b, stream, count, "LiveKit reconciliation"))
    return "; ".join(outcomes)
