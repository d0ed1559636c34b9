"""Playback: the ``Playback`` type of ``Stream.playback`` (where players read a stream) and its ``PlaybackSession``
(what playback beacons carry); signed playback's ``createPlaybackToken`` mutation and its ``PlaybackToken``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from graphql import OperationType

from livecast.domain.playback import IssuedToken
from livecast.domain.playback_sessions import PlaybackSession as Session
from livecast.resolvers import playback as resolve
from livecast.schema.context import Info
from livecast.schema.enums import PlaybackPolicy
from livecast.schema.errors import NotFoundError, ProviderError, UnauthenticatedError, ValidationError
from livecast.schema.results import as_result


@strawberry.type(
    description="A short-lived token to watch a SIGNED stream. Play `hlsUrl` as is; ask again before "
    "`expiresAt` (a live player reloads the playlist with the same URL, which then fails)."
)
class PlaybackToken:
    token: str = strawberry.field(description="The signed token (a JWT: local HS256, Mux RS256).")
    expires_at: datetime = strawberry.field(description="When the token stops working (UTC).")
    hls_url: str = strawberry.field(description="The stream's HLS playlist URL (RFC 8216) carrying the token.")

    @classmethod
    def of(cls, issued: IssuedToken) -> PlaybackToken:
        return cls(token=issued.token, expires_at=issued.expires_at, hls_url=issued.hls_url)


@strawberry.type(
    description="One player's playback session: every playback beacon sends `id` as `sessionId` and `token` as "
    "`sessionToken` (see the README). A beacon accepted after half the token's lifetime is answered with a fresh "
    "token for the same session (HTTP 200 `{sessionToken, expiresAt}`); use it from then on."
)
class PlaybackSession:
    id: strawberry.ID = strawberry.field(description="The session id (server-generated; one per player).")
    token: str = strawberry.field(
        description="Signed for this stream and session until `expiresAt` (HMAC-SHA256; opaque to players)."
    )
    expires_at: datetime = strawberry.field(
        description="When the token stops being accepted (UTC); LIVECAST_PLAYBACK_SESSION_TTL_SECONDS after issue."
    )

    @classmethod
    def of(cls, session: Session) -> PlaybackSession:
        return cls(id=strawberry.ID(session.id), token=session.token, expires_at=session.expires_at)


@strawberry.type(description="Where players read the stream.")
class Playback:
    hls_url: str = strawberry.field(
        description="HLS playlist URL (RFC 8216), `.m3u8`. A SIGNED stream refuses it bare (HTTP 403): play "
        "`createPlaybackToken`'s `hlsUrl` instead."
    )
    policy: PlaybackPolicy
    beacon_url: str = strawberry.field(
        description="POST playback beacons here every ~5 s while the player is open (JSON; see the README)."
    )
    fallback: str | None = strawberry.field(
        default=None,
        description="A second way to watch while `hlsUrl` is unavailable; LiveKit streams whose egress failed: "
        "`<LiveKit wss URL>?room=<room>`, join it with `createViewerToken` (WebRTC). Null otherwise.",
    )
    stream_id: strawberry.Private[str] = ""

    @strawberry.field(
        description="A new playback session for one player (each read opens another: read it once per player), "
        "whose id and token its beacons carry; only beacons with a valid token count as a viewer. Null in "
        "subscriptions (results there may be shared between viewers): ask with a query."
    )
    def session(self, info: Info) -> PlaybackSession | None:
        if info.operation.operation is OperationType.SUBSCRIPTION:
            return None
        return PlaybackSession.of(resolve.open_session(info.context, self.stream_id))


PlaybackTokenResult = Annotated[
    PlaybackToken | ValidationError | NotFoundError | UnauthenticatedError | ProviderError,
    strawberry.union("PlaybackTokenResult"),
]


@strawberry.type
class PlaybackMutation:
    @strawberry.mutation(
        description="A playback token for a SIGNED stream; any signed-in user may watch (UNAUTHENTICATED otherwise). "
        "A PUBLIC stream needs none (VALIDATION, field `streamId`). Lifetime: LIVECAST_PLAYBACK_TOKEN_TTL_SECONDS."
    )
    async def create_playback_token(self, info: Info, stream_id: strawberry.ID) -> PlaybackTokenResult:
        return await as_result(resolve.create_playback_token(info.context, str(stream_id)), PlaybackToken.of)
