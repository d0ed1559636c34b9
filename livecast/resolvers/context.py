"""The per-request context resolvers receive: caller, per-request DataLoaders and domain dependencies.

Built fresh for every HTTP request and every websocket connection (never shared), so DataLoader caches do
not leak across requests or users.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from livecast.domain import broadcast, chat, moderation, monitoring, reactions, simulcast, users
from livecast.domain.auth import Authenticator, Principal
from livecast.domain.chat_models import ChatRoom
from livecast.domain.deps import Deps
from livecast.domain.errors import Unauthenticated
from livecast.domain.models import User
from livecast.domain.provider_models import Broadcast, SimulcastTarget


@dataclass
class Loaders:
    users: DataLoader[str, User | None] = field(default_factory=lambda: DataLoader(load_fn=users.users_by_ids))
    chat_rooms: DataLoader[str, ChatRoom] = field(
        default_factory=lambda: DataLoader(load_fn=moderation.rooms_by_stream_ids)  # type: ignore[arg-type]
    )
    health: DataLoader[str, monitoring.HealthState] = field(
        default_factory=lambda: DataLoader(load_fn=monitoring.health_states)  # type: ignore[arg-type]
    )
    simulcast_targets: DataLoader[str, list[SimulcastTarget]] = field(
        default_factory=lambda: DataLoader(load_fn=simulcast.targets_by_stream_ids)  # type: ignore[arg-type]
    )
    broadcasts: DataLoader[str, Broadcast | None] = field(
        default_factory=lambda: DataLoader(load_fn=broadcast.broadcasts_by_stream_ids)  # type: ignore[arg-type]
    )
    pinned_messages: DataLoader[str, chat.ChatMessageView | None] = field(
        default_factory=lambda: DataLoader(load_fn=chat.pinned_messages)  # type: ignore[arg-type]
    )
    moderators: DataLoader[str, list[User]] = field(
        default_factory=lambda: DataLoader(load_fn=moderation.moderators_by_stream_ids)  # type: ignore[arg-type]
    )
    moderator_pairs: DataLoader[tuple[str, str], bool] = field(
        default_factory=lambda: DataLoader(load_fn=moderation.moderator_pairs)  # type: ignore[arg-type]
    )
    """Keyed by (user id, stream id): whether the user moderates the stream."""
    reaction_counts: DataLoader[str, dict[str, int]] = field(
        default_factory=lambda: DataLoader(load_fn=reactions.reaction_counts)  # type: ignore[arg-type]
    )


@dataclass
class RequestContext:
    deps: Deps
    principal: Principal | None = None
    auth_error: str | None = None
    """Why the token sent was refused (invalid, expired, revoked, user gone): anonymous reads still work, and
    whatever needs the caller raises a new ``Unauthenticated`` with this message (:attr:`actor`)."""
    loaders: Loaders = field(default_factory=Loaders)
    connection_params: object = None
    """The websocket ``connection_init`` payload (set by Strawberry), if any."""
    _recheck: tuple[Authenticator, str, float] | None = None
    """Long-lived connections: (authenticator, ``Authorization`` value, when it was checked) for :meth:`recheck`."""

    @property
    def actor(self) -> Principal | None:
        """The caller for a command; raises ``Unauthenticated`` (a fresh exception each time: a raised
        exception keeps the frames it passed through) for a refused token instead of pretending to be anonymous."""
        if self.auth_error is not None:
            raise Unauthenticated(self.auth_error)
        return self.principal

    async def sign_in(self, authenticator: Authenticator, authorization: str | None, *, long_lived: bool) -> None:
        """Resolve the caller from an ``Authorization: Bearer <token>`` value (``None``: anonymous). A refused
        token leaves the request anonymous with :attr:`auth_error` set. ``long_lived`` (websockets): remember
        the value so that :meth:`recheck` can resolve it again."""
        try:
            self.principal, self.auth_error = await authenticator.from_header(authorization), None
        except Unauthenticated as e:
            self.principal, self.auth_error = None, e.message
        self._recheck = (authenticator, authorization, authenticator.clock()) if long_lived and authorization else None

    async def recheck(self) -> None:
        """Before each operation: on a long-lived connection whose caller was resolved longer ago than the
        authenticator's cache lifetime, resolve it again, so a role change, a deleted user or a revoked token
        reaches open websockets as it reaches new requests. No-op for HTTP requests and anonymous connections."""
        if self._recheck is not None and self._recheck[0].is_stale(self._recheck[2]):
            await self.sign_in(self._recheck[0], self._recheck[1], long_lived=True)
