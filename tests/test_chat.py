"""Chat over real HTTP and websockets (the ``gql`` client): send, validation, history, delete, pin, live
delivery and resume by sequence."""

from __future__ import annotations

import asyncio

from livecast.domain import chat_fanout
from livecast.domain.events import CHAT, stream_channel
from tests.conftest import Server
from tests.helpers.chat import MESSAGE_FIELDS, ChatSubscriber, mutate, send
from tests.helpers.client import create_stream, gql_http, gql_http_errors
from tests.helpers.waiting import eventually

HISTORY = """query($s: ID!, $first: Int!, $after: String, $before: String) {
  chatMessages(streamId: $s, first: $first, after: $after, before: $before) {
    edges { cursor node { sequence content deleted } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


async def setup(server: Server) -> tuple[str, str, str]:
    """(owner token, viewer token, stream id)."""
    owner, viewer = await server.token("alice"), await server.token("bob")
    stream = await create_stream(server.graphql_http, owner, title="Chat")
    return owner, viewer, stream["id"]


async def test_send_cleans_and_validates(server: Server, api: str) -> None:
    _, viewer, sid = await setup(server)
    url = api
    sent = await send(url, viewer, sid, "  hello\u200b\u202e world\n👩🏽\u200d💻  ")
    assert sent["__typename"] == "ChatMessage"
    assert sent["content"] == "hello world 👩🏽\u200d💻", "control/zero-width removed, emoji sequence kept"
    assert sent["sequence"] == 1 and sent["author"]["name"] == "bob"
    assert (await send(url, viewer, sid, "<b>not html</b>"))["content"] == "<b>not html</b>", "stored as plain text"
    for bad in ("", "   ", "\u200b\u200b", "x" * 501):
        refused = await send(url, viewer, sid, bad)
        assert (refused["__typename"], refused["code"], refused["field"]) == (
            "ValidationError",
            "VALIDATION",
            "content",
        )
    assert (await send(url, viewer, sid, "é" * 500))["__typename"] == "ChatMessage", "500 characters is the limit"
    anonymous = await send(url, None, sid, "hi")  # type: ignore[arg-type]
    assert anonymous["code"] == "UNAUTHENTICATED"
    missing = await send(url, viewer, "00000000-0000-0000-0000-000000000000", "hi")
    assert missing["code"] == "NOT_FOUND"
    count = await gql_http(url, "query($s: ID!) { stream(id: $s) { chatMessageCount } }", {"s": sid})
    assert count["stream"]["chatMessageCount"] == 3


async def test_history_pages_newest_last(server: Server, api: str) -> None:
    _, viewer, sid = await setup(server)
    for n in range(1, 8):
        await send(api, viewer, sid, f"m{n}")

    async def page(**kw: object) -> tuple[list[int], dict]:
        data = (await gql_http(api, HISTORY, {"s": sid, "first": 3, **kw}))["chatMessages"]
        return [e["node"]["sequence"] for e in data["edges"]], data["pageInfo"]

    latest, info = await page()
    assert latest == [5, 6, 7] and info["hasPreviousPage"] and not info["hasNextPage"]
    older, info = await page(before=info["startCursor"])
    assert older == [2, 3, 4] and info["hasPreviousPage"] and info["hasNextPage"]
    oldest, info = await page(before=info["startCursor"])
    assert oldest == [1] and not info["hasPreviousPage"]
    forward, info = await page(after="4")
    assert forward == [5, 6, 7] and not info["hasNextPage"]
    errors = await gql_http_errors(api, HISTORY, {"s": sid, "first": 101})
    assert errors[0]["extensions"] == {"code": "VALIDATION", "field": "first"}
    errors = await gql_http_errors(api, HISTORY, {"s": sid, "first": 5, "after": "abc"})
    assert errors[0]["extensions"]["code"] == "VALIDATION"


async def test_delete_and_pin_rules(server: Server, api: str) -> None:
    owner, viewer, sid = await setup(server)
    url = api
    mallory = await server.token("mallory")
    first, second = await send(url, viewer, sid, "first"), await send(url, viewer, sid, "second")

    async def delete(token: str, mid: str) -> dict:
        return await mutate(
            url,
            token,
            "deleteChatMessage",
            "$id: ID!",
            "id: $id",
            {"id": mid},
            f"... on ChatMessage {{ {MESSAGE_FIELDS} }}",
        )

    async def pin(token: str, mid: str, field: str = "pinChatMessage") -> dict:
        return await mutate(url, token, field, "$id: ID!", "id: $id", {"id": mid}, "... on ChatMessage { id }")

    assert (await delete(mallory, first["id"]))["code"] == "FORBIDDEN"
    assert (await pin(viewer, first["id"]))["code"] == "FORBIDDEN", "only moderators pin"
    assert (await pin(owner, first["id"]))["__typename"] == "ChatMessage"
    assert (await pin(owner, second["id"]))["__typename"] == "ChatMessage"
    pinned = await gql_http(url, "query($s: ID!) { stream(id: $s) { pinnedMessage { content } } }", {"s": sid})
    assert pinned["stream"]["pinnedMessage"] == {"content": "second"}, "one pinned message; pinning replaces it"
    deleted = await delete(viewer, second["id"])  # the author deletes their own message
    assert (deleted["deleted"], deleted["content"]) == (True, None)
    data = await gql_http(
        url, "query($s: ID!) { stream(id: $s) { chatMessageCount pinnedMessage { id } } }", {"s": sid}
    )
    assert data["stream"] == {"chatMessageCount": 1, "pinnedMessage": None}, "a deleted message is unpinned"
    assert (await delete(owner, first["id"]))["deleted"] is True, "the owner moderates"
    history = (await gql_http(url, HISTORY, {"s": sid, "first": 10}))["chatMessages"]["edges"]
    assert [e["node"] for e in history] == [
        {"sequence": 1, "content": None, "deleted": True},
        {"sequence": 2, "content": None, "deleted": True},
    ]


async def test_live_delivery_in_order_with_deletions_and_pins(server: Server) -> None:
    owner, viewer, sid = await setup(server)
    url, bus = server.graphql_http, server.runtime.deps.bus
    await send(url, viewer, sid, "before anyone listened")
    live = ChatSubscriber(server.graphql_ws, sid)  # live only
    replay = ChatSubscriber(server.graphql_ws, sid, after=0, protocol="graphql-ws")  # everything stored, then live
    try:
        await eventually(lambda: chat_fanout.follower_count(bus, sid) == 2, what="two chat subscribers")
        assert bus.subscriber_count(stream_channel(sid, CHAT)) == 1, "one bus subscription per stream and process"
        sent = [await send(url, viewer, sid, f"live {n}") for n in range(5)]
        await mutate(url, owner, "pinChatMessage", "$id: ID!", "id: $id", {"id": sent[1]["id"]})
        await mutate(url, viewer, "deleteChatMessage", "$id: ID!", "id: $id", {"id": sent[0]["id"]})
        await eventually(lambda: len(live.events) >= 7 and len(replay.events) >= 8, what="all events")
        assert live.sequences() == [2, 3, 4, 5, 6]
        assert replay.sequences() == [1, 2, 3, 4, 5, 6]
        for subscriber in (live, replay):
            kinds = [e["__typename"] for e in subscriber.events[-2:]]
            assert kinds == ["ChatPinChanged", "ChatMessageDeleted"]
            assert subscriber.events[-1]["sequence"] == 2
    finally:
        await live.stop()
        await replay.stop()


async def test_resume_after_disconnect_gets_exactly_the_missed_messages(server: Server) -> None:
    owner, viewer, sid = await setup(server)
    url, bus = server.graphql_http, server.runtime.deps.bus
    for n in range(3):
        await send(url, viewer, sid, f"seen {n}")
    first = ChatSubscriber(server.graphql_ws, sid, after=0)
    await eventually(lambda: len(first.events) == 3, what="the first three")
    last_seen = first.sequences()[-1]
    await first.stop()
    await eventually(lambda: bus.subscriber_count(stream_channel(sid, CHAT)) == 0, what="disconnect")

    sent = await asyncio.gather(*(send(url, owner, sid, f"missed {n}") for n in range(50)))  # within the owner's limit
    assert {s["__typename"] for s in sent} == {"ChatMessage"}
    again = ChatSubscriber(server.graphql_ws, sid, after=last_seen)
    try:
        await eventually(lambda: len(again.events) >= 50, what="the 50 missed messages")
        assert again.sequences() == list(range(4, 54))
        await send(url, viewer, sid, "live again")
        await eventually(lambda: len(again.events) >= 51, what="the live message")
        assert again.sequences() == list(range(4, 55)), "no gap and no duplicate at the seam"
        assert again.events[-1]["content"] == "live again"
        assert again.batches < 51, "replayed messages arrive in batches"
    finally:
        await again.stop()


async def test_subscription_refusals(server: Server) -> None:
    missing = ChatSubscriber(server.graphql_ws, "00000000-0000-0000-0000-000000000000")
    await asyncio.wait_for(missing.task, 10)
    assert missing.error == "NOT_FOUND"


async def test_oversized_messages_are_refused_before_processing(server: Server, api: str) -> None:
    _, viewer, sid = await setup(server)
    assert (await send(api, viewer, sid, " " * 1998 + "hi"))["content"] == "hi", "2,000 code points as sent are read"
    for content in (" " * 1999 + "hi", "🔥" * 20_000):
        refused = await send(api, viewer, sid, content)
        assert (refused["__typename"], refused["code"], refused["field"]) == ("ValidationError", "VALIDATION", "content")  # fmt: skip
