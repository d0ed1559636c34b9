"""Simulcast targets: restream a stream to other RTMP(S) destinations (YouTube, Twitch, ...) via its provider.

Only the stream's owner or an admin manages them. The destination's stream key is a secret: stored, passed to
the provider, never returned. Provider failures become ``ProviderFailed`` / ``ProviderDown`` (nothing stored);
providers without simulcast (the local pipeline) answer ``ProviderNotSupported`` → ``PROVIDER_ERROR``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from livecast.domain import lifecycle, streams
from livecast.domain.auth import Principal
from livecast.domain.deps import Deps
from livecast.domain.errors import InvalidState, NotFound, ValidationFailed, provider_failure
from livecast.domain.provider_models import SimulcastStatus, SimulcastTarget
from livecast.domain.urls import public_url
from livecast.providers.base import ProviderError

KEY_MAX = 512
SCHEMES = ("rtmp", "rtmps")


def _url(value: str) -> str:
    """An rtmp(s) URL on a public host (``urls.public_url``); Mux takes it as the target's ``url``."""
    return public_url(value, field="url", schemes=SCHEMES)


def _key(value: str) -> str:
    key = value.strip()
    if not key or len(key) > KEY_MAX or any(c.isspace() for c in key):
        raise ValidationFailed(f"streamKey must be 1-{KEY_MAX} characters without spaces", field="streamKey")
    return key


async def targets_by_stream_ids(stream_ids: list[str]) -> list[list[SimulcastTarget]]:
    """DataLoader batch: each stream's targets (oldest first), in the order of ``stream_ids``; one query."""
    rows = await SimulcastTarget.filter(stream_id__in=stream_ids).order_by("created_at", "id")
    by_stream: dict[str, list[SimulcastTarget]] = defaultdict(list)
    for row in rows:
        by_stream[str(row.stream_id)].append(row)
    return [by_stream.get(str(stream_id), []) for stream_id in stream_ids]


async def add_target(
    *, deps: Deps, actor: Principal | None, stream_id: str, url: str, stream_key: str
) -> SimulcastTarget:
    """Add a destination to a stream that has not finished; the provider restreams to it while live."""
    stream = await streams.managed_stream(actor, stream_id)
    url, stream_key = _url(url), _key(stream_key)
    if stream.status in lifecycle.FINISHED:
        status = stream.status.value
        raise InvalidState(f"stream is {status}; it cannot get simulcast targets", current_status=status)
    try:
        added = await deps.providers.get(stream.provider).add_simulcast_target(
            streams.stream_ref(stream), url=url, stream_key=stream_key
        )
    except ProviderError as e:
        raise provider_failure("could not add the simulcast target", e) from e
    return await SimulcastTarget.create(
        stream_id=stream.id, provider_target_id=added.id, url=url, stream_key=stream_key,
        status=_status(added.status),
    )  # fmt: skip


async def remove_target(*, deps: Deps, actor: Principal | None, stream_id: str, target_id: str) -> str:
    """Remove a destination (the provider stops restreaming to it); returns its id."""
    stream = await streams.managed_stream(actor, stream_id)
    target = await _existing(str(stream.id), target_id)
    if target.provider_target_id:
        try:
            await deps.providers.get(stream.provider).remove_simulcast_target(
                streams.stream_ref(stream), target.provider_target_id
            )
        except ProviderError as e:
            raise provider_failure("could not remove the simulcast target", e) from e
    await SimulcastTarget.filter(id=target.id).delete()
    return str(target.id)


async def set_target_status(
    *, stream_id: str, provider_target_id: str, status: str, error: str | None = None
) -> SimulcastTarget | None:
    """Record a provider-reported status (``IDLE | STARTING | BROADCASTING | ERRORED``, any case) of one of the
    stream's targets, from a ``video.live_stream.simulcast_target.*`` webhook (:mod:`.webhook_rules`); ``None``
    if the stream has no target with this provider id."""
    target = await SimulcastTarget.get_or_none(stream_id=stream_id, provider_target_id=provider_target_id)
    if target is None:
        return None
    target.status, target.error = _status(status), error
    await target.save(update_fields=["status", "error", "updated_at"])
    return target


async def _existing(stream_id: str, target_id: str) -> SimulcastTarget:
    try:
        uuid.UUID(str(target_id))
    except ValueError:
        target = None
    else:
        target = await SimulcastTarget.get_or_none(id=target_id, stream_id=stream_id)
    if target is None:
        raise NotFound(f"simulcast target {target_id} does not exist on stream {stream_id}")
    return target


def _status(value: str) -> SimulcastStatus:
    try:
        return SimulcastStatus(value.upper())
    except ValueError:
        return SimulcastStatus.IDLE
