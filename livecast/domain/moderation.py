"""Stream chat roles and moderation: moderators, bans and timeouts, chat settings, the moderation log.

Roles: the stream's owner (and admins) grant and revoke moderators; owner, admins and moderators ban, time
out, delete and pin messages and change chat settings. Every action is recorded in ``ModerationLog`` (who,
what, to whom, when) before ``ModerationAction`` is published on the stream's ``moderation`` topic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from livecast.domain import streams
from livecast.domain.auth import Principal, require_actor
from livecast.domain.bus import EventsMissed, Gap
from livecast.domain.chat_models import ChatBan, ChatMode, ChatRoom, ModerationLog, StreamModerator
from livecast.domain.chat_text import clean_blocked_words
from livecast.domain.deps import Deps
from livecast.domain.errors import Forbidden, ValidationFailed
from livecast.domain.events import MODERATION, ModerationAction, stream_channel
from livecast.domain.models import Stream, User
from livecast.domain.users import existing_user

SLOW_MODE_MAX = 3600
"""Seconds."""
BAN_DURATION_MAX = 365 * 24 * 3600
"""Seconds; a longer ban is a permanent ban (no duration)."""
REASON_MAX = 500
"""Characters of a ban's reason."""


async def chat_room(stream_id: str) -> ChatRoom:
    """The stream's chat state, created on first use (safe under concurrent first uses)."""
    room = await ChatRoom.get_or_none(stream_id=stream_id)
    if room is None:
        await ChatRoom.bulk_create([ChatRoom(stream_id=stream_id)], ignore_conflicts=True)
        room = await ChatRoom.get(stream_id=stream_id)
    return room


Listed = Callable[[str, str], Awaitable[bool]]
"""``listed(user_id, stream_id)``: whether the user is in the stream's moderator list."""


async def _listed(user_id: str, stream_id: str) -> bool:
    return await StreamModerator.exists(stream_id=stream_id, user_id=user_id)


async def is_moderator(stream: Stream, user_id: str, *, listed: Listed = _listed) -> bool:
    """Owner or moderator of ``stream`` (admins are checked from their token, see :func:`can_moderate`).
    ``listed`` looks the list up (default: one query; a request's DataLoader for a list of streams)."""
    if str(stream.owner_id) == user_id:
        return True
    return await listed(user_id, str(stream.id))


async def can_moderate(actor: Principal | None, stream: Stream, *, listed: Listed = _listed) -> bool:
    return actor is not None and (actor.is_admin or await is_moderator(stream, actor.user_id, listed=listed))


async def moderated_stream(actor: Principal | None, stream_id: str) -> tuple[Principal, Stream]:
    """The stream, if ``actor`` may moderate it: ``Unauthenticated``, ``NotFound`` or ``Forbidden``."""
    actor = require_actor(actor)
    stream = await streams.existing_stream(stream_id)
    if not await can_moderate(actor, stream):
        raise Forbidden("only the stream's owner, its moderators or an admin may do this")
    return actor, stream


async def record(
    deps: Deps, *, stream: Stream, actor: Principal, action: str, target_user_id: str | None = None, detail: str = ""
) -> None:
    """Persist a moderation action, then publish it."""
    entry = await ModerationLog.create(
        stream_id=stream.id, actor_id=actor.user_id, action=action, target_user_id=target_user_id, detail=detail[:1000]
    )
    event = ModerationAction(
        stream_id=str(stream.id), actor_id=actor.user_id, action=action, target_user_id=target_user_id,
        detail=entry.detail, at=entry.created_at.isoformat(),
    )  # fmt: skip
    await deps.bus.publish([stream_channel(str(stream.id), MODERATION)], event)


PIN_ACTIONS = ("PIN", "UNPIN")


async def pin_changed_since(stream_id: str, since: datetime) -> bool:
    """Whether the stream's pinned message was pinned or unpinned after ``since`` (from the moderation log)."""
    return await ModerationLog.filter(stream_id=stream_id, action__in=PIN_ACTIONS, created_at__gt=since).exists()


async def action_feed(*, deps: Deps, actor: Principal | None, stream_id: str) -> AsyncIterator[ModerationAction]:
    """Live moderation actions of a stream, for its moderators, owner and admins (``Unauthenticated``,
    ``NotFound``, ``Forbidden`` otherwise). Ends with ``EventsMissed`` if the bus lost events: each action
    is in the log before it is published, so ``moderation_log`` has them."""
    _, stream = await moderated_stream(actor, stream_id)
    async with deps.bus.subscribe(stream_channel(str(stream.id), MODERATION)) as items:
        async for item in items:
            if isinstance(item, Gap):
                raise EventsMissed(
                    "moderation actions may have been missed: read the moderation log, then subscribe again"
                )
            if isinstance(item, ModerationAction):
                yield item


async def add_moderator(*, deps: Deps, actor: Principal | None, stream_id: str, user_id: str) -> User:
    """Grant ``user_id`` the moderator role in this stream (owner or admin only). Idempotent."""
    stream = await streams.managed_stream(actor, stream_id)
    assert actor is not None
    user = await existing_user(user_id)
    await StreamModerator.bulk_create([StreamModerator(stream_id=stream.id, user_id=user.id)], ignore_conflicts=True)
    await record(deps, stream=stream, actor=actor, action="ADD_MODERATOR", target_user_id=str(user.id))
    return user


async def remove_moderator(*, deps: Deps, actor: Principal | None, stream_id: str, user_id: str) -> User:
    """Revoke the moderator role (owner or admin only)."""
    stream = await streams.managed_stream(actor, stream_id)
    assert actor is not None
    user = await existing_user(user_id)
    await StreamModerator.filter(stream_id=stream.id, user_id=user.id).delete()
    await record(deps, stream=stream, actor=actor, action="REMOVE_MODERATOR", target_user_id=str(user.id))
    return user


async def moderators_by_stream_ids(stream_ids: list[str]) -> list[list[User]]:
    """DataLoader batch: each stream's moderators (oldest grant first), in key order (two queries)."""
    rows = (
        await StreamModerator.filter(stream_id__in=list(stream_ids))
        .prefetch_related("user")
        .order_by("created_at", "id")
    )
    found: dict[str, list[User]] = {}
    for row in rows:
        found.setdefault(str(row.stream_id), []).append(row.user)
    return [found.get(i, []) for i in stream_ids]


async def moderator_pairs(pairs: list[tuple[str, str]]) -> list[bool]:
    """DataLoader batch: for each (user id, stream id), whether the user is one of the stream's moderators."""
    user_ids, stream_ids = list({u for u, _ in pairs}), list({s for _, s in pairs})
    rows = await StreamModerator.filter(user_id__in=user_ids, stream_id__in=stream_ids).values_list(
        "user_id", "stream_id"
    )
    found = {(str(u), str(s)) for u, s in rows}
    return [pair in found for pair in pairs]


async def ban_user(
    *, deps: Deps, actor: Principal | None, stream_id: str, user_id: str, duration_seconds: int | None, reason: str = ""
) -> ChatBan:
    """Ban ``user_id`` from the stream's chat and reactions; with ``duration_seconds`` it is a timeout.

    Nobody can ban the owner; only the owner or an admin can ban a moderator. Banning again replaces the
    previous ban. Raises ``ValidationFailed`` (``duration``) outside 1 s - 1 year, (``reason``) for a reason
    over :data:`REASON_MAX` characters (it used to be cut silently).
    """
    actor, stream = await moderated_stream(actor, stream_id)
    user = await existing_user(user_id)
    if str(user.id) == str(stream.owner_id):
        raise Forbidden("the stream's owner cannot be banned from their own chat")
    owner_or_admin = actor.is_admin or actor.user_id == str(stream.owner_id)
    if not owner_or_admin and await StreamModerator.exists(stream_id=stream.id, user_id=user.id):
        raise Forbidden("only the owner or an admin may ban a moderator")
    if duration_seconds is not None and not 1 <= duration_seconds <= BAN_DURATION_MAX:
        raise ValidationFailed(f"duration must be 1-{BAN_DURATION_MAX} seconds (omit it for a ban)", field="duration")
    if len(reason) > REASON_MAX:
        raise ValidationFailed(f"reason must be at most {REASON_MAX} characters", field="reason")
    until = datetime.now(UTC) + timedelta(seconds=duration_seconds) if duration_seconds is not None else None
    await ChatBan.filter(stream_id=stream.id, user_id=user.id).delete()
    ban = await ChatBan.create(
        stream_id=stream.id, user_id=user.id, until=until, reason=reason, banned_by_id=actor.user_id
    )
    action = "TIMEOUT" if until else "BAN"
    await record(deps, stream=stream, actor=actor, action=action, target_user_id=str(user.id), detail=reason)
    return ban


async def unban_user(*, deps: Deps, actor: Principal | None, stream_id: str, user_id: str) -> User:
    actor, stream = await moderated_stream(actor, stream_id)
    user = await existing_user(user_id)
    await ChatBan.filter(stream_id=stream.id, user_id=user.id).delete()
    await record(deps, stream=stream, actor=actor, action="UNBAN", target_user_id=str(user.id))
    return user


async def active_ban(stream_id: str, user_id: str, *, now: datetime | None = None) -> ChatBan | None:
    """The ban or unexpired timeout of ``user_id`` in this stream, if any."""
    ban = await ChatBan.get_or_none(stream_id=stream_id, user_id=user_id)
    if ban is None or (ban.until is not None and ban.until <= (now or datetime.now(UTC))):
        return None
    return ban


@dataclass
class ChatSettingsChange:
    """Fields to change; ``None`` leaves a field alone. ``slow_mode_seconds`` 0-3600 (0: off)."""

    slow_mode_seconds: int | None = None
    mode: ChatMode | None = None
    emote_only: bool | None = None
    blocked_words: list[str] | None = None
    chat_enabled: bool | None = None
    reactions_enabled: bool | None = None


async def set_chat_settings(
    *, deps: Deps, actor: Principal | None, stream_id: str, change: ChatSettingsChange
) -> ChatRoom:
    """Change chat settings (owner, moderators, admins). Raises ``ValidationFailed`` naming the field."""
    actor, stream = await moderated_stream(actor, stream_id)
    room = await chat_room(str(stream.id))
    room_changes: dict[str, Any] = {}
    if change.slow_mode_seconds is not None:
        if not 0 <= change.slow_mode_seconds <= SLOW_MODE_MAX:
            raise ValidationFailed(f"slowModeSeconds must be 0-{SLOW_MODE_MAX}", field="slowModeSeconds")
        room_changes["slow_mode_seconds"] = change.slow_mode_seconds
    if change.blocked_words is not None:
        room_changes["blocked_words"] = clean_blocked_words(change.blocked_words)
    if change.mode is not None:
        room_changes["mode"] = change.mode
    if change.emote_only is not None:
        room_changes["emote_only"] = change.emote_only
    if room_changes:
        await ChatRoom.filter(stream_id=stream.id).update(**room_changes, updated_at=datetime.now(UTC))
        room = await ChatRoom.get(stream_id=stream.id)
    stream_changes = {n: v for n in ("chat_enabled", "reactions_enabled") if (v := getattr(change, n)) is not None}
    if stream_changes:
        await Stream.filter(id=stream.id).update(**stream_changes)
    detail = ", ".join(f"{k}={v}" for k, v in {**room_changes, **stream_changes}.items())
    await record(deps, stream=stream, actor=actor, action="SETTINGS", detail=detail)
    return room


async def moderation_log(*, actor: Principal | None, stream_id: str, limit: int = 100) -> list[ModerationLog]:
    """The latest moderation actions, newest first (owner, moderators, admins)."""
    await moderated_stream(actor, stream_id)
    return await ModerationLog.filter(stream_id=stream_id).order_by("-created_at", "-id").limit(min(max(limit, 1), 500))


async def rooms_by_stream_ids(stream_ids: list[str]) -> list[ChatRoom]:
    """DataLoader batch: each stream's chat room in key order (an unsaved default room if it has none)."""
    found = {str(r.stream_id): r for r in await ChatRoom.filter(stream_id__in=list(stream_ids))}
    return [found.get(i) or ChatRoom(stream_id=i) for i in stream_ids]


@dataclass(frozen=True)
class ChatSettingsView:
    room: ChatRoom
    chat_enabled: bool
    reactions_enabled: bool
    moderator: bool
    """Whether the caller moderates the stream (and may see the blocked words)."""


async def chat_settings(actor: Principal | None, stream_id: str, room: ChatRoom | None = None) -> ChatSettingsView:
    stream = await streams.existing_stream(stream_id)
    room = room or (await rooms_by_stream_ids([str(stream.id)]))[0]
    return ChatSettingsView(room, stream.chat_enabled, stream.reactions_enabled, await can_moderate(actor, stream))


def settings_view(stream: Stream, room: ChatRoom, *, moderator: bool) -> ChatSettingsView:
    """:func:`chat_settings` from rows already loaded (``moderator``: the caller moderates ``stream``)."""
    return ChatSettingsView(room, stream.chat_enabled, stream.reactions_enabled, moderator)
