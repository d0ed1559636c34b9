"""LiveKit room tokens for a ``livekit`` stream: publish (the broadcaster) and subscribe-only (viewers).

Tokens are HS256 JWTs minted by the LiveKit adapter (video grant for the stream's room only, valid
``LIVECAST_LIVEKIT_TOKEN_TTL_SECONDS``). Viewer tokens need a signed-in user (a LiveKit participant costs
server capacity, so it is not handed to anonymous callers; anonymous viewers watch HLS). Each viewer token has
its own identity (``viewer-<user id>-<random>``): LiveKit disconnects a participant whose identity joins again,
so two tabs of one user must not share one.
"""

from __future__ import annotations

import secrets

from livecast.domain import lifecycle
from livecast.domain.auth import Principal, require_actor
from livecast.domain.broadcast_egress import PROVIDER, rooms
from livecast.domain.deps import Deps
from livecast.domain.errors import InvalidState, ValidationFailed, provider_failure
from livecast.domain.models import Stream
from livecast.domain.streams import existing_stream, managed_stream
from livecast.providers.base import ProviderError
from livecast.providers.livekit.ports import RoomToken


def _room(stream: Stream) -> str:
    if stream.provider != PROVIDER or not stream.provider_stream_id:
        raise ValidationFailed("this stream is not a LiveKit stream", field="streamId")
    if stream.status in lifecycle.FINISHED:
        raise InvalidState(f"stream is {stream.status.value}; its room is closed", current_status=stream.status.value)
    return stream.provider_stream_id


async def broadcast_token(*, deps: Deps, actor: Principal | None, stream_id: str) -> RoomToken:
    """A publish token for the stream's room (owner or admin): ``Unauthenticated``, ``NotFound``,
    ``Forbidden``, ``ValidationFailed`` (not a LiveKit stream), ``InvalidState`` (finished), ``ProviderFailed``."""
    stream = await managed_stream(actor, stream_id)
    room = _room(stream)
    assert actor is not None
    try:
        return rooms(deps).publish_token(room, f"host-{actor.user_id}", name=actor.name)
    except ProviderError as e:
        raise provider_failure("could not mint a LiveKit token", e) from e


async def viewer_token(*, deps: Deps, actor: Principal | None, stream_id: str) -> RoomToken:
    """A subscribe-only token for the stream's room (any signed-in user); errors as :func:`broadcast_token`."""
    actor = require_actor(actor)
    room = _room(await existing_stream(stream_id))
    try:
        return rooms(deps).subscribe_token(room, f"viewer-{actor.user_id}-{secrets.token_hex(3)}", name=actor.name)
    except ProviderError as e:
        raise provider_failure("could not mint a LiveKit token", e) from e
