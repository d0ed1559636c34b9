"""Chat messages: send, delete, pin, history. Persisted first, then published (topic ``chat``).

Each message gets the stream's next ``sequence`` (1, 2, 3, ... with no gap) in the transaction that stores
it: ``ChatRoom.last_sequence`` is incremented with an ``UPDATE`` that holds the room's row lock until the
commit, so concurrent writers on any number of API processes are serialised per stream (PostgreSQL), and a
failed insert rolls the counter back. Concurrent messages of a stream share a transaction
(:mod:`livecast.domain.chat_commit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.expressions import F

from livecast.domain import chat_commit, chat_sender, lifecycle, moderation, streams
from livecast.domain.auth import Principal, require_actor
from livecast.domain.chat_models import ChatMessage, ChatRoom
from livecast.domain.chat_text import blocked_word, clean_message, only_emoji
from livecast.domain.community import check_chat_mode
from livecast.domain.deps import Deps
from livecast.domain.errors import Banned, Forbidden, InvalidState, NotFound, SlowMode, ValidationFailed
from livecast.domain.events import CHAT, ChatMessageDeleted, ChatMessagePinned, ChatMessagePosted, stream_channel
from livecast.domain.ids import is_uuid
from livecast.domain.models import Stream, User
from livecast.domain.ratelimit import CHAT as CHAT_LIMIT
from livecast.domain.users import get_user

PAGE_MAX = 100


@dataclass(frozen=True)
class ChatMessageView:
    """A message as clients see it; ``content`` is ``None`` once deleted."""

    id: str
    stream_id: str
    sequence: int
    author_id: str
    author_name: str
    content: str | None
    created_at: datetime
    deleted_at: datetime | None = None

    @classmethod
    def of(cls, m: ChatMessage, author_name: str) -> ChatMessageView:
        return cls(
            id=str(m.id), stream_id=str(m.stream_id), sequence=m.sequence, author_id=str(m.author_id),
            author_name=author_name, content=None if m.deleted_at else m.content, created_at=m.created_at,
            deleted_at=m.deleted_at,
        )  # fmt: skip

    @classmethod
    def posted(cls, e: ChatMessagePosted) -> ChatMessageView:
        return cls(
            id=e.message_id, stream_id=e.stream_id, sequence=e.sequence, author_id=e.author_id,
            author_name=e.author_name, content=e.content, created_at=datetime.fromisoformat(e.at),
        )  # fmt: skip


async def _check_sender(
    stream_id: str, owner_id: str, room: ChatRoom, actor: Principal, content: str, now: datetime
) -> None:
    """Refusals a moderator, the owner or an admin is exempt from (mode, emote-only, words, slow mode); they
    are not exempt from the rate limit, only held to a higher one."""
    await check_chat_mode(room.mode, user_id=actor.user_id, channel_owner_id=owner_id)
    if room.emote_only and not only_emoji(content):
        raise ValidationFailed("emote-only mode: messages may contain only emoji", field="content")
    word = blocked_word(content, room.blocked_words)
    if word is not None:
        raise ValidationFailed("the message contains a word blocked in this chat", field="content")
    if room.slow_mode_seconds:
        last = await ChatMessage.filter(stream_id=stream_id, author_id=actor.user_id).order_by("-sequence").first()
        if last is not None:
            wait = room.slow_mode_seconds - (now - last.created_at).total_seconds()
            if wait > 0:
                raise SlowMode(f"slow mode: one message every {room.slow_mode_seconds} s", retry_after=round(wait, 1))


async def writable_stream(
    actor: Principal | None, stream_id: str, *, what: str = "chat"
) -> tuple[Principal, Stream, bool]:
    """The stream, if ``actor`` may write to its chat now; also whether ``actor`` moderates it.

    Raises ``Unauthenticated``, ``NotFound``, ``InvalidState`` (stream over), ``Forbidden`` (disabled) or
    ``Banned`` (with ``until``).
    """
    actor = require_actor(actor)
    stream = await streams.existing_stream(stream_id)
    if stream.status in lifecycle.FINISHED:
        raise InvalidState(f"stream is {stream.status.value}; its {what} is closed", current_status=stream.status.value)
    privileged = await moderation.can_moderate(actor, stream)
    enabled = stream.chat_enabled if what == "chat" else stream.reactions_enabled
    if not enabled:
        raise Forbidden(f"{what} is disabled on this stream")
    if not privileged:
        ban = await moderation.active_ban(str(stream.id), actor.user_id)
        if ban is not None:
            until = f" until {ban.until.isoformat()}" if ban.until else ""
            raise Banned(f"you are banned from this stream's {what}{until}", until=ban.until)
    return actor, stream, privileged


async def _sender_state(actor: Principal, stream_id: str) -> tuple[str, str, str, bool, str | None, ChatRoom]:
    """``writable_stream`` for a message, plus the author and the room: (stream id, owner id, author id,
    privileged, author name or ``None``, room). One query (:mod:`livecast.domain.chat_sender`) where it can."""
    if not chat_sender.answers(stream_id, actor.user_id):
        actor, stream, privileged = await writable_stream(actor, stream_id)
        author = await get_user(actor.user_id)
        room = await moderation.chat_room(str(stream.id))
        return str(stream.id), str(stream.owner_id), actor.user_id, privileged, author.name if author else None, room
    state = await chat_sender.read(stream_id, actor.user_id)
    if state is None:
        raise NotFound(f"stream {stream_id} does not exist")
    if state.status in lifecycle.FINISHED:
        raise InvalidState(f"stream is {state.status.value}; its chat is closed", current_status=state.status.value)
    privileged = actor.is_admin or state.owner_id == actor.user_id or state.moderates
    if not state.chat_enabled:
        raise Forbidden("chat is disabled on this stream")
    if not privileged and state.ban_active():
        until = f" until {state.ban_until.isoformat()}" if state.ban_until else ""
        raise Banned(f"you are banned from this stream's chat{until}", until=state.ban_until)
    room = state.room or await moderation.chat_room(state.stream_id)
    return state.stream_id, state.owner_id, state.user_id, privileged, state.author_name, room


async def send_message(*, deps: Deps, actor: Principal | None, stream_id: str, content: str) -> ChatMessageView:
    """Store a message (cleaned, 1-500 characters) with the next sequence, then publish it.

    Refusals: see :func:`writable_stream`; ``ValidationFailed`` (``content``; over 2,000 code points as sent
    before any processing), ``SlowMode``, ``RateLimited`` (``LIVECAST_CHAT_RATE_LIMIT``, or for the stream's
    owner, moderators and admins ``LIVECAST_CHAT_RATE_LIMIT_PRIVILEGED``; no database query either way).
    """
    actor = require_actor(actor)
    sid, owner_id, author_id, privileged, author_name, room = await _sender_state(actor, str(stream_id))
    text = clean_message(content)
    now = datetime.now(UTC)
    if not privileged:
        await _check_sender(sid, owner_id, room, actor, text, now)
    await deps.limits.check(CHAT_LIMIT, actor.user_id, privileged=privileged)
    if author_name is None:
        raise NotFound("your user no longer exists")
    message = await chat_commit.store_and_publish(
        bus=deps.bus, stream_id=sid, author_id=author_id, author_name=author_name, content=text
    )
    view = ChatMessageView.of(message, author_name)
    return view


async def _message(message_id: str) -> ChatMessage:
    found = await ChatMessage.get_or_none(id=message_id) if is_uuid(message_id) else None
    if found is None:
        raise NotFound(f"chat message {message_id} does not exist")
    return found


async def delete_message(*, deps: Deps, actor: Principal | None, message_id: str) -> ChatMessageView:
    """Soft-delete: its author, a moderator, the owner or an admin. History keeps it without content."""
    actor = require_actor(actor)
    message = await _message(message_id)
    stream = await streams.existing_stream(str(message.stream_id))
    own = str(message.author_id) == actor.user_id
    if not own and not await moderation.can_moderate(actor, stream):
        raise Forbidden("only the author, a moderator, the owner or an admin may delete this message")
    now = datetime.now(UTC)
    updated = await ChatMessage.filter(id=message.id, deleted_at__isnull=True).update(
        deleted_at=now, deleted_by_id=actor.user_id, content=""
    )
    if updated:
        await ChatRoom.filter(stream_id=stream.id).update(message_count=F("message_count") - 1)
        await ChatRoom.filter(stream_id=stream.id, pinned_message_id=message.id).update(pinned_message_id=None)
        event = ChatMessageDeleted(
            stream_id=str(stream.id), message_id=str(message.id), sequence=message.sequence, at=now.isoformat()
        )
        await deps.bus.publish([stream_channel(str(stream.id), CHAT)], event)
        if not own:
            await moderation.record(
                deps,
                stream=stream,
                actor=actor,
                action="DELETE_MESSAGE",
                target_user_id=str(message.author_id),
                detail=f"#{message.sequence}",
            )
        message.deleted_at = now
    author = await get_user(str(message.author_id))
    return ChatMessageView.of(message, author.name if author else "")


async def set_pinned(*, deps: Deps, actor: Principal | None, message_id: str, pinned: bool) -> ChatMessageView:
    """Pin (replacing the stream's pinned message) or unpin a message: moderators, owner, admins."""
    message = await _message(message_id)
    actor, stream = await moderation.moderated_stream(actor, str(message.stream_id))
    if pinned and message.deleted_at is not None:
        raise ValidationFailed("a deleted message cannot be pinned", field="id")
    await moderation.chat_room(str(stream.id))
    query = ChatRoom.filter(stream_id=stream.id)
    if not pinned:
        query = query.filter(pinned_message_id=message.id)
    if await query.update(pinned_message_id=message.id if pinned else None):
        # Logged before the chat event goes out: a feed resumed after the event finds the change in the log.
        await moderation.record(
            deps, stream=stream, actor=actor, action="PIN" if pinned else "UNPIN", detail=f"#{message.sequence}"
        )
        now = datetime.now(UTC).isoformat()
        event = ChatMessagePinned(stream_id=str(stream.id), message_id=str(message.id), pinned=pinned, at=now)
        await deps.bus.publish([stream_channel(str(stream.id), CHAT)], event)
    author = await get_user(str(message.author_id))
    return ChatMessageView.of(message, author.name if author else "")


async def views(messages: list[ChatMessage]) -> list[ChatMessageView]:
    """Messages with their authors' names (one query for all authors)."""
    ids = {m.author_id for m in messages}
    names = {str(u.id): u.name for u in await User.filter(id__in=list(ids))} if ids else {}
    return [ChatMessageView.of(m, names.get(str(m.author_id), "")) for m in messages]


@dataclass(frozen=True)
class ChatPage:
    items: list[ChatMessageView]
    has_next_page: bool
    has_previous_page: bool


async def history(*, stream_id: str, first: int = 50, after: int | None = None, before: int | None = None) -> ChatPage:
    """Messages in sequence order (newest last). ``after``/``before`` are sequences (exclusive); with
    neither, the latest ``first``; with ``before``, the ``first`` messages just older than it."""
    await streams.existing_stream(stream_id)
    if not 1 <= first <= PAGE_MAX:
        raise ValidationFailed(f"first must be between 1 and {PAGE_MAX}", field="first")
    query = ChatMessage.filter(stream_id=stream_id)
    if after is not None:
        query = query.filter(sequence__gt=after)
    if before is not None:
        query = query.filter(sequence__lt=before)
    if after is not None and before is None:
        rows = list(await query.order_by("sequence").limit(first + 1))
        more_after, rows = len(rows) > first, rows[:first]
        return ChatPage(await views(rows), has_next_page=more_after, has_previous_page=after > 0)
    rows = list(await query.order_by("-sequence").limit(first + 1))
    more_before, rows = len(rows) > first, rows[:first][::-1]
    return ChatPage(await views(rows), has_next_page=before is not None, has_previous_page=more_before)


async def messages_after(stream_id: str, sequence: int, *, limit: int = 500) -> list[ChatMessageView]:
    """Stored messages with a sequence greater than ``sequence``, in order (at most ``limit``)."""
    rows = await ChatMessage.filter(stream_id=stream_id, sequence__gt=sequence).order_by("sequence").limit(limit)
    return await views(list(rows))


async def pinned_messages(stream_ids: list[str]) -> list[ChatMessageView | None]:
    """DataLoader batch: each stream's pinned message (``None``: none), in key order (three queries)."""
    rooms = await ChatRoom.filter(stream_id__in=list(stream_ids), pinned_message_id__not_isnull=True)
    pins = {str(r.stream_id): str(r.pinned_message_id) for r in rooms}
    rows = await ChatMessage.filter(id__in=list(pins.values())) if pins else []
    by_id = {v.id: v for v in await views(list(rows))}
    return [by_id.get(pins.get(i, "")) for i in stream_ids]
