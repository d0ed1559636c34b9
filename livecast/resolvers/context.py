"""The per-request context resolvers receive: caller, per-request DataLoaders and domain dependencies.

Built fresh for every HTTP request and every websocket connection (never shared), so DataLoader caches do
not leak across requests or users.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from livecast.domain import broadcast, chat, moderation, monitoring, reactions, simulcast, users
from livecast.domain.chat_models import ChatRoom
from livecast.domain.auth import Principal
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
    auth_error: Unauthenticated | None = None
    """Set when a token was sent but is invalid or expired: anonymous reads still work, writes report it."""
    loaders: Loaders = field(default_factory=Loaders)
    connection_params: object = None
    """The websocket ``connection_init`` payload (set by Strawberry), if any."""

    @property
    def actor(self) -> Principal | None:
        """The caller for a command; raises the token's problem instead of pretending to be anonymous."""
        if self.auth_error is not None:
            raise self.auth_error
        return self.principal
