"""What a provider webhook event means for livecast: which stream it is about, which events it may not
overtake, and the domain command it triggers. Used by the inbox (:mod:`livecast.domain.webhooks`).

Mux (Mux docs, "Webhook reference"; the live stream lifecycle ``connected → recording → active → disconnected
→ idle``):

=====================================================  ==========================================================
``video.live_stream.connected`` / ``.recording``       → ``PREPARING`` where legal (from ``SCHEDULED``)
``video.live_stream.active``                           → ``LIVE``
``video.live_stream.disconnected``                     → ``RECONNECTING``
``video.live_stream.idle``                             → ``ENDED`` (:func:`streams.finish`; only an active stream)
``video.asset.ready`` / ``.live_stream_completed``     → ``Stream.provider_asset_id`` + ``recording_playback_id``
``video.live_stream.simulcast_target.<status>``        → the ``SimulcastTarget`` row's status
anything else (``created``, ``deleted``, ``updated``)  → recorded only
=====================================================  ==========================================================

Events of one resource (:func:`ordering_key`) apply in Mux's ``created_at`` order; ``idle`` is final
(:func:`is_final`). How the inbox keeps that order when deliveries arrive shuffled: :mod:`livecast.domain.webhooks`.

Mux events of a LiveKit broadcast's paired Mux stream only bring the recording: the stream's status follows its
LiveKit room. LiveKit events go to :func:`livecast.domain.broadcast.apply_livekit_event`; an event with
``num_dropped`` > 0 (LiveKit dropped events before it) also triggers :func:`livecast.domain.broadcast.reconcile`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from livecast.domain import lifecycle, simulcast, streams
from livecast.domain.deps import Deps
from livecast.domain.errors import InvalidState, NotFound
from livecast.domain.events import RecordingReady, owner_channel, stream_channel
from livecast.domain.models import Stream, StreamStatus
from livecast.domain.provider_models import Broadcast, SimulcastStatus, SimulcastTarget, WebhookEvent
from livecast.providers.base import ProviderEvent

S = StreamStatus
MUX_STATUS: dict[str, StreamStatus] = {
    "video.live_stream.connected": S.PREPARING,
    "video.live_stream.recording": S.PREPARING,
    "video.live_stream.active": S.LIVE,
    "video.live_stream.disconnected": S.RECONNECTING,
    "video.live_stream.idle": S.ENDED,
}
MUX_FINAL = frozenset(kind for kind, status in MUX_STATUS.items() if status in lifecycle.FINISHED)
"""Events whose move ends the stream for good (``idle``)."""
MUX_ASSET_READY = frozenset({"video.asset.ready", "video.asset.live_stream_completed"})
MUX_SIMULCAST = "video.live_stream.simulcast_target."
PAIRED = "paired stream of a LiveKit broadcast: its status follows the LiveKit room"


async def resolve_stream(event: ProviderEvent) -> tuple[str | None, str | None]:
    """``(stream id, None)`` for the livecast stream the event is about, or ``(None, why not)``."""
    if event.provider == "mux":
        if event.object_id:
            stream = await Stream.filter(provider="mux", provider_stream_id=event.object_id).only("id").first()
            if stream is not None:
                return str(stream.id), None
            paired = (
                await Broadcast.filter(paired_provider="mux", paired_stream_id=event.object_id)
                .only("stream_id")
                .first()
            )
            if paired is not None:
                return str(paired.stream_id), None
        if event.type.startswith(MUX_SIMULCAST) and (target_id := _mux_target_id(event.data)):
            target = await SimulcastTarget.filter(provider_target_id=target_id).only("stream_id").first()
            if target is not None:
                return str(target.stream_id), None
        return None, f"no livecast stream for Mux live stream {event.object_id}"
    if event.provider == "livekit":
        if event.object_id:
            broadcast = await Broadcast.filter(room_name=event.object_id).only("stream_id").first()
            if broadcast is not None:
                return str(broadcast.stream_id), None
            stream = await Stream.filter(provider="livekit", provider_stream_id=event.object_id).only("id").first()
            if stream is not None:
                return str(stream.id), None
        return None, f"no livecast stream for LiveKit room {event.object_id}"
    return None, f"unknown provider {event.provider}"


def final_types(provider: str) -> frozenset[str]:
    """Event types whose move is final for livecast (Mux ``idle`` → ``ENDED``): see :func:`is_final`."""
    return MUX_FINAL if provider == "mux" else frozenset()


def is_final(provider: str, kind: str) -> bool:
    """Whether the event ends its resource for good (Mux ``idle``: the stream ``ENDED``, after which no event of
    the stream applies). Such an event is never stale: in provider-time order nothing after it could have
    applied, so it wins over newer events that arrived first (a second broadcast on the same Mux stream key)."""
    return kind in final_types(provider)


def ordering_key(provider: str, kind: str, payload: Mapping[str, Any]) -> str | None:
    """The resource whose events must apply in time order (a later one makes an earlier one stale);
    ``None``: the event is applied whenever it arrives."""
    if provider == "mux":
        if kind in MUX_STATUS:
            return "live_stream"
        if kind in MUX_ASSET_READY:
            return "asset"
        if kind.startswith(MUX_SIMULCAST):
            return f"simulcast:{_mux_target_id(payload)}"
        return None
    if provider == "livekit":
        for field, key in (
            ("participant", "sid"),
            ("track", "sid"),
            ("egress_info", "egress_id"),
            ("ingress_info", "ingress_id"),
        ):
            value = payload.get(field)
            if isinstance(value, dict) and value.get(key):
                return f"{field}:{value[key]}"
        return "room" if kind.startswith("room_") else None
    return None


async def apply(deps: Deps, row: WebhookEvent) -> str:
    """Apply one stored event; returns what it did. Raises ``InvalidState`` for an illegal transition,
    ``NotFound`` when what it is about is gone."""
    if row.provider == "mux":
        return await _apply_mux(deps, row)
    if row.provider == "livekit":
        return await _apply_livekit(deps, row)
    return f"recorded (no rules for provider {row.provider})"


async def _apply_mux(deps: Deps, row: WebhookEvent) -> str:
    stream = await Stream.get_or_none(id=row.stream_id)
    if stream is None:
        raise NotFound(f"stream {row.stream_id} does not exist")
    data = row.payload.get("data") if isinstance(row.payload.get("data"), dict) else {}
    if row.type in MUX_STATUS:
        if stream.provider != "mux":
            return f"recorded ({PAIRED})"
        target, previous = MUX_STATUS[row.type], stream.status
        reason = f"Mux {row.type.rsplit('.', 1)[-1]}"
        if target is S.ENDED:
            await streams.finish(deps=deps, stream_id=str(stream.id), reason=reason, only_from=lifecycle.ACTIVE)
        else:
            await lifecycle.transition(bus=deps.bus, stream_id=str(stream.id), to=target, reason=reason)
        return f"{previous.value} → {target.value}"
    if row.type in MUX_ASSET_READY:
        return await _recording_ready(deps, stream, data)
    if row.type.startswith(MUX_SIMULCAST):
        return await _simulcast_status(stream, row.type.removeprefix(MUX_SIMULCAST), row.payload, data)
    return "recorded"


async def _recording_ready(deps: Deps, stream: Stream, asset: Mapping[str, Any]) -> str:
    asset_id = asset.get("id")
    if not isinstance(asset_id, str) or not asset_id:
        raise NotFound("the asset event carries no asset id")
    ids = [p for p in asset.get("playback_ids") or [] if isinstance(p, dict) and isinstance(p.get("id"), str)]
    wanted = stream.playback_policy.value.lower()
    chosen = next((p["id"] for p in ids if p.get("policy") == wanted), ids[0]["id"] if ids else None)
    await Stream.filter(id=stream.id).update(provider_asset_id=asset_id, recording_playback_id=chosen)
    if chosen is not None:
        event = RecordingReady(
            stream_id=str(stream.id), owner_id=str(stream.owner_id), asset_id=asset_id, playback_id=chosen,
            at=datetime.now(UTC).isoformat(),
        )  # fmt: skip
        await deps.bus.publish(
            [stream_channel(event.stream_id, "recording"), owner_channel(event.owner_id, "recording")], event
        )
    return f"recording available: asset {asset_id}, playback id {chosen}"


async def _simulcast_status(stream: Stream, suffix: str, payload: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    target_id = _mux_target_id(payload)
    status_name = (
        suffix.upper() if suffix.upper() in SimulcastStatus.__members__ else str(data.get("status") or "").upper()
    )
    if suffix in ("created", "deleted") or status_name not in SimulcastStatus.__members__:
        return f"recorded (simulcast target {target_id} {suffix})"
    status = SimulcastStatus[status_name]
    error = None
    if status is SimulcastStatus.ERRORED:
        error = str(
            data.get("error_severity") or data.get("error") or "the destination refused or dropped the restream"
        )
    if target_id is None or not await simulcast.set_target_status(
        stream_id=str(stream.id), provider_target_id=target_id, status=status.value, error=error
    ):
        raise NotFound(f"stream has no simulcast target {target_id}")
    return f"simulcast target {target_id} → {status.value}"


def _mux_target_id(payload: Mapping[str, Any]) -> str | None:
    obj = payload.get("object") if isinstance(payload.get("object"), dict) else {}
    if obj.get("type") == "simulcast_target" and isinstance(obj.get("id"), str):
        return obj["id"]
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    for key in ("simulcast_target_id", "id"):
        if isinstance(data.get(key), str):
            return data[key]
    return None


async def _apply_livekit(deps: Deps, row: WebhookEvent) -> str:
    from livecast.domain import broadcast  # H3's orchestration; imported when a LiveKit event is applied

    event = ProviderEvent(
        provider=row.provider, event_id=row.event_id, type=row.type, object_id=row.object_id,
        occurred_at=row.occurred_at, data=row.payload,
    )  # fmt: skip
    try:
        dropped = int(row.payload.get("num_dropped") or 0)
    except (TypeError, ValueError):
        dropped = 0
    try:
        outcome = await broadcast.apply_livekit_event(deps, event)
    except InvalidState as e:
        if dropped <= 0:
            raise
        outcome = f"not applied: {e.message}"
    if dropped > 0:  # LiveKit dropped events before this one (queue overflow or age): re-read room and egress
        reconciled = await broadcast.reconcile(deps, str(row.stream_id))
        outcome = f"{outcome}; LiveKit dropped {dropped} event(s) before it, reconciled: {reconciled}"
    return outcome
