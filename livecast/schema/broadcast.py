"""LiveKit broadcasts: ``createBroadcastToken`` (publish) and ``createViewerToken`` (subscribe-only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from livecast.providers.livekit.ports import RoomToken as RoomTokenData
from livecast.resolvers import broadcast as resolve
from livecast.schema.context import Info
from livecast.schema.errors import (
    ForbiddenError,
    InvalidStateError,
    NotFoundError,
    ProviderError,
    UnauthenticatedError,
    ValidationError,
)
from livecast.schema.results import as_result


@strawberry.type(description="A LiveKit access token for one room: connect a LiveKit client SDK to `url` with it.")
class RoomToken:
    token: str = strawberry.field(description="HS256 JWT with a video grant for `room` only.")
    url: str = strawberry.field(description="The LiveKit server URL (`wss://...`).")
    room: str
    identity: str = strawberry.field(description="The participant identity the token joins as.")
    can_publish: bool = strawberry.field(description="True for a broadcast token, false for a viewer token.")
    expires_at: datetime = strawberry.field(description="When the token stops working (UTC).")

    @classmethod
    def of(cls, t: RoomTokenData) -> RoomToken:
        return cls(
            token=t.token, url=t.url, room=t.room, identity=t.identity, can_publish=t.can_publish,
            expires_at=t.expires_at,
        )  # fmt: skip


RoomTokenResult = Annotated[
    RoomToken
    | ValidationError
    | NotFoundError
    | ForbiddenError
    | UnauthenticatedError
    | InvalidStateError
    | ProviderError,
    strawberry.union("RoomTokenResult"),
]


@strawberry.type
class BroadcastMutation:
    @strawberry.mutation(
        description="Publish token for a `livekit` stream's room (owner or admin): join, publish, subscribe, data. "
        "VALIDATION (field `streamId`) for another provider, INVALID_STATE once the stream is over. "
        "Lifetime: LIVECAST_LIVEKIT_TOKEN_TTL_SECONDS."
    )
    async def create_broadcast_token(self, info: Info, stream_id: strawberry.ID) -> RoomTokenResult:
        return await as_result(resolve.broadcast_token(info.context, str(stream_id)), RoomToken.of)

    @strawberry.mutation(
        description="Subscribe-only token for a `livekit` stream's room (any signed-in user; UNAUTHENTICATED "
        "otherwise): watch over WebRTC, e.g. when `playback.fallback` is set. Cannot publish tracks or data."
    )
    async def create_viewer_token(self, info: Info, stream_id: strawberry.ID) -> RoomTokenResult:
        return await as_result(resolve.viewer_token(info.context, str(stream_id)), RoomToken.of)
