"""Stream commands and queries: create, update, end, cancel, reset key, delete, read, list.

Commands are keyword-only and take the caller (``actor``); only the owner or an admin may change a stream.
Failures raise :mod:`livecast.domain.errors` types; provider failures become ``ProviderFailed``
(``ProviderDown``, code ``PROVIDER_UNAVAILABLE``, when the provider could not be reached).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from livecast.domain import broadcast, lifecycle, schedule, stream_quota
from livecast.domain.auth import Principal, require_actor
from livecast.domain.deps import Deps
from livecast.domain.errors import (
    DomainError,
    Forbidden,
    InvalidState,
    NotFound,
    ValidationFailed,
    provider_failure,
)
from livecast.domain.ids import is_uuid
from livecast.domain.models import LatencyMode, PlaybackPolicy, Stream, StreamStatus
from livecast.domain.validation import StreamFields, validate_fields
from livecast.providers.base import IngestEndpoints, PlaybackInfo, ProviderError, StreamRef, StreamSpec

MAX_PAGE = 100

INGEST_SETTINGS = frozenset({"latency_mode", "reconnect_window", "max_continuous_duration", "playback_policy"})


def key_hash(stream_key: str) -> str:
    """SHA-256 hex digest of a stream key: what the database indexes (the key itself is never a lookup key)."""
    return hashlib.sha256(stream_key.encode()).hexdigest()


def stream_ref(stream: Stream) -> StreamRef:
    return StreamRef(
        provider_stream_id=stream.provider_stream_id,
        stream_key=stream.stream_key,
        playback_id=stream.playback_id,
        playback_policy=stream.playback_policy.value,
        srt_passphrase=stream.srt_passphrase,
    )


def _spec(stream: Stream) -> StreamSpec:
    return StreamSpec(
        title=stream.title,
        latency_mode=stream.latency_mode.value,
        playback_policy=stream.playback_policy.value,
        reconnect_window=stream.reconnect_window,
        max_continuous_duration=stream.max_continuous_duration,
        recording_enabled=stream.recording_enabled,
    )


def can_manage(actor: Principal | None, stream: Stream) -> bool:
    return actor is not None and (actor.is_admin or actor.user_id == str(stream.owner_id))


async def get_stream(stream_id: str) -> Stream | None:
    """The stream with this id, or ``None`` (also for a malformed id)."""
    return await Stream.get_or_none(id=stream_id) if is_uuid(stream_id) else None


async def existing_stream(stream_id: str) -> Stream:
    """The stream with this id, or ``NotFound``."""
    stream = await get_stream(stream_id)
    if stream is None:
        raise NotFound(f"stream {stream_id} does not exist")
    return stream


async def managed_stream(actor: Principal | None, stream_id: str) -> Stream:
    """The stream, if ``actor`` is its owner or an admin: ``Unauthenticated``, ``NotFound`` or ``Forbidden``."""
    actor = require_actor(actor)
    stream = await existing_stream(stream_id)
    if not can_manage(actor, stream):
        raise Forbidden("only the stream's owner or an admin may do this")
    return stream


async def create_stream(
    *, deps: Deps, actor: Principal | None, fields: StreamFields, provider: str = "local"
) -> Stream:
    """Create a ``SCHEDULED`` stream on ``provider`` owned by ``actor``.

    Per-owner limits (:mod:`livecast.domain.stream_quota`): ``ValidationFailed`` (no field) when the owner
    already has ``deps.max_open_streams_per_owner`` streams that are not over (admins exempt); ``RateLimited``
    (``retry_after`` seconds) past ``LIVECAST_STREAM_CREATE_RATE_LIMIT`` (everyone). Both before the provider
    is called; a stream refused at the final, locked count is removed from the provider again.
    """
    actor = require_actor(actor)
    values = validate_fields(fields, creating=True)
    values.setdefault("latency_mode", LatencyMode.STANDARD)
    values.setdefault("playback_policy", PlaybackPolicy.PUBLIC)
    draft = Stream(owner_id=actor.user_id, provider=provider, **values)
    adapter = _provider(deps, provider)
    await stream_quota.admit(deps=deps, actor=actor)
    try:
        provisioned = await adapter.create_stream(_spec(draft))
    except ProviderError as e:
        raise provider_failure(f"could not create the stream on {provider}", e) from e
    draft.provider_stream_id = provisioned.provider_stream_id
    draft.stream_key = provisioned.stream_key
    draft.stream_key_hash = key_hash(provisioned.stream_key)
    draft.playback_id = provisioned.playback_id
    draft.srt_passphrase = provisioned.srt_passphrase
    draft.status = StreamStatus.SCHEDULED
    try:
        await stream_quota.insert(deps=deps, actor=actor, stream=draft)
    except DomainError:
        with contextlib.suppress(ProviderError):  # best effort: a local stream has nothing to remove yet
            await adapter.delete_stream(stream_ref(draft))
        raise
    if provider == broadcast.PROVIDER:  # a LiveKit room gets its paired HLS stream
        await broadcast.pair(deps=deps, stream=draft)
    return draft


async def update_stream(*, deps: Deps, actor: Principal | None, stream_id: str, fields: StreamFields) -> Stream:
    """Change the given fields. Ingest settings cannot change while an encoder session is active."""
    stream = await managed_stream(actor, stream_id)
    values = validate_fields(fields, creating=False)
    if INGEST_SETTINGS & values.keys() and stream.status in lifecycle.ACTIVE | lifecycle.FINISHED:
        raise InvalidState(
            f"ingest settings can only change before the stream starts (it is {stream.status.value})",
            current_status=stream.status.value,
        )
    if "scheduled_at" in values and stream.status is not StreamStatus.SCHEDULED:
        raise InvalidState("only a SCHEDULED stream can be rescheduled", current_status=stream.status.value)
    if not values:
        return stream
    if "scheduled_at" in values and values["scheduled_at"] != stream.scheduled_at:
        values.update(schedule.UNSENT)  # a new start time gets its own reminders
    for name, value in values.items():
        setattr(stream, name, value)
    changed = [*values.keys()]
    if INGEST_SETTINGS & values.keys():
        try:
            new_playback_id = await _provider(deps, stream.provider).update_stream(stream_ref(stream), _spec(stream))
        except ProviderError as e:
            raise provider_failure("the provider refused the update", e) from e
        if new_playback_id and new_playback_id != stream.playback_id:  # Mux: a new policy, a new playback id
            stream.playback_id = new_playback_id
            changed.append("playback_id")
    await stream.save(update_fields=[*changed, "updated_at"])
    return stream


async def end_stream(*, deps: Deps, actor: Principal | None, stream_id: str) -> Stream:
    """End a stream that is preparing, live or reconnecting; the encoder is disconnected."""
    await managed_stream(actor, stream_id)
    return await finish(deps=deps, stream_id=stream_id, reason="ended by owner")


async def finish(
    *,
    deps: Deps,
    stream_id: str,
    reason: str,
    only_from: frozenset[StreamStatus] | None = None,
    when: Mapping[str, object] | None = None,
) -> Stream:
    """Move to ``ENDED`` (any trigger: person, ingest timer, worker) and tell the provider (``only_from`` and
    ``when`` as in :func:`livecast.domain.lifecycle.transition`)."""
    stream = await lifecycle.transition(
        bus=deps.bus, stream_id=stream_id, to=StreamStatus.ENDED, reason=reason, only_from=only_from, when=when
    )
    try:
        provider, ref = _provider(deps, stream.provider), stream_ref(stream)
        await provider.complete_stream(ref)
        await provider.set_enabled(ref, False)  # ENDED is final: the key refuses encoders (Mux "disable")
    except ProviderError:  # the stream is ended for livecast either way (no switch: ProviderNotSupported)
        pass
    if stream.provider == broadcast.PROVIDER:  # egress stops, the room is deleted later
        await broadcast.on_finished(deps=deps, stream=stream)
    return stream


async def cancel_stream(*, deps: Deps, actor: Principal | None, stream_id: str) -> Stream:
    """Cancel a stream that has not started (``SCHEDULED`` → ``CANCELLED``)."""
    await managed_stream(actor, stream_id)
    return await lifecycle.transition(
        bus=deps.bus, stream_id=stream_id, to=StreamStatus.CANCELLED, reason="cancelled by owner"
    )


async def reset_stream_key(*, deps: Deps, actor: Principal | None, stream_id: str) -> Stream:
    """Mint a new stream key; the old key stops working for new publishes at once."""
    stream = await managed_stream(actor, stream_id)
    if stream.status in lifecycle.FINISHED:
        raise InvalidState(
            f"stream is {stream.status.value}; its key cannot be reset", current_status=stream.status.value
        )
    try:
        new_key = await _provider(deps, stream.provider).reset_stream_key(stream_ref(stream))
    except ProviderError as e:
        raise provider_failure("the provider could not reset the key", e) from e
    stream.stream_key, stream.stream_key_hash = new_key, key_hash(new_key)
    await stream.save(update_fields=["stream_key", "stream_key_hash", "updated_at"])
    return stream


async def delete_stream(*, deps: Deps, actor: Principal | None, stream_id: str) -> str:
    """Delete a stream that is not running (end it first); returns its id."""
    stream = await managed_stream(actor, stream_id)
    if stream.status in lifecycle.ACTIVE:
        raise InvalidState(
            f"stream is {stream.status.value}; end it before deleting it", current_status=stream.status.value
        )
    try:
        await _provider(deps, stream.provider).delete_stream(stream_ref(stream))
    except ProviderError as e:
        raise provider_failure("the provider could not delete the stream", e) from e
    if stream.provider == broadcast.PROVIDER:
        await broadcast.release(deps=deps, stream=stream)
    async with in_transaction():
        await Stream.filter(id=stream.id).delete()
    return str(stream.id)


def ingest_endpoints(*, deps: Deps, stream: Stream) -> IngestEndpoints:
    return _provider(deps, stream.provider).ingest_endpoints(stream_ref(stream))


def playback(*, deps: Deps, stream: Stream) -> PlaybackInfo:
    return _provider(deps, stream.provider).playback(stream_ref(stream))


@dataclass(frozen=True)
class Page:
    items: list[Stream]
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return encode_cursor(self.items[-1]) if self.items else None


def encode_cursor(stream: Stream) -> str:
    raw = f"{stream.created_at.isoformat()}|{stream.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, _, stream_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), str(uuid.UUID(stream_id))
    except (ValueError, binascii.Error, UnicodeDecodeError) as e:
        raise ValidationFailed("after is not a cursor returned by this API", field="after") from e


async def list_streams(*, status: StreamStatus | None, first: int, after: str | None) -> Page:
    """Streams newest first (keyset pagination on ``(created_at, id)``); ``first`` is 1-100."""
    if not 1 <= first <= MAX_PAGE:
        raise ValidationFailed(f"first must be between 1 and {MAX_PAGE}", field="first")
    query = Stream.all()
    if status is not None:
        query = query.filter(status=status)
    if after:
        created, last_id = _decode_cursor(after)
        query = query.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=last_id))
    rows = await query.order_by("-created_at", "-id").limit(first + 1)
    return Page(items=rows[:first], has_next_page=len(rows) > first)


def _provider(deps: Deps, name: str):
    try:
        return deps.providers.get(name)
    except ProviderError as e:
        raise ValidationFailed(e.message, field="provider") from e
