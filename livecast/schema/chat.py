"""Chat messages and reactions: types, the chat part of Query, Mutation and Subscription."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry

from livecast.domain import chat as domain_chat
from livecast.domain import chat_catchup, events
from livecast.domain.errors import ValidationFailed
from livecast.resolvers import chat as resolve
from livecast.schema.context import Info
from livecast.schema.errors import (
    BannedError,
    ForbiddenError,
    InvalidStateError,
    NotFoundError,
    RateLimitedError,
    SlowModeError,
    UnauthenticatedError,
    ValidationError,
)
from livecast.schema.execution import DirectSender, share
from livecast.schema.results import as_result, relay_errors


@strawberry.type
class ChatAuthor:
    id: strawberry.ID
    name: str


@strawberry.type(description="A chat message. Plain text: render it as text, never as HTML.")
class ChatMessage:
    id: strawberry.ID
    stream_id: strawberry.ID
    sequence: int = strawberry.field(
        description="Per-stream, gap-free, increasing from 1. Resume with `afterSequence`."
    )
    author: ChatAuthor
    content: str | None = strawberry.field(description="1-500 characters; null once deleted.")
    created_at: datetime
    deleted: bool

    @classmethod
    def of(cls, v: domain_chat.ChatMessageView) -> ChatMessage:
        return cls(
            id=strawberry.ID(v.id), stream_id=strawberry.ID(v.stream_id), sequence=v.sequence,
            author=ChatAuthor(id=strawberry.ID(v.author_id), name=v.author_name), content=v.content,
            created_at=v.created_at, deleted=v.deleted_at is not None,
        )  # fmt: skip


@strawberry.type(description="A message was deleted (by its author or a moderator).")
class ChatMessageDeleted:
    message_id: strawberry.ID
    sequence: int
    at: datetime


@strawberry.type(description="A message was pinned (replacing the previous pin) or unpinned.")
class ChatPinChanged:
    message_id: strawberry.ID
    pinned: bool
    at: datetime


@strawberry.type(
    description="The pinned message as it is now, sent to a resumed subscription (`afterSequence`) after its replay "
    "when the pin changed while it was away (from `afterSequence: 0`: when a message is pinned)."
)
class ChatPinState:
    pinned_message_id: strawberry.ID | None = strawberry.field(description="Null: no message is pinned.")
    at: datetime = strawberry.field(description="When the state was read.")


ChatEvent = Annotated[ChatMessage | ChatMessageDeleted | ChatPinChanged | ChatPinState, strawberry.union("ChatEvent")]


@strawberry.type(
    description="Chat events in order; several arrive together under load (a batch at most every ~100 ms; when sending "
    "the previous batch to every subscriber takes longer, after it was sent and a pause as long, at most 0.5 s)."
)
class ChatEventBatch:
    # Sent to many subscribers as one shared result per selection (``execution.share``): no field below it
    # may depend on the viewer (tests/test_chat_sharing.py checks that none has a resolver of its own).

    events: list[ChatEvent]


@strawberry.type(description="An emoji reaction at a position in percent of the player's width and height.")
class Reaction:
    stream_id: strawberry.ID
    user_id: strawberry.ID
    emoji: str
    position_x: float
    position_y: float
    at: datetime

    @classmethod
    def of(cls, e: events.ReactionPosted) -> Reaction:
        return cls(
            stream_id=strawberry.ID(e.stream_id), user_id=strawberry.ID(e.user_id), emoji=e.emoji,
            position_x=e.position_x, position_y=e.position_y, at=datetime.fromisoformat(e.at),
        )  # fmt: skip


@strawberry.type
class ReactionBatch:
    reactions: list[Reaction]


@strawberry.type
class ChatMessageEdge:
    cursor: str
    node: ChatMessage


@strawberry.type
class ChatPageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="Chat history, oldest first (newest last). Cursors are message sequences.")
class ChatMessageConnection:
    edges: list[ChatMessageEdge]
    page_info: ChatPageInfo


ChatMessageResult = Annotated[
    ChatMessage
    | ValidationError
    | NotFoundError
    | ForbiddenError
    | UnauthenticatedError
    | InvalidStateError
    | BannedError
    | SlowModeError
    | RateLimitedError,
    strawberry.union("ChatMessageResult"),
]
ReactionResult = Annotated[
    Reaction
    | ValidationError
    | NotFoundError
    | ForbiddenError
    | UnauthenticatedError
    | InvalidStateError
    | BannedError
    | RateLimitedError,
    strawberry.union("ReactionResult"),
]


def _sequence(cursor: str | None, field: str) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise ValidationFailed(f"{field} is not a chat cursor (a message sequence)", field=field)
    return int(cursor)


def _batch_event(item: object) -> ChatMessage | ChatMessageDeleted | ChatPinChanged | ChatPinState:
    if isinstance(item, events.ChatMessageDeleted):
        return ChatMessageDeleted(
            message_id=strawberry.ID(item.message_id), sequence=item.sequence, at=datetime.fromisoformat(item.at)
        )
    if isinstance(item, events.ChatMessagePinned):
        return ChatPinChanged(
            message_id=strawberry.ID(item.message_id), pinned=item.pinned, at=datetime.fromisoformat(item.at)
        )
    if isinstance(item, chat_catchup.PinState):
        pinned = strawberry.ID(item.message_id) if item.message_id is not None else None
        return ChatPinState(pinned_message_id=pinned, at=datetime.fromisoformat(item.at))
    assert isinstance(item, domain_chat.ChatMessageView)
    return ChatMessage.of(item)


def _event_batch(items: list[object]) -> ChatEventBatch:
    """The payload of one ``chatMessages`` event. A batch shared by many subscribers
    (``chat_fanout.Batch``) is converted once and marked shared, so its result is computed once per
    distinct selection and variables (``livecast.schema.execution``)."""
    memo = getattr(items, "memo", None)
    if memo is None:
        return ChatEventBatch(events=[_batch_event(item) for item in items])
    payload = memo.get(ChatEventBatch)
    if payload is None:
        payload = memo[ChatEventBatch] = share(ChatEventBatch(events=[_batch_event(item) for item in items]))
    return payload


@strawberry.type
class ChatQuery:
    @strawberry.field(
        description="Chat history of a stream, newest last; `first` 1-100 (latest `first` without cursors)."
    )
    async def chat_messages(
        self, info: Info, stream_id: strawberry.ID, first: int = 50, after: str | None = None, before: str | None = None
    ) -> ChatMessageConnection:
        async with relay_errors():
            page = await resolve.history(
                info.context, str(stream_id), first, _sequence(after, "after"), _sequence(before, "before")
            )
        edges = [ChatMessageEdge(cursor=str(m.sequence), node=ChatMessage.of(m)) for m in page.items]
        return ChatMessageConnection(
            edges=edges,
            page_info=ChatPageInfo(
                has_next_page=page.has_next_page, has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None, end_cursor=edges[-1].cursor if edges else None,
            ),
        )  # fmt: skip


@strawberry.type
class ChatMutation:
    @strawberry.mutation(description="Post a message (1-500 characters after trimming; control characters removed).")
    async def send_chat_message(self, info: Info, stream_id: strawberry.ID, content: str) -> ChatMessageResult:
        return await as_result(resolve.send_message(info.context, str(stream_id), content), ChatMessage.of)

    @strawberry.mutation(description="Delete a message: its author, a moderator, the owner or an admin.")
    async def delete_chat_message(self, info: Info, id: strawberry.ID) -> ChatMessageResult:
        return await as_result(resolve.delete_message(info.context, str(id)), ChatMessage.of)

    @strawberry.mutation(description="Pin a message (replaces the stream's pinned message): moderators and the owner.")
    async def pin_chat_message(self, info: Info, id: strawberry.ID) -> ChatMessageResult:
        return await as_result(resolve.set_pinned(info.context, str(id), True), ChatMessage.of)

    @strawberry.mutation
    async def unpin_chat_message(self, info: Info, id: strawberry.ID) -> ChatMessageResult:
        return await as_result(resolve.set_pinned(info.context, str(id), False), ChatMessage.of)

    @strawberry.mutation(description="React with one allowed emoji at a screen position (percent, 0-100).")
    async def send_reaction(
        self, info: Info, stream_id: strawberry.ID, emoji: str, position_x: float, position_y: float
    ) -> ReactionResult:
        return await as_result(
            resolve.send_reaction(info.context, str(stream_id), emoji, position_x, position_y), Reaction.of
        )


@strawberry.type
class ChatSubscription:
    @strawberry.subscription(
        description="Chat of a stream: stored messages after `afterSequence` first (omit it for live only), then "
        "live messages, deletions and pins, in order, with no gap and no duplicate message. Resuming with the last "
        "sequence seen, a client is first told of deletions it missed among the messages it has (one seen just "
        "before disconnecting may come again), and after the replay of the pin's state (`ChatPinState`) if it changed."
    )
    async def chat_messages(
        self, info: Info, stream_id: strawberry.ID, after_sequence: int | None = None
    ) -> AsyncGenerator[ChatEventBatch, None]:
        direct = DirectSender.current(info)  # over a websocket: frames another subscriber's result made
        async with relay_errors():
            async for items in resolve.follow_chat(info.context, str(stream_id), after_sequence):
                payload = _event_batch(items)
                if direct is None or not await direct.send(payload):
                    yield payload

    @strawberry.subscription(description="Live reactions of a stream, batched under load.")
    async def reactions(self, info: Info, stream_id: strawberry.ID) -> AsyncGenerator[ReactionBatch, None]:
        async with relay_errors():
            async for items in resolve.follow_reactions(info.context, str(stream_id)):
                yield ReactionBatch(reactions=[Reaction.of(e) for e in items])
