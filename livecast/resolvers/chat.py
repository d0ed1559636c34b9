"""Chat, reaction and moderation resolvers: each calls one domain service with the caller and the deps."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from livecast.domain import chat, chat_feed, community, moderation, reactions
from livecast.domain.chat_models import ChatBan, ChatRoom, ModerationLog
from livecast.domain.events import ModerationAction, ReactionPosted
from livecast.domain.models import Stream, User
from livecast.resolvers.context import RequestContext


async def send_message(ctx: RequestContext, stream_id: str, content: str) -> chat.ChatMessageView:
    return await chat.send_message(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id, content=content)


async def delete_message(ctx: RequestContext, message_id: str) -> chat.ChatMessageView:
    return await chat.delete_message(deps=ctx.deps, actor=ctx.actor, message_id=message_id)


async def set_pinned(ctx: RequestContext, message_id: str, pinned: bool) -> chat.ChatMessageView:
    return await chat.set_pinned(deps=ctx.deps, actor=ctx.actor, message_id=message_id, pinned=pinned)


async def history(
    ctx: RequestContext, stream_id: str, first: int, after: int | None, before: int | None
) -> chat.ChatPage:
    return await chat.history(stream_id=stream_id, first=first, after=after, before=before)


async def send_reaction(ctx: RequestContext, stream_id: str, emoji: str, x: float, y: float) -> ReactionPosted:
    return await reactions.send_reaction(
        deps=ctx.deps, actor=ctx.actor, stream_id=stream_id, emoji=emoji, position_x=x, position_y=y
    )


async def add_moderator(ctx: RequestContext, stream_id: str, user_id: str) -> User:
    return await moderation.add_moderator(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id, user_id=user_id)


async def remove_moderator(ctx: RequestContext, stream_id: str, user_id: str) -> User:
    return await moderation.remove_moderator(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id, user_id=user_id)


async def ban_user(ctx: RequestContext, stream_id: str, user_id: str, duration: int | None, reason: str) -> ChatBan:
    return await moderation.ban_user(
        deps=ctx.deps, actor=ctx.actor, stream_id=stream_id, user_id=user_id, duration_seconds=duration, reason=reason
    )


async def unban_user(ctx: RequestContext, stream_id: str, user_id: str) -> User:
    return await moderation.unban_user(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id, user_id=user_id)


async def set_chat_settings(ctx: RequestContext, stream_id: str, change: moderation.ChatSettingsChange) -> ChatRoom:
    return await moderation.set_chat_settings(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id, change=change)


async def moderation_log(ctx: RequestContext, stream_id: str, first: int) -> list[ModerationLog]:
    return await moderation.moderation_log(actor=ctx.actor, stream_id=stream_id, limit=first)


async def follow(ctx: RequestContext, user_id: str, following: bool) -> User:
    command = community.follow if following else community.unfollow
    return await command(actor=ctx.actor, channel_owner_id=user_id)


async def set_membership(ctx: RequestContext, user_id: str, member: bool, expires_at: datetime | None) -> User:
    actor = ctx.actor
    channel = actor.user_id if actor else ""
    if member:
        return await community.set_membership(
            actor=actor, channel_owner_id=channel, member_id=user_id, expires_at=expires_at
        )
    return await community.remove_membership(actor=actor, channel_owner_id=channel, member_id=user_id)


def follow_chat(
    ctx: RequestContext, stream_id: str, after_sequence: int | None
) -> AsyncIterator[list[chat_feed.ChatItem]]:
    return chat_feed.chat_feed(deps=ctx.deps, stream_id=stream_id, after_sequence=after_sequence)


def follow_reactions(ctx: RequestContext, stream_id: str) -> AsyncIterator[list[ReactionPosted]]:
    return chat_feed.reaction_feed(deps=ctx.deps, stream_id=stream_id)


def follow_moderation(ctx: RequestContext, stream_id: str) -> AsyncIterator[ModerationAction]:
    return moderation.action_feed(deps=ctx.deps, actor=ctx.actor, stream_id=stream_id)


async def chat_settings(
    ctx: RequestContext, stream_id: str, room: ChatRoom | None = None
) -> moderation.ChatSettingsView:
    return await moderation.chat_settings(ctx.principal, stream_id, room)


async def chat_room(ctx: RequestContext, stream_id: str) -> ChatRoom:
    return await ctx.loaders.chat_rooms.load(stream_id)


async def pinned_message(ctx: RequestContext, stream_id: str) -> chat.ChatMessageView | None:
    return await ctx.loaders.pinned_messages.load(stream_id)


async def reaction_counts(ctx: RequestContext, stream_id: str) -> dict[str, int]:
    return await ctx.loaders.reaction_counts.load(stream_id)


async def moderators(ctx: RequestContext, stream_id: str) -> list[User]:
    return await ctx.loaders.moderators.load(stream_id)


async def stream_chat_settings(ctx: RequestContext, stream: Stream) -> moderation.ChatSettingsView:
    """:func:`chat_settings` for a stream already loaded (a list of streams: one query per loader, not per stream)."""

    async def listed(user_id: str, stream_id: str) -> bool:
        return await ctx.loaders.moderator_pairs.load((user_id, stream_id))

    room = await ctx.loaders.chat_rooms.load(str(stream.id))
    moderator = await moderation.can_moderate(ctx.principal, stream, listed=listed)
    return moderation.settings_view(stream, room, moderator=moderator)
