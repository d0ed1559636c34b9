"""Followers and members (subscribers) of a channel: what the FOLLOWERS and SUBSCRIBERS chat modes check.

A channel is a user (the owner of streams). Anyone signed in may follow a channel; the channel's owner (or an
admin) grants membership, optionally until a date (e.g. the end of a paid period).
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.expressions import Q

from livecast.domain.auth import Principal, require_actor
from livecast.domain.chat_models import ChatMode, Follow, Membership
from livecast.domain.errors import Forbidden, ValidationFailed
from livecast.domain.models import User
from livecast.domain.users import existing_user


async def follow(*, actor: Principal | None, channel_owner_id: str) -> User:
    """Follow a channel (idempotent). Raises ``ValidationFailed`` for one's own channel."""
    actor = require_actor(actor)
    owner = await existing_user(channel_owner_id)
    if str(owner.id) == actor.user_id:
        raise ValidationFailed("you cannot follow your own channel", field="userId")
    await Follow.bulk_create([Follow(follower_id=actor.user_id, channel_owner_id=owner.id)], ignore_conflicts=True)
    return owner


async def unfollow(*, actor: Principal | None, channel_owner_id: str) -> User:
    actor = require_actor(actor)
    owner = await existing_user(channel_owner_id)
    await Follow.filter(follower_id=actor.user_id, channel_owner_id=owner.id).delete()
    return owner


async def set_membership(
    *, actor: Principal | None, channel_owner_id: str, member_id: str, expires_at: datetime | None
) -> User:
    """Make ``member_id`` a member of the channel until ``expires_at`` (``None``: no end). Owner or admin."""
    actor = require_actor(actor)
    if not (actor.is_admin or actor.user_id == channel_owner_id):
        raise Forbidden("only the channel's owner or an admin may grant membership")
    member = await existing_user(member_id)
    await existing_user(channel_owner_id)
    await Membership.filter(member_id=member.id, channel_owner_id=channel_owner_id).delete()
    await Membership.create(member_id=member.id, channel_owner_id=channel_owner_id, expires_at=expires_at)
    return member


async def remove_membership(*, actor: Principal | None, channel_owner_id: str, member_id: str) -> User:
    actor = require_actor(actor)
    if not (actor.is_admin or actor.user_id == channel_owner_id):
        raise Forbidden("only the channel's owner or an admin may remove a member")
    member = await existing_user(member_id)
    await Membership.filter(member_id=member.id, channel_owner_id=channel_owner_id).delete()
    return member


async def is_follower(user_id: str, channel_owner_id: str) -> bool:
    return await Follow.exists(follower_id=user_id, channel_owner_id=channel_owner_id)


async def is_member(user_id: str, channel_owner_id: str, *, now: datetime | None = None) -> bool:
    current = Q(expires_at__isnull=True) | Q(expires_at__gt=now or datetime.now(UTC))
    return await Membership.filter(current, member_id=user_id, channel_owner_id=channel_owner_id).exists()


async def check_chat_mode(mode: ChatMode, *, user_id: str, channel_owner_id: str) -> None:
    """Raise ``Forbidden`` when the chat mode excludes ``user_id`` (followers-only, subscribers-only)."""
    if mode is ChatMode.FOLLOWERS and not await is_follower(user_id, channel_owner_id):
        raise Forbidden("followers-only chat: follow the channel to chat")
    if mode is ChatMode.SUBSCRIBERS and not await is_member(user_id, channel_owner_id):
        raise Forbidden("subscribers-only chat: become a member of the channel to chat")
