"""Resuming ``chatMessages`` by ``afterSequence`` over real websockets: what changed among the messages a
client already had (deletions, the pin) reaches it too, not only the messages it missed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from livecast.domain import chat_catchup
from livecast.domain.events import CHAT, stream_channel
from tests.conftest import Server
from tests.helpers.chat import ChatSubscriber, mutate, send
from tests.helpers.client import create_stream
from tests.helpers.waiting import eventually

ID_ARG = ("$id: ID!", "id: $id")


def kinds(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Events as short tuples: ("M", sequence, deleted) / ("D", sequence) / ("P", message id, pinned) /
    ("S", pinned message id or None): the pin's state."""
    out: list[tuple[Any, ...]] = []
    for e in events:
        if e["__typename"] == "ChatMessage":
            out.append(("M", e["sequence"], e["deleted"]))
        elif e["__typename"] == "ChatMessageDeleted":
            out.append(("D", e["sequence"]))
        elif e["__typename"] == "ChatPinChanged":
            out.append(("P", e["messageId"], e["pinned"]))
        else:
            out.append(("S", e["pinnedMessageId"]))
    return out


async def _away(server: Server, subscriber: ChatSubscriber, sid: str) -> None:
    await subscriber.stop()
    bus = server.runtime.deps.bus
    await eventually(lambda: bus.subscriber_count(stream_channel(sid, CHAT)) == 0, what="the subscriber is gone")


async def test_a_resumed_subscriber_learns_of_deletions_and_pin_changes_it_missed(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One process, one clock: no slack, so changes it saw before disconnecting do not come again (with the
    # default CATCH_UP_SLACK, those of the 2 s before its last message would: harmless, but not exact).
    monkeypatch.setattr(chat_catchup, "CATCH_UP_SLACK", timedelta(0))
    owner, viewer = await server.token("alice"), await server.token("bob")
    sid = (await create_stream(server.graphql_http, owner, title="Resume"))["id"]
    url = server.graphql_http
    sent = [await send(url, viewer, sid, f"m{n}") for n in range(1, 6)]
    first = ChatSubscriber(server.graphql_ws, sid, after=0)
    await eventually(lambda: len(first.events) == 5, what="messages 1-5")
    await _away(server, first, sid)

    # While it is away: its own message 2 deleted by the author, 4 pinned, 6 and 7 posted, 7 removed by the owner.
    assert (await mutate(url, viewer, "deleteChatMessage", *ID_ARG, {"id": sent[1]["id"]}))[
        "__typename"
    ] == "ChatMessage"
    assert (await mutate(url, owner, "pinChatMessage", *ID_ARG, {"id": sent[3]["id"]}))["__typename"] == "ChatMessage"
    sent += [await send(url, viewer, sid, f"m{n}") for n in (6, 7)]
    await mutate(url, owner, "deleteChatMessage", *ID_ARG, {"id": sent[6]["id"]})

    again = ChatSubscriber(server.graphql_ws, sid, after=5)
    await eventually(lambda: len(again.events) >= 4, what="the catch-up")
    await send(url, viewer, sid, "m8")
    await eventually(lambda: len(again.events) >= 5, what="the live message")
    assert kinds(again.events) == [
        ("D", 2),  # about a message it had: first
        ("M", 6, False), ("M", 7, True),  # the replay (7 arrives already deleted)
        ("S", sent[3]["id"]),  # the pin as it is now, after the replay
        ("M", 8, False),  # then live
    ]  # fmt: skip
    await _away(server, again, sid)

    # Away again: the pin is removed. Resuming tells it that nothing is pinned, and nothing else.
    await mutate(url, owner, "unpinChatMessage", *ID_ARG, {"id": sent[3]["id"]})
    third = ChatSubscriber(server.graphql_ws, sid, after=8)
    await eventually(lambda: len(third.events) >= 1, what="the pin state")
    await send(url, viewer, sid, "m9")
    await eventually(lambda: len(third.events) >= 2, what="the live message")
    assert kinds(third.events) == [("S", None), ("M", 9, False)]
    await _away(server, third, sid)

    # Nothing changed since message 9: a resume gets exactly the live messages.
    quiet = ChatSubscriber(server.graphql_ws, sid, after=9)
    try:
        await eventually(
            lambda: server.runtime.deps.bus.subscriber_count(stream_channel(sid, CHAT)) == 1, what="subscribed"
        )
        await send(url, viewer, sid, "m10")
        await eventually(lambda: len(quiet.events) >= 1, what="the live message")
        assert kinds(quiet.events) == [("M", 10, False)]
    finally:
        await quiet.stop()


async def test_a_full_replay_ends_with_the_pinned_message(server: Server) -> None:
    owner, viewer = await server.token("alice"), await server.token("bob")
    sid = (await create_stream(server.graphql_http, owner, title="Replay"))["id"]
    url = server.graphql_http
    sent = [await send(url, viewer, sid, f"m{n}") for n in range(1, 4)]
    await mutate(url, owner, "pinChatMessage", *ID_ARG, {"id": sent[0]["id"]})
    replay, live = ChatSubscriber(server.graphql_ws, sid, after=0), ChatSubscriber(server.graphql_ws, sid)
    try:
        await eventually(lambda: len(replay.events) >= 4, what="the replay and the pin")
        assert kinds(replay.events) == [("M", 1, False), ("M", 2, False), ("M", 3, False), ("S", sent[0]["id"])]
        await eventually(
            lambda: server.runtime.deps.bus.subscriber_count(stream_channel(sid, CHAT)) == 1, what="subscribed"
        )
        await send(url, viewer, sid, "m4")
        await eventually(lambda: len(live.events) >= 1 and len(replay.events) >= 5, what="the live message")
        assert kinds(live.events) == [("M", 4, False)], "a live-only subscriber gets no catch-up"
    finally:
        await replay.stop()
        await live.stop()
