"""RTMP egress of a LiveKit broadcast: start it towards the paired stream, stop it, record its failure.

The egress pushes the room (RoomComposite, layout and encoding from ``LIVECAST_LIVEKIT_EGRESS_*``) to the paired
stream's ingest: ``<paired rtmp_url>/<paired stream key>`` (Mux: ``rtmps://global-live.mux.com:443/app/<key>``;
local: livecast's own RTMP ingest, which accepts the paired key via :func:`egress_publish`, writes HLS under the
paired playback id and leaves the stream's lifecycle to the room's participants), and for redundancy to the
outputs of ``LIVECAST_LIVEKIT_EGRESS_EXTRA_URLS`` (:func:`egress_urls`).
A failure (refused start, or ``egress_ended`` with ``EGRESS_FAILED``) marks the broadcast ``FAILED``, so the
stream's playback offers the WebRTC fallback, and raises an ``EGRESS_FAILED`` alert (CRITICAL) once. The alert
is cleared (``cleared_at`` stored, ``AlertCleared`` published, as health alerts are) when a later egress of the
broadcast is reported ``ACTIVE``, or when the stream is over.
A ``ProviderUnavailable`` leaves the state as it was: the periodic check tries again at its next run.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime

from livecast.domain import lifecycle
from livecast.domain.alert_records import alert_channels, clear_kind
from livecast.domain.alerts import SEVERITY, AlertKind
from livecast.domain.deps import Deps
from livecast.domain.errors import InvalidState, NotFound
from livecast.domain.events import AlertRaised
from livecast.domain.health_models import StreamAlert
from livecast.domain.models import Stream
from livecast.domain.provider_models import Broadcast, EgressStatus
from livecast.providers.base import ProviderError, ProviderNotFound, ProviderRejected, ProviderUnavailable, StreamRef
from livecast.providers.livekit.ports import EgressState, RoomProvider

logger = logging.getLogger(__name__)

PROVIDER = "livekit"
LOCAL = "local"
RUNNING = frozenset({EgressStatus.STARTING, EgressStatus.ACTIVE})


def rooms(deps: Deps) -> RoomProvider:
    """The LiveKit adapter (``ProviderRejected`` when it is not a ``RoomProvider``)."""
    adapter = deps.providers.get(PROVIDER)
    if not isinstance(adapter, RoomProvider):
        raise ProviderRejected(PROVIDER, "the livekit provider has no room capabilities")
    return adapter


def paired_ref(broadcast: Broadcast, policy: str) -> StreamRef:
    """How the paired provider knows the paired stream (``policy`` = the livecast stream's playback policy)."""
    return StreamRef(
        provider_stream_id=broadcast.paired_stream_id, stream_key=broadcast.paired_stream_key,
        playback_id=broadcast.paired_playback_id, playback_policy=policy,
    )  # fmt: skip


async def egress_publish(*, stream_key: str) -> tuple[Broadcast, Stream]:
    """The broadcast (paired with ``local``) and its ``livekit`` stream whose egress publishes ``stream_key``
    to the local ingest. Raises ``NotFound`` for a key no such broadcast has, ``InvalidState`` (with the
    stream's status) when that stream is over.

    No column holds a hash of paired keys, and the key must not be a lookup value (an index or ``WHERE`` on a
    secret leaks timing and lands in query logs). So the candidates are the broadcasts paired with the local
    pipeline whose room still exists (a handful: live or just ended), and the key's SHA-256 is compared with
    each of theirs in constant time, all of them, without stopping at a match.
    """
    wanted = hashlib.sha256(stream_key.encode()).digest()
    found = None
    for candidate in await Broadcast.filter(paired_provider=LOCAL, room_deleted_at__isnull=True):
        if hmac.compare_digest(hashlib.sha256(candidate.paired_stream_key.encode()).digest(), wanted):
            found = candidate
    if found is None:
        raise NotFound("unknown stream key")
    stream = await Stream.get(id=found.stream_id)
    if stream.status in lifecycle.FINISHED:
        raise InvalidState(f"stream is {stream.status.value}", current_status=stream.status.value)
    return found, stream


def egress_urls(deps: Deps, broadcast: Broadcast) -> list[str]:
    """The RTMP(S) URLs egress pushes to: first the paired stream's ingest URL + ``/`` + its stream key (what HLS
    viewers watch), then ``LIVECAST_LIVEKIT_EGRESS_EXTRA_URLS`` with ``{stream_key}`` (the paired key) and
    ``{room}`` filled in, for redundancy (LiveKit keeps pushing to the others when one output fails). No
    duplicates. Mux documents no second ingest that takes the same stream key at once, so the extra outputs
    are the operator's (a standby origin, a recorder)."""
    endpoints = deps.providers.get(broadcast.paired_provider).ingest_endpoints(paired_ref(broadcast, "PUBLIC"))
    urls = [f"{endpoints.rtmp_url.rstrip('/')}/{endpoints.stream_key}"]
    for template in rooms(deps).policy.egress_extra_urls:
        url = template.format(stream_key=broadcast.paired_stream_key, room=broadcast.room_name)
        if url not in urls:
            urls.append(url)
    return urls


async def start(*, deps: Deps, broadcast: Broadcast, reason: str) -> str:
    """Start egress unless it runs; returns what happened. A refusal marks it failed (see :func:`failed`)."""
    if broadcast.egress_status in RUNNING:
        return "egress already running"
    if broadcast.room_deleted_at is not None:
        return "room deleted: no egress"
    try:
        state = await rooms(deps).start_egress(broadcast.room_name, egress_urls(deps, broadcast))
    except ProviderUnavailable as e:
        logger.warning("broadcast %s: egress start failed, retried later: %s", broadcast.room_name, e.message)
        return f"egress start postponed: {e.message}"
    except ProviderError as e:
        await failed(deps=deps, broadcast=broadcast, error=f"egress could not start: {e.message}")
        return "egress start refused"
    await _store(deps, broadcast, state, started=True, zero_viewers_since=None)
    return f"egress {state.egress_id} started ({reason})"


async def stop(*, deps: Deps, broadcast: Broadcast, reason: str) -> str:
    """Stop a running egress; an egress LiveKit no longer knows or already ended counts as stopped."""
    if broadcast.egress_status not in RUNNING or not broadcast.egress_id:
        return "no egress running"
    try:
        await rooms(deps).stop_egress(broadcast.egress_id)
    except ProviderUnavailable as e:
        return f"egress stop postponed: {e.message}"
    except (ProviderNotFound, ProviderRejected) as e:  # gone, or not active any more (failed_precondition)
        logger.info("broadcast %s: egress %s already over: %s", broadcast.room_name, broadcast.egress_id, e.message)
    broadcast.egress_status, broadcast.zero_viewers_since = EgressStatus.IDLE, None
    await broadcast.save(update_fields=["egress_status", "zero_viewers_since", "updated_at"])
    return f"egress {broadcast.egress_id} stopped ({reason})"


async def observed(*, deps: Deps, broadcast: Broadcast, state: EgressState) -> str:
    """Apply what LiveKit reports about an egress (webhook or reconciliation)."""
    if broadcast.egress_id and state.egress_id != broadcast.egress_id:
        return f"egress {state.egress_id} is not this broadcast's current one: ignored"
    if state.failed:
        error = state.error or f"egress {state.status}"
        await failed(deps=deps, broadcast=broadcast, error=error, egress_id=state.egress_id)
        return f"egress {state.egress_id} failed"
    if state.active:
        await _store(deps, broadcast, state, started=broadcast.egress_id != state.egress_id)
        return f"egress {state.egress_id} {state.status}"
    if broadcast.egress_status is not EgressStatus.FAILED:
        broadcast.egress_id, broadcast.egress_status = state.egress_id, EgressStatus.IDLE
        await broadcast.save(update_fields=["egress_id", "egress_status", "updated_at"])
    return f"egress {state.egress_id} over ({state.status})"


async def failed(*, deps: Deps, broadcast: Broadcast, error: str, egress_id: str | None = None) -> None:
    """Mark egress ``FAILED`` (playback falls back to WebRTC) and raise the ``EGRESS_FAILED`` alert once."""
    already = broadcast.egress_status is EgressStatus.FAILED and broadcast.egress_error == error
    broadcast.egress_status, broadcast.egress_error = EgressStatus.FAILED, error[:2000]
    broadcast.egress_id = egress_id or broadcast.egress_id
    await broadcast.save(update_fields=["egress_status", "egress_error", "egress_id", "updated_at"])
    stream = await Stream.get(id=broadcast.stream_id)
    if already or stream.status in lifecycle.FINISHED:  # alert once, and only while someone could watch
        return
    owner = str(stream.owner_id)
    kind, now = AlertKind.EGRESS_FAILED, datetime.now(UTC)
    message = f"HLS viewers lost the stream (LiveKit egress failed: {error}); WebRTC viewing still works"[:500]
    alert = await StreamAlert.create(
        stream_id=stream.id, kind=kind.value, severity=SEVERITY[kind], message=message, raised_at=now
    )
    event = AlertRaised(
        alert_id=str(alert.id), stream_id=str(stream.id), owner_id=owner, kind=kind.value,
        severity=SEVERITY[kind].value, message=message, at=now.isoformat(),
    )  # fmt: skip
    await deps.bus.publish(alert_channels(str(stream.id), owner), event)


async def _store(deps: Deps, broadcast: Broadcast, state: EgressState, *, started: bool, **extra: object) -> None:
    """Record a running egress; once it is ``ACTIVE`` (HLS viewers get the stream again) an ``EGRESS_FAILED``
    alert of an earlier egress is cleared."""
    broadcast.egress_id = state.egress_id
    active = state.status == "ACTIVE"
    broadcast.egress_status = EgressStatus.ACTIVE if active else EgressStatus.STARTING
    broadcast.egress_error = None
    fields = ["egress_id", "egress_status", "egress_error", "updated_at", *extra]
    if started:
        broadcast.egress_started_at = datetime.now(UTC)
        fields.append("egress_started_at")
    for name, value in extra.items():
        setattr(broadcast, name, value)
    await broadcast.save(update_fields=fields)
    if active:
        await clear_kind(bus=deps.bus, stream_id=str(broadcast.stream_id), kind=AlertKind.EGRESS_FAILED.value)
