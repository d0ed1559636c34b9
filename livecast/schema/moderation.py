"""Moderation and community: moderators, bans, chat settings, the moderation log, follows and members."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry

from livecast.domain import chat_models
from livecast.domain.moderation import ChatSettingsChange
from livecast.resolvers import chat as resolve
from livecast.schema.context import Info
from livecast.schema.errors import ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError
from livecast.schema.results import as_result, relay_errors
from livecast.schema.users import User

ChatMode = strawberry.enum(
    chat_models.ChatMode, name="ChatMode",
    description="OPEN: anyone signed in. FOLLOWERS: followers of the owner. SUBSCRIBERS: the owner's members.",
)  # fmt: skip


@strawberry.type(description="Chat settings of a stream. `blockedWords` is visible to moderators only (else null).")
class ChatSettings:
    stream_id: strawberry.ID
    slow_mode_seconds: int = strawberry.field(description="Seconds between two messages of a user; 0 is off.")
    mode: ChatMode
    emote_only: bool
    blocked_words: list[str] | None
    chat_enabled: bool
    reactions_enabled: bool


@strawberry.input
class ChatSettingsInput:
    slow_mode_seconds: int | None = strawberry.field(default=None, description="0-3600 seconds; 0 turns it off.")
    mode: ChatMode | None = None
    emote_only: bool | None = None
    blocked_words: list[str] | None = strawberry.field(
        default=None, description="Replaces the list (case-insensitive whole words)."
    )
    chat_enabled: bool | None = None
    reactions_enabled: bool | None = None


@strawberry.type(description="A ban (no `until`) or a timeout of a user in a stream's chat and reactions.")
class ChatBan:
    stream_id: strawberry.ID
    user_id: strawberry.ID
    until: datetime | None
    reason: str


@strawberry.type(description="Who did what to whom in a stream's chat, and when.")
class ModerationEntry:
    action: str = strawberry.field(
        description="ADD_MODERATOR, REMOVE_MODERATOR, BAN, TIMEOUT, UNBAN, DELETE_MESSAGE, PIN, UNPIN, SETTINGS."
    )
    actor_id: strawberry.ID
    target_user_id: strawberry.ID | None
    detail: str
    at: datetime


UserResult = Annotated[
    User | ValidationError | NotFoundError | ForbiddenError | UnauthenticatedError, strawberry.union("UserResult")
]
BanResult = Annotated[
    ChatBan | ValidationError | NotFoundError | ForbiddenError | UnauthenticatedError, strawberry.union("BanResult")
]
ChatSettingsResult = Annotated[
    ChatSettings | ValidationError | NotFoundError | ForbiddenError | UnauthenticatedError,
    strawberry.union("ChatSettingsResult"),
]


def settings_of(
    room: chat_models.ChatRoom, *, chat_enabled: bool, reactions_enabled: bool, moderator: bool
) -> ChatSettings:
    return ChatSettings(
        stream_id=strawberry.ID(str(room.stream_id)), slow_mode_seconds=room.slow_mode_seconds, mode=room.mode,
        emote_only=room.emote_only, blocked_words=list(room.blocked_words) if moderator else None,
        chat_enabled=chat_enabled, reactions_enabled=reactions_enabled,
    )  # fmt: skip


def _ban(b: chat_models.ChatBan) -> ChatBan:
    return ChatBan(
        stream_id=strawberry.ID(str(b.stream_id)), user_id=strawberry.ID(str(b.user_id)), until=b.until, reason=b.reason
    )


def _user(u: object) -> User:
    return User.from_model(u)  # type: ignore[arg-type]


def _entry(actor_id: str, action: str, target_user_id: str | None, detail: str, at: datetime) -> ModerationEntry:
    target = strawberry.ID(target_user_id) if target_user_id else None
    return ModerationEntry(action=action, actor_id=strawberry.ID(actor_id), target_user_id=target, detail=detail, at=at)


@strawberry.type
class ModerationSubscription:
    @strawberry.subscription(
        description="Moderation actions of a stream as they happen (moderators, owner, admins). Each is in "
        "`moderationLog` before it is sent; after EVENTS_MISSED, read the log, then subscribe again."
    )
    async def moderation_actions(self, info: Info, stream_id: strawberry.ID) -> AsyncGenerator[ModerationEntry, None]:
        async with relay_errors():
            async for e in resolve.follow_moderation(info.context, str(stream_id)):
                yield _entry(e.actor_id, e.action, e.target_user_id, e.detail, datetime.fromisoformat(e.at))


@strawberry.type
class ModerationQuery:
    @strawberry.field(description="Latest moderation actions of a stream, newest first (moderators, owner, admins).")
    async def moderation_log(self, info: Info, stream_id: strawberry.ID, first: int = 50) -> list[ModerationEntry]:
        async with relay_errors():
            rows = await resolve.moderation_log(info.context, str(stream_id), first)
        return [
            _entry(
                str(r.actor_id), r.action, str(r.target_user_id) if r.target_user_id else None, r.detail, r.created_at
            )
            for r in rows
        ]


@strawberry.type
class ModerationMutation:
    @strawberry.mutation(description="Make a user a moderator of the stream (owner or admin).")
    async def add_moderator(self, info: Info, stream_id: strawberry.ID, user_id: strawberry.ID) -> UserResult:
        return await as_result(resolve.add_moderator(info.context, str(stream_id), str(user_id)), _user)

    @strawberry.mutation
    async def remove_moderator(self, info: Info, stream_id: strawberry.ID, user_id: strawberry.ID) -> UserResult:
        return await as_result(resolve.remove_moderator(info.context, str(stream_id), str(user_id)), _user)

    @strawberry.mutation(
        description="Ban a user from the stream's chat and reactions; with `duration` (seconds) a timeout."
    )
    async def ban_user(
        self,
        info: Info,
        stream_id: strawberry.ID,
        user_id: strawberry.ID,
        duration: int | None = None,
        reason: str = "",
    ) -> BanResult:
        return await as_result(resolve.ban_user(info.context, str(stream_id), str(user_id), duration, reason), _ban)

    @strawberry.mutation
    async def unban_user(self, info: Info, stream_id: strawberry.ID, user_id: strawberry.ID) -> UserResult:
        return await as_result(resolve.unban_user(info.context, str(stream_id), str(user_id)), _user)

    @strawberry.mutation(description="Change chat settings (moderators, owner, admins); omitted fields stay.")
    async def set_chat_settings(
        self, info: Info, stream_id: strawberry.ID, input: ChatSettingsInput
    ) -> ChatSettingsResult:
        change = ChatSettingsChange(
            slow_mode_seconds=input.slow_mode_seconds, mode=input.mode, emote_only=input.emote_only,
            blocked_words=input.blocked_words, chat_enabled=input.chat_enabled, reactions_enabled=input.reactions_enabled,
        )  # fmt: skip
        sid = str(stream_id)

        async def apply() -> ChatSettings:
            room = await resolve.set_chat_settings(info.context, sid, change)
            return await resolve_settings(info, sid, room)

        return await as_result(apply(), lambda s: s)

    @strawberry.mutation(description="Follow a user's channel (for followers-only chats).")
    async def follow_user(self, info: Info, user_id: strawberry.ID) -> UserResult:
        return await as_result(resolve.follow(info.context, str(user_id), True), _user)

    @strawberry.mutation
    async def unfollow_user(self, info: Info, user_id: strawberry.ID) -> UserResult:
        return await as_result(resolve.follow(info.context, str(user_id), False), _user)

    @strawberry.mutation(description="Make a user a member (subscriber) of your channel, until `expiresAt` if given.")
    async def add_member(self, info: Info, user_id: strawberry.ID, expires_at: datetime | None = None) -> UserResult:
        return await as_result(resolve.set_membership(info.context, str(user_id), True, expires_at), _user)

    @strawberry.mutation
    async def remove_member(self, info: Info, user_id: strawberry.ID) -> UserResult:
        return await as_result(resolve.set_membership(info.context, str(user_id), False, None), _user)


async def resolve_settings(info: Info, stream_id: str, room: chat_models.ChatRoom | None = None) -> ChatSettings:
    """The stream's chat settings as the caller may see them."""
    view = await resolve.chat_settings(info.context, stream_id, room)
    return settings_of(
        view.room, chat_enabled=view.chat_enabled, reactions_enabled=view.reactions_enabled, moderator=view.moderator
    )
